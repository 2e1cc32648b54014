using System.IO.Compression;
using BenchmarkDotNet.Attributes;
using MailAgent.LogParsing;
using MailAgent.Pipeline;

namespace MailAgent.Benchmarks;

/// <summary>
/// Per-line cost of the parser alone and of the whole pipeline (parse, correlate, count) on the
/// real corpus. One operation is one line: read "Mean" as time per line and "Allocated" as bytes
/// allocated per line.
/// </summary>
[MemoryDiagnoser]
public class ParserBenchmarks
{
    private const int Lines = 100_000;
    private byte[] _data = [];
    private int[] _starts = [];
    private int[] _lengths = [];

    [GlobalSetup]
    public void Setup()
    {
        string path = Corpus.Find("tests/data/real-postfix-3.7.log.gz");
        using var gz = new GZipStream(File.OpenRead(path), CompressionMode.Decompress);
        using var ms = new MemoryStream();
        gz.CopyTo(ms);
        var all = ms.ToArray();
        var starts = new List<int>(Lines);
        var lengths = new List<int>(Lines);
        int pos = 0;
        while (starts.Count < Lines && pos < all.Length)
        {
            int nl = Array.IndexOf(all, (byte)'\n', pos);
            if (nl < 0)
                break;
            starts.Add(pos);
            lengths.Add(nl - pos);
            pos = nl + 1;
        }

        _data = all;
        _starts = [.. starts];
        _lengths = [.. lengths];
    }

    [Benchmark(OperationsPerInvoke = Lines)]
    public int ParseOnly()
    {
        int understood = 0;
        for (int i = 0; i < _starts.Length; i++)
        {
            var p = LineParser.Parse(_data.AsSpan(_starts[i], _lengths[i]));
            if (p.Kind != EventKind.Unparsed)
                understood++;
        }

        return understood;
    }

    [Benchmark(OperationsPerInvoke = Lines)]
    public long FullPipeline()
    {
        var processor = LogProcessor.Create(new DateTimeOffset(2026, 11, 28, 0, 0, 0, TimeSpan.Zero), 200_000, TimeSpan.FromDays(6));
        for (int i = 0; i < _starts.Length; i++)
            processor.Process(_data.AsSpan(_starts[i], _lengths[i]));
        return processor.Stats.Summary[0];
    }
}

internal static class Corpus
{
    /// <summary>Finds a repository file from wherever BenchmarkDotNet runs the benchmark process.</summary>
    public static string Find(string relative)
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
        {
            string candidate = Path.Combine(dir.FullName, relative);
            if (File.Exists(candidate))
                return candidate;
        }

        throw new FileNotFoundException($"{relative} not found above {AppContext.BaseDirectory}");
    }
}
