namespace MailAgent.Events;

/// <summary>What happened to one recipient (or, for <see cref="DeliveryStatusKind.Expired"/>, one message).</summary>
internal enum DeliveryStatusKind : byte
{
    Delivered,
    Deferred,
    Bounced,
    Expired,
}

/// <summary>
/// One delivery outcome as the platform sees it: keyed by Message-ID, the recipient only as a
/// domain and an HMAC unless recipients are included, the classification, the reply with the
/// addresses masked, the delays and the attempt number.
/// </summary>
internal sealed record DeliveryDetails(
    DeliveryStatusKind Status,
    string Service,
    string QueueId,
    string MessageId,
    string Host,
    string RecipientDomain,
    string Recipient,
    string RecipientHash,
    string Dsn,
    BounceSeverity Severity,
    BounceReason Reason,
    string Reply,
    string Relay,
    double Delay,
    double DelayBeforeQueueManager,
    double DelayInQueueManager,
    double DelayConnectionSetup,
    double DelayTransmission,
    int Attempt,
    DateTimeOffset? LoggedAt,
    string EventKey)
{
    public static string Name(DeliveryStatusKind status) => status switch
    {
        DeliveryStatusKind.Delivered => "delivered",
        DeliveryStatusKind.Deferred => "deferred",
        DeliveryStatusKind.Bounced => "bounced",
        _ => "expired",
    };

    public static string Name(BounceSeverity severity) => severity switch
    {
        BounceSeverity.Hard => "hard",
        BounceSeverity.Soft => "soft",
        _ => "none",
    };

    public static string Name(BounceReason reason) => reason switch
    {
        BounceReason.None => "none",
        BounceReason.UnknownUser => "unknown_user",
        BounceReason.MailboxFull => "mailbox_full",
        BounceReason.Policy => "policy",
        BounceReason.Dns => "dns",
        BounceReason.Tls => "tls",
        BounceReason.Connection => "connection",
        BounceReason.Message => "message",
        BounceReason.Expired => "expired",
        _ => "other",
    };
}
