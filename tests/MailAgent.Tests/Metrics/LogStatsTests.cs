using System.Text;
using MailAgent.Metrics;
using MailAgent.Pipeline;

namespace MailAgent.Tests.Metrics;

public sealed class LogStatsTests
{
    private const string Stamp = "Nov 27 23:52:35 mail-oregon ";

    [Fact]
    public void Record_MasterEventsAndFatalOrPanicLines_CountByEvent()
    {
        var stats = Process(
            "postfix/master[1]: daemon started -- version 3.7.11, configuration /etc/postfix",
            "postfix/master[1]: reload -- version 3.7.11, configuration /etc/postfix",
            "postfix/master[1]: terminating on signal 15",
            "postfix/master[1]: warning: /usr/lib/postfix/sbin/smtpd: bad command startup -- throttling",
            "postfix/smtpd[2]: fatal: file /etc/postfix/main.cf: parameter default_privs: unknown user name value: nobody",
            "postfix/qmgr[3]: panic: myfree: corrupt or unallocated memory block",
            "postfix/qmgr[3]: warning: please avoid flushing the whole queue when you have");

        foreach (string e in LabelSets.MasterEvents)
            Assert.True(Count(stats.MasterEvents, e) == 1, e);
        Assert.Equal(2, Count(stats.Severity, "warning"));
        Assert.Equal(1, Count(stats.Severity, "fatal"));
        Assert.Equal(1, Count(stats.Severity, "panic"));
    }

    [Fact]
    public void Record_Rejects_CountByStageAndReplyCode()
    {
        var stats = Process(
            "postfix/smtpd[1]: NOQUEUE: reject: RCPT from x[192.0.2.1]: 554 5.7.1 <v@gmail.test>: Relay access denied; from=<a@b.test> to=<v@gmail.test> proto=ESMTP helo=<x>",
            "postfix/submission/smtpd[1]: NOQUEUE: reject: MAIL from x[192.0.2.1]: 552 5.3.4 Message size exceeds fixed limit; from=<a@b.test> proto=ESMTP helo=<x>",
            "postfix/smtpd[1]: 1D8CC1CA0A7F: milter-reject: DATA from x[192.0.2.1]: 550 5.7.1 Command rejected; from=<a@b.test> to=<c@d.test> proto=ESMTP helo=<x>",
            "postfix/cleanup[2]: ABB54DCFD5: reject: header Subject: Cheap VIAGRA now from x[192.0.2.1]; from=<a@b.test> to=<c@d.test> proto=SMTP helo=<x>: 5.7.1 message content rejected",
            "postfix/cleanup[2]: C81E5A0679: milter-reject: END-OF-MESSAGE from x[192.0.2.1]: 4.7.1 Try again later; from=<a@b.test> to=<c@d.test> proto=ESMTP helo=<x>",
            "postfix/smtpd[1]: NOQUEUE: reject_warning: RCPT from x[192.0.2.1]: 450 4.1.8 <a@b.test>: Sender address rejected: Domain not found; from=<a@b.test> to=<c@d.test> proto=ESMTP helo=<x>");

        Assert.Equal(1, Count(stats.Rejected, "rcpt", "554"));
        Assert.Equal(1, Count(stats.Rejected, "mail", "552"));
        Assert.Equal(1, Count(stats.Rejected, "milter", "550"));
        Assert.Equal(1, Count(stats.Rejected, "header", "5xx"));
        Assert.Equal(1, Count(stats.Rejected, "milter", "4xx"));
        Assert.Equal(5, stats.Rejected.Values.Sum());
        Assert.Equal(2, stats.CleanupRejected.Values[0]);
        Assert.Equal(1, stats.RejectWarnings.Values[0]);
        // pflogsumm's "rejected": smtpd and cleanup reject:, cleanup milter-reject, not smtpd's milter-reject.
        Assert.Equal(4, stats.Summary[(int)SummaryField.Rejected]);
        Assert.Equal(1, stats.Summary[(int)SummaryField.RejectWarnings]);
    }

    [Fact]
    public void Record_DeliveriesOfEveryAgent_CountByServiceAndStatus()
    {
        var stats = Process(
            "postfix/lmtp[1]: 4FE0BDC995: to=<u@example.com>, relay=mail[private/dovecot-lmtp], delay=0.1, delays=0.05/0/0.02/0.03, dsn=2.0.0, status=sent (250 2.0.0 Saved)",
            "postfix/virtual[1]: 4FE0BDC996: to=<u@example.com>, relay=virtual, delay=0.1, delays=0.1/0/0/0, dsn=2.0.0, status=sent (delivered to maildir)",
            "postfix/pipe[1]: 4FE0BDC997: to=<u@example.com>, relay=spamassassin, delay=3, delays=0.1/0/0/2.9, dsn=4.3.0, status=deferred (temporary failure)",
            "postfix/error[1]: 4FE0BDC998: to=<u@example.com>, relay=none, delay=0.01, delays=0/0/0/0.01, dsn=5.0.0, status=bounced (User unknown)",
            "postfix/discard[1]: 4FE0BDC999: to=<u@example.com>, relay=none, delay=0.02, delays=0.01/0/0/0.01, dsn=2.0.0, status=sent (example.com)",
            "postfix/local[1]: 4FE0BDC99A: to=<root@example.com>, relay=local, delay=0.1, delays=0.1/0/0/0, dsn=2.0.0, status=sent (delivered to mailbox)",
            "postfix/relay/smtp[1]: 4FE0BDC99B: to=<u@example.net>, relay=mx[192.0.2.5]:25, delay=1, delays=0.1/0.1/0.4/0.4, dsn=2.0.0, status=sent (250 OK)");

        Assert.Equal(1, Count(stats.DeliveryStatus, "lmtp", "sent"));
        Assert.Equal(1, Count(stats.DeliveryStatus, "virtual", "sent"));
        Assert.Equal(1, Count(stats.DeliveryStatus, "pipe", "deferred"));
        Assert.Equal(1, Count(stats.DeliveryStatus, "error", "bounced"));
        Assert.Equal(1, Count(stats.DeliveryStatus, "discard", "sent"));
        Assert.Equal(1, Count(stats.DeliveryStatus, "local", "sent"));
        Assert.Equal(1, Count(stats.DeliveryStatus, "smtp", "sent"));
        Assert.Equal(1, Count(stats.SmtpProcessed, "sent"));
        Assert.Equal(1, stats.LmtpDelay.Counts[0].Sum());
        Assert.Equal(1, stats.SmtpDelay.Counts[0].Sum());
        Assert.Equal(5, stats.Summary[(int)SummaryField.Delivered]);
        Assert.Equal(1, stats.Summary[(int)SummaryField.Deferrals]);
        Assert.Equal(1, stats.Summary[(int)SummaryField.Bounced]);
    }

    [Fact]
    public void Record_DkimSignatures_CountBySelectorAndDomain()
    {
        var stats = Process(
            "opendkim[1]: 4FE0BDC995: DKIM-Signature field added (s=mail-2026.a, d=example.test)",
            "opendkim[1]: 4FE0BDC996: DKIM-Signature field added (s=mail-2026.a, d=example.test)",
            "opendkim[1]: 4FE0BDC997: DKIM-Signature field added (s=mail, d=tazzi.com)");

        Assert.Equal(2, Count(stats.DkimSignatures, "mail-2026.a", "example.test"));
        Assert.Equal(1, Count(stats.DkimSignatures, "mail", "tazzi.com"));
        Assert.Equal(3, stats.Summary[(int)SummaryField.DkimSigned]);
    }

    [Fact]
    public void Record_DkimErrors_CountByKind()
    {
        var stats = Process(
            "opendkim[1]: 4FE0BDC995: key retrieval failed (s=mail, d=example.test): 'mail._domainkey.example.test' query timed out",
            "opendkim[1]: 4FE0BDC995: no signing table match for 'x@example.test'",
            "opendkim[1]: 4FE0BDC995: error loading key 'mail._domainkey.tazzi.com'",
            "opendkim[1]: /etc/opendkim/keys/mail.private: key data is not secure: /etc/opendkim/keys can be read or written by other users",
            "opendkim[1]: 4FE0BDC995: bad signature data",
            "opendkim[1]: 4FE0BDC995: signing table references unknown key 'mail'");

        foreach (string kind in new[] { "key_retrieval", "signing_table_miss", "key_load", "key_insecure", "bad_signature", "unknown_key" })
            Assert.True(Count(stats.DkimErrors, kind) == 1, kind);
    }

    [Fact]
    public void Record_SmtpdClients_CountBySaslMethodAndAsReceived()
    {
        var stats = Process(
            "postfix/smtpd[1]: 4FE0BDC995: client=localhost[127.0.0.1]",
            "postfix/submission/smtpd[1]: 4FE0BDC996: client=localhost[127.0.0.1], sasl_method=PLAIN, sasl_username=bob@tazzi.com",
            "postfix/submission/smtpd[1]: 4FE0BDC997: client=localhost[127.0.0.1], sasl_method=plain, sasl_username=bob@tazzi.com",
            "postfix/submission/smtpd[1]: 4FE0BDC998: client=localhost[127.0.0.1], sasl_method=FANCY-NEW, sasl_username=bob@tazzi.com",
            "postfix/pickup[2]: 4FE0BDC999: uid=0 from=<cron@tazzi.com>");

        Assert.Equal(1, Count(stats.SmtpdProcessed, ""));
        Assert.Equal(2, Count(stats.SmtpdProcessed, "PLAIN"));
        Assert.Equal(1, Count(stats.SmtpdProcessed, "other"));
        Assert.Equal(1, stats.PickupReceived.Values[0]);
        Assert.Equal(5, stats.Summary[(int)SummaryField.Received]);
    }

    [Fact]
    public void Record_ConnectionFailuresInStatusText_CountByReason()
    {
        var stats = Process(
            "postfix/smtp[1]: connect to 127.0.0.1[127.0.0.1]:2599: Connection refused",
            "postfix/smtp[1]: 4FE0BDC995: to=<1ops@unreach.test>, relay=none, delay=0.38, delays=0.13/0.25/0/0, dsn=4.4.1, status=deferred (connect to 127.0.0.1[127.0.0.1]:2599: Connection refused)",
            "postfix/smtp[1]: 4FE0BDC996: to=<1ap@timeout.test>, relay=127.0.0.1[127.0.0.1]:2528, delay=15, delays=0.24/0/15/0, dsn=4.4.2, status=deferred (conversation with 127.0.0.1[127.0.0.1] timed out while receiving the initial server greeting)");

        // One refused connect: smtp logs it on its own line and repeats it as the deferral's reason.
        Assert.Equal(1, Count(stats.ConnectionFailures, "refused"));
        Assert.Equal(1, Count(stats.ConnectionFailures, "greeting_timeout"));
        Assert.Equal(2, Count(stats.DeferredByDsn, "4.4"));
    }

    [Fact]
    public void Record_RefusedConnectsToTwoServers_CountEachOnce()
    {
        // Both MX hosts refuse: a line for each failed connect, and the status repeats the last one.
        var stats = Process(
            "postfix/smtp[1]: connect to mx1.example.org[192.0.2.1]:25: Connection refused",
            "postfix/smtp[1]: connect to mx2.example.org[192.0.2.2]:25: Connection refused",
            "postfix/smtp[1]: 4FE0BDC995: to=<a@example.org>, relay=none, delay=0.1, delays=0.1/0/0/0, dsn=4.4.1, status=deferred (connect to mx2.example.org[192.0.2.2]:25: Connection refused)");

        Assert.Equal(2, Count(stats.ConnectionFailures, "refused"));
    }

    [Fact]
    public void Record_LmtpUnixSocketConnectFailure_CountsTheStatus()
    {
        // A UNIX-domain next hop's failed connect is logged in the status only.
        var stats = Process(
            "postfix/lmtp[1]: 4FE0BDC995: to=<a@example.test>, relay=none, delay=0.1, delays=0.1/0/0/0, dsn=4.4.1, status=deferred (connect to mail.example.test[/var/run/dovecot/lmtp]: Connection refused)");

        Assert.Equal(1, Count(stats.ConnectionFailures, "refused"));
    }

    private static LogStats Process(params string[] lines)
    {
        var processor = LogProcessor.Create(new DateTimeOffset(2026, 11, 28, 12, 0, 0, TimeSpan.Zero), maxMessages: 1000, maxAge: TimeSpan.FromDays(1));
        foreach (string line in lines)
            processor.Process(Encoding.UTF8.GetBytes(Stamp + line));
        Assert.Equal(0, processor.Stats.Summary[(int)SummaryField.UnparsedLines]);
        return processor.Stats;
    }

    private static long Count(CounterFamily family, params string[] labelValues)
    {
        for (int i = 0; i < family.LabelValues.Length; i++)
        {
            if (family.LabelValues[i] is { } row && row.SequenceEqual(labelValues))
                return family.Values[i];
        }

        Assert.Fail($"{family.Name} has no series {{{string.Join(',', labelValues)}}}");
        return 0;
    }
}
