using System.Numerics;
using System.Runtime.Intrinsics;

namespace MailAgent.LogParsing;

/// <summary>Recognises Postfix queue IDs in both the short (hex) and long (base-52) forms.</summary>
internal static class QueueIds
{
    /// <summary>
    /// Splits <c>QUEUEID: rest</c>. Short IDs are upper-case hex: five digits of microseconds and
    /// the queue file's inode number, so up to 21 digits where inode numbers use 64 bits;
    /// long IDs (<c>enable_long_queue_ids</c>) use a vowel-free base-52 alphabet with a <c>z</c>
    /// separator, which keeps words such as <c>statistics</c> from looking like one.
    /// </summary>
    public static bool TrySplit(ReadOnlySpan<byte> message, out ReadOnlySpan<byte> queueId, out ReadOnlySpan<byte> rest)
    {
        queueId = default;
        rest = message;
        if (message.Length >= 26)
        {
            // Nearly every line: a short ID ("3F1B2C4D5E: ") or no ID at all ("connect from …"), told apart
            // with two 16-byte loads. What they cannot settle is left to the general reader below.
            var head = Vector128.Create(message);
            uint colons = Vector128.Equals(head, Vector128.Create((byte)':')).ExtractMostSignificantBits();
            if (colons == 0)
            {
                // No ':' in bytes 0-15; none in 16-25 either means no "ID: " within the 26 bytes searched below.
                if (Vector128.Equals(Vector128.Create(message[10..]), Vector128.Create((byte)':')) == Vector128<byte>.Zero)
                    return false;
            }
            else
            {
                int at = BitOperations.TrailingZeroCount(colons);
                if (at >= 5 && message[at + 1] == ' ')
                {
                    var digit = Vector128.LessThan(head - Vector128.Create((byte)'0'), Vector128.Create((byte)10));
                    var letter = Vector128.LessThan(head - Vector128.Create((byte)'A'), Vector128.Create((byte)6));
                    uint hex = (digit | letter).ExtractMostSignificantBits();
                    uint need = (1u << at) - 1;
                    if ((hex & need) == need)
                    {
                        queueId = message[..at];
                        rest = message[(at + 2)..];
                        return true;
                    }
                }
            }
        }

        return TrySplitGeneral(message, out queueId, out rest);
    }

    /// <summary><see cref="TrySplit"/> without the fast path for the two common shapes (what the tests compare it with).</summary>
    internal static bool TrySplitGeneral(ReadOnlySpan<byte> message, out ReadOnlySpan<byte> queueId, out ReadOnlySpan<byte> rest)
    {
        queueId = default;
        rest = message;
        int colon = SpanText.IndexOf(message[..Math.Min(message.Length, 26)], (byte)':', (byte)' ');
        if (colon < 5)
            return false;
        var id = message[..colon];
        if (!IsShort(id) && !IsLong(id) && !id.SequenceEqual("NOQUEUE"u8) && !IsOtherMtaStyle(id))
            return false;
        queueId = id;
        rest = message[(colon + 2)..];
        return true;
    }

    public static bool IsShort(ReadOnlySpan<byte> id) =>
        id.Length is >= 5 and <= 21 && id.IndexOfAnyExcept(UpperHex) < 0;

    private static readonly System.Buffers.SearchValues<byte> UpperHex = System.Buffers.SearchValues.Create("0123456789ABCDEF"u8);

    public static bool IsLong(ReadOnlySpan<byte> id)
    {
        if (id.Length is < 12 or > 24)
            return false;
        bool separator = false;
        foreach (byte b in id)
        {
            if (b == 'z')
            {
                separator = true;
                continue;
            }

            bool alnum = (uint)(b - '0') <= 9 || (uint)(b - 'A') <= 25 || (uint)(b - 'a') <= 25;
            if (!alnum || IsVowel(b))
                return false;
        }

        return separator;
    }

    // Upper-case letters and digits with at least one digit, as hand-written fixtures and some
    // other MTAs' job IDs look ("FGHIJ67890"); words such as "NOQUEUE" or "CONNECT" have no digit.
    private static bool IsOtherMtaStyle(ReadOnlySpan<byte> id)
    {
        if (id.Length is < 5 or > 16)
            return false;
        bool digit = false;
        foreach (byte b in id)
        {
            if ((uint)(b - '0') <= 9)
                digit = true;
            else if ((uint)(b - 'A') > 25)
                return false;
        }

        return digit;
    }

    private static bool IsVowel(byte b) => (b | 0x20) is (byte)'a' or (byte)'e' or (byte)'i' or (byte)'o' or (byte)'u';
}
