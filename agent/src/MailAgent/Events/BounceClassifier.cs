using MailAgent.LogParsing;

namespace MailAgent.Events;

/// <summary>Hard (permanent, 5.x.x) or soft (temporary, 4.x.x, expired); None for a delivery.</summary>
internal enum BounceSeverity : byte
{
    None,
    Soft,
    Hard,
}

/// <summary>Why a delivery failed, as a platform's suppression and statistics need it.</summary>
internal enum BounceReason : byte
{
    None,
    UnknownUser,
    MailboxFull,
    Policy,
    Dns,
    Tls,
    Connection,
    Message,
    Expired,
    Other,
}

/// <summary>
/// Classifies a delivery outcome from its RFC 3463 DSN and the reply text. The DSN's subject and
/// detail decide first (x.1.1 unknown user, x.2.2 mailbox full, x.7.x policy …); the text decides
/// when the DSN is generic (x.0.0) or points at the transport (x.4.x), since servers use 5.0.0 or
/// 4.4.x for both unknown users and refused connections.
/// </summary>
internal static class BounceClassifier
{
    public static (BounceSeverity Severity, BounceReason Reason) Classify(DeliveryStatus status, ReadOnlySpan<byte> dsn, ReadOnlySpan<byte> text)
    {
        switch (status)
        {
            case DeliveryStatus.Sent:
                return (BounceSeverity.None, BounceReason.None);
            case DeliveryStatus.Expired:
                return (BounceSeverity.Soft, BounceReason.Expired);
        }

        var severity = dsn.Length > 0 && dsn[0] == '5' ? BounceSeverity.Hard
            : dsn.Length > 0 && dsn[0] == '4' ? BounceSeverity.Soft
            : status == DeliveryStatus.Bounced ? BounceSeverity.Hard : BounceSeverity.Soft;
        return (severity, ReasonOf(dsn, text));
    }

    private static BounceReason ReasonOf(ReadOnlySpan<byte> dsn, ReadOnlySpan<byte> text)
    {
        // Text first where it is unambiguous and the DSN often is not.
        if (Has(text, "TLS"u8) || Has(text, "STARTTLS"u8) || Has(text, "SSL_connect"u8) || Has(text, "certificate verif"u8))
            return BounceReason.Tls;
        if (Has(text, "Host or domain name not found"u8) || Has(text, "Name service error"u8) || Has(text, "null MX"u8)
            || Has(text, "nullmx"u8) || Has(text, "does not accept mail"u8))
            return BounceReason.Dns;

        string code = System.Text.Encoding.ASCII.GetString(dsn.Length > 2 ? dsn[2..] : default);
        switch (code)
        {
            case "1.1" or "1.0" or "1.6" or "2.1" or "1.3":
                return BounceReason.UnknownUser;
            case "1.2" or "1.10" or "4.3" or "4.4":
                return BounceReason.Dns;
            case "2.2" or "2.0" when Has(text, "full"u8) || Has(text, "quota"u8) || code == "2.2":
                return BounceReason.MailboxFull;
            case "3.4" or "2.3" or "3.0" or "6.0" or "6.1" or "6.3" or "6.6":
                return BounceReason.Message;
            case "4.1" or "4.2" or "4.0" or "4.5" or "4.6":
                return BounceReason.Connection;
            case "4.7":
                return BounceReason.Expired;
            case "7.10" or "7.5":
                return BounceReason.Tls;
        }

        if (code.StartsWith("7.", StringComparison.Ordinal))
            return BounceReason.Policy;
        if (Has(text, "unknown user"u8) || Has(text, "User unknown"u8) || Has(text, "does not exist"u8)
            || Has(text, "no such user"u8) || Has(text, "No such user"u8) || Has(text, "Recipient address rejected"u8))
            return BounceReason.UnknownUser;
        if (Has(text, "quota"u8) || Has(text, "mailbox full"u8) || Has(text, "Mailbox full"u8))
            return BounceReason.MailboxFull;
        if (Has(text, "spam"u8) || Has(text, "blocked"u8) || Has(text, "blacklist"u8) || Has(text, "blocklist"u8)
            || Has(text, "reputation"u8) || Has(text, "rate limit"u8) || Has(text, "policy"u8))
            return BounceReason.Policy;
        if (Has(text, "Connection refused"u8) || Has(text, "timed out"u8) || Has(text, "lost connection"u8)
            || Has(text, "unreachable"u8) || Has(text, "No route to host"u8))
            return BounceReason.Connection;
        return BounceReason.Other;
    }

    private static bool Has(ReadOnlySpan<byte> text, ReadOnlySpan<byte> word) => text.IndexOf(word) >= 0;
}
