namespace MailAgent.Tests.Architecture;

/// <summary>The agent's folders depend on each other one way, as docs/architecture.md draws it.</summary>
public sealed class ArchitectureTests
{
    private static string Source => Path.Combine(FolderGraph.RepositoryRoot(), "agent", "src", "MailAgent");

    private static Dictionary<string, HashSet<string>> Allowed() =>
        FolderGraph.ParseAllowedTable(File.ReadAllText(Path.Combine(FolderGraph.RepositoryRoot(), "docs", "architecture.md")), "agent");

    [Fact]
    public void AgentSource_FolderGraph_HasNoCycle()
    {
        var cycles = FolderGraph.Cycles(FolderGraph.FromSource(Source, "MailAgent"));

        Assert.True(cycles.Count == 0, "folder cycles: " + string.Join("; ", cycles.Select(c => string.Join(" <-> ", c))));
    }

    [Fact]
    public void AgentSource_EveryEdge_IsInTheDocumentedTable()
    {
        var problems = FolderGraph.Violations(FolderGraph.FromSource(Source, "MailAgent"), Allowed());

        Assert.True(problems.Count == 0, string.Join(Environment.NewLine, problems));
    }

    [Fact]
    public void DocumentedTable_Itself_HasNoCycle()
    {
        var table = Allowed().ToDictionary(p => p.Key, p => new SortedSet<string>(p.Value, StringComparer.Ordinal));

        Assert.Empty(FolderGraph.Cycles(table));
        Assert.Contains("LogParsing", table["Correlation"]);
        Assert.DoesNotContain("Pipeline", table["LogTailing"]);
    }

    [Fact]
    public void Checker_BackEdgeAddedToSource_ReportsCycleAndForbiddenEdge()
    {
        // tail → parse → correlate → sinks, then a sink file that reaches back into the tail.
        string root = Directory.CreateTempSubdirectory("arch-").FullName;
        try
        {
            Write(root, "LogTailing/Tailer.cs", "namespace Demo.LogTailing;\ninternal sealed class Tailer { }");
            Write(root, "LogParsing/Parser.cs", "namespace Demo.LogParsing;\n// using Demo.Metrics; (a comment is not an edge)\ninternal sealed class Parser { }");
            Write(root, "Correlation/Correlator.cs", "using Demo.LogParsing;\nnamespace Demo.Correlation;\ninternal sealed class Correlator { }");
            Write(root, "Metrics/Sink.cs", "using Demo.Correlation;\nnamespace Demo.Metrics;\ninternal sealed class Sink { }");
            Write(root, "Pipeline/Processor.cs", "using Demo.LogTailing;\nusing Demo.Metrics;\nnamespace Demo.Pipeline;\ninternal sealed class Processor { }");
            var allowed = new Dictionary<string, HashSet<string>>
            {
                ["LogTailing"] = [],
                ["LogParsing"] = [],
                ["Correlation"] = ["LogParsing"],
                ["Metrics"] = ["Correlation", "LogParsing"],
                ["Pipeline"] = ["LogTailing", "Metrics", "Correlation", "LogParsing"],
            };

            var clean = FolderGraph.FromSource(root, "Demo");
            Assert.Empty(FolderGraph.Cycles(clean));
            Assert.Empty(FolderGraph.Violations(clean, allowed));

            Write(root, "LogTailing/Back.cs", "namespace Demo.LogTailing;\ninternal sealed class Back { Pipeline.Processor? P; }");
            var dirty = FolderGraph.FromSource(root, "Demo");

            Assert.Equal(["LogTailing", "Pipeline"], Assert.Single(FolderGraph.Cycles(dirty)));
            Assert.Contains(FolderGraph.Violations(dirty, allowed), v => v.StartsWith("LogTailing -> Pipeline is not allowed", StringComparison.Ordinal));
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    [Fact]
    public void Checker_EdgeAcyclicButNotInTable_IsReported()
    {
        var graph = new SortedDictionary<string, SortedSet<string>>
        {
            ["Correlation"] = ["LogParsing", "Metrics"],
            ["LogParsing"] = [],
            ["Metrics"] = [],
            ["Doctor"] = [],
        };
        var allowed = new Dictionary<string, HashSet<string>> { ["Correlation"] = ["LogParsing"], ["LogParsing"] = [], ["Metrics"] = [] };

        var problems = FolderGraph.Violations(graph, allowed);

        Assert.Empty(FolderGraph.Cycles(graph));
        Assert.Equal(2, problems.Count);
        Assert.Contains(problems, p => p.StartsWith("Correlation -> Metrics", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith("Doctor/ is not in the allowed-dependency table", StringComparison.Ordinal));
    }

    [Fact]
    public void ParseAllowedTable_Rows_ReadsFoldersAndUses()
    {
        const string markdown = """
            <!-- allowed-dependencies:demo -->
            | Folder | May use |
            |---|---|
            | `LogParsing/` | — |
            | `Correlation/` | `LogParsing` |
            | Pipeline | LogTailing, Correlation |
            <!-- /allowed-dependencies:demo -->
            """;

        var table = FolderGraph.ParseAllowedTable(markdown, "demo");

        Assert.Empty(table["LogParsing"]);
        Assert.Equal(["LogParsing"], table["Correlation"]);
        Assert.Equal(["Correlation", "LogTailing"], table["Pipeline"].Order(StringComparer.Ordinal));
    }

    private static void Write(string root, string relative, string text)
    {
        string path = Path.Combine(root, relative);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, text);
    }
}
