using System.Text;
using MailAgent.LogParsing;

namespace MailAgent.Tests.LogParsing;

/// <summary>
/// A copy of what <see cref="LineParser"/> made of a line, with the spans as strings, so tests can
/// keep it, compare it and print it (the parser's own result is a ref struct over the input).
/// </summary>
internal sealed record ParsedView
{
    public EventKind Kind { get; init; }
    public Family Family { get; init; }
    public Daemon Daemon { get; init; }
    public Severity Severity { get; init; }
    public LogTimestamp Timestamp { get; init; }
    public string Program { get; init; } = "";
    public string Host { get; init; } = "";
    public string QueueId { get; init; } = "";
    public string Message { get; init; } = "";
    public string From { get; init; } = "";
    public string To { get; init; } = "";
    public string OrigTo { get; init; } = "";
    public string Relay { get; init; } = "";
    public string Client { get; init; } = "";
    public string SaslMethod { get; init; } = "";
    public DeliveryStatus Status { get; init; }
    public string Dsn { get; init; } = "";
    public string StatusText { get; init; } = "";
    public double Delay { get; init; }
    public double DelayBeforeQueueManager { get; init; }
    public double DelayInQueueManager { get; init; }
    public double DelayConnectionSetup { get; init; }
    public double DelayTransmission { get; init; }
    public bool HasDelays { get; init; }
    public bool Forwarded { get; init; }
    public long Size { get; init; }
    public int Recipients { get; init; }
    public bool ForcedExpiry { get; init; }
    public RejectAction RejectAction { get; init; }
    public SmtpStage Stage { get; init; }
    public int ReplyCode { get; init; }
    public ConnectFailureReason ConnectFailure { get; init; }
    public TlsTrust TlsTrust { get; init; }
    public bool TlsOutbound { get; init; }
    public string TlsProtocol { get; init; } = "";
    public NoticeKind Notice { get; init; }
    public string NoticeQueueId { get; init; } = "";
    public MasterEventKind MasterEvent { get; init; }
    public PostscreenKind Postscreen { get; init; }
    public DkimErrorKind DkimError { get; init; }
    public DkimVerifyResult DkimResult { get; init; }
    public string DkimSelector { get; init; } = "";
    public string DkimDomain { get; init; } = "";

    /// <summary>Neither unparsed nor foreign: some rule understood the line.</summary>
    public bool Understood => Kind is not (EventKind.Unparsed or EventKind.Foreign);

    public static ParsedView Of(string line) => Of(Encoding.UTF8.GetBytes(line));

    public static ParsedView Of(ReadOnlySpan<byte> line) => Of(line, null);

    /// <summary>As the pipeline parses: with the <see cref="HeaderCache"/> it keeps across lines.</summary>
    public static ParsedView Of(ReadOnlySpan<byte> line, HeaderCache? cache)
    {
        var p = new ParsedLine();
        LineParser.Parse(line, ref p, cache);
        return new ParsedView
        {
            Kind = p.Kind,
            Family = p.Family,
            Daemon = p.Daemon,
            Severity = p.Severity,
            Timestamp = p.Timestamp,
            Program = Text(p.Program),
            Host = Text(p.Host),
            QueueId = Text(p.QueueId),
            Message = Text(p.Message),
            From = Text(p.From),
            To = Text(p.To),
            OrigTo = Text(p.OrigTo),
            Relay = Text(p.Relay),
            Client = Text(p.Client),
            SaslMethod = Text(p.SaslMethod),
            Status = p.Status,
            Dsn = Text(p.Dsn),
            StatusText = Text(p.StatusText),
            Delay = p.Delay,
            DelayBeforeQueueManager = p.DelayBeforeQueueManager,
            DelayInQueueManager = p.DelayInQueueManager,
            DelayConnectionSetup = p.DelayConnectionSetup,
            DelayTransmission = p.DelayTransmission,
            HasDelays = p.HasDelays,
            Forwarded = p.Forwarded,
            Size = p.Size,
            Recipients = p.Recipients,
            ForcedExpiry = p.ForcedExpiry,
            RejectAction = p.RejectAction,
            Stage = p.Stage,
            ReplyCode = p.ReplyCode,
            ConnectFailure = p.ConnectFailure,
            TlsTrust = p.TlsTrust,
            TlsOutbound = p.TlsOutbound,
            TlsProtocol = Text(p.TlsProtocol),
            Notice = p.Notice,
            NoticeQueueId = Text(p.NoticeQueueId),
            MasterEvent = p.MasterEvent,
            Postscreen = p.Postscreen,
            DkimError = p.DkimError,
            DkimResult = p.DkimResult,
            DkimSelector = Text(p.DkimSelector),
            DkimDomain = Text(p.DkimDomain),
        };
    }

    private static string Text(ReadOnlySpan<byte> s) => Encoding.UTF8.GetString(s);
}
