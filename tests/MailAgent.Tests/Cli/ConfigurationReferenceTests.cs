using System.Text.RegularExpressions;
using MailAgent.Hosting;
using MailAgent.Tests.Architecture;

namespace MailAgent.Tests.Cli;

/// <summary>The key reference of 'mailagent help run' and docs/configuration.md do not drift apart.</summary>
public sealed partial class ConfigurationReferenceTests
{
    [Fact]
    public void HelpRunKeys_EachOne_IsInDocsConfiguration()
    {
        string docs = File.ReadAllText(Path.Combine(FolderGraph.RepositoryRoot(), "docs", "configuration.md"));
        var keys = Keys(AgentHost.RunUsage);

        Assert.True(keys.Count > 20, $"only {keys.Count} keys found in the help page");
        var missing = keys.Where(k => !docs.Contains(k, StringComparison.Ordinal)).ToList();
        Assert.True(missing.Count == 0, "in 'mailagent help run' but not in docs/configuration.md: " + string.Join(", ", missing));
    }

    /// <summary>Section:Key names (at least one colon) in the "Configuration keys" part of a usage text.</summary>
    internal static List<string> Keys(string usage)
    {
        int start = Math.Max(0, usage.IndexOf("Configuration keys", StringComparison.Ordinal));
        int end = usage.IndexOf("EXIT STATUS", start, StringComparison.Ordinal);
        return KeyPattern().Matches(usage[start..(end < 0 ? usage.Length : end)]).Select(m => m.Groups[1].Value).Distinct().ToList();
    }

    [GeneratedRegex(@"(?m)^\s{2,}([A-Z][A-Za-z]+(:[A-Za-z0-9]+)+)")]
    private static partial Regex KeyPattern();
}
