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
