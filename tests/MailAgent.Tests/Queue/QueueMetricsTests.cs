using System.Text;
using MailAgent.Queue;
using Microsoft.Extensions.Time.Testing;
using Prometheus;
using static MailAgent.Tests.Integration.Agent.AgentProcess;
using static MailAgent.Tests.Queue.QueueSummarizerTests;

namespace MailAgent.Tests.Queue;

/// <summary>What a scrape shows for a snapshot: zero-filled sets, a histogram of the queue as it is now, bounded domain labels.</summary>
public sealed class QueueMetricsTests
{
    private static readonly DateTimeOffset Now = DateTimeOffset.FromUnixTimeSeconds(1_795_827_766);
    private static readonly double[] Buckets = [60, 3600];

    private readonly FakeTimeProvider _time = new(Now);
    private readonly QueueSnapshotStore _store = new();
    private readonly CollectorRegistry _registry = Prometheus.Metrics.NewCustomRegistry();

    public QueueMetricsTests()
    {
        _ = new QueueMetrics(_registry, _store, Buckets, _time);
    }

    [Fact]
    public async Task Scrape_Fixture_EveryQueueAndReasonZeroFilled()
    {
        _store.Publish(QueueSnapshot.Success(Now, TimeSpan.FromMilliseconds(250), SummarizeFixture(buckets: "60,3600", takenAt: Now)));

        var text = await ScrapeAsync();

        foreach (var queue in PostfixQueues.Names)
        {
            Assert.Contains($"postfix_showq_queue_depth{{queue=\"{queue}\"}} ", text, StringComparison.Ordinal);
            Assert.Contains($"postfix_showq_queue_size_bytes{{queue=\"{queue}\"}} ", text, StringComparison.Ordinal);
            Assert.Contains($"postfix_showq_oldest_message_age_seconds{{queue=\"{queue}\"}} ", text, StringComparison.Ordinal);
            Assert.Contains($"postfix_showq_message_age_seconds_count{{queue=\"{queue}\"}} ", text, StringComparison.Ordinal);
        }

        foreach (var reason in DeferralReasons.Labels)
            Assert.Contains($"postfix_deferred_by_reason{{reason_class=\"{reason}\"}} ", text, StringComparison.Ordinal);
        Assert.Equal(0, Value(text, "postfix_showq_queue_depth", "queue=\"hold\""));
        Assert.Equal(1550, Value(text, "postfix_showq_queue_depth", "queue=\"deferred\""));
        Assert.Equal(3_515_149, Value(text, "postfix_showq_queue_size_bytes", "queue=\"deferred\""));
        Assert.Equal(1150, Value(text, "postfix_deferred_by_reason", "reason_class=\"greylist_rate_limit\""));
        Assert.Equal(1150, Value(text, "postfix_deferred_by_domain", "domain=\"defer.test\""));
        Assert.Equal(0, Value(text, "postfix_deferred_by_domain", "domain=\"other\""));
        Assert.Equal(0.25, Value(text, "mailagent_queue_scrape_duration_seconds"));
    }

    [Fact]
    public async Task Scrape_Histogram_DescribesTheLatestSnapshotOnly()
    {
        long t = Now.ToUnixTimeSeconds();
        _store.Publish(Snapshot(
            Entry("deferred", t - 10, 1, ("a@x.test", "x")),
            Entry("deferred", t - 50, 1, ("a@x.test", "x")),
            Entry("deferred", t - 7200, 1, ("a@x.test", "x"))));
        var first = await ScrapeAsync();

        _store.Publish(Snapshot(Entry("deferred", t - 100, 1, ("a@x.test", "x"))));
        var second = await ScrapeAsync();

        Assert.Equal(2, Value(first, "postfix_showq_message_age_seconds_bucket", "queue=\"deferred\"", "le=\"60\""));
        Assert.Equal(2, Value(first, "postfix_showq_message_age_seconds_bucket", "queue=\"deferred\"", "le=\"3600\""));
        Assert.Equal(3, Value(first, "postfix_showq_message_age_seconds_count", "queue=\"deferred\""));
        Assert.Equal(7260, Value(first, "postfix_showq_message_age_seconds_sum", "queue=\"deferred\""), precision: 6);
        Assert.Equal(0, Value(second, "postfix_showq_message_age_seconds_bucket", "queue=\"deferred\"", "le=\"60\""));
        Assert.Equal(1, Value(second, "postfix_showq_message_age_seconds_bucket", "queue=\"deferred\"", "le=\"3600\""));
        Assert.Equal(1, Value(second, "postfix_showq_message_age_seconds_count", "queue=\"deferred\""));
        Assert.Equal(100, Value(second, "postfix_showq_message_age_seconds_sum", "queue=\"deferred\""), precision: 6);
    }

    [Fact]
    public async Task Scrape_Histogram_AgesOnABoundStayInTheirBucket()
    {
        long t = Now.ToUnixTimeSeconds();
        _store.Publish(Snapshot(
            Entry("hold", t - 60, 1, ("a@x.test", null)),
            Entry("hold", t - 60, 1, ("a@x.test", null)),
            Entry("hold", t - 3600, 1, ("a@x.test", null)),
            Entry("hold", t - 61, 1, ("a@x.test", null))));

        var text = await ScrapeAsync();

        Assert.Equal(2, Value(text, "postfix_showq_message_age_seconds_bucket", "queue=\"hold\"", "le=\"60\""));
        Assert.Equal(4, Value(text, "postfix_showq_message_age_seconds_bucket", "queue=\"hold\"", "le=\"3600\""));
    }

    [Fact]
    public async Task Scrape_DomainsLeavingTheTop_SeriesRemoved()
    {
        long t = Now.ToUnixTimeSeconds();
        _store.Publish(Snapshot(Entry("deferred", t, 1, ("a@gone.test", "x"), ("b@stays.test", "x"))));
        var first = await ScrapeAsync();

        _store.Publish(Snapshot(Entry("deferred", t, 1, ("b@stays.test", "x"), ("c@new.test", "x"))));
        var second = await ScrapeAsync();

        Assert.Contains("domain=\"gone.test\"", first, StringComparison.Ordinal);
        Assert.DoesNotContain("domain=\"gone.test\"", second, StringComparison.Ordinal);
        Assert.Equal(1, Value(second, "postfix_deferred_by_domain", "domain=\"stays.test\""));
        Assert.Equal(1, Value(second, "postfix_deferred_by_domain", "domain=\"new.test\""));
    }

    [Fact]
    public async Task Scrape_DomainNamedOther_FoldedIntoTheOtherSeries()
    {
        long t = Now.ToUnixTimeSeconds();
        var summarizer = new QueueSummarizer(Now, Buckets, topDomains: 1);
        foreach (var address in new[] { "a@other", "b@other", "c@x.test" })
            summarizer.AddLine(Entry("deferred", t, 1, (address, "x")));
        _store.Publish(QueueSnapshot.Success(Now, TimeSpan.Zero, summarizer.Build()));

        var text = await ScrapeAsync();

        Assert.Equal(3, Value(text, "postfix_deferred_by_domain", "domain=\"other\""));
        Assert.Equal(3, Value(text, "postfix_deferred_by_domain"));
    }

    private static QueueSnapshot Snapshot(params string[] lines)
    {
        var summarizer = new QueueSummarizer(Now, Buckets, topDomains: 10);
        foreach (var line in lines)
            summarizer.AddLine(line);
        return QueueSnapshot.Success(Now, TimeSpan.Zero, summarizer.Build());
    }

    private async Task<string> ScrapeAsync()
    {
        using var stream = new MemoryStream();
        await _registry.CollectAndExportAsTextAsync(stream);
        return Encoding.UTF8.GetString(stream.ToArray());
    }
}
