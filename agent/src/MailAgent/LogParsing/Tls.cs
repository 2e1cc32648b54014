namespace MailAgent.LogParsing;

/// <summary><c>Verified TLS connection established to host[ip]:25: TLSv1.3 with cipher …</c> and the smtpd form with "from".</summary>
internal static class Tls
{
    public static bool TryParse(ReadOnlySpan<byte> s, ref ParsedLine p)
    {
        int at = s[..Math.Min(s.Length, 16)].IndexOf(" TLS "u8);
        if (at <= 0)
            return false;
        var trust = s[..at];
        var rest = s[at..];
        if (!rest.StartsWith(" TLS connection established "u8))
            return false;
        rest = rest[28..];
        bool outbound;
        if (rest.StartsWith("to "u8))
            outbound = true;
        else if (rest.StartsWith("from "u8))
            outbound = false;
        else
            return false;

        p.TlsTrust = trust switch
        {
            _ when trust.SequenceEqual("Verified"u8) => TlsTrust.Verified,
            _ when trust.SequenceEqual("Trusted"u8) => TlsTrust.Trusted,
            _ when trust.SequenceEqual("Untrusted"u8) => TlsTrust.Untrusted,
            _ => TlsTrust.Anonymous,
        };
        int colon = rest.IndexOf(": TLS"u8);
        if (colon < 0)
            colon = rest.IndexOf(": SSL"u8);
        p.TlsProtocol = colon < 0 ? default : PostfixMessage.Word(rest[(colon + 2)..]);
        p.TlsOutbound = outbound;
        p.Kind = EventKind.TlsEstablished;
        return true;
    }
}
