namespace MailAgent.LogParsing;

/// <summary>
/// Delivery lines from any delivery agent:
/// <c>to=&lt;a&gt;, [orig_to=&lt;b&gt;, ]relay=R, [conn_use=N, ]delay=D, [delays=a/b/c/d, ][dsn=X.Y.Z, ]status=S (text)</c>.
/// </summary>
internal static class Delivery
{
    public static bool TryParse(ReadOnlySpan<byte> s, ref ParsedLine p)
    {
        if (!s.StartsWith("to="u8))
            return false;
        ReadOnlySpan<byte> rest;
        if (s.Length > 3 && s[3] == '<')
        {
            int close = SpanText.IndexOf(s, (byte)'>', (byte)',', (byte)' ');
            if (close < 0)
                return false;
            p.To = s[4..close];
            rest = s[(close + 3)..];
        }
        else
        {
            // Some log shippers strip the angle brackets.
            int comma = s.IndexOf(", "u8);
            if (comma < 0)
                return false;
            p.To = s[3..comma];
            rest = s[(comma + 2)..];
        }

        p.Delay = double.NaN;

        while (!rest.IsEmpty)
        {
            if (rest.StartsWith("status="u8))
            {
                var st = rest[7..];
                int sp = st.IndexOf((byte)' ');
                var word = sp < 0 ? st : st[..sp];
                p.Status = StatusOf(word);
                p.StatusText = sp < 0 ? default : SpanText.TrailingParenthesised(st[(sp + 1)..]);
                p.Forwarded = p.Status == DeliveryStatus.Sent && p.StatusText.StartsWith("forwarded as "u8);
                p.Kind = EventKind.Delivery;
                return true;
            }

            if (rest.StartsWith("orig_to=<"u8))
            {
                int oc = SpanText.IndexOf(rest, (byte)'>', (byte)',', (byte)' ');
                if (oc < 0)
                    return false;
                p.OrigTo = rest[9..oc];
                rest = rest[(oc + 3)..];
                continue;
            }

            int comma = SpanText.IndexOf(rest, (byte)',', (byte)' ');
            if (comma < 0)
                return false;
            var field = rest[..comma];
            rest = rest[(comma + 2)..];
            if (field.StartsWith("relay="u8))
                p.Relay = field[6..];
            else if (field.StartsWith("delay="u8))
                p.Delay = SpanText.ParseDecimal(field[6..]);
            else if (field.StartsWith("delays="u8))
                ParseDelays(field[7..], ref p);
            else if (field.StartsWith("dsn="u8))
                p.Dsn = field[4..];
        }

        return false;
    }

    internal static void ParseDelays(ReadOnlySpan<byte> v, ref ParsedLine p)
    {
        // a/b/c/d: before the queue manager, in the queue manager, connection setup, transmission.
        // One pass; each part must be what SpanText.ParseDecimal accepts, as in ParseDelaysGeneral.
        int at = 0;
        double a = DelayPart(v, ref at, true);
        double b = double.IsNaN(a) ? a : DelayPart(v, ref at, true);
        double c = double.IsNaN(b) ? b : DelayPart(v, ref at, true);
        double d = double.IsNaN(c) ? c : DelayPart(v, ref at, false);
        if (double.IsNaN(d))
            return;
        p.DelayBeforeQueueManager = a;
        p.DelayInQueueManager = b;
        p.DelayConnectionSetup = c;
        p.DelayTransmission = d;
        p.HasDelays = true;
    }

    /// <summary>
    /// The decimal at <paramref name="at"/>, which must end at a '/' (then skipped) or, for the last part, at the end
    /// of <paramref name="v"/>; NaN otherwise. Same digits, limits and arithmetic as <see cref="SpanText.ParseDecimal"/>.
    /// </summary>
    private static double DelayPart(ReadOnlySpan<byte> v, ref int at, bool slashFollows)
    {
        int start = at;
        int i = at;
        long whole = 0;
        for (; i < v.Length && SpanText.IsDigit(v[i]); i++)
            whole = (whole * 10) + (v[i] - '0');
        if (i == start)
            return double.NaN;
        double value = whole;
        if (i < v.Length && v[i] == '.')
        {
            i++;
            long frac = 0;
            long scale = 1;
            for (; i < v.Length && SpanText.IsDigit(v[i]); i++)
            {
                if (scale < 1_000_000_000)
                {
                    frac = (frac * 10) + (v[i] - '0');
                    scale *= 10;
                }
            }

            value = whole + ((double)frac / scale);
        }

        if (i - start > 24)
            return double.NaN;
        if (slashFollows)
        {
            if (i >= v.Length || v[i] != '/')
                return double.NaN;
            at = i + 1;
        }
        else if (i != v.Length)
        {
            return double.NaN;
        }

        return value;
    }

    /// <summary>The part-by-part reading <see cref="ParseDelays"/> replaced (what the tests compare it with).</summary>
    internal static void ParseDelaysGeneral(ReadOnlySpan<byte> v, ref ParsedLine p)
    {
        // a/b/c/d: before the queue manager, in the queue manager, connection setup, transmission.
        Span<double> parts = stackalloc double[4];
        for (int i = 0; i < 4; i++)
        {
            int slash = v.IndexOf((byte)'/');
            var part = i < 3 ? (slash < 0 ? default : v[..slash]) : v;
            parts[i] = SpanText.ParseDecimal(part);
            if (double.IsNaN(parts[i]))
                return;
            if (i < 3)
                v = v[(slash + 1)..];
        }

        p.DelayBeforeQueueManager = parts[0];
        p.DelayInQueueManager = parts[1];
        p.DelayConnectionSetup = parts[2];
        p.DelayTransmission = parts[3];
        p.HasDelays = true;
    }

    private static DeliveryStatus StatusOf(ReadOnlySpan<byte> word) => word.Length switch
    {
        4 when word.SequenceEqual("sent"u8) => DeliveryStatus.Sent,
        7 when word.SequenceEqual("bounced"u8) => DeliveryStatus.Bounced,
        7 when word.SequenceEqual("expired"u8) => DeliveryStatus.Expired,
        8 when word.SequenceEqual("deferred"u8) => DeliveryStatus.Deferred,
        10 when word.SequenceEqual("SOFTBOUNCE"u8) => DeliveryStatus.SoftBounce,
        11 when word.SequenceEqual("deliverable"u8) => DeliveryStatus.Deliverable,
        13 when word.SequenceEqual("undeliverable"u8) => DeliveryStatus.Undeliverable,
        _ => DeliveryStatus.Other,
    };

    /// <summary>Why an outbound connection failed, from the text Postfix logs for it.</summary>
    public static ConnectFailureReason ConnectReason(ReadOnlySpan<byte> s)
    {
        if (SpanText.Contains(s, "Connection refused"u8))
            return ConnectFailureReason.Refused;
        if (SpanText.Contains(s, "Connection timed out"u8))
            return ConnectFailureReason.TimedOut;
        if (SpanText.Contains(s, "No route to host"u8))
            return ConnectFailureReason.NoRoute;
        if (SpanText.Contains(s, "Network is unreachable"u8))
            return ConnectFailureReason.NetworkUnreachable;
        if (SpanText.Contains(s, "Host is unreachable"u8) || SpanText.Contains(s, "Host unreachable"u8))
            return ConnectFailureReason.HostUnreachable;
        if (s.StartsWith("lost connection with "u8) || SpanText.Contains(s, "Connection reset by peer"u8))
            return ConnectFailureReason.LostConnection;
        if (s.StartsWith("conversation with "u8) && SpanText.Contains(s, " timed out "u8))
            return SpanText.Contains(s, "initial server greeting"u8) ? ConnectFailureReason.GreetingTimeout : ConnectFailureReason.TimedOut;
        if (SpanText.Contains(s, "TLS"u8) || SpanText.Contains(s, "SSL_connect"u8))
            return ConnectFailureReason.TlsFailure;
        if (SpanText.Contains(s, "Host or domain name not found"u8) || SpanText.Contains(s, "Name service error"u8))
            return ConnectFailureReason.DnsFailure;
        return ConnectFailureReason.Other;
    }
}
