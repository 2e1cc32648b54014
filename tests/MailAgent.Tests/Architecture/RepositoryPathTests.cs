using System.Text.RegularExpressions;

namespace MailAgent.Tests.Architecture;

/// <summary>Every path the README, docs/ and the code's comments name exists in a fresh clone.</summary>
public sealed partial class RepositoryPathTests
{
    private static readonly string[] SourceRoots = ["agent", "control-plane", "common", "tests", "bench", "protos"];

    [Fact]
    public void ReadmeDocsAndComments_NamedPaths_AllExist()
    {
        string root = FolderGraph.RepositoryRoot();
        var missing = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var (file, text) in Texts(root))
        {
            foreach (var path in NamedPaths(text, Path.GetDirectoryName(Path.Combine(root, file))!, root))
                missing.Add($"{file}: {path}");
        }

        Assert.True(missing.Count == 0, "paths that do not exist in the repository:" + Environment.NewLine + string.Join(Environment.NewLine, missing));
    }

    [Fact]
    public void Checker_MissingPathsAndLinks_Reported()
    {
        string root = FolderGraph.RepositoryRoot();
        string text = """
            See docs/architecture.md and packaging/no-such-dir/unit.service, [metrics](metrics.md),
            [ops](docs/operations.md#queue), https://example.test/docs/x.md, and platform-notes.md.
            """;

        var missing = NamedPaths(text, root, root).ToList();

        Assert.Equal(["metrics.md", "packaging/no-such-dir/unit.service", "platform-notes.md"], missing);
    }

    /// <summary>README.md, docs/*.md, and the comment lines of every C# file under the source roots.</summary>
    private static IEnumerable<(string File, string Text)> Texts(string root)
    {
        yield return ("README.md", File.ReadAllText(Path.Combine(root, "README.md")));
        foreach (var doc in Directory.EnumerateFiles(Path.Combine(root, "docs"), "*.md"))
            yield return (Path.GetRelativePath(root, doc).Replace('\\', '/'), File.ReadAllText(doc));
        foreach (var dir in SourceRoots.Select(d => Path.Combine(root, d)).Where(Directory.Exists))
        {
            foreach (var cs in Directory.EnumerateFiles(dir, "*.cs", SearchOption.AllDirectories))
            {
                string relative = Path.GetRelativePath(root, cs).Replace('\\', '/');
                if (relative.Contains("/obj/", StringComparison.Ordinal) || relative.Contains("/bin/", StringComparison.Ordinal))
                    continue;
                var comments = File.ReadLines(cs).Select(l => l.TrimStart()).Where(l => l.StartsWith("//", StringComparison.Ordinal));
                yield return (relative, string.Join('\n', comments));
            }
        }
    }

    /// <summary>The repository paths, markdown links and bare *.md names in <paramref name="text"/> that do not exist.</summary>
    private static IEnumerable<string> NamedPaths(string text, string directory, string root)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (Match link in MarkdownLink().Matches(text))
        {
            string target = link.Groups["target"].Value.Split('#')[0];
            if (target.Length == 0 || target.Contains("://", StringComparison.Ordinal) || target.StartsWith("mailto:", StringComparison.Ordinal))
                continue;
            seen.Add(target);
            if (!Exists(Path.GetFullPath(Path.Combine(directory, target))) && !Exists(Path.Combine(root, target)))
                yield return target;
        }

        foreach (Match m in RepositoryPath().Matches(text))
        {
            string path = m.Value.TrimEnd('.', ',', ';', ':', ')');
            if (IsPattern(path) || !seen.Add(path) || m.Index > 0 && text[m.Index - 1] is '/' or '.' or '~' or '$')
                continue;
            if (!Exists(Path.Combine(root, path)))
                yield return path;
        }

        foreach (Match m in BareMarkdownName().Matches(text))
        {
            string name = m.Value;
            if (!seen.Add(name))
                continue;
            if (!Exists(Path.Combine(directory, name)) && !Exists(Path.Combine(root, name)) && !Exists(Path.Combine(root, "docs", name)))
                yield return name;
        }
    }

    private static bool Exists(string path) => File.Exists(path) || Directory.Exists(path);

    /// <summary>Placeholders and globs (DIR, *.cs, {name}, …) describe paths; they do not name one.</summary>
    private static bool IsPattern(string path) =>
        path.IndexOfAny(['*', '{', '<', '…', '$']) >= 0 || path.Contains("/bin/", StringComparison.Ordinal) || path.Contains("/obj/", StringComparison.Ordinal)
        || path.Split('/').Any(part => part is "X" or "N" or "DIR" or "NAME" or "FILE" or "VERSION");

    [GeneratedRegex(@"\]\((?<target>[^)\s]+)\)")]
    private static partial Regex MarkdownLink();

    [GeneratedRegex(@"(?<![\w\-/.])(?:agent|control-plane|common|docs|packaging|tests|bench|protos|scripts)/[\w.\-/]*[\w/]")]
    private static partial Regex RepositoryPath();

    [GeneratedRegex(@"(?<![\w\-/.#])[\w\-]+\.md\b(?![\w/])")]
    private static partial Regex BareMarkdownName();
}
