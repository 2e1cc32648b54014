using System.Text.RegularExpressions;

namespace MailAgent.Tests.Architecture;

/// <summary>
/// The folder-level dependency graph of a daemon, read from its source: folder A uses folder B when
/// a file under A names <c>PREFIX.B</c> (a using or a qualified name) outside a comment. Linked into
/// both test projects; checked against the allowed-dependency tables in docs/architecture.md.
/// </summary>
internal static partial class FolderGraph
{
    public const string Root = "(root)";

    /// <summary>Folder → the folders it uses, for every top folder of <paramref name="root"/> (and <see cref="Root"/> for files at the top).</summary>
    public static SortedDictionary<string, SortedSet<string>> FromSource(string root, string prefix)
    {
        var graph = new SortedDictionary<string, SortedSet<string>>(StringComparer.Ordinal);
        var folders = Directory.GetDirectories(root).Select(Path.GetFileName).OfType<string>().Where(f => f is not ("bin" or "obj")).ToList();
        var reference = new Regex(@"\b" + Regex.Escape(prefix) + @"\.([A-Z][A-Za-z0-9_]*)", RegexOptions.CultureInvariant);
        foreach (var file in Directory.EnumerateFiles(root, "*.cs", SearchOption.AllDirectories))
        {
            var relative = Path.GetRelativePath(root, file).Split(Path.DirectorySeparatorChar);
            if (relative[0] is "bin" or "obj")
                continue;
            string from = relative.Length > 1 ? relative[0] : Root;
            var uses = graph.TryGetValue(from, out var set) ? set : graph[from] = new SortedSet<string>(StringComparer.Ordinal);
            string text = StripComments(File.ReadAllText(file));
            foreach (Match m in reference.Matches(text))
            {
                string to = m.Groups[1].Value;
                if (to != from && Directory.Exists(Path.Combine(root, to)))
                    uses.Add(to);
            }

            // A sibling named relative to the shared root namespace ("Hosting.AgentHost" inside PREFIX.Cli);
            // using directives name global namespaces ("using Grpc.Core;"), so they are left out.
            string body = UsingLine().Replace(text, "");
            foreach (var folder in folders.Where(f => f != from && !uses.Contains(f)))
            {
                if (Regex.IsMatch(body, @"(?<![\w.])" + Regex.Escape(folder) + @"\.[A-Z]", RegexOptions.CultureInvariant))
                    uses.Add(folder);
            }
        }

        return graph;
    }

    /// <summary>Every strongly connected set of more than one folder (Tarjan), each sorted.</summary>
    public static List<List<string>> Cycles(IReadOnlyDictionary<string, SortedSet<string>> graph)
    {
        var index = new Dictionary<string, int>();
        var low = new Dictionary<string, int>();
        var stack = new Stack<string>();
        var onStack = new HashSet<string>();
        var result = new List<List<string>>();
        int next = 0;

        void Visit(string v)
        {
            index[v] = low[v] = next++;
            stack.Push(v);
            onStack.Add(v);
            foreach (var w in graph.TryGetValue(v, out var e) ? e : [])
            {
                if (!index.TryGetValue(w, out int wIndex))
                {
                    Visit(w);
                    low[v] = Math.Min(low[v], low[w]);
                }
                else if (onStack.Contains(w))
                    low[v] = Math.Min(low[v], wIndex);
            }

            if (low[v] != index[v])
                return;
            var component = new List<string>();
            string x;
            do
            {
                x = stack.Pop();
                onStack.Remove(x);
                component.Add(x);
            }
            while (x != v);
            if (component.Count > 1)
                result.Add(component.Order(StringComparer.Ordinal).ToList());
        }

        foreach (var v in graph.Keys)
        {
            if (!index.ContainsKey(v))
                Visit(v);
        }

        return result;
    }

    /// <summary>One line per edge the table does not allow, and per folder the table does not list.</summary>
    public static List<string> Violations(IReadOnlyDictionary<string, SortedSet<string>> graph, IReadOnlyDictionary<string, HashSet<string>> allowed)
    {
        var problems = new List<string>();
        foreach (var (from, uses) in graph)
        {
            if (!allowed.TryGetValue(from, out var may))
            {
                problems.Add($"{from}/ is not in the allowed-dependency table: add a row to docs/architecture.md");
                continue;
            }

            foreach (var to in uses.Where(t => !may.Contains(t)))
                problems.Add($"{from} -> {to} is not allowed (docs/architecture.md allows {from} -> {(may.Count == 0 ? "nothing" : string.Join(", ", may.Order(StringComparer.Ordinal)))})");
        }

        return problems;
    }

    /// <summary>
    /// Reads the table between <c>&lt;!-- allowed-dependencies:NAME --&gt;</c> and <c>&lt;!-- /allowed-dependencies:NAME --&gt;</c>:
    /// rows <c>| Folder | May use |</c>, the uses comma-separated, '—' for none.
    /// </summary>
    public static Dictionary<string, HashSet<string>> ParseAllowedTable(string markdown, string name)
    {
        string start = $"<!-- allowed-dependencies:{name} -->", end = $"<!-- /allowed-dependencies:{name} -->";
        int i = markdown.IndexOf(start, StringComparison.Ordinal), j = markdown.IndexOf(end, StringComparison.Ordinal);
        if (i < 0 || j < i)
            throw new InvalidOperationException($"no allowed-dependencies:{name} table in docs/architecture.md");
        var table = new Dictionary<string, HashSet<string>>(StringComparer.Ordinal);
        foreach (var line in markdown[(i + start.Length)..j].Split('\n'))
        {
            var cells = line.Trim().Trim('|').Split('|').Select(c => c.Trim().Trim('`')).ToArray();
            if (cells.Length < 2 || cells[0].Length == 0 || cells[0] == "Folder" || cells[0].StartsWith("---", StringComparison.Ordinal))
                continue;
            string folder = cells[0].TrimEnd('/');
            table[folder] = cells[1].Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                .Select(c => c.Trim('`').TrimEnd('/')).Where(c => c is not ("—" or "-" or "")).ToHashSet(StringComparer.Ordinal);
        }

        return table;
    }

    /// <summary>The repository's top directory (where MailAgent.sln is), found from the test binaries.</summary>
    public static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "MailAgent.sln")))
                return dir.FullName;
        }

        throw new InvalidOperationException("MailAgent.sln not found above " + AppContext.BaseDirectory);
    }

    private static string StripComments(string text) => LineComment().Replace(text, "");

    [GeneratedRegex(@"^\s*(global\s+)?using\s+[^;(]*;", RegexOptions.Multiline)]
    private static partial Regex UsingLine();

    [GeneratedRegex("//.*")]
    private static partial Regex LineComment();
}
