using BenchmarkDotNet.Attributes;
using MailAgent.Queue;

namespace MailAgent.Benchmarks;

/// <summary>
/// The queue summariser, warm, on 100,000 lines of real <c>postqueue -j</c> output (the 1,550-line
/// fixture repeated, with queue IDs and domains varied). One operation is one line: read "Mean" as
/// time per queued message and "Allocated" as bytes allocated per message.
/// </summary>
[MemoryDiagnoser]
public class QueueSummarizerBenchmarks
{
    private const int Lines = 100_000;
    private readonly double[] _buckets = new QueueOptions().AgeBucketBounds();
    private byte[] _output = [];

    [GlobalSetup]
    public void Setup()
    {
        var fixture = File.ReadAllLines(Corpus.Find("tests/data/postqueue-j.jsonl"));
        using var text = new StringWriter();
        for (int i = 0; i < Lines; i++)
        {
            // 2,000 destination domains, so the domain counts do real work.
            string line = fixture[i % fixture.Length].Replace(".test\"", $"{i % 2000}.test\"", StringComparison.Ordinal);
            text.Write(line);
            text.Write('\n');
        }

        _output = System.Text.Encoding.UTF8.GetBytes(text.ToString());
    }

    [Benchmark(OperationsPerInvoke = Lines)]
    public long Summarize()
    {
        var summarizer = new QueueSummarizer(DateTimeOffset.FromUnixTimeSeconds(1_795_827_766), _buckets, topDomains: 10);
        QueueOutputReader.Read(_output, summarizer);
        return summarizer.Build().Messages;
    }
}
