using System.Security.Cryptography;
using System.Text;
using MailAgent.Correlation;
using MailAgent.LogParsing;

namespace MailAgent.Events;

/// <summary>
/// Turns a delivery (or qmgr expiry) line and what the correlator knows into a
/// <see cref="DeliveryDetails"/>; returns null for every other line. Runs on the pipeline thread.
/// Addresses leave only with <see cref="EventsOptions.IncludeRecipients"/>; otherwise the
/// recipient becomes its domain plus, with a key, HMAC-SHA256(key, lower-cased address), and
/// addresses in the reply text are masked.
/// </summary>
internal sealed class DeliveryEventFactory
{
    public const string MaskedAddress = "<address>";
    private readonly bool _includeRecipients;
    private readonly byte[]? _key;
    private readonly byte[] _eventKeySecret;

    /// <param name="options">The Events section.</param>
    /// <param name="eventKeySecret">
    /// The secret keying <see cref="DeliveryDetails.EventKey"/> when no recipient hash key is
    /// configured (the agent's <see cref="EventKeySecret"/> file); with a hash key that key is used.
    /// </param>
    public DeliveryEventFactory(EventsOptions options, byte[] eventKeySecret)
    {
        _includeRecipients = options.IncludeRecipients;
        _key = options.IncludeRecipients ? null : options.LoadedKey;
        _eventKeySecret = options.LoadedKey ?? eventKeySecret;
    }

    public DeliveryDetails? Create(ref ParsedLine line, in CorrelationResult correlation)
    {
        DeliveryStatusKind status;
        if (line.Kind == EventKind.Delivery)
        {
            switch (line.Status)
            {
                case DeliveryStatus.Sent: status = DeliveryStatusKind.Delivered; break;
                case DeliveryStatus.Deferred: status = DeliveryStatusKind.Deferred; break;
                case DeliveryStatus.Bounced: status = DeliveryStatusKind.Bounced; break;
                default: return null;
            }
        }
        else if (line.Kind == EventKind.QmgrExpired)
            status = DeliveryStatusKind.Expired;
        else
            return null;

        var to = line.Kind == EventKind.Delivery ? line.To : default;
        int at = to.LastIndexOf((byte)'@');
        string domain = at < 0 ? "" : Ascii(to[(at + 1)..]).ToLowerInvariant();
        string recipient = _includeRecipients ? Utf8(to) : "";
        string hash = !_includeRecipients && _key != null && !to.IsEmpty ? Hmac(_key, to) : "";
        var (severity, reason) = BounceClassifier.Classify(line.Kind == EventKind.QmgrExpired ? DeliveryStatus.Expired : line.Status, line.Dsn, line.StatusText);
        string reply = line.Kind == EventKind.QmgrExpired ? (line.ForcedExpiry ? "force-expired, returned to sender" : "expired, returned to sender") : Utf8(line.StatusText);
        if (!_includeRecipients)
            reply = MaskAddresses(reply);
        double time = correlation.Time;
        return new DeliveryDetails(
            status, Ascii(line.Program), Ascii(line.QueueId), correlation.MessageId ?? "", Ascii(line.Host), domain, recipient, hash,
            Ascii(line.Dsn), severity, reason, reply, Utf8(line.Relay),
            Finite(line.Delay), line.HasDelays ? line.DelayBeforeQueueManager : 0, line.HasDelays ? line.DelayInQueueManager : 0,
            line.HasDelays ? line.DelayConnectionSetup : 0, line.HasDelays ? line.DelayTransmission : 0,
            line.Kind == EventKind.Delivery ? correlation.Attempt : 0,
            double.IsNaN(time) ? null : DateTimeOffset.FromUnixTimeMilliseconds((long)Math.Round(time * 1000)),
            EventKey(_eventKeySecret, ref line));
    }

    /// <summary>
    /// HMAC-SHA256 (keyed, so a guessed address cannot be confirmed from it) over the line's host,
    /// program, queue ID, time and text: the same line read again gives the same key.
    /// </summary>
    public static string EventKey(byte[] secret, ref ParsedLine line)
    {
        using var sha = IncrementalHash.CreateHMAC(HashAlgorithmName.SHA256, secret);
        Span<byte> stamp = stackalloc byte[20];
        var t = line.Timestamp;
        BitConverter.TryWriteBytes(stamp, t.Year);
        BitConverter.TryWriteBytes(stamp[4..], (t.Month * 100) + t.Day);
        BitConverter.TryWriteBytes(stamp[8..], t.SecondOfDay);
        BitConverter.TryWriteBytes(stamp[12..], t.Microsecond);
        BitConverter.TryWriteBytes(stamp[16..], t.OffsetMinutes);
        sha.AppendData(stamp);
        sha.AppendData(line.Host);
        sha.AppendData("\0"u8);
        sha.AppendData(line.Program);
        sha.AppendData("\0"u8);
        sha.AppendData(line.QueueId);
        sha.AppendData("\0"u8);
        sha.AppendData(line.Message);
        return Convert.ToHexStringLower(sha.GetHashAndReset());
    }

    /// <summary>HMAC-SHA256 of the lower-cased address, lower-case hex: what the platform computes to match its records.</summary>
    public static string Hmac(byte[] key, ReadOnlySpan<byte> address)
    {
        Span<byte> lower = address.Length <= 512 ? stackalloc byte[address.Length] : new byte[address.Length];
        for (int i = 0; i < address.Length; i++)
            lower[i] = address[i] is >= (byte)'A' and <= (byte)'Z' ? (byte)(address[i] + 32) : address[i];
        return Convert.ToHexStringLower(HMACSHA256.HashData(key, lower));
    }

    /// <summary>
    /// Replaces every word holding an '@' (an address, bracketed or not) and local's quoted
    /// <c>unknown user: "name"</c> with <see cref="MaskedAddress"/>.
    /// </summary>
    public static string MaskAddresses(string text)
    {
        if (text.Length == 0)
            return text;
        var sb = new StringBuilder(text.Length);
        int i = 0;
        while (i < text.Length)
        {
            int at = text.IndexOf('@', i);
            if (at < 0)
            {
                sb.Append(text, i, text.Length - i);
                break;
            }

            int start = at;
            while (start > i && !Boundary(text[start - 1]))
                start--;
            int end = at + 1;
            while (end < text.Length && !Boundary(text[end]))
                end++;
            sb.Append(text, i, start - i).Append(MaskedAddress);
            i = end;
        }

        string masked = sb.ToString();
        const string unknown = "unknown user: \"";
        int u = masked.IndexOf(unknown, StringComparison.OrdinalIgnoreCase);
        if (u >= 0)
        {
            int close = masked.IndexOf('"', u + unknown.Length);
            if (close > 0)
                masked = string.Concat(masked.AsSpan(0, u + unknown.Length), MaskedAddress, masked.AsSpan(close));
        }

        return masked;
    }

    private static bool Boundary(char c) => char.IsWhiteSpace(c) || c is '<' or '>' or '"' or '\'' or '(' or ')' or ',' or ';' or '[' or ']' or ':';

    private static double Finite(double d) => double.IsFinite(d) ? d : 0;

    private static string Ascii(ReadOnlySpan<byte> s) => Encoding.ASCII.GetString(s);

    private static string Utf8(ReadOnlySpan<byte> s) => Encoding.UTF8.GetString(s);
}
