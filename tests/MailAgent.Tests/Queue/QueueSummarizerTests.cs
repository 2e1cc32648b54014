using System.Text;
using System.Text.RegularExpressions;
using MailAgent.Queue;

namespace MailAgent.Tests.Queue;

/// <summary>The summariser on a real <c>postqueue -j</c> output: 1,550 deferred messages of a Postfix 3.7 instance.</summary>
public sealed partial class QueueSummarizerTests
{
    /// <summary>The oldest arrival_time in the fixture (2026-11-27 23:22:46 UTC); the newest is 18 s later.</summary>
    private const long OldestArrival = 1795824166;

    /// <summary>One hour after the oldest message arrived.</summary>
    private static readonly DateTimeOffset TakenAt = DateTimeOffset.FromUnixTimeSeconds(OldestArrival + 3600);

    internal static QueueSummary SummarizeFixture(string buckets = QueueOptions.DefaultAgeBuckets, int topDomains = 10, DateTimeOffset? takenAt = null)
    {
        Assert.True(QueueOptions.TryParseAgeBuckets(buckets, out var bounds, out _));
        var summarizer = new QueueSummarizer(takenAt ?? TakenAt, bounds, topDomains);
        QueueOutputReader.Read(File.ReadAllBytes(TestData.PathOf("postqueue-j.jsonl")), summarizer);
        return summarizer.Build();
    }

    [Fact]
    public void Summarize_Fixture_CountsEveryDeferredMessageAndItsBytes()
    {
        var summary = SummarizeFixture();

        Assert.Equal(1550, summary.Lines);
        Assert.Equal(0, summary.MalformedLines);
        var deferred = summary[PostfixQueue.Deferred];
        Assert.Equal(1550, deferred.Messages);
        Assert.Equal(1550, deferred.Recipients);
        Assert.Equal(3_515_149, deferred.Bytes);
        Assert.Equal(1550, summary.Messages);
    }

    [Fact]
    public void Summarize_Fixture_AgreesWithPostqueueP()
    {
        // postqueue -p of the same queue ends "-- 3432 Kbytes in 1550 Requests." (Kbytes rounded down).
        var last = File.ReadLines(TestData.PathOf("postqueue-p.txt")).Last(l => l.Length > 0);
        var match = PostqueuePTotals().Match(last);
        Assert.True(match.Success, last);

        var summary = SummarizeFixture();

        Assert.Equal(long.Parse(match.Groups["requests"].Value), summary.Messages);
        Assert.Equal(long.Parse(match.Groups["kbytes"].Value), summary.Bytes / 1024);
    }

    [Fact]
    public void Summarize_Fixture_EveryQueuePresentOthersZero()
    {
        var summary = SummarizeFixture();

        Assert.Equal(["active", "deferred", "hold", "incoming", "maildrop"], summary.Queues.Select(q => q.Name));
        foreach (var queue in summary.Queues.Where(q => q.Queue != PostfixQueue.Deferred))
        {
            Assert.Equal(0, queue.Messages);
            Assert.Equal(0, queue.Bytes);
            Assert.Null(queue.OldestArrival);
            Assert.Equal(0, summary.OldestAgeSeconds(queue.Queue));
            Assert.All(queue.AgeBucketCounts, c => Assert.Equal(0, c));
        }
    }

    [Fact]
    public void Summarize_FixedClock_OldestAgeIsToTheSecond()
    {
        var summary = SummarizeFixture();

        Assert.Equal(DateTimeOffset.FromUnixTimeSeconds(OldestArrival), summary[PostfixQueue.Deferred].OldestArrival);
        Assert.Equal(3600, summary.OldestAgeSeconds(PostfixQueue.Deferred));
    }

    [Fact]
    public void Summarize_FixedClock_AgeHistogramSplitsAtTheBounds()
    {
        // Ages run from 3582 s (arrived 18 s after the oldest) to 3600 s. "le" semantics: an age equal to a bound is in that bucket.
        var summary = SummarizeFixture(buckets: "3581,3590,3600");

        var deferred = summary[PostfixQueue.Deferred];
        Assert.Equal([0L, 695, 855, 0], deferred.AgeBucketCounts);
        var expectedSum = File.ReadLines(TestData.PathOf("postqueue-j.jsonl"))
            .Sum(l => (double)(OldestArrival + 3600 - long.Parse(ArrivalTime().Match(l).Groups[1].Value)));
        Assert.Equal(expectedSum, deferred.AgeSumSeconds, precision: 6);
    }

    [Fact]
    public void Summarize_ClockBeforeArrival_AgesAreZeroNotNegative()
    {
        var summary = SummarizeFixture(takenAt: DateTimeOffset.FromUnixTimeSeconds(OldestArrival - 100));

        Assert.Equal(0, summary.OldestAgeSeconds(PostfixQueue.Deferred));
        Assert.Equal(1550, summary[PostfixQueue.Deferred].AgeBucketCounts[0]);
        Assert.Equal(0, summary[PostfixQueue.Deferred].AgeSumSeconds);
    }

    [Fact]
    public void Summarize_Fixture_DeferredRecipientsByReasonClass()
    {
        var summary = SummarizeFixture();

        // 1,150 "451 4.7.1 Greylisting in action", 300 connection refused (297 of them "delivery temporarily
        // suspended: connect to …"), 100 "conversation … timed out while receiving the initial server greeting".
        Assert.Equal(1150, summary.Deferred(DeferralReason.GreylistRateLimit));
        Assert.Equal(300, summary.Deferred(DeferralReason.Refused));
        Assert.Equal(100, summary.Deferred(DeferralReason.TimedOut));
        Assert.Equal(0, summary.Deferred(DeferralReason.Dns));
        Assert.Equal(0, summary.Deferred(DeferralReason.Tls));
        Assert.Equal(0, summary.Deferred(DeferralReason.Reputation));
        Assert.Equal(0, summary.Deferred(DeferralReason.Other));
        Assert.Equal(1550, summary.DeferredByReason.Sum());
    }

    [Fact]
    public void Summarize_Fixture_TopDomainsByRecipients()
    {
        var summary = SummarizeFixture();

        Assert.Equal(
            [new DomainCount("defer.test", 1150), new DomainCount("unreach.test", 300), new DomainCount("timeout.test", 100)],
            summary.TopDeferredDomains);
        Assert.Equal(0, summary.OtherDeferredDomainRecipients);
    }

    [Fact]
    public void Summarize_TopTwoDomains_RestIsOther()
    {
        var summary = SummarizeFixture(topDomains: 2);

        Assert.Equal(["defer.test", "unreach.test"], summary.TopDeferredDomains.Select(d => d.Domain));
        Assert.Equal(100, summary.OtherDeferredDomainRecipients);
    }

    [Fact]
    public void Summarize_TopZero_EveryDomainIsOther()
    {
        var summary = SummarizeFixture(topDomains: 0);

        Assert.Empty(summary.TopDeferredDomains);
        Assert.Equal(1550, summary.OtherDeferredDomainRecipients);
    }

    [Fact]
    public void Summarize_EveryQueue_CountsEachSeparately()
    {
        var summarizer = new QueueSummarizer(TakenAt, [60, 3600], topDomains: 10);
        long t = TakenAt.ToUnixTimeSeconds();
        summarizer.AddLine(Entry("active", t - 10, 100, ("a@x.test", null)));
        summarizer.AddLine(Entry("hold", t - 7200, 200, ("a@x.test", null), ("b@y.test", null)));
        summarizer.AddLine(Entry("hold", t - 30, 300, ("a@x.test", null)));
        summarizer.AddLine(Entry("incoming", t - 1, 400, ("a@x.test", null)));
        summarizer.AddLine(Entry("maildrop", t - 2, 500, ("a@x.test", null)));
        summarizer.AddLine(Entry("deferred", t - 120, 600, ("c@Z.Test", "connect to z.test[192.0.2.1]:25: Connection timed out")));

        var summary = summarizer.Build();

        Assert.Equal([1L, 1, 2, 1, 1], summary.Queues.Select(q => q.Messages));
        Assert.Equal([100L, 600, 500, 400, 500], summary.Queues.Select(q => q.Bytes));
        Assert.Equal(3, summary[PostfixQueue.Hold].Recipients);
        Assert.Equal(7200, summary.OldestAgeSeconds(PostfixQueue.Hold));
        Assert.Equal([1L, 0, 1], summary[PostfixQueue.Hold].AgeBucketCounts);
        // Only deferred recipients are classified and counted by domain (lower-cased).
        Assert.Equal(1, summary.Deferred(DeferralReason.TimedOut));
        Assert.Equal(1, summary.DeferredByReason.Sum());
        Assert.Equal([new DomainCount("z.test", 1)], summary.TopDeferredDomains);
    }

    [Fact]
    public void Summarize_RepeatedEntry_CountedTwice()
    {
        // postqueue may list a message twice while it moves between queues; the summary does not de-duplicate.
        var summarizer = new QueueSummarizer(TakenAt, [60], topDomains: 10);
        var line = Entry("deferred", TakenAt.ToUnixTimeSeconds(), 10, ("a@x.test", "Connection refused"));
        summarizer.AddLine(line);
        summarizer.AddLine(line);

        Assert.Equal(2, summarizer.Build()[PostfixQueue.Deferred].Messages);
    }

    [Fact]
    public void Summarize_MoreDomainsThanTheCap_OverflowGoesToOther()
    {
        var summarizer = new QueueSummarizer(TakenAt, [60], topDomains: 2, maxDomains: 3);
        long t = TakenAt.ToUnixTimeSeconds();
        foreach (var domain in new[] { "a.test", "a.test", "a.test", "b.test", "b.test", "c.test", "d.test", "e.test", "a.test" })
            summarizer.AddLine(Entry("deferred", t, 1, ($"u@{domain}", "x")));

        var summary = summarizer.Build();

        // a, b, c are tracked; d and e arrived after the cap and count as other, as does c (not in the top 2).
        Assert.Equal([new DomainCount("a.test", 4), new DomainCount("b.test", 2)], summary.TopDeferredDomains);
        Assert.Equal(3, summary.OtherDeferredDomainRecipients);
    }

    [Fact]
    public void Summarize_AddressesWithoutUsableDomain_CountAsOther()
    {
        var summarizer = new QueueSummarizer(TakenAt, [60], topDomains: 10);
        long t = TakenAt.ToUnixTimeSeconds();
        summarizer.AddLine(Entry("deferred", t, 1, ("postmaster", "x")));
        summarizer.AddLine(Entry("deferred", t, 1, ("u@", "x")));
        summarizer.AddLine(Entry("deferred", t, 1, ("u@bad domain.test", "x")));
        summarizer.AddLine(Entry("deferred", t, 1, ("u@" + new string('a', 300), "x")));
        summarizer.AddLine(Entry("deferred", t, 1, ("u@Trailing.Dot.", "x")));

        var summary = summarizer.Build();

        Assert.Equal([new DomainCount("trailing.dot", 1)], summary.TopDeferredDomains);
        Assert.Equal(4, summary.OtherDeferredDomainRecipients);
        Assert.Equal(5, summary[PostfixQueue.Deferred].Messages);
    }

    internal static string Entry(string queue, long arrival, long size, params (string Address, string? Reason)[] recipients)
    {
        var text = new StringBuilder();
        text.Append("{\"queue_name\": \"").Append(queue).Append("\", \"queue_id\": \"4F1A2C0B3\", \"arrival_time\": ").Append(arrival)
            .Append(", \"message_size\": ").Append(size).Append(", \"forced_expire\": false, \"sender\": \"s@example.test\", \"recipients\": [");
        for (int i = 0; i < recipients.Length; i++)
        {
            text.Append(i == 0 ? "" : ", ").Append("{\"address\": ").Append(System.Text.Json.JsonSerializer.Serialize(recipients[i].Address));
            if (recipients[i].Reason is { } reason)
                text.Append(", \"delay_reason\": ").Append(System.Text.Json.JsonSerializer.Serialize(reason));
            text.Append('}');
        }

        return text.Append("]}").ToString();
    }

    [GeneratedRegex(@"^-- (?<kbytes>\d+) Kbytes in (?<requests>\d+) Requests\.$")]
    private static partial Regex PostqueuePTotals();

    [GeneratedRegex(@"""arrival_time"": (\d+)")]
    private static partial Regex ArrivalTime();
}
