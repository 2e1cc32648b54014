namespace MailAgent.LogParsing;

/// <summary>What a log line was understood to be.</summary>
internal enum EventKind : byte
{
    /// <summary>A mail-system line no rule understood; counted per program.</summary>
    Unparsed,
    /// <summary>A line from a program outside the mail pipeline (dovecot, cron …).</summary>
    Foreign,
    /// <summary>A recognised line that feeds no counter (statistics, table changes …).</summary>
    Informational,
    SmtpdConnect,
    SmtpdDisconnect,
    SmtpdClient,
    SmtpdLostConnection,
    SmtpdTimeout,
    Reject,
    SaslFailure,
    TlsEstablished,
    PickupReceived,
    CleanupMessageId,
    QmgrQueued,
    QmgrRemoved,
    QmgrExpired,
    Delivery,
    ConnectFailure,
    RemoteSaid,
    BounceNotice,
    PostscreenEvent,
    MasterEvent,
    PostsuperAction,
    ScriptEvent,
    Severity,
    DkimSigned,
    DkimVerified,
    DkimError,
    DkimInfo,
}

/// <summary>The Postfix daemon (last part of the service name) that wrote a line.</summary>
internal enum Daemon : byte
{
    Other,
    Smtpd,
    Smtp,
    Lmtp,
    Local,
    Virtual,
    Pipe,
    Error,
    Retry,
    Discard,
    Cleanup,
    Qmgr,
    Pickup,
    Bounce,
    Postscreen,
    Master,
    Anvil,
    Scache,
    Tlsmgr,
    Tlsproxy,
    Postsuper,
    PostfixScript,
    Postlogd,
    Dnsblog,
    Verify,
    TrivialRewrite,
    Proxymap,
    Sendmail,
    Postdrop,
    Postqueue,
    Postmap,
    Postalias,
    Postconf,
    Postmulti,
    Flush,
    Showq,
    Spawn,
    Qmqpd,
    Oqmgr,
    Postlog,
    /// <summary>Not Postfix: the OpenDKIM milter.</summary>
    OpenDkim,
}

internal enum Family : byte
{
    Foreign,
    Postfix,
    OpenDkim,
}

internal enum Severity : byte
{
    Info,
    Warning,
    Error,
    Fatal,
    Panic,
}

internal enum DeliveryStatus : byte
{
    Other,
    Sent,
    Deferred,
    Bounced,
    Expired,
    Undeliverable,
    Deliverable,
    SoftBounce,
}

internal enum RejectAction : byte
{
    Reject,
    RejectWarning,
    Hold,
    Discard,
    MilterReject,
    Redirect,
    Filter,
}

internal enum SmtpStage : byte
{
    Unknown,
    Connect,
    Helo,
    Ehlo,
    Mail,
    Rcpt,
    Data,
    Bdat,
    EndOfMessage,
    Vrfy,
    Etrn,
    Header,
    Body,
    Auth,
    StartTls,
}

internal enum ConnectFailureReason : byte
{
    Other,
    Refused,
    TimedOut,
    NoRoute,
    NetworkUnreachable,
    HostUnreachable,
    LostConnection,
    GreetingTimeout,
    TlsFailure,
    DnsFailure,
}

internal enum TlsTrust : byte
{
    Anonymous,
    Untrusted,
    Trusted,
    Verified,
}

internal enum NoticeKind : byte
{
    NonDelivery,
    DeliveryStatus,
    Delay,
    Success,
    Other,
}

internal enum MasterEventKind : byte
{
    Started,
    Reload,
    Terminating,
    Throttling,
}

internal enum PostscreenKind : byte
{
    Connect,
    PassNew,
    PassOld,
    Pregreet,
    Hangup,
    Dnsbl,
    Disconnect,
    Whitelisted,
    Blacklisted,
    NonSmtp,
    BareNewline,
    Pipelining,
    Other,
}

internal enum DkimErrorKind : byte
{
    Other,
    KeyLoad,
    KeyInsecure,
    SigningTableMiss,
    KeyRetrieval,
    BadSignature,
    UnknownKey,
    Dns,
}

internal enum DkimVerifyResult : byte
{
    Pass,
    Fail,
    None,
    Other,
}
