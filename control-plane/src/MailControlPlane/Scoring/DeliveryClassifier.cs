namespace MailControlPlane.Scoring;

/// <summary>Whose fault a delivery attempt's failure was, by its outcome and enhanced status code (RFC 3463).</summary>
internal enum DeliveryFault
{
    /// <summary>Delivered, or failed for the sender's reasons (unknown user 5.1.x, mailbox full 5.2.x, ...): not the server's failure.</summary>
    None,

    /// <summary>Could not connect or route: 4.4.x (refused, timed out, no route, DNS temporary failure).</summary>
    Connection,

    /// <summary>Refused for reputation or policy: 4.7.x / 5.7.x other than the TLS codes.</summary>
    Reputation,

    /// <summary>TLS could not be negotiated: x.7.4 (encryption needed), x.7.5 (cryptographic failure), x.7.10.</summary>
    Tls,

    /// <summary>A local temporary failure of the sending host: 4.3.x (mail system full, not accepting, milter tempfail).</summary>
    LocalTemporary,
}

/// <summary>
/// Classifies delivery attempts. Only the server's own failures lower its score: a recipient that does not
/// exist (5.1.x) or a full mailbox (5.2.x, 4.2.x) says nothing about the sending host. 5.4.x bounces (the recipient's
/// domain does not exist, routing loops) are left out too: permanent routing failures are the address's, not the host's.
/// </summary>
internal static class DeliveryClassifier
{
    public static DeliveryFault Classify(DeliveryOutcomeKind outcome, string? dsn)
    {
        if (outcome == DeliveryOutcomeKind.Sent || string.IsNullOrWhiteSpace(dsn))
            return DeliveryFault.None;
        if (!TryParse(dsn.AsSpan().Trim(), out int cls, out int subject, out int detail))
            return DeliveryFault.None;
        return (cls, subject) switch
        {
            (4, 4) => DeliveryFault.Connection,
            (4, 3) => DeliveryFault.LocalTemporary,
            (4 or 5, 7) when detail is 4 or 5 or 10 => DeliveryFault.Tls,
            (4 or 5, 7) => DeliveryFault.Reputation,
            _ => DeliveryFault.None,
        };
    }

    /// <summary>Parses <c>class.subject.detail</c> (e.g. 4.7.1); false for anything else.</summary>
    internal static bool TryParse(ReadOnlySpan<char> dsn, out int cls, out int subject, out int detail)
    {
        cls = subject = detail = 0;
        Span<Range> parts = stackalloc Range[4];
        if (dsn.Split(parts, '.') != 3)
            return false;
        return int.TryParse(dsn[parts[0]], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out cls)
            && cls is 2 or 4 or 5
            && int.TryParse(dsn[parts[1]], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out subject)
            && subject is >= 0 and <= 999
            && int.TryParse(dsn[parts[2]], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out detail)
            && detail is >= 0 and <= 999;
    }
}
