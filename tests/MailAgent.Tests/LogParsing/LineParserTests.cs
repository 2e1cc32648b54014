using System.Text.RegularExpressions;
using MailAgent.LogParsing;

namespace MailAgent.Tests.LogParsing;

// Theories take the parser's enums as object: they are internal, and a public test method
// cannot have internal parameter types.
public sealed partial class LineParserTests
{
    /// <summary>What every line of an example-lines.txt section must parse to; null fields are not checked.</summary>
    private sealed record Expect(EventKind Kind, Daemon Daemon)
    {
        public Family Family { get; init; } = Family.Postfix;
        public string? Program { get; init; }
        public DeliveryStatus? Status { get; init; }
        public string? Dsn { get; init; }
        public SmtpStage? Stage { get; init; }
        public int? ReplyCode { get; init; }
        public RejectAction? RejectAction { get; init; }
        public string? SaslMethod { get; init; }
        public string? From { get; init; }
        public string? OrigTo { get; init; }
        public long? Size { get; init; }
        public int? Recipients { get; init; }
        public bool? ForcedExpiry { get; init; }
        public bool? HasDelays { get; init; }
        public NoticeKind? Notice { get; init; }
        public ConnectFailureReason? ConnectFailure { get; init; }
        public TlsTrust? TlsTrust { get; init; }
        public string? TlsProtocol { get; init; }
        public Severity? Severity { get; init; }
        public string? DkimSelector { get; init; }
        public string? DkimDomain { get; init; }
    }

    private static readonly Dictionary<string, Expect> Sections = new()
    {
        ["received (smtpd)"] = new(EventKind.SmtpdClient, Daemon.Smtpd) { Program = "postfix/smtpd", SaslMethod = "" },
        ["received (submission, SASL)"] = new(EventKind.SmtpdClient, Daemon.Smtpd) { Program = "postfix/submission/smtpd", SaslMethod = "PLAIN" },
        ["received (pickup/sendmail)"] = new(EventKind.PickupReceived, Daemon.Pickup) { From = "cron@tazzi.com" },
        ["cleanup message-id"] = new(EventKind.CleanupMessageId, Daemon.Cleanup),
        ["qmgr queued"] = new(EventKind.QmgrQueued, Daemon.Qmgr) { From = "alerts@tazzi.com", Size = 2781, Recipients = 1 },
        ["DKIM signed (opendkim, merged from mail.log)"] = new(EventKind.DkimSigned, Daemon.OpenDkim) { Family = Family.OpenDkim, Program = "opendkim", DkimSelector = "mail", DkimDomain = "tazzi.com" },
        ["delivered (smtp)"] = new(EventKind.Delivery, Daemon.Smtp) { Status = DeliveryStatus.Sent, Dsn = "2.0.0", HasDelays = true },
        ["delivered (smtp, slow sink)"] = new(EventKind.Delivery, Daemon.Smtp) { Status = DeliveryStatus.Sent, Dsn = "2.0.0", HasDelays = true },
        ["delivered (local)"] = new(EventKind.Delivery, Daemon.Local) { Status = DeliveryStatus.Sent, Dsn = "2.0.0", OrigTo = "alice@tazzi.com", HasDelays = true },
        ["bounced (remote 5xx)"] = new(EventKind.Delivery, Daemon.Smtp) { Status = DeliveryStatus.Bounced, Dsn = "5.1.1", HasDelays = true },
        ["bounced (local unknown user)"] = new(EventKind.Delivery, Daemon.Local) { Status = DeliveryStatus.Bounced, Dsn = "5.1.1" },
        ["bounce notice"] = new(EventKind.BounceNotice, Daemon.Bounce) { Notice = NoticeKind.NonDelivery },
        ["deferred (4xx)"] = new(EventKind.Delivery, Daemon.Smtp) { Status = DeliveryStatus.Deferred, Dsn = "4.7.1" },
        ["deferred (connection refused)"] = new(EventKind.Delivery, Daemon.Smtp) { Status = DeliveryStatus.Deferred, Dsn = "4.4.1" },
        ["connect refused (smtp warning)"] = new(EventKind.ConnectFailure, Daemon.Smtp) { ConnectFailure = ConnectFailureReason.Refused },
        ["deferred (timeout)"] = new(EventKind.Delivery, Daemon.Smtp) { Status = DeliveryStatus.Deferred, Dsn = "4.4.2" },
        ["deferred (dead destination, postfix/error)"] = new(EventKind.Delivery, Daemon.Error) { Program = "postfix/error", Status = DeliveryStatus.Deferred, Dsn = "4.4.1" },
        ["delay warning notice"] = new(EventKind.BounceNotice, Daemon.Bounce) { Notice = NoticeKind.Delay },
        ["expired"] = new(EventKind.QmgrExpired, Daemon.Qmgr) { Status = DeliveryStatus.Expired, ForcedExpiry = false, From = "billing@tazzi.com" },
        ["force-expired (postsuper -e)"] = new(EventKind.PostsuperAction, Daemon.Postsuper),
        ["force-expired returned"] = new(EventKind.QmgrExpired, Daemon.Qmgr) { Status = DeliveryStatus.Expired, ForcedExpiry = true },
        ["rejected: relay"] = new(EventKind.Reject, Daemon.Smtpd) { RejectAction = RejectAction.Reject, Stage = SmtpStage.Rcpt, ReplyCode = 554 },
        ["rejected: unknown user"] = new(EventKind.Reject, Daemon.Smtpd) { RejectAction = RejectAction.Reject, Stage = SmtpStage.Rcpt, ReplyCode = 550 },
        ["rejected: sender domain"] = new(EventKind.Reject, Daemon.Smtpd) { RejectAction = RejectAction.Reject, Stage = SmtpStage.Rcpt, ReplyCode = 450 },
        ["rejected: size at MAIL"] = new(EventKind.Reject, Daemon.Smtpd) { RejectAction = RejectAction.Reject, Stage = SmtpStage.Mail, ReplyCode = 552 },
        // Cleanup's content-check rejects carry a DSN but no SMTP reply code.
        ["rejected: header_checks (cleanup)"] = new(EventKind.Reject, Daemon.Cleanup) { RejectAction = RejectAction.Reject, Stage = SmtpStage.Header, ReplyCode = 0 },
        ["SASL failure"] = new(EventKind.SaslFailure, Daemon.Smtpd) { Program = "postfix/submission/smtpd", SaslMethod = "PLAIN", Severity = Severity.Warning },
        ["SASL failure (auth server lost)"] = new(EventKind.SaslFailure, Daemon.Smtpd) { SaslMethod = "PLAIN", Severity = Severity.Warning },
        ["TLS (submission)"] = new(EventKind.TlsEstablished, Daemon.Smtpd) { TlsTrust = TlsTrust.Anonymous, TlsProtocol = "TLSv1.3" },
        ["disconnect summary"] = new(EventKind.SmtpdDisconnect, Daemon.Smtpd),
        ["qmgr removed"] = new(EventKind.QmgrRemoved, Daemon.Qmgr),
    };

    public static TheoryData<string> SectionNames()
    {
        var data = new TheoryData<string>();
        foreach (var (name, _) in TestData.ExampleSections())
            data.Add(name);
        return data;
    }

    [Fact]
    public void ExampleLines_EverySection_HasAnExpectation()
    {
        var names = TestData.ExampleSections().Select(s => s.Name).ToArray();

        Assert.Empty(names.Except(Sections.Keys));
        Assert.Empty(Sections.Keys.Except(names));
    }

    [Theory]
    [MemberData(nameof(SectionNames))]
    public void Parse_ExampleSection_MatchesExpectation(string section)
    {
        var expect = Sections[section];
        var lines = TestData.ExampleSections().Single(s => s.Name == section).Lines;
        Assert.NotEmpty(lines);

        foreach (string line in lines)
        {
            var p = ParsedView.Of(line);

            Check(expect, line, p);
        }
    }

    private static void Check(Expect e, string line, ParsedView p)
    {
        string because = $"{line}\n  parsed as {p}";
        Assert.True(e.Kind == p.Kind, $"kind {p.Kind}, expected {e.Kind}: {because}");
        Assert.True(e.Family == p.Family, $"family: {because}");
        Assert.True(e.Daemon == p.Daemon, $"daemon: {because}");
        Assert.True(p.Timestamp.IsValid, $"timestamp: {because}");
        Assert.True(QueueIdIn(line) == p.QueueId, $"queue ID: {because}");
        Assert.True(e.Program is null || e.Program == p.Program, $"program: {because}");
        Assert.True(e.Status is null || e.Status == p.Status, $"status: {because}");
        Assert.True(e.Dsn is null || e.Dsn == p.Dsn, $"dsn: {because}");
        Assert.True(e.Stage is null || e.Stage == p.Stage, $"stage: {because}");
        Assert.True(e.ReplyCode is null || e.ReplyCode == p.ReplyCode, $"reply code: {because}");
        Assert.True(e.RejectAction is null || e.RejectAction == p.RejectAction, $"reject action: {because}");
        Assert.True(e.SaslMethod is null || e.SaslMethod == p.SaslMethod, $"sasl method: {because}");
        Assert.True(e.From is null || e.From == p.From, $"from: {because}");
        Assert.True(e.OrigTo is null || e.OrigTo == p.OrigTo, $"orig_to: {because}");
        Assert.True(e.Size is null || e.Size == p.Size, $"size: {because}");
        Assert.True(e.Recipients is null || e.Recipients == p.Recipients, $"nrcpt: {because}");
        Assert.True(e.ForcedExpiry is null || e.ForcedExpiry == p.ForcedExpiry, $"forced expiry: {because}");
        Assert.True(e.HasDelays is null || e.HasDelays == p.HasDelays, $"delays: {because}");
        Assert.True(e.Notice is null || e.Notice == p.Notice, $"notice: {because}");
        Assert.True(e.ConnectFailure is null || e.ConnectFailure == p.ConnectFailure, $"connect failure: {because}");
        Assert.True(e.TlsTrust is null || e.TlsTrust == p.TlsTrust, $"TLS trust: {because}");
        Assert.True(e.TlsProtocol is null || e.TlsProtocol == p.TlsProtocol, $"TLS protocol: {because}");
        Assert.True(e.Severity is null || e.Severity == p.Severity, $"severity: {because}");
        Assert.True(e.DkimSelector is null || e.DkimSelector == p.DkimSelector, $"DKIM selector: {because}");
        Assert.True(e.DkimDomain is null || e.DkimDomain == p.DkimDomain, $"DKIM domain: {because}");
        if (p.Kind == EventKind.Delivery)
            Assert.True(p.To.Length > 0 && !p.To.Contains('<', StringComparison.Ordinal) && !p.To.Contains('>', StringComparison.Ordinal), $"to: {because}");
    }

    // The queue ID (or NOQUEUE) a line carries after its tag, as a reader sees it; "" when it has none.
    private static string QueueIdIn(string line)
    {
        var m = QueueIdPattern().Match(line);
        return m.Success ? m.Groups[1].Value : "";
    }

    [GeneratedRegex(@"^\S+ +\d+ [\d:]+ \S+ [^ \[]+\[\d+\]: ([0-9A-F]{5,12}|NOQUEUE): ")]
    private static partial Regex QueueIdPattern();

    // ---- Timestamps ---------------------------------------------------------------------------

    [Fact]
    public void Parse_Rfc3339WithFractionAndOffset_ReadsEveryPart()
    {
        var p = ParsedView.Of("2026-11-27T23:52:30.122603+02:00 mail-oregon postfix/smtpd[28448]: connect from localhost[127.0.0.1]");

        Assert.Equal(EventKind.SmtpdConnect, p.Kind);
        Assert.Equal(2026, p.Timestamp.Year);
        Assert.Equal(11, p.Timestamp.Month);
        Assert.Equal(27, p.Timestamp.Day);
        Assert.Equal((23 * 3600) + (52 * 60) + 30, p.Timestamp.SecondOfDay);
        Assert.Equal(122603, p.Timestamp.Microsecond);
        Assert.True(p.Timestamp.HasOffset);
        Assert.Equal(120, p.Timestamp.OffsetMinutes);
        Assert.Equal("mail-oregon", p.Host);
        Assert.Equal("localhost[127.0.0.1]", p.Client);
    }

    [Theory]
    [InlineData("2026-11-27T23:52:30-05:30", -330, 0)]
    [InlineData("2026-11-27T23:52:30Z", 0, 0)]
    [InlineData("2026-11-27T23:52:30.5Z", 0, 500000)]
    [InlineData("2026-11-27T23:52:30.123+00:00", 0, 123000)]
    [InlineData("2026-11-27T23:52:30.123456789+01:00", 60, 123456)]
    public void Parse_Rfc3339Variants_ReadsOffsetAndFraction(string stamp, int offsetMinutes, int microsecond)
    {
        var p = ParsedView.Of($"{stamp} host postfix/qmgr[1]: 4FE0BDC995: removed");

        Assert.Equal(EventKind.QmgrRemoved, p.Kind);
        Assert.True(p.Timestamp.HasOffset);
        Assert.Equal(offsetMinutes, p.Timestamp.OffsetMinutes);
        Assert.Equal(microsecond, p.Timestamp.Microsecond);
        Assert.Equal((23 * 3600) + (52 * 60) + 30, p.Timestamp.SecondOfDay);
    }

    [Fact]
    public void Parse_Rfc3339WithoutOffset_HasNoOffset()
    {
        var p = ParsedView.Of("2026-11-27T23:52:30 host postfix/qmgr[1]: 4FE0BDC995: removed");

        Assert.Equal(EventKind.QmgrRemoved, p.Kind);
        Assert.False(p.Timestamp.HasOffset);
        Assert.Equal(2026, p.Timestamp.Year);
    }

    [Theory]
    [InlineData("Apr  7 15:35:20", 4, 7, (15 * 3600) + (35 * 60) + 20)]
    [InlineData("Jan 1 00:00:00", 1, 1, 0)]
    [InlineData("Jan 01 00:00:01", 1, 1, 1)]
    [InlineData("Dec 31 23:59:59", 12, 31, 86399)]
    public void Parse_BsdTimestamp_ReadsMonthDayAndTime(string stamp, int month, int day, int secondOfDay)
    {
        var p = ParsedView.Of($"{stamp} 123-mail postfix/virtual[20235]: 199041033BE: to=<me@domain.fr>, relay=virtual, delay=0.08, delays=0.08/0/0/0, dsn=2.0.0, status=sent (delivered to maildir)");

        Assert.Equal(EventKind.Delivery, p.Kind);
        Assert.Equal(0, p.Timestamp.Year);
        Assert.Equal(month, p.Timestamp.Month);
        Assert.Equal(day, p.Timestamp.Day);
        Assert.Equal(secondOfDay, p.Timestamp.SecondOfDay);
        Assert.False(p.Timestamp.HasOffset);
        Assert.Equal("123-mail", p.Host);
    }

    [Fact]
    public void Parse_BsdTimestampWithFraction_ReadsMicroseconds()
    {
        var p = ParsedView.Of("Nov 27 23:52:35.250 mail postfix/qmgr[1]: 4FE0BDC995: removed");

        Assert.Equal(EventKind.QmgrRemoved, p.Kind);
        Assert.Equal(250000, p.Timestamp.Microsecond);
    }

    [Theory]
    [InlineData("Foo 27 23:52:35 mail postfix/qmgr[1]: 4FE0BDC995: removed")]
    [InlineData("Nov 32 23:52:35 mail postfix/qmgr[1]: 4FE0BDC995: removed")]
    [InlineData("Nov 27 24:52:35 mail postfix/qmgr[1]: 4FE0BDC995: removed")]
    [InlineData("2026-13-27T23:52:35Z mail postfix/qmgr[1]: 4FE0BDC995: removed")]
    [InlineData("2026-11-27T23:52:35+25:00 mail postfix/qmgr[1]: 4FE0BDC995: removed")]
    public void Parse_InvalidTimestamp_IsUnparsed(string line)
    {
        var p = ParsedView.Of(line);

        Assert.Equal(EventKind.Unparsed, p.Kind);
        Assert.False(p.Timestamp.IsValid);
    }

    // ---- Programs and instance names ----------------------------------------------------------

    [Theory]
    [InlineData("postfix-out/smtp", Daemon.Smtp)]
    [InlineData("postfix/relay/smtp", Daemon.Smtp)]
    [InlineData("postfix-mx/content-filter/smtp", Daemon.Smtp)]
    [InlineData("postfix/lmtp", Daemon.Lmtp)]
    public void Parse_InstanceAndServiceNames_FindTheDaemon(string program, object daemon)
    {
        var p = ParsedView.Of($"Feb 11 16:49:24 letterman {program}[8204]: AAB4D259B1: to=<me@example.net>, relay=example.com[127.0.0.1]:25, delay=0.1, delays=0.1/0/0/0, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as AAB4D259B1)");

        Assert.Equal(EventKind.Delivery, p.Kind);
        Assert.Equal(Family.Postfix, p.Family);
        Assert.Equal((Daemon)daemon, p.Daemon);
        Assert.Equal(program, p.Program);
        Assert.Equal("AAB4D259B1", p.QueueId);
        Assert.Equal(DeliveryStatus.Sent, p.Status);
    }

    [Theory]
    [InlineData("postfix/submission/smtpd")]
    [InlineData("postfix/smtps/smtpd")]
    [InlineData("postfix-incoming/smtpd")]
    [InlineData("postfix-smo/submission/smtpd")]
    public void Parse_SmtpdServiceNames_AreSmtpd(string program)
    {
        var p = ParsedView.Of($"Dec 26 18:45:59 mail {program}[11925]: B6CFE52606B3: client=unknown[203.0.113.9], sasl_method=LOGIN, sasl_username=me@example.tld");

        Assert.Equal(EventKind.SmtpdClient, p.Kind);
        Assert.Equal(Daemon.Smtpd, p.Daemon);
        Assert.Equal(program, p.Program);
        Assert.Equal("LOGIN", p.SaslMethod);
        Assert.Equal("unknown[203.0.113.9]", p.Client);
    }

    [Theory]
    [InlineData("postfix1")]
    [InlineData("postfixadmin")]
    [InlineData("dovecot")]
    [InlineData("IP_ADDRESS/smtpd")]
    public void Parse_OtherPrograms_AreForeign(string program)
    {
        var p = ParsedView.Of($"Jan  1 00:00:00 host {program}[12345]: connect from example.com[192.0.2.1]");

        Assert.Equal(EventKind.Foreign, p.Kind);
        Assert.Equal(Family.Foreign, p.Family);
    }

    [Theory]
    [InlineData("3xWyLP6Nmfz23fk")]
    [InlineData("4T02Hr4S5hz9vf6k")]
    [InlineData("44JCRG5tYPzCqt2")]
    [InlineData("1D8CC1CA0A7F")]
    [InlineData("4FE0BDC995")]
    public void Parse_QueueIds_ShortAndLong_AreRead(string queueId)
    {
        var p = ParsedView.Of($"Nov 27 23:52:35 mail postfix/qmgr[28412]: {queueId}: from=<alerts@tazzi.com>, size=2781, nrcpt=3 (queue active)");

        Assert.Equal(EventKind.QmgrQueued, p.Kind);
        Assert.Equal(queueId, p.QueueId);
        Assert.Equal(2781, p.Size);
        Assert.Equal(3, p.Recipients);
    }

    [Theory]
    [InlineData("ED06590130AA1C9D6D862")]
    [InlineData("1D8CC1CA0A7F0")]
    [InlineData("0F5383D")]
    public void Parse_ShortQueueIdsWithLargeInodeNumbers_AreRead(string queueId)
    {
        // A short queue ID is five hex digits of microseconds and the queue file's inode number in
        // hex: up to 21 digits on file systems with 64-bit inode numbers.
        var p = ParsedView.Of($"Nov 27 23:52:57 mail postfix/smtp[29975]: {queueId}: to=<2reader@gmail.test>, relay=127.0.0.1[127.0.0.1]:2525, delay=1.3, delays=1.2/0/0.11/0.01, dsn=2.0.0, status=sent (250 2.0.0 Ok)");

        Assert.Equal(EventKind.Delivery, p.Kind);
        Assert.Equal(queueId, p.QueueId);
    }

    [Theory]
    [InlineData("ED06590130AA1C9D6D862A")]
    [InlineData("ABC")]
    public void Parse_HexWordsTooLongOrShortForAQueueId_AreNotQueueIds(string word)
    {
        var p = ParsedView.Of($"Nov 27 23:52:57 mail postfix/qmgr[1]: {word}: removed");

        Assert.Equal("", p.QueueId);
    }

    [Fact]
    public void Parse_WordThatLooksLikeNoQueueId_IsNotAQueueId()
    {
        var p = ParsedView.Of("Oct 26 18:13:50 mail postfix/anvil[1]: statistics: max connection rate 1/60s for (smtpd:61.238.241.86) at Oct 26 18:13:50");

        Assert.Equal(EventKind.Informational, p.Kind);
        Assert.Equal("", p.QueueId);
    }

    // ---- Deliveries ---------------------------------------------------------------------------

    [Fact]
    public void Parse_Delays_ReadsAllFourStagesAndTheTotal()
    {
        var p = ParsedView.Of("Feb 24 16:18:40 letterman postfix/smtp[59649]: 5270320179: to=<hebj@telia.com>, relay=mail.telia.com[81.236.60.210]:25, delay=2017, delays=0.1/2017/0.03/0.05, dsn=2.0.0, status=sent (250 2.0.0 6FVIjIMwUJwU66FVIjAEB0 mail accepted for delivery)");

        Assert.True(p.HasDelays);
        Assert.Equal(2017, p.Delay);
        Assert.Equal(0.1, p.DelayBeforeQueueManager, 9);
        Assert.Equal(2017, p.DelayInQueueManager, 9);
        Assert.Equal(0.03, p.DelayConnectionSetup, 9);
        Assert.Equal(0.05, p.DelayTransmission, 9);
        Assert.Equal("mail.telia.com[81.236.60.210]:25", p.Relay);
        Assert.Equal("250 2.0.0 6FVIjIMwUJwU66FVIjAEB0 mail accepted for delivery", p.StatusText);
    }

    [Theory]
    [InlineData("delays=1.2/x/0.11/0.01")]
    [InlineData("delays=1.2/0/0.11")]
    [InlineData("delays=")]
    public void Parse_MalformedDelays_AreNotReported(string delays)
    {
        var p = ParsedView.Of($"Nov 27 23:52:57 mail postfix/smtp[29975]: C96AADCFDE: to=<2reader@gmail.test>, relay=127.0.0.1[127.0.0.1]:2525, delay=1.3, {delays}, dsn=2.0.0, status=sent (250 2.0.0 Ok)");

        Assert.Equal(EventKind.Delivery, p.Kind);
        Assert.False(p.HasDelays);
    }

    [Theory]
    [InlineData("postfix/lmtp", Daemon.Lmtp, "to=<user@example.com>, relay=mail.example.com[private/dovecot-lmtp], delay=0.12, delays=0.05/0.01/0.02/0.04, dsn=2.0.0, status=sent (250 2.0.0 <user@example.com> nV4eJyVj Saved)", DeliveryStatus.Sent)]
    [InlineData("postfix/lmtp", Daemon.Lmtp, "to=<user@example.com>, relay=mail.example.com[private/dovecot-lmtp], delay=0.3, delays=0.1/0/0.1/0.1, dsn=4.2.2, status=deferred (host mail.example.com[private/dovecot-lmtp] said: 452 4.2.2 <user@example.com> Quota exceeded (mailbox for user is full) (in reply to end of DATA command))", DeliveryStatus.Deferred)]
    [InlineData("postfix/virtual", Daemon.Virtual, "to=<me@domain.fr>, relay=virtual, delay=0.08, delays=0.08/0/0/0, dsn=2.0.0, status=sent (delivered to maildir)", DeliveryStatus.Sent)]
    [InlineData("postfix/virtual", Daemon.Virtual, "to=<me@domain.fr>, relay=virtual, delay=0.08, delays=0.08/0/0/0, dsn=5.2.2, status=bounced (maildir delivery failed: Disk quota exceeded)", DeliveryStatus.Bounced)]
    [InlineData("postfix/pipe", Daemon.Pipe, "to=<user@example.com>, relay=dovecot, delay=0.1, delays=0.05/0/0/0.05, dsn=2.0.0, status=sent (delivered via dovecot service)", DeliveryStatus.Sent)]
    [InlineData("postfix/pipe", Daemon.Pipe, "to=<user@example.com>, orig_to=<alias@example.com>, relay=spamassassin, delay=3.1, delays=0.1/0/0/3, dsn=4.3.0, status=deferred (temporary failure)", DeliveryStatus.Deferred)]
    [InlineData("postfix/error", Daemon.Error, "to=<nobody@example.com>, relay=none, delay=0.01, delays=0/0/0/0.01, dsn=5.0.0, status=bounced (User unknown)", DeliveryStatus.Bounced)]
    [InlineData("postfix/discard", Daemon.Discard, "to=<devnull@example.com>, relay=none, delay=0.02, delays=0.01/0/0/0.01, dsn=2.0.0, status=sent (example.com)", DeliveryStatus.Sent)]
    [InlineData("postfix/local", Daemon.Local, "to=<bob@example.com>, orig_to=<postmaster@example.com>, relay=local, delay=0.1, delays=0.09/0/0/0.01, dsn=2.0.0, status=sent (forwarded as 5DE184083C)", DeliveryStatus.Sent)]
    [InlineData("postfix/qmgr", Daemon.Qmgr, "to=<user@example.com>, relay=none, delay=0.2, delays=0.2/0/0/0, dsn=4.3.0, status=deferred (mail transport unavailable)", DeliveryStatus.Deferred)]
    public void Parse_DeliveryAgents_AreDeliveries(string program, object daemon, string message, object status)
    {
        var p = ParsedView.Of($"Jan  5 10:00:00 mx {program}[4242]: 4FE0BDC995: {message}");

        Assert.Equal(EventKind.Delivery, p.Kind);
        Assert.Equal((Daemon)daemon, p.Daemon);
        Assert.Equal((DeliveryStatus)status, p.Status);
        Assert.Equal("4FE0BDC995", p.QueueId);
        Assert.True(p.HasDelays);
        Assert.DoesNotContain('<', p.To);
    }

    [Fact]
    public void Parse_ForwardedLocalDelivery_IsForwarded()
    {
        var p = ParsedView.Of("Jan  5 10:00:00 mx postfix/local[4242]: 4FE0BDC995: to=<bob@example.com>, orig_to=<postmaster@example.com>, relay=local, delay=0.1, delays=0.09/0/0/0.01, dsn=2.0.0, status=sent (forwarded as 5DE184083C)");

        Assert.True(p.Forwarded);
        Assert.Equal("postmaster@example.com", p.OrigTo);
    }

    [Fact]
    public void Parse_DeliveryWithConnUse_ReadsEveryField()
    {
        var p = ParsedView.Of("Jan  5 10:00:00 mx postfix/smtp[4242]: 4FE0BDC995: to=<a@example.com>, relay=mx.example.com[192.0.2.7]:25, conn_use=2, delay=0.4, delays=0.1/0.1/0.1/0.1, dsn=2.0.0, status=sent (250 OK)");

        Assert.Equal(EventKind.Delivery, p.Kind);
        Assert.Equal("mx.example.com[192.0.2.7]:25", p.Relay);
        Assert.Equal("2.0.0", p.Dsn);
        Assert.Equal(0.4, p.Delay, 9);
        Assert.True(p.HasDelays);
    }

    // ---- postscreen ---------------------------------------------------------------------------

    [Theory]
    [InlineData("CONNECT from [192.0.2.4]:5678 to [198.51.100.8]:25", PostscreenKind.Connect)]
    [InlineData("PASS NEW [192.0.2.4]:5678", PostscreenKind.PassNew)]
    [InlineData("PASS OLD [192.0.2.4]:5678", PostscreenKind.PassOld)]
    [InlineData("PREGREET 14 after 0.08 from [192.0.2.2]:59415: EHLO ylmf-pc\\r\\n", PostscreenKind.Pregreet)]
    [InlineData("HANGUP after 16 from [192.0.2.3]:48119 in tests after SMTP handshake", PostscreenKind.Hangup)]
    [InlineData("DNSBL rank 3 for [192.0.2.4]:5678", PostscreenKind.Dnsbl)]
    [InlineData("DISCONNECT [192.0.2.4]:5678", PostscreenKind.Disconnect)]
    [InlineData("WHITELISTED [192.0.2.4]:5678", PostscreenKind.Whitelisted)]
    [InlineData("ALLOWLISTED [192.0.2.4]:5678", PostscreenKind.Whitelisted)]
    [InlineData("BLACKLISTED [192.0.2.4]:5678", PostscreenKind.Blacklisted)]
    [InlineData("DENYLISTED [192.0.2.4]:5678", PostscreenKind.Blacklisted)]
    [InlineData("NON-SMTP COMMAND from [192.0.2.4]:5678 after CONNECT: GET / HTTP/1.1", PostscreenKind.NonSmtp)]
    [InlineData("BARE NEWLINE from [192.0.2.4]:5678 after \\000\\000\\000", PostscreenKind.BareNewline)]
    [InlineData("COMMAND PIPELINING from [192.0.2.4]:5678 after : \\r\\n", PostscreenKind.Pipelining)]
    [InlineData("COMMAND TIME LIMIT from [192.0.2.77]:3608 after CONNECT", PostscreenKind.Other)]
    [InlineData("COMMAND COUNT LIMIT from [192.0.2.26]:15592 after RCPT", PostscreenKind.Other)]
    [InlineData("DATA without valid RCPT from [192.0.2.4]:5678", PostscreenKind.Other)]
    [InlineData("WHITELIST VETO [192.0.2.4]:5678", PostscreenKind.Other)]
    public void Parse_PostscreenEvents_AreClassified(string message, object kind)
    {
        var p = ParsedView.Of($"May  5 15:51:11 mx postfix/postscreen[1148]: {message}");

        Assert.Equal(EventKind.PostscreenEvent, p.Kind);
        Assert.Equal(Daemon.Postscreen, p.Daemon);
        Assert.Equal((PostscreenKind)kind, p.Postscreen);
    }

    [Fact]
    public void Parse_PostscreenDnsblReject_IsARcptReject()
    {
        var p = ParsedView.Of("May  5 15:51:11 xxx postfix/postscreen[1148]: NOQUEUE: reject: RCPT from [216.245.194.173]:60591: 550 5.7.1 Service unavailable; client [216.245.194.173] blocked using rbl.example.com; from=<spammer@example.com>, to=<goodguy@example.com>, proto=ESMTP, helo=<badguy.example.com>");

        Assert.Equal(EventKind.Reject, p.Kind);
        Assert.Equal(Daemon.Postscreen, p.Daemon);
        Assert.Equal(RejectAction.Reject, p.RejectAction);
        Assert.Equal(SmtpStage.Rcpt, p.Stage);
        Assert.Equal(550, p.ReplyCode);
        Assert.Equal("NOQUEUE", p.QueueId);
    }

    [Fact]
    public void Parse_PostscreenTooManyConnections_IsAConnectRejectWithoutCode()
    {
        var p = ParsedView.Of("Feb 24 16:18:40 letterman postfix/postscreen[1234]: NOQUEUE: reject: CONNECT from [192.0.2.4]:5678: too many connections");

        Assert.Equal(EventKind.Reject, p.Kind);
        Assert.Equal(SmtpStage.Connect, p.Stage);
        Assert.Equal(0, p.ReplyCode);
    }

    // ---- master and severities ----------------------------------------------------------------

    [Theory]
    [InlineData("daemon started -- version 3.7.11, configuration /etc/postfix", MasterEventKind.Started, Severity.Info)]
    [InlineData("reload -- version 3.7.11, configuration /etc/postfix", MasterEventKind.Reload, Severity.Info)]
    [InlineData("terminating on signal 15", MasterEventKind.Terminating, Severity.Info)]
    [InlineData("warning: /usr/lib/postfix/sbin/smtpd: bad command startup -- throttling", MasterEventKind.Throttling, Severity.Warning)]
    public void Parse_MasterEvents_AreClassified(string message, object kind, object severity)
    {
        var p = ParsedView.Of($"Nov 27 23:40:01 mail-oregon postfix/master[28410]: {message}");

        Assert.Equal(EventKind.MasterEvent, p.Kind);
        Assert.Equal(Daemon.Master, p.Daemon);
        Assert.Equal((MasterEventKind)kind, p.MasterEvent);
        Assert.Equal((Severity)severity, p.Severity);
    }

    [Theory]
    [InlineData("postfix/smtpd", "fatal: file /etc/postfix/main.cf: parameter default_privs: unknown user name value: nobody", Severity.Fatal)]
    [InlineData("postfix/master", "fatal: open lock file /var/lib/postfix/master.lock: cannot open file: Permission denied", Severity.Fatal)]
    [InlineData("postfix/qmgr", "panic: myfree: corrupt or unallocated memory block", Severity.Panic)]
    [InlineData("postfix/cleanup", "error: open database /etc/postfix/virtual.db: No such file or directory", Severity.Error)]
    [InlineData("postfix/qmgr", "warning: please avoid flushing the whole queue when you have", Severity.Warning)]
    public void Parse_SeverityLines_CarryTheSeverity(string program, string message, object severity)
    {
        var p = ParsedView.Of($"Mar 16 12:28:02 mail {program}[16268]: {message}");

        Assert.Equal(EventKind.Severity, p.Kind);
        Assert.Equal((Severity)severity, p.Severity);
    }

    // ---- rejects ------------------------------------------------------------------------------

    [Fact]
    public void Parse_SmtpdMilterReject_IsAMilterRejectAtData()
    {
        var p = ParsedView.Of("Mar  7 02:09:33 server postfix/smtpd[27246]: 1D8CC1CA0A7F: milter-reject: DATA from 66-220-155-151.mail-mail.facebook.com[192.0.2.151]: 550 5.7.1 Command rejected; from=<security@mail.example.com> to=<hostmaster@example.com> proto=ESMTP helo=<192-0-2-151.mail-mail.example.com>");

        Assert.Equal(EventKind.Reject, p.Kind);
        Assert.Equal(Daemon.Smtpd, p.Daemon);
        Assert.Equal(RejectAction.MilterReject, p.RejectAction);
        Assert.Equal(SmtpStage.Data, p.Stage);
        Assert.Equal(550, p.ReplyCode);
        Assert.Equal("1D8CC1CA0A7F", p.QueueId);
    }

    [Fact]
    public void Parse_SmtpdNoQueueMilterRejectAtRcpt_IsAMilterReject()
    {
        var p = ParsedView.Of("Jun  9 20:29:01 HOSTNAME postfix/smtpd[239709]: NOQUEUE: milter-reject: RCPT from unknown[192.0.2.1]: 550 5.7.0 Your server IP address [192.0.2.1] does not have a valid reverse DNS entry.");

        Assert.Equal(EventKind.Reject, p.Kind);
        Assert.Equal(RejectAction.MilterReject, p.RejectAction);
        Assert.Equal(SmtpStage.Rcpt, p.Stage);
        Assert.Equal(550, p.ReplyCode);
    }

    [Fact]
    public void Parse_CleanupMilterRejectEndOfMessage_IsAMilterRejectAtEndOfMessage()
    {
        var p = ParsedView.Of("May 22 11:12:55 savidlin postfix/cleanup[6797]: C81E5A0679: milter-reject: END-OF-MESSAGE from unknown[94.177.175.66]: 5.7.1 Blocked by SpamAssassin; from=<aifygzstw@hmsheridan.co.uk> to=<mattia@mapreri.org> proto=ESMTP helo=<hmsheridan.co.uk>");

        Assert.Equal(EventKind.Reject, p.Kind);
        Assert.Equal(Daemon.Cleanup, p.Daemon);
        Assert.Equal(RejectAction.MilterReject, p.RejectAction);
        Assert.Equal(SmtpStage.EndOfMessage, p.Stage);
        Assert.Equal("C81E5A0679", p.QueueId);
    }

    [Theory]
    [InlineData("reject: CONNECT from unknown[192.0.2.114]: 450 4.7.25 Client host rejected: cannot find your hostname, [192.0.2.114]; proto=SMTP", SmtpStage.Connect, 450, RejectAction.Reject)]
    [InlineData("reject: EHLO from s271272.static.corbina.ru[78.107.251.238]: 504 5.5.2 <User>: Helo command rejected: need fully-qualified hostname; proto=SMTP helo=<User>", SmtpStage.Ehlo, 504, RejectAction.Reject)]
    [InlineData("reject: VRFY from host[10.0.0.1]: 550 5.1.1 <to@example.com>: Recipient address rejected: User unknown in local recipient table; to=<to@example.com> proto=SMTP", SmtpStage.Vrfy, 550, RejectAction.Reject)]
    [InlineData("reject: DATA from host[10.0.0.1]: 550 5.5.3 <DATA>: Data command rejected: Multi-recipient bounce; from=<> proto=ESMTP helo=<localhost>", SmtpStage.Data, 550, RejectAction.Reject)]
    [InlineData("reject: BDAT from host[10.0.0.1]: 550 5.5.3 <DATA>: Data command rejected: Multi-recipient bounce; from=<> to=<some@example.com> proto=ESMTP helo=<domain.tld>", SmtpStage.Bdat, 550, RejectAction.Reject)]
    [InlineData("reject_warning: RCPT from host[10.0.0.1]: 454 4.7.1 <to@sample.net>: Recipient address rejected: Access denied; from=<f@sample.net> to=<to@sample.net> proto=ESMTP helo=<example.com>", SmtpStage.Rcpt, 454, RejectAction.RejectWarning)]
    [InlineData("hold: RCPT from host[10.0.0.1]: <f@sample.net>: Sender address triggers HOLD action; from=<f@sample.net> to=<to@sample.net> proto=ESMTP helo=<example.com>", SmtpStage.Rcpt, 0, RejectAction.Hold)]
    [InlineData("discard: RCPT from host[10.0.0.1]: <f@sample.net>: Sender address triggers DISCARD action; from=<f@sample.net> to=<to@sample.net> proto=ESMTP helo=<example.com>", SmtpStage.Rcpt, 0, RejectAction.Discard)]
    public void Parse_SmtpdAccessActions_ReadStageAndCode(string message, object stage, int code, object action)
    {
        var p = ParsedView.Of($"Jun  1 19:00:55 mail postfix/smtpd[7749]: NOQUEUE: {message}");

        Assert.Equal(EventKind.Reject, p.Kind);
        Assert.Equal((RejectAction)action, p.RejectAction);
        Assert.Equal((SmtpStage)stage, p.Stage);
        Assert.Equal(code, p.ReplyCode);
    }

    [Fact]
    public void Parse_CleanupBodyReject_IsABodyReject()
    {
        var p = ParsedView.Of("Nov 27 23:52:52 mail postfix/cleanup[28486]: ABB54DCFD5: reject: body Click here now from localhost[127.0.0.1]; from=<promo@tazzi.com> to=<target@yahoo.test> proto=SMTP helo=<client.tazzi.com>: 5.7.1 message content rejected");

        Assert.Equal(EventKind.Reject, p.Kind);
        Assert.Equal(SmtpStage.Body, p.Stage);
        Assert.Equal(RejectAction.Reject, p.RejectAction);
    }

    [Fact]
    public void Parse_CleanupHeaderWarning_IsARejectWarning()
    {
        var p = ParsedView.Of("Mar  1 10:00:00 mx postfix/cleanup[1]: D8B07E3DB6: warning: header Subject: hello from o1.example.net[192.0.2.173]; from=<a@example.net> to=<b@example.com> proto=ESMTP helo=<o1.example.net>");

        Assert.Equal(EventKind.Reject, p.Kind);
        Assert.Equal(RejectAction.RejectWarning, p.RejectAction);
        Assert.Equal(SmtpStage.Header, p.Stage);
    }

    // ---- OpenDKIM -----------------------------------------------------------------------------

    [Fact]
    public void Parse_DkimSelectorWithHyphenAndDot_IsReadWhole()
    {
        var p = ParsedView.Of("2026-11-27T23:52:35.118822+00:00 mail-oregon opendkim[28309]: 4FE0BDC995: DKIM-Signature field added (s=mail-2026.a, d=example.test)");

        Assert.Equal(EventKind.DkimSigned, p.Kind);
        Assert.Equal(Family.OpenDkim, p.Family);
        Assert.Equal("4FE0BDC995", p.QueueId);
        Assert.Equal("mail-2026.a", p.DkimSelector);
        Assert.Equal("example.test", p.DkimDomain);
    }

    [Fact]
    public void Parse_DkimSelectorWithUnderscore_IsReadWhole()
    {
        var p = ParsedView.Of("Jul 10 20:31:32 d0 opendkim[1708]: EF59F17F531: DKIM-Signature field added (s=2048_3_2015, d=silvenga.com)");

        Assert.Equal("2048_3_2015", p.DkimSelector);
        Assert.Equal("silvenga.com", p.DkimDomain);
    }

    [Theory]
    [InlineData("4FE0BDC995: key retrieval failed (s=mail-2026.a, d=example.test): 'mail-2026.a._domainkey.example.test' query timed out", DkimErrorKind.KeyRetrieval)]
    [InlineData("CB0951451FC: no signing table match for 'noreply@salesmind.example'", DkimErrorKind.SigningTableMiss)]
    [InlineData("4FE0BDC995: can't load key from /etc/opendkim/keys/mail.private: No such file or directory", DkimErrorKind.KeyLoad)]
    [InlineData("4FE0BDC995: error loading key 'mail._domainkey.tazzi.com'", DkimErrorKind.KeyLoad)]
    [InlineData("/etc/opendkim/keys/tazzi.com/mail.private: key data is not secure: /etc/opendkim/keys/tazzi.com can be read or written by other users", DkimErrorKind.KeyInsecure)]
    [InlineData("4FE0BDC995: bad signature data", DkimErrorKind.BadSignature)]
    [InlineData("4FE0BDC995: signing table references unknown key 'mail'", DkimErrorKind.UnknownKey)]
    public void Parse_OpenDkimErrors_AreClassified(string message, object kind)
    {
        var p = ParsedView.Of($"Dec 25 23:50:42 mail opendkim[2386]: {message}");

        Assert.Equal(EventKind.DkimError, p.Kind);
        Assert.Equal((DkimErrorKind)kind, p.DkimError);
    }

    [Fact]
    public void Parse_DkimKeyRetrievalFailure_ReadsSelectorAndDomain()
    {
        var p = ParsedView.Of("Dec 25 23:50:42 mail opendkim[2386]: 4FE0BDC995: key retrieval failed (s=mail-2026.a, d=example.test): 'mail-2026.a._domainkey.example.test' query timed out");

        Assert.Equal("mail-2026.a", p.DkimSelector);
        Assert.Equal("example.test", p.DkimDomain);
        Assert.Equal("4FE0BDC995", p.QueueId);
    }

    [Theory]
    [InlineData("4FE0BDC995: DKIM verification successful", DkimVerifyResult.Pass)]
    [InlineData("CB0951451FC: no signature data", DkimVerifyResult.None)]
    public void Parse_DkimVerification_IsClassified(string message, object result)
    {
        var p = ParsedView.Of($"Dec 25 23:50:42 mail opendkim[2386]: {message}");

        Assert.Equal(EventKind.DkimVerified, p.Kind);
        Assert.Equal((DkimVerifyResult)result, p.DkimResult);
    }

    // ---- other shapes -------------------------------------------------------------------------

    [Theory]
    [InlineData("connect to example.org[192.0.2.1]:25: Connection refused", ConnectFailureReason.Refused)]
    [InlineData("connect to domain.com[192.168.0.1]:25: No route to host", ConnectFailureReason.NoRoute)]
    [InlineData("connect to mx.example.com[192.0.2.4]:25: Connection timed out", ConnectFailureReason.TimedOut)]
    [InlineData("connect to mx.example.com[192.0.2.4]:25: Network is unreachable", ConnectFailureReason.NetworkUnreachable)]
    [InlineData("4FE0BDC995: conversation with 127.0.0.1[127.0.0.1] timed out while receiving the initial server greeting", ConnectFailureReason.GreetingTimeout)]
    [InlineData("4FE0BDC995: lost connection with mx.example.com[192.0.2.4] while sending RCPT TO", ConnectFailureReason.LostConnection)]
    public void Parse_SmtpConnectionFailures_ReadTheReason(string message, object reason)
    {
        var p = ParsedView.Of($"Nov 27 23:52:35 mail postfix/smtp[28456]: {message}");

        Assert.Equal(EventKind.ConnectFailure, p.Kind);
        Assert.Equal((ConnectFailureReason)reason, p.ConnectFailure);
    }

    [Theory]
    [InlineData("D0F29603B4: SASL authentication failed; server xyz.example.com[192.0.2.4] said: 535 5.7.8 Error: authentication failed: authentication failure", 535)]
    [InlineData("D0F29603B4: SASL [CACHED] authentication failed; server example.com[192.0.2.1] said: 535 Error: authentication failed", 535)]
    [InlineData("732BB407C3: host mail.domain.com[192.0.2.1] said: 451 please try again 15min later (in reply to end of DATA command)", 451)]
    [InlineData("732BB407C3: host mail.example.com[192.0.2.1] refused to talk to me: 452 try later", 452)]
    public void Parse_SmtpRemoteReplies_ReadTheReplyCode(string message, int code)
    {
        var p = ParsedView.Of($"Dec 29 02:54:09 mail postfix/smtp[7648]: {message}");

        Assert.Equal(EventKind.RemoteSaid, p.Kind);
        Assert.Equal(code, p.ReplyCode);
    }

    [Theory]
    [InlineData("postfix/tlsproxy", "CONNECT from [192.0.2.142]:51637")]
    [InlineData("postfix/tlsproxy", "DISCONNECT [192.0.2.142]:51637")]
    [InlineData("postfix/verify", "cache lmdb:/var/lib/postfix/verify_cache full cleanup: retained=724 dropped=6 entries")]
    [InlineData("postfix/postscreen", "cache btree:/var/lib/postfix/postscreen_cache full cleanup: retained=5 dropped=0 entries")]
    [InlineData("postfix/smtp", "4FE0BDC995: enabling PIX workarounds: disable_esmtp delay_dotcrlf for mx.example.com[192.0.2.1]:25")]
    [InlineData("postfix/smtp", "4FE0BDC995: enabling PIX <CRLF>.<CRLF> workaround for mail.example.net[192.0.2.1]:25")]
    [InlineData("postfix/anvil", "statistics: max connection rate 1/60s for (smtp:192.0.2.9) at Nov 27 23:53:38")]
    [InlineData("postfix/scache", "statistics: domain lookup hits=0 miss=3 success=0%")]
    [InlineData("postfix/smtpd", "table hash:/etc/postfix/virtual_mailbox_maps(0,lock|fold_fix) has changed -- restarting")]
    public void Parse_HousekeepingLines_AreUnderstood(string program, string message)
    {
        var p = ParsedView.Of($"Nov 27 23:52:35 mail {program}[1]: {message}");

        Assert.True(p.Understood, p.ToString());
    }

    [Fact]
    public void Parse_OutboundVerifiedTls_IsOutboundWithProtocol()
    {
        var p = ParsedView.Of("Jul 24 04:38:17 mail postfix/smtp[30582]: Verified TLS connection established to gmail-smtp-in.l.google.com[108.177.14.26]:25: TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)");

        Assert.Equal(EventKind.TlsEstablished, p.Kind);
        Assert.True(p.TlsOutbound);
        Assert.Equal(TlsTrust.Verified, p.TlsTrust);
        Assert.Equal("TLSv1.3", p.TlsProtocol);
    }

    [Theory]
    [InlineData("Jan 29 08:11:45 mail postfix/smtpd[10752]: warning: unknown[192.0.2.1]: SASL LOGIN authentication failed: Password:", "LOGIN")]
    [InlineData("Aug  4 16:47:52 mail3 postfix/smtpd[31152]: warning: unknown[192.0.2.237]:55729: SASL LOGIN authentication failed: authentication failure", "LOGIN")]
    [InlineData("Dec  2 22:24:22 hel postfix/smtpd[7676]: warning: 114-44-142-233.dynamic.example.net[192.0.2.233]: SASL CRAM-MD5 authentication failed: PDc3OTEwNTkyNTEyMzA2NDIuMTIyODI1MzA2MUBoZWw+", "CRAM-MD5")]
    public void Parse_SaslFailures_ReadTheMethod(string line, string method)
    {
        var p = ParsedView.Of(line);

        Assert.Equal(EventKind.SaslFailure, p.Kind);
        Assert.Equal(method, p.SaslMethod);
    }

    [Theory]
    [InlineData("postfix/smtpd", "lost connection after STARTTLS from spammer.example.com[192.0.2.42]", EventKind.SmtpdLostConnection, SmtpStage.StartTls)]
    [InlineData("postfix/smtpd", "NOQUEUE: lost connection after CONNECT from unknown[192.0.2.25]", EventKind.SmtpdLostConnection, SmtpStage.Connect)]
    [InlineData("postfix/smtpd", "timeout after DATA (1234 bytes) from unknown[192.0.2.25]", EventKind.SmtpdTimeout, SmtpStage.Data)]
    public void Parse_SmtpdSessionEnds_ReadTheStage(string program, string message, object kind, object stage)
    {
        var p = ParsedView.Of($"Feb 18 09:45:12 xxx {program}[42]: {message}");

        Assert.Equal((EventKind)kind, p.Kind);
        Assert.Equal((SmtpStage)stage, p.Stage);
    }

    [Theory]
    [InlineData("<22>Nov 27 23:52:35 mail postfix/qmgr[1]: 4FE0BDC995: removed")]
    [InlineData("2024-01-08T07:08:37.844777+01:00 INFO    postfix/qmgr[287]: 4FE0BDC995: removed")]
    [InlineData("Nov 27 23:52:35 mail postfix/qmgr[1]: [ID 197553 mail.info] 4FE0BDC995: removed")]
    [InlineData("Nov 27 23:52:35 2026 mail postfix/qmgr[1]: 4FE0BDC995: removed")]
    [InlineData("Nov 27 23:52:35 mail postfix/qmgr: 4FE0BDC995: removed")]
    public void Parse_CollectorHeaderVariants_AreUnderstood(string line)
    {
        var p = ParsedView.Of(line);

        Assert.Equal(EventKind.QmgrRemoved, p.Kind);
        Assert.Equal("4FE0BDC995", p.QueueId);
    }
}
