using System.Diagnostics;
using System.Text;
using System.Text.Json;
using MailAgent.LogParsing;
using MailAgent.Tests.Cli;
using MailAgent.Tests.Integration.Agent;
using MailAgent.Tests.Integration.Postfix;
using Xunit.Abstractions;
using static MailAgent.Tests.Integration.Postfix.PrivatePostfix;
using PflogsummTotals = MailAgent.Tests.Cli.PflogsummGrandTotals;

namespace MailAgent.Tests.Integration.EndToEnd;

/// <summary>
/// The real agent daemon follows the log of a real private Postfix (with OpenDKIM) while the test sends
/// mail of every outcome; then /metrics, <c>mailagent replay</c> and pflogsumm, all reading that one log,
/// must agree with what was sent and with each other.
/// </summary>
/// <remarks>
/// OpenDKIM's lines reach the same file as Postfix's through postlogd: the harness's syslog receiver
/// hands each OpenDKIM line to postlogd's socket, so one process writes the file and every line lands
/// whole (<see cref="PrivatePostfixOptions.OpenDkimLogToMaillog"/>). A second writer appending to the
/// file would need O_APPEND on both sides, which .NET's FileStream does not use: it writes at its own
/// offset and would overwrite postlogd's lines. Where OpenDKIM's log cannot be captured (no private
/// mount namespace) the DKIM assertions are skipped and the test says so.
/// </remarks>
[Trait("Category", "Integration")]
public sealed class AgentAgainstPostfixTests(ITestOutputHelper output)
{
    // Delivered: smtp-source and sendmail (pickup) to accept.test.
    private const int Accepted = 200;
    private const int SentWithSendmail = 10;

    // Bounced by the next hop: 550 5.1.1 and 550 5.7.1.
    private const int Bounced511 = 30;
    private const int Bounced571 = 20;

    // Deferred once (4.7.1 from the sink, connection refused), then force-expired and returned.
    private const int Deferred471 = 20;
    private const int Refused = 10;

    // Rejected by smtpd at each stage (restrictions below), and by cleanup's header_checks.
    private const int EhloRejects = 4;
    private const int MailRejects = 6;
    private const int RcptRejects = 12;
    private const int DataRejects = 5;
    private const int EndOfDataRejects = 5;
    private const int HeaderRejects = 8;

    private const string RejectedHelo = "bad-helo.test";
    private const string RejectedSenderDomain = "spam.test";
    private const string RejectedRecipientDomain = "reject.test";
    private const string DataRejectedSender = "data-reject@" + SigningDomain;
    private const string EndOfDataRejectedSender = "eod-reject@" + SigningDomain;
    private const string RejectedSubject = "REJECT-ME";
    private const string ClientEhlo = "EHLO client." + SigningDomain;

    private const int SmtpSourceMessages = Accepted + Bounced511 + Bounced571 + Deferred471 + Refused;
    private const int Bounced = Bounced511 + Bounced571;
    private const int Deferred = Deferred471 + Refused;

    /// <summary>Messages smtpd took in (client= lines): also those later rejected at DATA, end of data or by cleanup.</summary>
    private const int SmtpdReceived = SmtpSourceMessages + DataRejects + EndOfDataRejects + HeaderRejects;

    /// <summary>Everything sent to accept.test plus one bounce notice per bounced and per expired message.</summary>
    private const int Delivered = Accepted + SentWithSendmail + Bounced + Deferred;

    /// <summary>OpenDKIM signs what smtpd and pickup queue from example.test; bounce notices pass unsigned.</summary>
    private const int Signed = SmtpSourceMessages + SentWithSendmail;

    private const int Rejected = EhloRejects + MailRejects + RcptRejects + DataRejects + EndOfDataRejects + HeaderRejects;

    /// <summary>Each phase's deadline: generous for a loaded two-core machine; a passing run takes a fraction.</summary>
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    /// <summary>Deferred mail waits for the test's flush instead of being retried on its own.</summary>
    private static readonly TimeSpan NoRetry = TimeSpan.FromHours(1);

    private static readonly Dictionary<string, long> ExpectedRejects = new(StringComparer.Ordinal)
    {
        ["ehlo 554"] = EhloRejects,
        ["mail 553"] = MailRejects,
        ["rcpt 550"] = RcptRejects,
        ["data 451"] = DataRejects,
        ["end_of_message 552"] = EndOfDataRejects,
        // cleanup logs the DSN (5.7.1) but no reply code
        ["header 5xx"] = HeaderRejects,
    };

    [ServerFact("postfix", "opendkim")]
    public async Task Daemon_TrafficOfEveryOutcome_MetricsReplayAndPflogsummAgreeWithWhatWasSent()
    {
        var clock = Stopwatch.StartNew();
        var work = Directory.CreateTempSubdirectory("mailagent-e2e-").FullName;
        try
        {
            await using var postfix = await StartAsync(new PrivatePostfixOptions
            {
                Diagnostics = output.WriteLine,
                OpenDkimLogToMaillog = true,
                QueueRunDelay = NoRetry,
                MinimalBackoffTime = NoRetry,
                MaximalBackoffTime = NoRetry,
                ExtraMainCf = Restrictions(),
            });
            Phase(clock, "Postfix and OpenDKIM started");

            await using var agent = await AgentProcess.StartAsync(
                $"LogTailing:Path={postfix.LogPath}",
                $"LogTailing:StateDirectory={Path.Combine(work, "state")}",
                "LogTailing:StartAt=Beginning",
                "LogTailing:PollInterval=00:00:00.200");
            Phase(clock, $"agent listening on {agent.BaseAddress}");

            await Task.WhenAll(
                Timed(clock, "smtp-source to accept.test", postfix.SendWithSmtpSourceAsync(Accepted, AcceptDomain, sessions: 4, subject: "accepted")),
                Timed(clock, "smtp-source to bounce.test", postfix.SendWithSmtpSourceAsync(Bounced511, BounceDomain, sessions: 2, subject: "bounced 5.1.1")),
                Timed(clock, "smtp-source to policy.test", postfix.SendWithSmtpSourceAsync(Bounced571, PolicyDomain, sessions: 2, subject: "bounced 5.7.1")),
                Timed(clock, "smtp-source to defer.test", postfix.SendWithSmtpSourceAsync(Deferred471, DeferDomain, sessions: 2, subject: "deferred 4.7.1")),
                Timed(clock, "smtp-source to unreach.test", postfix.SendWithSmtpSourceAsync(Refused, UnreachableDomain, subject: "connection refused")),
                Timed(clock, "sendmail", postfix.SendWithSendmailAsync(SentWithSendmail, AcceptDomain)),
                Timed(clock, "rejected sessions", SendRejectedAsync(postfix.SmtpPort)),
                Timed(clock, "sessions without mail", SessionsWithoutMailAsync(postfix.SmtpPort)));
            Phase(clock, "traffic sent");

            // Everything has had its one delivery attempt, and every bounce notice is delivered.
            await postfix.WaitForLogAsync(
                lines => Count(lines, " status=sent ") >= Accepted + SentWithSendmail + Bounced
                         && Count(lines, " status=bounced ") >= Bounced
                         && Count(lines, " status=deferred ") >= Deferred,
                Timeout);
            await Eventually.UntilAsync(
                postfix.GetQueueAsync,
                queue => queue.Count == Deferred && queue.All(m => m.QueueName == "deferred"),
                Timeout,
                queue => $"{queue.Count} queued: " + string.Join("; ", queue.Take(10).Select(m => $"{m.QueueId} {m.QueueName}")));
            Phase(clock, "first attempts done");

            // Return the deferred mail to its sender, so every message ends and the log stops growing.
            await postfix.ExpireDeferredAsync();
            await postfix.FlushAsync();
            await postfix.WaitUntilQueueEmptyAsync(Timeout);
            await postfix.WaitForLogAsync(
                lines => Count(lines, "status=force-expired, returned to sender") >= Deferred && Count(lines, " status=sent ") >= Delivered,
                Timeout);
            Phase(clock, "deferred mail expired and returned");

            var (snapshot, metrics) = await SnapshotAsync(postfix, agent);
            var snapshotPath = Path.Combine(work, "mail.log");
            await File.WriteAllTextAsync(snapshotPath, string.Join('\n', snapshot) + "\n");
            Phase(clock, $"agent caught up with the log: {snapshot.Count} lines");

            AssertLogHasNoErrors(snapshot);
            var daemon = ReplayCorpusTests.ParseExposition(metrics);
            AssertMetricsMatchWhatWasSent(daemon, snapshot, postfix.OpenDkimLogInMaillog);

            var json = await ReplayAsync(snapshotPath, "json");
            using var document = JsonDocument.Parse(json);
            var replay = document.RootElement;
            AssertReplayMatchesWhatWasSent(replay, snapshot, postfix.OpenDkimLogInMaillog);

            var report = await postfix.RunPflogsummAsync(snapshotPath);
            var pflogsumm = PflogsummTotals.Parse(report);
            Assert.Equal(PflogsummTotals.FieldNames.Order(), pflogsumm.Keys.Order());
            var mismatches = PflogsummTotals.Mismatches(replay, pflogsumm);
            Assert.True(mismatches.Count == 0, string.Join('\n', mismatches) + "\n" + report);

            // The daemon, which read the log as it grew, and the replay of the whole file count alike.
            var replayed = ReplayCorpusTests.ParseExposition(await ReplayAsync(snapshotPath, "prometheus"));
            var differences = replayed
                .Where(s => !daemon.TryGetValue(s.Key, out var live) || live != s.Value)
                .Select(s => $"{s.Key}: replay {s.Value}, daemon {(daemon.TryGetValue(s.Key, out var live) ? live : "absent")}")
                .ToList();
            Assert.True(differences.Count == 0, string.Join('\n', differences));
            Phase(clock, "metrics, replay and pflogsumm agree");
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }

    /// <summary>smtpd restrictions that refuse chosen names at each stage, and a header check for cleanup.</summary>
    private static Dictionary<string, string> Restrictions() => new(StringComparer.Ordinal)
    {
        // Evaluate each restriction list at its own stage, so rejects are logged at EHLO and MAIL too.
        ["smtpd_delay_reject"] = "no",
        ["smtpd_helo_restrictions"] = $"check_helo_access inline:{{ {{ {RejectedHelo} = 554 5.7.1 HELO name refused by test policy }} }}",
        ["smtpd_sender_restrictions"] = $"check_sender_access inline:{{ {{ {RejectedSenderDomain} = 553 5.7.1 Sender domain refused by test policy }} }}",
        // After smtpd_relay_restrictions (permit_mynetworks), so the loopback client is refused anyway.
        ["smtpd_recipient_restrictions"] = $"check_recipient_access inline:{{ {{ {RejectedRecipientDomain} = 550 5.7.1 Recipient refused by test policy }} }}",
        ["smtpd_data_restrictions"] = $"check_sender_access inline:{{ {{ {DataRejectedSender} = 451 4.7.1 DATA refused for now by test policy }} }}",
        ["smtpd_end_of_data_restrictions"] = $"check_sender_access inline:{{ {{ {EndOfDataRejectedSender} = 552 5.3.4 Message refused at end of data by test policy }} }}",
        ["header_checks"] = $"regexp:{{ {{ /^Subject: {RejectedSubject}/ REJECT Subject refused by test policy }} }}",
    };

    /// <summary>
    /// Drives smtpd into each reject, one session per refused command: after smtpd_soft_error_limit (10)
    /// errors in a session smtpd slows every reply down, as it should for a client that keeps failing.
    /// </summary>
    private static async Task SendRejectedAsync(int port)
    {
        for (var i = 0; i < EhloRejects; i++)
        {
            await InSessionAsync(port, async session => Expect(554, await session.SendAsync("EHLO " + RejectedHelo)));
        }

        for (var i = 0; i < MailRejects; i++)
        {
            await InSessionAsync(port, async session =>
            {
                Expect(250, await session.SendAsync(ClientEhlo));
                Expect(553, await session.SendAsync($"MAIL FROM:<blocked{i}@{RejectedSenderDomain}>"));
            });
        }

        for (var i = 0; i < RcptRejects; i++)
        {
            await InSessionAsync(port, async session =>
            {
                Expect(250, await session.SendAsync(ClientEhlo));
                Expect(250, await session.SendAsync($"MAIL FROM:<{SenderAddress}>"));
                Expect(550, await session.SendAsync($"RCPT TO:<user{i}@{RejectedRecipientDomain}>"));
            });
        }

        await SendRefusedMessagesAsync(port, DataRejects, DataRejectedSender, "refused at DATA", 451);
        await SendRefusedMessagesAsync(port, EndOfDataRejects, EndOfDataRejectedSender, "refused at end of data", 552);
        await SendRefusedMessagesAsync(port, HeaderRejects, SenderAddress, RejectedSubject, 550);
    }

    /// <summary>Messages that smtpd accepts up to RCPT (so they are received and get a queue ID) and then refuses.</summary>
    private static async Task SendRefusedMessagesAsync(int port, int count, string sender, string subject, int code)
    {
        for (var i = 0; i < count; i++)
        {
            await InSessionAsync(port, async session =>
            {
                Expect(250, await session.SendAsync(ClientEhlo));
                Expect(250, await session.SendAsync($"MAIL FROM:<{sender}>"));
                Expect(250, await session.SendAsync($"RCPT TO:<user@{AcceptDomain}>"));
                Expect(code, await session.SendDataAsync(
                    $"From: {sender}\nTo: user@{AcceptDomain}\nSubject: {subject} {i}\n\nMessage {i} of the end-to-end test.\n"));
            });
        }
    }

    private static async Task InSessionAsync(int port, Func<SmtpConversation, Task> dialogue)
    {
        await using var session = await SmtpConversation.OpenAsync(port);
        await dialogue(session);
        await session.QuitAsync();
    }

    /// <summary>Sessions that carry no mail: a plain one, an AUTH attempt on a server without SASL, and one that just hangs up.</summary>
    private static async Task SessionsWithoutMailAsync(int port)
    {
        await using (var session = await SmtpConversation.OpenAsync(port))
        {
            Expect(250, await session.SendAsync("EHLO quiet." + SigningDomain));
            Expect(250, await session.SendAsync("NOOP"));
            await session.QuitAsync();
        }

        await using (var session = await SmtpConversation.OpenAsync(port))
        {
            Expect(250, await session.SendAsync("EHLO auth." + SigningDomain));
            Expect(503, await session.SendAsync("AUTH PLAIN AHVzZXIAcGFzc3dvcmQ="));
            await session.QuitAsync();
        }

        await using (var session = await SmtpConversation.OpenAsync(port))
        {
            Expect(250, await session.SendAsync("EHLO hangup." + SigningDomain));
            // disposing without QUIT: smtpd logs "lost connection after EHLO"
        }
    }

    private static void Expect(int code, SmtpReply reply) =>
        Assert.True(reply.Code == code, $"expected {code}, server said '{reply}'");

    /// <summary>
    /// Waits until the agent has read exactly the complete lines of the log (two scrapes in a row, so the
    /// last line's counters are in as well) and every OpenDKIM line has reached it; returns those lines and
    /// the second scrape.
    /// </summary>
    private static async Task<(IReadOnlyList<string> Lines, string Metrics)> SnapshotAsync(PrivatePostfix postfix, AgentProcess agent)
    {
        var result = await Eventually.UntilAsync(
            async _ =>
            {
                var lines = postfix.ReadLogLines();
                var dkimOwnLog = postfix.OpenDkimLogInMaillog ? postfix.ReadOpenDkimLogLines().Count : 0;
                var first = await agent.ScrapeAsync();
                var second = await agent.ScrapeAsync();
                return (Lines: lines, DkimOwnLog: dkimOwnLog, First: LinesRead(first), Second: LinesRead(second), Metrics: second);
            },
            s => s.First == s.Lines.Count && s.Second == s.Lines.Count
                 && (!postfix.OpenDkimLogInMaillog || Count(s.Lines, " opendkim[") == s.DkimOwnLog),
            Timeout,
            s => $"log has {s.Lines.Count} lines ({Count(s.Lines, " opendkim[")} of OpenDKIM's {s.DkimOwnLog}), agent read {s.First} then {s.Second}");
        Assert.Equal(0, postfix.OpenDkimLinesMissingFromMaillog);
        return (result.Lines, result.Metrics);
    }

    private static void AssertLogHasNoErrors(IReadOnlyList<string> log)
    {
        var trouble = log.Where(l => l.Contains(" fatal: ", StringComparison.Ordinal)
                                     || l.Contains(" panic: ", StringComparison.Ordinal)
                                     || l.Contains(" error: ", StringComparison.Ordinal)
                                     || l.Contains(" warning: ", StringComparison.Ordinal)).ToList();
        Assert.True(trouble.Count == 0, "Postfix logged trouble:\n" + string.Join('\n', trouble.Take(30)));
        var unparsed = log.Where(l => LineParser.Parse(Encoding.UTF8.GetBytes(l)).Kind == EventKind.Unparsed).ToList();
        Assert.True(unparsed.Count == 0, "lines the parser does not understand:\n" + string.Join('\n', unparsed.Distinct().Take(30)));
    }

    private void AssertMetricsMatchWhatWasSent(Dictionary<string, double> m, IReadOnlyList<string> log, bool dkimInLog)
    {
        double Series(string name) => m.TryGetValue(name, out var value) ? value : 0;
        double Sum(string family, string labels = "") => m.Where(s => s.Key.StartsWith(family + "{", StringComparison.Ordinal) || s.Key == family)
            .Where(s => labels.Length == 0 || s.Key.Contains(labels, StringComparison.Ordinal))
            .Sum(s => s.Value);

        Assert.Equal(log.Count, Sum("mailagent_log_lines_total"));
        Assert.Equal(0, Sum("mailagent_log_lines_unparsed_total"));

        Assert.Equal(Delivered, Series("postfix_delivery_status_total{service=\"smtp\",status=\"sent\"}"));
        Assert.Equal(Delivered, Sum("postfix_delivery_status_total", "status=\"sent\""));
        Assert.Equal(Bounced, Series("postfix_delivery_status_total{service=\"smtp\",status=\"bounced\"}"));
        Assert.Equal(Bounced, Sum("postfix_delivery_status_total", "status=\"bounced\""));
        // Once qmgr has seen the refused next hop fail, it may defer the rest for it through the error
        // transport ("delivery temporarily suspended"): each deferred message is counted once, by one of them.
        Assert.Equal(Deferred, Sum("postfix_delivery_status_total", "status=\"deferred\""));
        var smtpRefused = Count(log, " postfix/smtp[", $"@{UnreachableDomain}>", " status=deferred ");
        Assert.Equal(Deferred471 + smtpRefused, Series("postfix_delivery_status_total{service=\"smtp\",status=\"deferred\"}"));
        Assert.Equal(Deferred, Series("postfix_qmgr_messages_expired_total"));
        Assert.Equal(Delivered, Series("postfix_smtp_messages_processed_total{status=\"sent\"}"));
        Assert.Equal(Bounced511, Series("postfix_smtp_bounced_messages_by_dsn_total{dsn_class=\"5.1\"}"));
        Assert.Equal(Bounced571, Series("postfix_smtp_bounced_messages_by_dsn_total{dsn_class=\"5.7\"}"));
        Assert.Equal(Deferred471, Series("postfix_smtp_deferred_messages_by_dsn_total{dsn_class=\"4.7\"}"));
        Assert.Equal(smtpRefused, Series("postfix_smtp_deferred_messages_by_dsn_total{dsn_class=\"4.4\"}"));
        Assert.Equal(smtpRefused, Series("postfix_smtp_connection_failures_total{reason=\"refused\"}"));
        Assert.Equal(Bounced + Deferred, Series("postfix_bounce_notifications_total{kind=\"non_delivery\"}"));

        Assert.Equal(SmtpdReceived, Series("postfix_smtpd_messages_processed_total{sasl_method=\"\"}"));
        Assert.Equal(SmtpdReceived, Sum("postfix_smtpd_messages_processed_total"));
        Assert.Equal(SentWithSendmail, Series("postfix_pickup_messages_total"));
        Assert.Equal(0, Sum("postfix_smtpd_sasl_authentication_failures_total"));
        Assert.Equal(1, Series("postfix_smtpd_lost_connections_after_total{after=\"ehlo\"}"));
        // A start-up probe of the harness that gave up waiting for the greeting would add one after CONNECT.
        Assert.Equal(Count(log, "/smtpd[", ": lost connection after "), Sum("postfix_smtpd_lost_connections_after_total"));
        // One session per smtp-source message and per refused command, three without mail, and at least
        // the harness's start-up probe of each listener (smtpd and postfix/submission/smtpd).
        var connects = Count(log, "/smtpd[", ": connect from ");
        Assert.InRange(connects, SmtpSourceMessages + Rejected + 3 + 2, int.MaxValue);
        Assert.Equal(connects, Series("postfix_smtpd_connects_total"));
        Assert.Equal(connects, Series("postfix_smtpd_disconnects_total"));

        var rejects = m.Where(s => s.Key.StartsWith("postfix_smtpd_messages_rejected_total{", StringComparison.Ordinal) && s.Value > 0)
            .ToDictionary(s => s.Key, s => (long)s.Value, StringComparer.Ordinal);
        var expectedRejects = ExpectedRejects.ToDictionary(
            r => $"postfix_smtpd_messages_rejected_total{{stage=\"{r.Key.Split(' ')[0]}\",code=\"{r.Key.Split(' ')[1]}\"}}",
            r => r.Value,
            StringComparer.Ordinal);
        Assert.Equal(expectedRejects.OrderBy(r => r.Key, StringComparer.Ordinal), rejects.OrderBy(r => r.Key, StringComparer.Ordinal));
        Assert.Equal(HeaderRejects, Series("postfix_cleanup_messages_rejected_total"));

        if (dkimInLog)
        {
            Assert.Equal(Signed, Series($"opendkim_signatures_added_total{{selector=\"{DkimSelector}\",domain=\"{SigningDomain}\"}}"));
            Assert.Equal(Signed, Sum("opendkim_signatures_added_total"));
            Assert.Equal(0, Sum("opendkim_errors_total"));
        }
        else
        {
            output.WriteLine("OpenDKIM's log is not capturable on this machine: DKIM signatures not checked");
        }

        // Every message ended: nothing is still followed, nothing had to be dropped.
        Assert.Equal(0, Series("mailagent_correlation_messages"));
        Assert.Equal(0, Sum("mailagent_correlation_evictions_total"));
    }

    private static void AssertReplayMatchesWhatWasSent(JsonElement replay, IReadOnlyList<string> log, bool dkimInLog)
    {
        long Field(string name) => replay.GetProperty(name).GetInt64();

        Assert.Equal(log.Count, Field("lines"));
        Assert.Equal(0, Field("unparsed_lines"));
        Assert.Equal(0, Field("other_lines"));
        Assert.Equal(SmtpdReceived + SentWithSendmail, Field("received"));
        Assert.Equal(Delivered, Field("delivered"));
        Assert.Equal(0, Field("forwarded"));
        Assert.Equal(Bounced, Field("bounced"));
        Assert.Equal(Deferred, Field("deferred"));
        Assert.Equal(Deferred, Field("deferrals"));
        Assert.Equal(Deferred, Field("expired"));
        Assert.Equal(Rejected, Field("rejected"));
        Assert.Equal(0, Field("reject_warnings"));
        Assert.Equal(0, Field("held"));
        Assert.Equal(0, Field("discarded"));
        Assert.Equal(0, Field("sasl_auth_failures"));
        Assert.Equal(Count(log, "/smtpd[", ": connect from "), Field("smtpd_connects"));
        Assert.Equal(dkimInLog ? Signed : 0, Field("dkim_signed"));
        var rejects = replay.GetProperty("rejects_by_stage_code").EnumerateObject()
            .ToDictionary(r => r.Name, r => r.Value.GetInt64(), StringComparer.Ordinal);
        Assert.Equal(ExpectedRejects.OrderBy(r => r.Key, StringComparer.Ordinal), rejects.OrderBy(r => r.Key, StringComparer.Ordinal));
    }

    private static async Task<string> ReplayAsync(string path, string format)
    {
        var (exitCode, stdout, stderr) = await ReplayRunner.RunAsync(TimeProvider.System, [], "replay", path, "--format", format);
        Assert.True(exitCode == 0, $"replay exited {exitCode}: {stderr}");
        Assert.Equal("", stderr);
        return stdout;
    }

    private static double LinesRead(string metrics) => AgentProcess.Value(metrics, "mailagent_log_lines_total");

    private static int Count(IEnumerable<string> lines, params string[] parts) =>
        lines.Count(l => parts.All(p => l.Contains(p, StringComparison.Ordinal)));

    private async Task Timed(Stopwatch clock, string what, Task task)
    {
        await task;
        Phase(clock, what + " done");
    }

    private void Phase(Stopwatch clock, string what) => output.WriteLine($"{clock.Elapsed.TotalSeconds,6:0.0} s  {what}");
}
