using MailAgent.Correlation;
using MailAgent.LogParsing;

namespace MailAgent.Metrics;

/// <summary>
/// Everything the agent counts from the log. Written by the one pipeline thread, read by the
/// exporter on scrape (64-bit reads are atomic on the platforms we run on), and saved with
/// the log checkpoint.
/// </summary>
internal sealed class LogStats
{
    private const int SignatureSlots = 32;
    private readonly byte[][] _signatureKeys = new byte[SignatureSlots][];
    private int _signatureCount;

    public LogStats()
    {
        var programs = ("program", LabelSets.Programs);
        Lines = CounterFamily.Product("mailagent_log_lines_total", "Log lines read, by the program that wrote them.", false, programs);
        Unparsed = CounterFamily.Product("mailagent_log_lines_unparsed_total", "Log lines of the mail system that no rule understood.", false, programs);
        SmtpdConnects = CounterFamily.Product("postfix_smtpd_connects_total", "Inbound SMTP connections.", true);
        SmtpdDisconnects = CounterFamily.Product("postfix_smtpd_disconnects_total", "Inbound SMTP disconnections.", true);
        SmtpdProcessed = CounterFamily.Product("postfix_smtpd_messages_processed_total", "Messages accepted by smtpd (client= lines).", false, ("sasl_method", LabelSets.SaslMethods));
        Rejected = CounterFamily.Product("postfix_smtpd_messages_rejected_total", "Rejects by smtpd, postscreen and cleanup, by SMTP stage (header/body for content checks, milter for milters) and reply code.", false, ("stage", LabelSets.Stages), ("code", LabelSets.ReplyCodes));
        RejectWarnings = CounterFamily.Product("postfix_reject_warnings_total", "reject_warning actions (and cleanup WARN) that let mail through.", true);
        Held = CounterFamily.Product("postfix_messages_held_total", "Messages put on hold by an access or content rule.", true);
        Discarded = CounterFamily.Product("postfix_messages_discarded_total", "Messages discarded by an access or content rule.", true);
        SaslFailures = CounterFamily.Product("postfix_smtpd_sasl_authentication_failures_total", "Failed SASL authentications.", true);
        LostConnections = CounterFamily.Product("postfix_smtpd_lost_connections_after_total", "Inbound connections lost, by the SMTP command after which it happened.", false, ("after", LabelSets.Stages));
        SmtpdTimeouts = CounterFamily.Product("postfix_smtpd_timeouts_total", "Inbound sessions that timed out, by the SMTP command after which it happened.", false, ("after", LabelSets.Stages));
        CleanupProcessed = CounterFamily.Product("postfix_cleanup_messages_processed_total", "Messages processed by cleanup (message-id lines).", true);
        CleanupRejected = CounterFamily.Product("postfix_cleanup_messages_rejected_total", "Messages rejected by cleanup (content checks and milters).", true);
        PickupReceived = CounterFamily.Product("postfix_pickup_messages_total", "Messages submitted locally (sendmail) and picked up.", true);
        QmgrRemoved = CounterFamily.Product("postfix_qmgr_messages_removed_total", "Messages removed from the queue after their last delivery attempt.", true);
        QmgrExpired = CounterFamily.Product("postfix_qmgr_messages_expired_total", "Messages returned to sender after maximal_queue_lifetime (or postsuper -e).", true);
        SmtpProcessed = CounterFamily.Product("postfix_smtp_messages_processed_total", "Recipient delivery attempts by the smtp transport, by status.", true, ("status", ["sent", "deferred", "bounced"]));
        DeliveryStatus = CounterFamily.Product("postfix_delivery_status_total", "Recipient delivery attempts by delivery agent and status.", false, ("service", LabelSets.Services), ("status", LabelSets.Statuses));
        DeferredByDsn = CounterFamily.Product("postfix_smtp_deferred_messages_by_dsn_total", "smtp/lmtp deferrals by DSN class.", false, ("dsn_class", LabelSets.DsnClasses));
        BouncedByDsn = CounterFamily.Product("postfix_smtp_bounced_messages_by_dsn_total", "smtp/lmtp bounces by DSN class.", false, ("dsn_class", LabelSets.DsnClasses));
        ConnectionFailures = CounterFamily.Product("postfix_smtp_connection_failures_total", "Failed outbound connections, by cause.", true, ("reason", LabelSets.ConnectReasons));
        SmtpTls = CounterFamily.Product("postfix_smtp_tls_connections_total", "Outbound TLS sessions established.", false, ("trust", LabelSets.TlsTrusts), ("protocol", LabelSets.TlsProtocols));
        SmtpdTls = CounterFamily.Product("postfix_smtpd_tls_connections_total", "Inbound TLS sessions established.", false, ("trust", LabelSets.TlsTrusts), ("protocol", LabelSets.TlsProtocols));
        Notices = CounterFamily.Product("postfix_bounce_notifications_total", "Notifications Postfix generated (non-delivery, delay, success).", true, ("kind", LabelSets.NoticeKinds));
        MasterEvents = CounterFamily.Product("postfix_master_events_total", "Mail system events: master start, reload, stop, throttling, and fatal or panic lines from any Postfix program.", true, ("event", LabelSets.MasterEvents));
        Postscreen = CounterFamily.Product("postfix_postscreen_events_total", "postscreen events.", false, ("event", LabelSets.PostscreenEvents));
        Severity = CounterFamily.Product("postfix_log_entries_by_severity_total", "Postfix log lines with a severity prefix.", true, ("severity", LabelSets.Severities[1..]));
        DkimErrors = CounterFamily.Product("opendkim_errors_total", "OpenDKIM errors by kind.", true, ("kind", LabelSets.DkimErrors));
        DkimVerifications = CounterFamily.Product("opendkim_verifications_total", "OpenDKIM verification results of inbound signatures.", false, ("result", LabelSets.DkimResults));
        Evictions = CounterFamily.Product("mailagent_correlation_evictions_total", "Messages the correlator stopped tracking without seeing them end, by reason.", true, ("reason", LabelSets.EvictionReasons));
        DkimSignatures = new CounterFamily("opendkim_signatures_added_total", "DKIM signatures added, by selector and signing domain (first 31 pairs, then other).", ["selector", "domain"], new string[SignatureSlots][], false);

        var delayBounds = new[] { 0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 14400, 86400 };
        SmtpDelay = new HistogramFamily("postfix_smtp_delivery_delay_seconds", "delays= stages of final smtp deliveries (sent or bounced), once per delivery.", delayBounds, "stage", LabelSets.DelayStages);
        LmtpDelay = new HistogramFamily("postfix_lmtp_delivery_delay_seconds", "delays= stages of final lmtp deliveries (sent or bounced), once per delivery.", delayBounds, "stage", LabelSets.DelayStages);
        Latency = new HistogramFamily("postfix_message_latency_seconds", "Received (or created) to final recipient status, by outcome.", [0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 1800, 3600, 14400, 43200, 86400, 259200, 432000], "outcome", LabelSets.Outcomes);
        InsertedSize = new HistogramFamily("postfix_qmgr_messages_inserted_size_bytes", "Size of messages entering the queue.", HistogramFamily.Exponential(1024, 4, 10));
        InsertedRecipients = new HistogramFamily("postfix_qmgr_messages_inserted_recipients", "Recipients of messages entering the queue.", [1, 2, 4, 8, 16, 32, 64, 128, 256, 1000]);

        Counters =
        [
            Lines, Unparsed, SmtpdConnects, SmtpdDisconnects, SmtpdProcessed, Rejected, RejectWarnings, Held, Discarded, SaslFailures,
            LostConnections, SmtpdTimeouts, CleanupProcessed, CleanupRejected, PickupReceived, QmgrRemoved, QmgrExpired, SmtpProcessed,
            DeliveryStatus, DeferredByDsn, BouncedByDsn, ConnectionFailures, SmtpTls, SmtpdTls, Notices, MasterEvents, Postscreen,
            Severity, DkimErrors, DkimVerifications, Evictions, DkimSignatures,
        ];
        Histograms = [SmtpDelay, LmtpDelay, Latency, InsertedSize, InsertedRecipients];
    }

    public CounterFamily Lines { get; }
    public CounterFamily Unparsed { get; }
    public CounterFamily SmtpdConnects { get; }
    public CounterFamily SmtpdDisconnects { get; }
    public CounterFamily SmtpdProcessed { get; }
    public CounterFamily Rejected { get; }
    public CounterFamily RejectWarnings { get; }
    public CounterFamily Held { get; }
    public CounterFamily Discarded { get; }
    public CounterFamily SaslFailures { get; }
    public CounterFamily LostConnections { get; }
    public CounterFamily SmtpdTimeouts { get; }
    public CounterFamily CleanupProcessed { get; }
    public CounterFamily CleanupRejected { get; }
    public CounterFamily PickupReceived { get; }
    public CounterFamily QmgrRemoved { get; }
    public CounterFamily QmgrExpired { get; }
    public CounterFamily SmtpProcessed { get; }
    public CounterFamily DeliveryStatus { get; }
    public CounterFamily DeferredByDsn { get; }
    public CounterFamily BouncedByDsn { get; }
    public CounterFamily ConnectionFailures { get; }
    public CounterFamily SmtpTls { get; }
    public CounterFamily SmtpdTls { get; }
    public CounterFamily Notices { get; }
    public CounterFamily MasterEvents { get; }
    public CounterFamily Postscreen { get; }
    public CounterFamily Severity { get; }
    public CounterFamily DkimErrors { get; }
    public CounterFamily DkimVerifications { get; }
    public CounterFamily Evictions { get; }
    public CounterFamily DkimSignatures { get; }
    public HistogramFamily SmtpDelay { get; }
    public HistogramFamily LmtpDelay { get; }
    public HistogramFamily Latency { get; }
    public HistogramFamily InsertedSize { get; }
    public HistogramFamily InsertedRecipients { get; }

    public IReadOnlyList<CounterFamily> Counters { get; }
    public IReadOnlyList<HistogramFamily> Histograms { get; }

    /// <summary>pflogsumm-style totals for the replay summary; see <see cref="SummaryField"/>.</summary>
    public long[] Summary { get; } = new long[(int)SummaryField.Count];

    /// <summary>Log time of the newest line, Unix seconds (NaN before the first).</summary>
    public double LastLineTime { get; set; } = double.NaN;

    public void CountLine(ref ParsedLine p)
    {
        int program = p.Family switch
        {
            Family.Postfix => (int)p.Daemon,
            Family.OpenDkim => LabelSets.OpenDkimProgram,
            _ => LabelSets.ForeignProgram,
        };
        Lines.Values[program]++;
        if (p.Kind == EventKind.Unparsed)
        {
            Unparsed.Values[program]++;
            Summary[(int)SummaryField.UnparsedLines]++;
        }

        if (p.Family != Family.Foreign)
            Summary[(int)SummaryField.Lines]++;
        else
            Summary[(int)SummaryField.OtherLines]++;
    }

    public void Record(ref ParsedLine p, in CorrelationResult c)
    {
        var sum = Summary;
        if (p.Severity >= LogParsing.Severity.Warning && p.Family == Family.Postfix)
        {
            Severity.Values[(int)p.Severity - 1]++;
            if (p.Severity == LogParsing.Severity.Fatal)
                MasterEvents.Values[4]++;
            else if (p.Severity == LogParsing.Severity.Panic)
                MasterEvents.Values[5]++;
        }

        switch (p.Kind)
        {
            case EventKind.SmtpdConnect:
                SmtpdConnects.Values[0]++;
                break;
            case EventKind.SmtpdDisconnect:
                SmtpdDisconnects.Values[0]++;
                break;
            case EventKind.SmtpdClient:
                SmtpdProcessed.Values[LabelSets.SaslIndex(p.SaslMethod)]++;
                if (p.Daemon is Daemon.Smtpd or Daemon.Postscreen)
                    sum[(int)SummaryField.Received]++;
                break;
            case EventKind.PickupReceived:
                PickupReceived.Values[0]++;
                sum[(int)SummaryField.Received]++;
                break;
            case EventKind.SmtpdLostConnection:
                LostConnections.Values[(int)p.Stage]++;
                break;
            case EventKind.SmtpdTimeout:
                SmtpdTimeouts.Values[(int)p.Stage]++;
                break;
            case EventKind.SaslFailure:
                SaslFailures.Values[0]++;
                break;
            case EventKind.Reject:
                RecordReject(ref p);
                break;
            case EventKind.CleanupMessageId:
                CleanupProcessed.Values[0]++;
                break;
            case EventKind.QmgrQueued:
                if (c.FirstQueueInsert)
                {
                    InsertedSize.Observe(0, p.Size);
                    if (p.Recipients >= 0)
                        InsertedRecipients.Observe(0, p.Recipients);
                    if (c.Received)
                        sum[(int)SummaryField.BytesReceived] += p.Size;
                }

                break;
            case EventKind.QmgrRemoved:
                QmgrRemoved.Values[0]++;
                break;
            case EventKind.QmgrExpired:
                QmgrExpired.Values[0]++;
                sum[(int)SummaryField.Expired]++;
                DeliveryStatus.Values[(LabelSets.ServiceIndex(p.Daemon) * LabelSets.Statuses.Length) + (int)LogParsing.DeliveryStatus.Expired]++;
                if (!double.IsNaN(c.Latency))
                    Latency.Observe(c.Outcome, c.Latency);
                break;
            case EventKind.Delivery:
                RecordDelivery(ref p, in c);
                break;
            case EventKind.ConnectFailure:
                ConnectionFailures.Values[(int)p.ConnectFailure]++;
                break;
            case EventKind.TlsEstablished:
                (p.TlsOutbound ? SmtpTls : SmtpdTls).Values[((int)p.TlsTrust * LabelSets.TlsProtocols.Length) + LabelSets.TlsProtocolIndex(p.TlsProtocol)]++;
                break;
            case EventKind.BounceNotice:
                Notices.Values[(int)p.Notice]++;
                break;
            case EventKind.MasterEvent:
                // fatal and panic come from the severity of any Postfix line, above.
                MasterEvents.Values[(int)p.MasterEvent]++;
                break;
            case EventKind.PostscreenEvent:
                Postscreen.Values[(int)p.Postscreen]++;
                break;
            case EventKind.DkimSigned:
                DkimSignatures.Values[SignatureSlot(p.DkimSelector, p.DkimDomain)]++;
                sum[(int)SummaryField.DkimSigned]++;
                break;
            case EventKind.DkimError:
                DkimErrors.Values[(int)p.DkimError]++;
                break;
            case EventKind.DkimVerified:
                DkimVerifications.Values[(int)p.DkimResult]++;
                break;
        }
    }

    private void RecordReject(ref ParsedLine p)
    {
        var sum = Summary;
        bool cleanup = p.Daemon == Daemon.Cleanup;
        switch (p.RejectAction)
        {
            case RejectAction.Reject:
            case RejectAction.MilterReject:
                int stage = p.RejectAction == RejectAction.MilterReject ? LabelSets.MilterStage : (int)p.Stage;
                Rejected.Values[(stage * LabelSets.ReplyCodes.Length) + LabelSets.ReplyCodeIndex(p.ReplyCode, DsnOf(p.Message))]++;
                if (cleanup)
                    CleanupRejected.Values[0]++;
                // pflogsumm counts smtpd "reject:" and cleanup "reject:"/"milter-reject:", not smtpd's "milter-reject:".
                if (p.RejectAction == RejectAction.Reject || cleanup)
                    sum[(int)SummaryField.Rejected]++;
                break;
            case RejectAction.RejectWarning:
                RejectWarnings.Values[0]++;
                sum[(int)SummaryField.RejectWarnings]++;
                break;
            case RejectAction.Hold:
                Held.Values[0]++;
                if (p.Message.StartsWith("hold: "u8))
                    sum[(int)SummaryField.Held]++;
                break;
            case RejectAction.Discard:
                Discarded.Values[0]++;
                if (p.Message.StartsWith("discard: "u8))
                    sum[(int)SummaryField.Discarded]++;
                break;
        }
    }

    private void RecordDelivery(ref ParsedLine p, in CorrelationResult c)
    {
        var sum = Summary;
        int service = LabelSets.ServiceIndex(p.Daemon);
        DeliveryStatus.Values[(service * LabelSets.Statuses.Length) + (int)p.Status]++;
        bool network = p.Daemon is Daemon.Smtp or Daemon.Lmtp;
        if (p.Daemon == Daemon.Smtp && p.Status is LogParsing.DeliveryStatus.Sent or LogParsing.DeliveryStatus.Deferred or LogParsing.DeliveryStatus.Bounced)
            SmtpProcessed.Values[(int)p.Status - 1]++;

        switch (p.Status)
        {
            case LogParsing.DeliveryStatus.Sent:
                if (p.Forwarded)
                {
                    sum[(int)SummaryField.Forwarded]++;
                }
                else
                {
                    sum[(int)SummaryField.Delivered]++;
                    if (c.Size > 0)
                        sum[(int)SummaryField.BytesDelivered] += c.Size;
                }

                ObserveDelays(ref p);
                break;
            case LogParsing.DeliveryStatus.Deferred:
                sum[(int)SummaryField.Deferrals]++;
                if (c.FirstDeferral)
                    sum[(int)SummaryField.Deferred]++;
                if (network)
                {
                    DeferredByDsn.Values[LabelSets.DsnClassIndex(p.Dsn)]++;
                    CountConnectFailureInStatus(ref p);
                }

                break;
            case LogParsing.DeliveryStatus.Bounced:
                sum[(int)SummaryField.Bounced]++;
                if (network)
                {
                    BouncedByDsn.Values[LabelSets.DsnClassIndex(p.Dsn)]++;
                    CountConnectFailureInStatus(ref p);
                }

                ObserveDelays(ref p);
                break;
        }

        if (!double.IsNaN(c.Latency))
            Latency.Observe(c.Outcome, c.Latency);
    }

    // A session that fails with the last server of an attempt is logged only as the status reason. A failed
    // TCP connect is not: smtp logs every one on a line of its own ("connect to host[ip]:port: …", counted
    // there) and the status repeats the last. Only a UNIX-domain socket's connect failure (lmtp unix:,
    // "connect to host[/path]: …") appears in the status alone.
    private void CountConnectFailureInStatus(ref ParsedLine p)
    {
        var text = p.StatusText;
        if (text.StartsWith("connect to "u8))
        {
            int open = text.IndexOf((byte)'[');
            if (open < 0 || open + 1 >= text.Length || text[open + 1] != '/')
                return;
        }

        if (text.StartsWith("connect to "u8) || text.StartsWith("lost connection with "u8) || text.StartsWith("conversation with "u8)
            || text.StartsWith("Host or domain name not found"u8) || text.StartsWith("TLS is required"u8) || text.StartsWith("Cannot start TLS"u8))
        {
            ConnectionFailures.Values[(int)Delivery.ConnectReason(text)]++;
        }
    }

    private void ObserveDelays(ref ParsedLine p)
    {
        if (!p.HasDelays)
            return;
        var family = p.Daemon switch { Daemon.Smtp => SmtpDelay, Daemon.Lmtp => LmtpDelay, _ => null };
        if (family == null)
            return;
        family.Observe(0, p.DelayBeforeQueueManager);
        family.Observe(1, p.DelayInQueueManager);
        family.Observe(2, p.DelayConnectionSetup);
        family.Observe(3, p.DelayTransmission);
    }

    private static ReadOnlySpan<byte> DsnOf(ReadOnlySpan<byte> message)
    {
        // Cleanup rejects end in ": 5.7.1 message content rejected"; find the last ": d." in the line.
        int i = message.LastIndexOf(": "u8);
        return i < 0 ? default : message[(i + 2)..];
    }

    private int SignatureSlot(ReadOnlySpan<byte> selector, ReadOnlySpan<byte> domain)
    {
        int keyLength = selector.Length + 1 + domain.Length;
        for (int i = 0; i < _signatureCount; i++)
        {
            var k = _signatureKeys[i];
            if (k.Length == keyLength && k.AsSpan(0, selector.Length).SequenceEqual(selector) && k[selector.Length] == 0
                && k.AsSpan(selector.Length + 1).SequenceEqual(domain))
                return i;
        }

        if (_signatureCount < SignatureSlots - 1)
        {
            var key = new byte[keyLength];
            selector.CopyTo(key);
            domain.CopyTo(key.AsSpan(selector.Length + 1));
            _signatureKeys[_signatureCount] = key;
            DkimSignatures.LabelValues[_signatureCount] = [LabelText(selector), LabelText(domain)];
            return _signatureCount++;
        }

        DkimSignatures.LabelValues[SignatureSlots - 1] ??= ["other", "other"];
        return SignatureSlots - 1;
    }

    /// <summary>Restores a signature label pair saved in a checkpoint.</summary>
    public int RestoreSignatureSlot(string selector, string domain)
    {
        if (selector == "other" && domain == "other")
        {
            DkimSignatures.LabelValues[SignatureSlots - 1] = ["other", "other"];
            return SignatureSlots - 1;
        }

        return SignatureSlot(System.Text.Encoding.UTF8.GetBytes(selector), System.Text.Encoding.UTF8.GetBytes(domain));
    }

    private static string LabelText(ReadOnlySpan<byte> value)
    {
        // Label values come from the log: keep them short and printable.
        var text = System.Text.Encoding.UTF8.GetString(value[..Math.Min(value.Length, 64)]);
        return string.Create(text.Length, text, static (dst, src) =>
        {
            for (int i = 0; i < src.Length; i++)
                dst[i] = char.IsControl(src[i]) ? '?' : src[i];
        });
    }
}

/// <summary>Totals with pflogsumm's definitions, for <c>replay --format json</c>.</summary>
internal enum SummaryField
{
    Lines,
    UnparsedLines,
    OtherLines,
    Received,
    Delivered,
    Forwarded,
    Deferred,
    Deferrals,
    Bounced,
    Rejected,
    RejectWarnings,
    Held,
    Discarded,
    Expired,
    BytesReceived,
    BytesDelivered,
    DkimSigned,
    Count,
}
