using MailAgent.Tests.Architecture;

namespace MailControlPlane.Tests.Architecture;

/// <summary>The control plane's folders depend on each other one way, as docs/architecture.md draws it.</summary>
public sealed class ArchitectureTests
{
    private static string Source => Path.Combine(FolderGraph.RepositoryRoot(), "control-plane", "src", "MailControlPlane");

    private static Dictionary<string, HashSet<string>> Allowed() =>
        FolderGraph.ParseAllowedTable(File.ReadAllText(Path.Combine(FolderGraph.RepositoryRoot(), "docs", "architecture.md")), "control-plane");

    [Fact]
    public void ControlPlaneSource_FolderGraph_HasNoCycle()
    {
        var cycles = FolderGraph.Cycles(FolderGraph.FromSource(Source, "MailControlPlane"));

        Assert.True(cycles.Count == 0, "folder cycles: " + string.Join("; ", cycles.Select(c => string.Join(" <-> ", c))));
    }

    [Fact]
    public void ControlPlaneSource_EveryEdge_IsInTheDocumentedTable()
    {
        var problems = FolderGraph.Violations(FolderGraph.FromSource(Source, "MailControlPlane"), Allowed());

        Assert.True(problems.Count == 0, string.Join(Environment.NewLine, problems));
    }

    [Fact]
    public void DocumentedTable_Flow_AgentsToConnectionsToScorerToWriter()
    {
        var table = Allowed().ToDictionary(p => p.Key, p => new SortedSet<string>(p.Value, StringComparer.Ordinal));

        Assert.Empty(FolderGraph.Cycles(table));
        Assert.Contains("Registry", table["Connections"]);
        Assert.Contains("Scoring", table["Connections"]);
        Assert.DoesNotContain("Connections", table["Scoring"]);
        Assert.DoesNotContain("Routing", table["Scoring"]);
    }

    [Fact]
    public void Checker_ScorerReachingBackIntoConnections_IsACycleAndForbidden()
    {
        var graph = new SortedDictionary<string, SortedSet<string>>
        {
            ["Connections"] = ["Registry", "Scoring"],
            ["Registry"] = [],
            ["Scoring"] = ["Connections"],
            ["Routing"] = ["Scoring"],
        };

        var cycles = FolderGraph.Cycles(graph);
        var problems = FolderGraph.Violations(graph, Allowed());

        Assert.Equal(["Connections", "Scoring"], Assert.Single(cycles));
        Assert.Contains(problems, p => p.StartsWith("Scoring -> Connections is not allowed", StringComparison.Ordinal));
    }
}
