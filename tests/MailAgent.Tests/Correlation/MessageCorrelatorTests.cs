using System.Text;
using MailAgent.Correlation;
using MailAgent.LogParsing;
using MailAgent.Metrics;
using MailAgent.Pipeline;

namespace MailAgent.Tests.Correlation;

public sealed class MessageCorrelatorTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 28, 12, 0, 0, TimeSpan.Zero);

    private const string Client = "postfix/smtpd[100]: 4FE0BDC995: client=localhost[127.0.0.1]";
    private const string Queued = "postfix/qmgr[200]: 4FE0BDC995: from=<alerts@tazzi.com>, size=2781, nrcpt=1 (queue active)";
    private const string Deferred = "postfix/smtp[300]: 4FE0BDC995: to=<1user@defer.test>, relay=127.0.0.1[127.0.0.1]:2527, delay=0.7, delays=0.27/0.4/0.01/0.01, dsn=4.7.1, status=deferred (host 127.0.0.1[127.0.0.1] said: 451 4.7.1 Greylisting in action (in reply to RCPT TO command))";
    private const string Sent = "postfix/smtp[300]: 4FE0BDC995: to=<1user@defer.test>, relay=127.0.0.1[127.0.0.1]:2525, delay=100, delays=90/8/1.5/0.5, dsn=2.0.0, status=sent (250 2.0.0 Ok)";
    private const string Bounced = "postfix/smtp[300]: 4FE0BDC995: to=<2gone@bounce.test>, relay=127.0.0.1[127.0.0.1]:2526, delay=0.44, delays=0.26/0.01/0.09/0.08, dsn=5.1.1, status=bounced (host 127.0.0.1[127.0.0.1] said: 550 5.1.1 No such user (in reply to RCPT TO command))";
    private const string Removed = "postfix/qmgr[200]: 4FE0BDC995: removed";
    private const string CleanupReject = "postfix/cleanup[400]: 4FE0BDC995: reject: header Subject: Cheap VIAGRA now from localhost[127.0.0.1]; from=<promo@tazzi.com> to=<target@yahoo.test> proto=SMTP helo=<client.tazzi.com>: 5.7.1 message content rejected";

    [Fact]
    public void Process_QueueIdReusedAfterRemoved_StartsANewLifetime()
    {
        var processor = NewProcessor();

        Feed(processor, 0, Client, Queued, Deferred);
        Feed(processor, 60, Deferred);
        Feed(processor, 120, Sent, Removed);
        Feed(processor, 130, Client, Queued, Deferred);
        Feed(processor, 200, Sent, Removed);

        var summary = processor.Stats.Summary;
        Assert.Equal(2, summary[(int)SummaryField.Deferred]);
        Assert.Equal(3, summary[(int)SummaryField.Deferrals]);
        Assert.Equal(2, summary[(int)SummaryField.Received]);
        Assert.Equal(2 * 2781, summary[(int)SummaryField.BytesReceived]);
        Assert.Equal(2 * 2781, summary[(int)SummaryField.BytesDelivered]);
        Assert.Equal(0, processor.Correlator.Count);
        Assert.All(processor.Stats.Evictions.Values, v => Assert.Equal(0, v));
    }

    [Fact]
    public void Observe_DeferralsInTwoLifetimes_FirstDeferralOncePerLifetime()
    {
        var correlator = new MessageCorrelator(100, TimeSpan.FromDays(1), _ => { });

        var first = Observe(correlator, 0, Client, Queued, Deferred, Deferred, Sent, Removed);
        var second = Observe(correlator, 100, Client, Queued, Deferred, Deferred);

        Assert.Equal([false, false, true, false, false, false], first.Select(r => r.FirstDeferral));
        Assert.Equal([false, false, true, false], second.Select(r => r.FirstDeferral));
        Assert.Equal([false, true, false, false, false, false], first.Select(r => r.FirstQueueInsert));
        Assert.True(second[1].FirstQueueInsert);
    }

    [Fact]
    public void Process_QueueIdReusedWithoutRemoved_CountsAReusedEviction()
    {
        var processor = NewProcessor();

        Feed(processor, 0, Client, Queued, Deferred);
        Feed(processor, 60, Client, Queued, Deferred);

        Assert.Equal(1, processor.Stats.Evictions.Values[(int)EvictionReason.Reused]);
        Assert.Equal(2, processor.Stats.Summary[(int)SummaryField.Deferred]);
        Assert.Equal(1, processor.Correlator.Count);
    }

    [Fact]
    public void Process_DeferralsThenSent_ObservesDelaysOnceForTheFinalStatus()
    {
        var processor = NewProcessor();

        Feed(processor, 0, Client, Queued, Deferred);
        Feed(processor, 50, Deferred);
        Feed(processor, 100, Sent, Removed);

        var delay = processor.Stats.SmtpDelay;
        for (int stage = 0; stage < 4; stage++)
            Assert.Equal(1, delay.Counts[stage].Sum());
        Assert.Equal(90, delay.Sums[0].Sum(), 9);
        Assert.Equal(8, delay.Sums[1].Sum(), 9);
        Assert.Equal(1.5, delay.Sums[2].Sum(), 9);
        Assert.Equal(0.5, delay.Sums[3].Sum(), 9);
    }

    [Fact]
    public void Process_OnlyDeferrals_ObserveNoDelayAndNoLatency()
    {
        var processor = NewProcessor();

        Feed(processor, 0, Client, Queued, Deferred);
        Feed(processor, 50, Deferred);

        Assert.All(processor.Stats.SmtpDelay.Counts, c => Assert.Equal(0, c.Sum()));
        Assert.All(processor.Stats.Latency.Counts, c => Assert.Equal(0, c.Sum()));
    }

    [Fact]
    public void Process_BouncedRecipient_ObservesDelaysAndBouncedLatency()
    {
        var processor = NewProcessor();

        Feed(processor, 0, Client, Queued);
        Feed(processor, 3, Bounced, Removed);

        Assert.Equal(1, processor.Stats.SmtpDelay.Counts[0].Sum());
        Assert.Equal(1, LatencyCount(processor, "bounced"));
        Assert.Equal(3, LatencySum(processor, "bounced"), 6);
    }

    [Fact]
    public void Process_SentAfterDeferral_IsDeliveredAfterDeferral()
    {
        var processor = NewProcessor();

        Feed(processor, 0, Client, Queued, Deferred);
        Feed(processor, 100, Sent, Removed);

        Assert.Equal(1, LatencyCount(processor, "delivered_after_deferral"));
        Assert.Equal(100, LatencySum(processor, "delivered_after_deferral"), 6);
        Assert.Equal(0, LatencyCount(processor, "delivered"));
    }

    [Fact]
    public void Process_SentFirstTime_IsDelivered()
    {
        var processor = NewProcessor();

        Feed(processor, 0, Client, Queued);
        Feed(processor, 2, Sent, Removed);

        Assert.Equal(1, LatencyCount(processor, "delivered"));
        Assert.Equal(2, LatencySum(processor, "delivered"), 6);
        Assert.Equal(0, LatencyCount(processor, "delivered_after_deferral"));
    }

    [Fact]
    public void Process_SecondLifetimeSentFirstTime_IsDeliveredNotAfterDeferral()
    {
        var processor = NewProcessor();

        Feed(processor, 0, Client, Queued, Deferred);
        Feed(processor, 100, Sent, Removed);
        Feed(processor, 200, Client, Queued);
        Feed(processor, 201, Sent, Removed);

        Assert.Equal(1, LatencyCount(processor, "delivered_after_deferral"));
        Assert.Equal(1, LatencyCount(processor, "delivered"));
        Assert.Equal(1, LatencySum(processor, "delivered"), 6);
    }

    [Fact]
    public void Expire_ByAge_CountsNeverRemovedForQueuedAndIncompleteForTheRest()
    {
        var evicted = new List<EvictionReason>();
        var correlator = new MessageCorrelator(100, TimeSpan.FromHours(1), evicted.Add);
        Observe(correlator, 0, "postfix/smtpd[1]: 1111111111: client=localhost[127.0.0.1]");
        Observe(correlator, 10, "postfix/smtpd[1]: 2222222222: client=localhost[127.0.0.1]", "postfix/qmgr[2]: 2222222222: from=<a@b>, size=10, nrcpt=1 (queue active)");
        Observe(correlator, 20, "postfix/cleanup[3]: 3333333333: message-id=<x@y>");
        Observe(correlator, 3000, "postfix/smtpd[1]: 4444444444: client=localhost[127.0.0.1]");

        correlator.Expire(3700);

        Assert.Equal([EvictionReason.Incomplete, EvictionReason.NeverRemoved, EvictionReason.Incomplete], evicted);
        Assert.Equal(1, correlator.Count);
    }

    [Fact]
    public void Expire_WithinAge_EvictsNothing()
    {
        var evicted = new List<EvictionReason>();
        var correlator = new MessageCorrelator(100, TimeSpan.FromHours(1), evicted.Add);
        Observe(correlator, 0, "postfix/smtpd[1]: 1111111111: client=localhost[127.0.0.1]");

        correlator.Expire(3600);

        Assert.Empty(evicted);
        Assert.Equal(1, correlator.Count);
    }

    [Fact]
    public void Observe_MoreMessagesThanCapacity_EvictsTheOldestForCapacity()
    {
        var evicted = new List<EvictionReason>();
        var correlator = new MessageCorrelator(2, TimeSpan.FromDays(1), evicted.Add);

        Observe(correlator, 0, "postfix/smtpd[1]: 1111111111: client=localhost[127.0.0.1]");
        Observe(correlator, 1, "postfix/smtpd[1]: 2222222222: client=localhost[127.0.0.1]");
        Observe(correlator, 2, "postfix/smtpd[1]: 3333333333: client=localhost[127.0.0.1]");
        var again = Observe(correlator, 3, "postfix/qmgr[2]: 1111111111: from=<a@b>, size=10, nrcpt=1 (queue active)");

        Assert.Equal([EvictionReason.Capacity, EvictionReason.Capacity], evicted);
        Assert.Equal(2, correlator.Count);
        // The evicted message's state is gone: its queue line starts a fresh, not-received lifetime.
        Assert.False(again[0].Received);
    }

    [Fact]
    public void Observe_CapacityEvictionAfterNormalEnds_SkipsMessagesThatAlreadyEnded()
    {
        var evicted = new List<EvictionReason>();
        var correlator = new MessageCorrelator(2, TimeSpan.FromDays(1), evicted.Add);

        Observe(correlator, 0, "postfix/smtpd[1]: 1111111111: client=localhost[127.0.0.1]", "postfix/qmgr[2]: 1111111111: removed");
        Observe(correlator, 1, "postfix/smtpd[1]: 2222222222: client=localhost[127.0.0.1]");
        Observe(correlator, 2, "postfix/smtpd[1]: 3333333333: client=localhost[127.0.0.1]");
        var beforeFourth = evicted.ToArray();
        Observe(correlator, 3, "postfix/smtpd[1]: 4444444444: client=localhost[127.0.0.1]");

        Assert.Empty(beforeFourth);
        Assert.Equal([EvictionReason.Capacity], evicted);
        Assert.Equal(2, correlator.Count);
    }

    [Fact]
    public void Process_CleanupReject_EndsTheLifetime()
    {
        var processor = NewProcessor();

        Feed(processor, 0, Client, CleanupReject);
        int afterReject = processor.Correlator.Count;
        Feed(processor, 30, Client, Queued, Sent, Removed);

        Assert.Equal(0, afterReject);
        Assert.All(processor.Stats.Evictions.Values, v => Assert.Equal(0, v));
        Assert.Equal(1, processor.Stats.Summary[(int)SummaryField.Rejected]);
        Assert.Equal(2, processor.Stats.Summary[(int)SummaryField.Received]);
        Assert.Equal(2781, processor.Stats.Summary[(int)SummaryField.BytesReceived]);
    }

    [Fact]
    public void Process_CleanupMilterRejectEndOfMessage_EndsTheLifetime()
    {
        var processor = NewProcessor();

        Feed(processor, 0, Client, "postfix/cleanup[400]: 4FE0BDC995: milter-reject: END-OF-MESSAGE from localhost[127.0.0.1]: 5.7.1 Blocked by SpamAssassin; from=<a@b.test> to=<c@d.test> proto=ESMTP helo=<x>");

        Assert.Equal(0, processor.Correlator.Count);
    }

    [Fact]
    public void Process_CleanupHold_KeepsTheLifetime()
    {
        var processor = NewProcessor();

        Feed(processor, 0, Client, "postfix/cleanup[400]: 4FE0BDC995: hold: header Subject: review me from localhost[127.0.0.1]; from=<a@b.test> to=<c@d.test> proto=SMTP helo=<x>: Subject: review me");

        Assert.Equal(1, processor.Correlator.Count);
        Assert.Equal(1, processor.Stats.Summary[(int)SummaryField.Held]);
    }

    [Fact]
    public void Process_PostsuperDelete_EndsTheLifetime()
    {
        var processor = NewProcessor();

        // postsuper -d removes the queue file itself: qmgr never logs "removed" for it.
        Feed(processor, 0, Client, Queued, Deferred, "postfix/postsuper[500]: 4FE0BDC995: removed", "postfix/postsuper[500]: Deleted: 1 message");
        int afterDelete = processor.Correlator.Count;
        Feed(processor, 30, Client, Queued, Sent, Removed);

        Assert.Equal(0, afterDelete);
        Assert.All(processor.Stats.Evictions.Values, v => Assert.Equal(0, v));
        Assert.Equal(1, LatencyCount(processor, "delivered"));
    }

    [Fact]
    public void Process_PostsuperForceExpire_KeepsTheLifetime()
    {
        var processor = NewProcessor();

        Feed(processor, 0, Client, Queued, Deferred, "postfix/postsuper[500]: 4FE0BDC995: expired");

        Assert.Equal(1, processor.Correlator.Count);
    }

    [Theory]
    [InlineData("milter-reject: DATA from localhost[127.0.0.1]: 550 5.7.1 Command rejected; from=<a@b.test> to=<c@d.test> proto=ESMTP helo=<x>")]
    [InlineData("reject: DATA from localhost[127.0.0.1]: 550 5.5.3 <DATA>: Data command rejected: Multi-recipient bounce; from=<> proto=ESMTP helo=<x>")]
    [InlineData("reject: BDAT from localhost[127.0.0.1]: 550 5.5.3 <DATA>: Data command rejected: Multi-recipient bounce; from=<> to=<c@d.test> proto=ESMTP helo=<x>")]
    [InlineData("reject: END-OF-MESSAGE from localhost[127.0.0.1]: 554 5.7.1 Message rejected; from=<a@b.test> to=<c@d.test> proto=ESMTP helo=<x>")]
    public void Process_SmtpdRejectOfTheWholeMessage_EndsTheLifetime(string reject)
    {
        var processor = NewProcessor();

        // smtpd aborts the message it had opened in cleanup; the queue file goes without "removed".
        Feed(processor, 0, Client, "postfix/smtpd[100]: 4FE0BDC995: " + reject);
        int afterReject = processor.Correlator.Count;
        Feed(processor, 30, Client);

        Assert.Equal(0, afterReject);
        Assert.All(processor.Stats.Evictions.Values, v => Assert.Equal(0, v));
    }

    [Fact]
    public void Process_CleanupMessageIdAfterSmtpdEndOfMessageReject_StartsNoLifetime()
    {
        var evicted = new List<EvictionReason>();
        var correlator = new MessageCorrelator(100, TimeSpan.FromHours(1), evicted.Add);

        // Real Postfix 3.7 order for a small message refused by smtpd_end_of_data_restrictions: cleanup
        // logs the message-id of the buffered message after smtpd's reject, then drops the file.
        Observe(
            correlator,
            0,
            "postfix/smtpd[100]: C1A63B1E44A: client=unknown[127.0.0.1]",
            "postfix/smtpd[100]: C1A63B1E44A: reject: END-OF-MESSAGE from unknown[127.0.0.1]: 552 5.3.4 <eod-reject@example.test>: Sender address rejected: Message refused at end of data by test policy; from=<eod-reject@example.test> to=<user@accept.test> proto=ESMTP helo=<client.example.test>",
            "postfix/cleanup[400]: C1A63B1E44A: message-id=<20261128021244.C1A63B1E44A@mail.example.test>");
        int afterMessageId = correlator.Count;
        correlator.Expire(7200);

        Assert.Equal(0, afterMessageId);
        Assert.Empty(evicted);
    }

    [Fact]
    public void Process_QueueIdReusedAfterEndOfMessageReject_IsFollowedAgain()
    {
        var correlator = new MessageCorrelator(100, TimeSpan.FromHours(1), _ => { });

        // The reject's late message-id is consumed once; a bounce notice later given the same queue ID
        // (cleanup's message-id is its first line) is a message of its own.
        Observe(
            correlator,
            0,
            Client,
            "postfix/smtpd[100]: 4FE0BDC995: reject: END-OF-MESSAGE from localhost[127.0.0.1]: 554 5.7.1 Message rejected; from=<a@b.test> to=<c@d.test> proto=ESMTP helo=<x>",
            "postfix/cleanup[400]: 4FE0BDC995: message-id=<a@b.test>");
        Observe(correlator, 600, "postfix/cleanup[400]: 4FE0BDC995: message-id=<b@b.test>");

        Assert.Equal(1, correlator.Count);
    }

    [Fact]
    public void Process_SmtpdRcptRejectWithQueueId_KeepsTheLifetime()
    {
        var processor = NewProcessor();

        // One recipient refused; the others may still be accepted into the same message.
        Feed(processor, 0, Client, "postfix/smtpd[100]: 4FE0BDC995: reject: RCPT from localhost[127.0.0.1]: 550 5.1.1 <x@tazzi.com>: Recipient address rejected: User unknown in local recipient table; from=<a@b.test> to=<x@tazzi.com> proto=ESMTP helo=<x>");

        Assert.Equal(1, processor.Correlator.Count);
    }

    [Fact]
    public void Observe_DkimSignatureForAFollowedMessage_DescribesIt()
    {
        var correlator = new MessageCorrelator(100, TimeSpan.FromDays(1), _ => { });

        var results = Observe(correlator, 0, Client, "opendkim[28309]: 4FE0BDC995: DKIM-Signature field added (s=mail, d=tazzi.com)");

        Assert.True(results[1].Received);
        Assert.Equal(1, correlator.Count);
    }

    [Fact]
    public void Observe_DkimSignatureForAnUnknownQueueId_StartsNoLifetime()
    {
        var evicted = new List<EvictionReason>();
        var correlator = new MessageCorrelator(100, TimeSpan.FromHours(1), evicted.Add);

        // As when OpenDKIM's log is read after Postfix's: the message has long been removed.
        Observe(correlator, 0, Client, Queued, Sent, Removed);
        Observe(correlator, 10, "opendkim[28309]: 4FE0BDC995: DKIM-Signature field added (s=mail, d=tazzi.com)");
        correlator.Expire(7200);

        Assert.Equal(0, correlator.Count);
        Assert.Empty(evicted);
    }

    [Theory]
    [InlineData(true, "abc.123@client.example")]
    [InlineData(false, null)]
    public void Observe_MessageIdsKeptOrNot_FollowsTheMessageEitherWay(bool keep, string? expected)
    {
        var correlator = new MessageCorrelator(100, TimeSpan.FromDays(1), _ => { }, keepMessageIds: keep);
        const string messageId = "postfix/cleanup[400]: 4FE0BDC995: message-id=<abc.123@client.example>";
        const string otherMessageId = "postfix/cleanup[400]: 5AB1CDE006: message-id=<def@client.example>";

        var results = Observe(correlator, 0, Client, messageId, Queued, otherMessageId, Deferred);

        Assert.Equal(expected, results[4].MessageId);
        Assert.Equal(2, correlator.Count);
        Assert.Equal(2781, results[4].Size);
    }

    [Fact]
    public void Create_WithoutObserver_KeepsNoMessageIds()
    {
        var processor = NewProcessor();

        Feed(processor, 0, Client, "postfix/cleanup[400]: 4FE0BDC995: message-id=<abc.123@client.example>", Queued);

        Assert.Equal(1, processor.Correlator.Count);
        Assert.DoesNotContain("abc.123", Encoding.UTF8.GetString(processor.Correlator.Capture().Messages), StringComparison.Ordinal);
    }

    private static LogProcessor NewProcessor() => LogProcessor.Create(Now, maxMessages: 1000, maxAge: TimeSpan.FromDays(1));

    // Lines without their syslog stamp and host; every line of one call gets the same time.
    private static void Feed(LogProcessor processor, int second, params string[] lines)
    {
        foreach (string line in lines)
            processor.Process(Encoding.UTF8.GetBytes($"{Stamp(second)} mail-oregon {line}"));
    }

    private static List<CorrelationResult> Observe(MessageCorrelator correlator, double time, params string[] lines)
    {
        var results = new List<CorrelationResult>();
        foreach (string line in lines)
        {
            var p = LineParser.Parse(Encoding.UTF8.GetBytes($"{Stamp(0)} mail-oregon {line}"));
            Assert.NotEqual(EventKind.Unparsed, p.Kind);
            results.Add(correlator.Observe(ref p, time));
        }

        return results;
    }

    private static string Stamp(int second)
    {
        var t = new DateTime(2026, 11, 27, 23, 0, 0, DateTimeKind.Utc).AddSeconds(second);
        return t.ToString("MMM d HH:mm:ss", System.Globalization.CultureInfo.InvariantCulture);
    }

    private static long LatencyCount(LogProcessor processor, string outcome) =>
        processor.Stats.Latency.Counts[Array.IndexOf(LabelSets.Outcomes, outcome)].Sum();

    private static double LatencySum(LogProcessor processor, string outcome) =>
        processor.Stats.Latency.Sums[Array.IndexOf(LabelSets.Outcomes, outcome)].Sum();
}
