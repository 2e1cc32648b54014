using System.Text.RegularExpressions;

namespace MailAgent.Tests.Architecture;

/// <summary>Every outside program goes through one seam: Postfix's through <c>Postfix/</c>, no second wrapper.</summary>
public sealed partial class SeamTests
{
    /// <summary>The files that start processes, and why each may.</summary>
    private static readonly Dictionary<string, string> ProcessStarters = new(StringComparer.Ordinal)
    {
        ["Postfix/PostfixCommands.cs"] = "the one Postfix command seam",
        ["Doctor/HostCommands.cs"] = "the doctor's non-Postfix host commands (nft, iptables-save, fail2ban-client)",
        ["Certificates/CertificateDeployer.cs"] = "Certificates:ReloadCommands, other services reloaded after Postfix",
    };

    private static string AgentSource => Path.Combine(FolderGraph.RepositoryRoot(), "agent", "src", "MailAgent");

    [Fact]
    public void AgentSource_ProcessStarts_OnlyInTheKnownSeams()
    {
        var starters = SourceFiles(AgentSource).Where(f => ProcessStart().IsMatch(f.Text)).Select(f => f.Path).ToArray();

        Assert.True(starters.All(ProcessStarters.ContainsKey), "a process is started outside the seams: " + string.Join(", ", starters.Where(s => !ProcessStarters.ContainsKey(s))));
    }

    [Fact]
    public void AgentSource_PostfixPrograms_RunOnlyThroughThePostfixSeam()
    {
        var offenders = SourceFiles(AgentSource)
            .Where(f => !f.Path.StartsWith("Postfix/", StringComparison.Ordinal) && ProcessStart().IsMatch(f.Text) && PostfixProgram().IsMatch(f.Text))
            .Select(f => f.Path).ToArray();

        Assert.True(offenders.Length == 0, "runs a Postfix program outside Postfix/: " + string.Join(", ", offenders));
    }

    [Fact]
    public void AgentSource_PostfixCommandInterfaceAndResult_DeclaredOnce()
    {
        var files = SourceFiles(AgentSource).ToArray();

        foreach (var declaration in new[] { @"interface\s+IPostfix(Commands|Control|Runner)\b", @"record\s+struct\s+Postfix\w*Result\b", @"class\s+\w*Postfix\w*(Commands|Control)\b" })
        {
            var found = files.Where(f => Regex.IsMatch(f.Text, declaration)).Select(f => f.Path).ToArray();
            Assert.True(found.Length == 1 && found[0] == "Postfix/PostfixCommands.cs", $"'{declaration}' declared in: {string.Join(", ", found)}");
        }
    }

    [Fact]
    public void Checker_SecondPostfixWrapper_IsReported()
    {
        string text = "var r = await CliWrap.Cli.Wrap(options.PostqueuePath).ExecuteAsync();";

        Assert.Matches(ProcessStart(), text);
        Assert.Matches(PostfixProgram(), text);
    }

    private static IEnumerable<(string Path, string Text)> SourceFiles(string root) =>
        Directory.EnumerateFiles(root, "*.cs", SearchOption.AllDirectories)
            .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}", StringComparison.Ordinal)
                && !f.Contains($"{Path.DirectorySeparatorChar}bin{Path.DirectorySeparatorChar}", StringComparison.Ordinal))
            .Select(f => (Path.GetRelativePath(root, f).Replace('\\', '/'), File.ReadAllText(f)));

    [GeneratedRegex(@"\bCli\.Wrap\(|\bProcess\.Start\(|new\s+ProcessStartInfo\b")]
    private static partial Regex ProcessStart();

    [GeneratedRegex(@"\bPost(fix|conf|queue)Path\b|""/usr/sbin/post\w+""|Wrap\(""post(fix|conf|queue|super)""")]
    private static partial Regex PostfixProgram();
}
