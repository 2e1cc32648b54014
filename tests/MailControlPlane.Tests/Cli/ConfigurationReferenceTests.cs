using System.Text.RegularExpressions;
using MailAgent.Tests.Architecture;
using MailControlPlane.Cli;

namespace MailControlPlane.Tests.Cli;

/// <summary>The key reference of 'mailagent-control-plane help run' and docs/configuration.md do not drift apart.</summary>
public sealed partial class ConfigurationReferenceTests
{
    [Fact]
    public void HelpRunKeys_EachOne_IsInDocsConfiguration()
    {
        string docs = File.ReadAllText(Path.Combine(FolderGraph.RepositoryRoot(), "docs", "configuration.md"));
        string run = CommandLine.RunUsage;
        int start = run.IndexOf("Configuration keys", StringComparison.Ordinal);
        string usage = run[start..run.IndexOf("EXIT STATUS", start, StringComparison.Ordinal)];
        var keys = KeyPattern().Matches(usage).Select(m => m.Groups[1].Value).Distinct().ToList();

        Assert.True(keys.Count > 15, $"only {keys.Count} keys found in the help page");
        var missing = keys.Where(k => !docs.Contains(k, StringComparison.Ordinal)).ToList();
        Assert.True(missing.Count == 0, "in 'mailagent-control-plane help run' but not in docs/configuration.md: " + string.Join(", ", missing));
    }

    [GeneratedRegex(@"(?m)^\s{2,}([A-Z][A-Za-z]+(:[A-Za-z0-9]+)+)")]
    private static partial Regex KeyPattern();
}
