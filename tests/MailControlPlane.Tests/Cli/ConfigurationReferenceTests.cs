using System.Text;
using MailAgent.Tests.Architecture;
using MailControlPlane.Cli;

namespace MailControlPlane.Tests.Cli;

/// <summary>
/// One source for the control plane's key reference: ConfigurationKeys gives
/// 'mailagent-control-plane help run' its key list and docs/configuration.md its control-plane tables.
/// </summary>
public sealed class ConfigurationReferenceTests
{
    private const string Command = "mailagent-control-plane help run --markdown";

    [Fact]
    public void DocsConfiguration_ControlPlaneTables_AreGeneratedFromConfigurationKeys()
    {
        string docs = File.ReadAllText(Path.Combine(FolderGraph.RepositoryRoot(), "docs", "configuration.md")).ReplaceLineEndings("\n");
        string begin = ConfigurationReference.BeginMarker(Command) + "\n\n";
        int start = docs.IndexOf(begin, StringComparison.Ordinal);
        int end = start < 0 ? -1 : docs.IndexOf("\n" + ConfigurationReference.EndMarker, start, StringComparison.Ordinal);

        Assert.True(end > 0, $"docs/configuration.md lacks the line {ConfigurationReference.BeginMarker(Command)} or the {ConfigurationReference.EndMarker} after it");
        Assert.True(docs[(start + begin.Length)..end] == ConfigurationReference.Markdown(ConfigurationKeys.Sections),
            "docs/configuration.md's control-plane key tables differ from control-plane/src/MailControlPlane/Cli/ConfigurationKeys.cs: run 'make docs' and commit the file");
    }

    [Fact]
    public async Task HelpRun_Page_ListsEveryKeyWithItsDefault()
    {
        using var stdout = new MemoryStream();
        var context = new CliContext(stdout, Stream.Null, TimeProvider.System);
        await CommandLine.RunAsync(["help", "run"], context);
        await context.Out.FlushAsync();
        string page = Encoding.UTF8.GetString(stdout.ToArray());

        var keys = ConfigurationKeys.Sections.SelectMany(s => s.Keys).ToList();
        Assert.True(keys.Count > 100, $"only {keys.Count} keys in the table");
        var missing = keys.Where(k => !page.Contains($" {k.Key} ", StringComparison.Ordinal) || !page.Contains($"{k.Summary} [{k.Default}]", StringComparison.Ordinal)).Select(k => k.Key).ToList();
        Assert.True(missing.Count == 0, "not on 'mailagent-control-plane help run' with their summary and default: " + string.Join(", ", missing));
    }

    [Fact]
    public void ConfigurationKeys_LiteralDefaults_AreTheOptionsClassesDefaults()
    {
        var problems = MailAgent.Tests.Cli.KeyDefaults.Mismatches(typeof(ConfigurationKeys).Assembly, ConfigurationKeys.Sections.SelectMany(s => s.Keys).Select(k => (k.Key, k.Default)));

        Assert.True(problems.Count == 0, "control-plane/src/MailControlPlane/Cli/ConfigurationKeys.cs: " + string.Join("; ", problems));
    }

    [Fact]
    public void ConfigurationKeys_EveryKey_OnceAndInItsSection()
    {
        var keys = ConfigurationKeys.Sections.SelectMany(s => s.Keys.Select(k => (Section: s.Name, k.Key))).ToList();

        Assert.Empty(keys.GroupBy(k => k.Key).Where(g => g.Count() > 1).Select(g => g.Key));
        Assert.All(keys, k => Assert.StartsWith(k.Section + ":", k.Key, StringComparison.Ordinal));
    }
}
