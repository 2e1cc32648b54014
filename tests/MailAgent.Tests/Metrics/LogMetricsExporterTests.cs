using MailAgent.Metrics;
using Prometheus;

namespace MailAgent.Tests.Metrics;

public sealed class LogMetricsExporterTests
{
    // The tail thread observes while a scrape publishes. A scrape that saw a bucket's count move but not yet its
    // sum handed prometheus-net a mean of 0, clamped to the bucket's lower bound, and the exposed _sum never came
    // back to the truth (torture test: postfix_message_latency_seconds_sum 37,964 live against 37,965, every
    // bucket equal). Here the pipeline thread stops between the count and the sum while a scrape runs.
    [Fact]
    public async Task Sync_DuringAnObservation_PublishesCountAndSumTogether()
    {
        var stats = new LogStats();
        var registry = Prometheus.Metrics.NewCustomRegistry();
        var exporter = new LogMetricsExporter(registry, stats, () => 0);
        var histogram = stats.InsertedRecipients; // buckets 1, 2, 4, 8, ...
        histogram.Observe(0, 5);
        exporter.Sync();

        histogram.BeginWrite();
        histogram.Counts[0][3]++; // a 6 in (4, 8], its sum not added yet
        var scrape = Task.Run(exporter.Sync);
        await Task.WhenAny(scrape, Task.Delay(200)); // the scrape has every chance to read the half-written bucket
        histogram.Sums[0][3] += 6;
        histogram.EndWrite();
        await scrape;
        histogram.Observe(0, 7);
        exporter.Sync();

        var exposed = await ExposedAsync(registry, histogram.Name);
        Assert.Equal(3, exposed.Count);
        Assert.Equal(18, exposed.Sum);
    }

    private static async Task<(long Count, double Sum)> ExposedAsync(CollectorRegistry registry, string name)
    {
        using var stream = new MemoryStream();
        await registry.CollectAndExportAsTextAsync(stream);
        string text = System.Text.Encoding.UTF8.GetString(stream.ToArray());
        double Value(string series) => double.Parse(
            text.Split('\n').Single(l => l.StartsWith(series + " ", StringComparison.Ordinal))[(series.Length + 1)..],
            System.Globalization.CultureInfo.InvariantCulture);
        return ((long)Value(name + "_count"), Value(name + "_sum"));
    }
}
