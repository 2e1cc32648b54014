using System.IO.Compression;
using System.Text;

namespace MailAgent.Tests;

/// <summary>The corpus files copied next to the test assembly under <c>data/</c>.</summary>
internal static class TestData
{
    public static string Directory { get; } = Path.Combine(AppContext.BaseDirectory, "data");

    public static string PathOf(string name) => Path.Combine(Directory, name);

    /// <summary>Opens a data file, decompressing it when its name ends in <c>.gz</c>.</summary>
    public static Stream Open(string name)
    {
        Stream raw = File.OpenRead(PathOf(name));
        return name.EndsWith(".gz", StringComparison.Ordinal) ? new GZipStream(raw, CompressionMode.Decompress) : raw;
    }

    public static string ReadText(string name)
    {
        using var reader = new StreamReader(Open(name), Encoding.UTF8);
        return reader.ReadToEnd();
    }

    public static IEnumerable<string> ReadLines(string name)
    {
        using var reader = new StreamReader(Open(name), Encoding.UTF8);
        while (reader.ReadLine() is { } line)
            yield return line;
    }

    /// <summary>The sections of <c>example-lines.txt</c>: a "## name" line, then the lines of that shape.</summary>
    public static IReadOnlyList<(string Name, IReadOnlyList<string> Lines)> ExampleSections()
    {
        var sections = new List<(string, IReadOnlyList<string>)>();
        string? name = null;
        List<string> lines = [];
        foreach (string line in ReadLines("example-lines.txt"))
        {
            if (line.StartsWith("## ", StringComparison.Ordinal))
            {
                if (name != null)
                    sections.Add((name, lines));
                name = line[3..].Trim();
                lines = [];
            }
            else if (name != null && line.Length > 0)
            {
                lines.Add(line);
            }
        }

        if (name != null)
            sections.Add((name, lines));
        return sections;
    }
}
