namespace MailAgent.LogParsing;

/// <summary>
/// One log line as the parser understood it. Spans point into the caller's buffer and are only
/// valid until that buffer is reused: consumers copy what they keep.
/// </summary>
internal ref struct ParsedLine
{
    public EventKind Kind;
    public Family Family;
    public Daemon Daemon;
    public Severity Severity;
    public LogTimestamp Timestamp;

    /// <summary>The syslog tag without the pid, e.g. <c>postfix/submission/smtpd</c>.</summary>
    public ReadOnlySpan<byte> Program;
    public ReadOnlySpan<byte> Host;
    public ReadOnlySpan<byte> QueueId;
    /// <summary>What follows the tag (and the queue ID, when there is one).</summary>
    public ReadOnlySpan<byte> Message;

    // Addresses and peers.
    public ReadOnlySpan<byte> From;
    public ReadOnlySpan<byte> To;
    public ReadOnlySpan<byte> OrigTo;
    public ReadOnlySpan<byte> Relay;
    public ReadOnlySpan<byte> Client;
    public ReadOnlySpan<byte> SaslMethod;

    // Delivery.
    public DeliveryStatus Status;
    public ReadOnlySpan<byte> Dsn;
    public ReadOnlySpan<byte> StatusText;
    public double Delay;
    public double DelayBeforeQueueManager;
    public double DelayInQueueManager;
    public double DelayConnectionSetup;
    public double DelayTransmission;
    public bool HasDelays;
    public bool Forwarded;

    // Queue manager.
    public long Size;
    public int Recipients;
    public bool ForcedExpiry;

    // Rejects.
    public RejectAction RejectAction;
    public SmtpStage Stage;
    public int ReplyCode;

    // Other event details.
    public ConnectFailureReason ConnectFailure;
    public TlsTrust TlsTrust;
    public bool TlsOutbound;
    public ReadOnlySpan<byte> TlsProtocol;
    public NoticeKind Notice;
    public ReadOnlySpan<byte> NoticeQueueId;
    public MasterEventKind MasterEvent;
    public PostscreenKind Postscreen;
    public DkimErrorKind DkimError;
    public DkimVerifyResult DkimResult;
    public ReadOnlySpan<byte> DkimSelector;
    public ReadOnlySpan<byte> DkimDomain;
}

/// <summary>
/// A syslog timestamp as written. BSD stamps carry no year (<see cref="Year"/> is 0) and no
/// offset; <see cref="LogClock"/> turns either kind into an instant.
/// </summary>
internal struct LogTimestamp
{
    public int Year;
    public int Month;
    public int Day;
    public int SecondOfDay;
    public int Microsecond;
    public int OffsetMinutes;
    public bool HasOffset;

    public readonly bool IsValid => Month != 0;
}
