using System.Runtime.CompilerServices;

namespace MailAgent.LogParsing;

/// <summary>Small, allocation-free helpers over UTF-8 byte spans.</summary>
internal static class SpanText
{
    /// <summary>The text between <paramref name="start"/> and the next <paramref name="end"/>, if both occur.</summary>
    public static bool TryBetween(ReadOnlySpan<byte> s, ReadOnlySpan<byte> start, ReadOnlySpan<byte> end, out ReadOnlySpan<byte> value, out ReadOnlySpan<byte> rest)
    {
        int i = s.IndexOf(start);
        if (i >= 0)
        {
            var after = s[(i + start.Length)..];
            int j = after.IndexOf(end);
            if (j >= 0)
            {
                value = after[..j];
                rest = after[(j + end.Length)..];
                return true;
            }
        }

        value = default;
        rest = s;
        return false;
    }

    /// <summary>Value of <c>key=</c> up to the next comma or space, when the key starts a field.</summary>
    public static ReadOnlySpan<byte> Field(ReadOnlySpan<byte> s, ReadOnlySpan<byte> keyWithEquals)
    {
        int i = s.IndexOf(keyWithEquals);
        if (i < 0)
            return default;
        var v = s[(i + keyWithEquals.Length)..];
        int e = v.IndexOfAny((byte)',', (byte)' ');
        return e < 0 ? v : v[..e];
    }

    /// <summary>
    /// Index of the two-byte sequence <paramref name="a"/><paramref name="b"/>. Searching for the
    /// first byte alone is vectorised and cheaper than a substring search on the short spans here.
    /// </summary>
    public static int IndexOf(ReadOnlySpan<byte> s, byte a, byte b)
    {
        int offset = 0;
        while (true)
        {
            int i = s[offset..].IndexOf(a);
            if (i < 0)
                return -1;
            int at = offset + i;
            if (at + 1 < s.Length && s[at + 1] == b)
                return at;
            offset = at + 1;
        }
    }

    /// <summary>Index of the three-byte sequence <paramref name="a"/><paramref name="b"/><paramref name="c"/>.</summary>
    public static int IndexOf(ReadOnlySpan<byte> s, byte a, byte b, byte c)
    {
        int offset = 0;
        while (true)
        {
            int i = s[offset..].IndexOf(a);
            if (i < 0)
                return -1;
            int at = offset + i;
            if (at + 2 < s.Length && s[at + 1] == b && s[at + 2] == c)
                return at;
            offset = at + 1;
        }
    }

    public static bool Contains(ReadOnlySpan<byte> s, ReadOnlySpan<byte> value) => s.IndexOf(value) >= 0;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool IsDigit(byte b) => (uint)(b - '0') <= 9;

    /// <summary>Parses a non-negative decimal such as <c>0.38</c> or <c>2017</c>; NaN when it is not one.</summary>
    public static double ParseDecimal(ReadOnlySpan<byte> s)
    {
        if (s.IsEmpty || s.Length > 24)
            return double.NaN;
        long whole = 0;
        int i = 0;
        for (; i < s.Length && IsDigit(s[i]); i++)
            whole = (whole * 10) + (s[i] - '0');
        if (i == 0)
            return double.NaN;
        if (i == s.Length)
            return whole;
        if (s[i] != '.')
            return double.NaN;
        i++;
        long frac = 0;
        long scale = 1;
        for (; i < s.Length && IsDigit(s[i]); i++)
        {
            if (scale < 1_000_000_000)
            {
                frac = (frac * 10) + (s[i] - '0');
                scale *= 10;
            }
        }

        return i == s.Length ? whole + ((double)frac / scale) : double.NaN;
    }

    /// <summary>Parses a non-negative integer of at most 18 digits; -1 when it is not one.</summary>
    public static long ParseLong(ReadOnlySpan<byte> s)
    {
        if (s.IsEmpty || s.Length > 18)
            return -1;
        long v = 0;
        foreach (byte b in s)
        {
            if (!IsDigit(b))
                return -1;
            v = (v * 10) + (b - '0');
        }

        return v;
    }

    /// <summary>A three-digit SMTP reply code at the start of <paramref name="s"/>, or 0.</summary>
    public static int ReplyCodeAt(ReadOnlySpan<byte> s)
    {
        if (s.Length >= 3 && IsDigit(s[0]) && IsDigit(s[1]) && IsDigit(s[2]) && (s.Length == 3 || s[3] == ' ' || s[3] == '-'))
            return ((s[0] - '0') * 100) + ((s[1] - '0') * 10) + (s[2] - '0');
        return 0;
    }

    /// <summary>The text inside the outermost parentheses that close the line, as Postfix writes a status reason.</summary>
    public static ReadOnlySpan<byte> TrailingParenthesised(ReadOnlySpan<byte> s)
    {
        int open = s.IndexOf((byte)'(');
        if (open < 0)
            return default;
        var inner = s[(open + 1)..];
        return inner.Length > 0 && inner[^1] == ')' ? inner[..^1] : inner;
    }
}
