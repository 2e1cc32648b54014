using MailAgent.Cli;
using MailAgent.Tests.Architecture;

namespace MailAgent.Tests.Cli;

/// <summary>
/// One source for the agent's key reference: ConfigurationKeys gives 'mailagent help run' its key
/// list and docs/configuration.md its agent tables; the committed file must match.
/// </summary>
public sealed class ConfigurationReferenceTests
{
    private const string Command = "mailagent help run --markdown";

    [Fact]
    public void DocsConfiguration_AgentTables_AreGeneratedFromConfigurationKeys()
    {
        string docs = File.ReadAllText(Path.Combine(FolderGraph.RepositoryRoot(), "docs", "configuration.md")).ReplaceLineEndings("\n");

        string? committed = GeneratedPart(docs, Command);

        Assert.True(committed != null, $"docs/configuration.md lacks the line {ConfigurationReference.BeginMarker(Command)} or the {ConfigurationReference.EndMarker} after it");
        Assert.True(committed == ConfigurationReference.Markdown(ConfigurationKeys.Sections),
            "docs/configuration.md's agent key tables differ from agent/src/MailAgent/Cli/ConfigurationKeys.cs: run 'make docs' and commit the file");
    }

    [Fact]
    public async Task HelpRun_Page_ListsEveryKeyWithItsDefault()
    {
        var (_, page, _) = await ReplayRunner.RunAsync("help", "run");

        var keys = ConfigurationKeys.Sections.SelectMany(s => s.Keys).ToList();
        Assert.True(keys.Count > 100, $"only {keys.Count} keys in the table");
        var missing = keys.Where(k => !page.Contains($" {k.Key} ", StringComparison.Ordinal) || !page.Contains($"{k.Summary} [{k.Default}]", StringComparison.Ordinal)).Select(k => k.Key).ToList();
        Assert.True(missing.Count == 0, "not on 'mailagent help run' with their summary and default: " + string.Join(", ", missing));
    }

    [Fact]
    public void ConfigurationKeys_EveryKey_OnceAndInItsSection()
    {
        var keys = ConfigurationKeys.Sections.SelectMany(s => s.Keys.Select(k => (Section: s.Name, k.Key))).ToList();

        Assert.Empty(keys.GroupBy(k => k.Key).Where(g => g.Count() > 1).Select(g => g.Key));
        Assert.All(keys, k => Assert.StartsWith(k.Section + ":", k.Key, StringComparison.Ordinal));
    }

    [Fact]
    public void ConfigurationKeys_LiteralDefaults_AreTheOptionsClassesDefaults()
    {
        var problems = KeyDefaults.Mismatches(typeof(ConfigurationKeys).Assembly, ConfigurationKeys.Sections.SelectMany(s => s.Keys).Select(k => (k.Key, k.Default)));

        Assert.True(problems.Count == 0, "agent/src/MailAgent/Cli/ConfigurationKeys.cs: " + string.Join("; ", problems));
    }

    [Fact]
    public async Task HelpMarkdown_Run_PrintsTheGeneratedTables()
    {
        var (exitCode, stdout, _) = await ReplayRunner.RunAsync("help", "run", "--markdown");

        Assert.Equal(0, exitCode);
        Assert.Equal(ConfigurationReference.Markdown(ConfigurationKeys.Sections), stdout.ReplaceLineEndings("\n"));
    }

    /// <summary>The text between a daemon's generated markers (after the begin line and a blank line, up to a blank line and the end marker).</summary>
    internal static string? GeneratedPart(string docs, string command)
    {
        string begin = ConfigurationReference.BeginMarker(command) + "\n\n";
        int start = docs.IndexOf(begin, StringComparison.Ordinal);
        if (start < 0)
            return null;
        start += begin.Length;
        int end = docs.IndexOf("\n" + ConfigurationReference.EndMarker, start, StringComparison.Ordinal);
        return end < 0 ? null : docs[start..end];
    }
}
