using System.Buffers.Binary;
using System.Numerics;
using System.Runtime.CompilerServices;

namespace MailAgent.LogParsing;

/// <summary>Reads the syslog header: timestamp, host, tag and pid.</summary>
internal static class Header
{
    public static bool TryParse(ReadOnlySpan<byte> line, ref ParsedLine p) => TryParse(line, ref p, null);

    /// <summary>
    /// As <see cref="TryParse(ReadOnlySpan{byte}, ref ParsedLine)"/>; with a <paramref name="cache"/> (one per
    /// pipeline thread) a line whose stamp or host repeat the previous line's skips reading them again. The result
    /// is the same with or without it.
    /// </summary>
    public static bool TryParse(ReadOnlySpan<byte> line, ref ParsedLine p, HeaderCache? cache)
    {
        var s = line;

        // A raw syslog priority such as "<22>" when a collector kept it.
        if (s.Length > 2 && s[0] == '<')
        {
            int close = s[..Math.Min(s.Length, 6)].IndexOf((byte)'>');
            if (close > 1)
                s = s[(close + 1)..];
        }

        if (cache == null ? !TryTimestamp(ref s, ref p.Timestamp) : !cache.TryTimestamp(ref s, ref p.Timestamp))
            return false;

        // Host.
        int sp = cache == null ? s.IndexOf((byte)' ') : cache.HostEnd(s);
        if (sp <= 0)
            return false;
        p.Host = s[..sp];
        s = s[(sp + 1)..];
        // Some collectors pad a level column ("INFO    postfix/…").
        while (!s.IsEmpty && s[0] == ' ')
            s = s[1..];

        if (TryPostfixTag(s, ref p))
        {
            if (p.Message.StartsWith("[ID "u8))
                p.Message = SolarisId(p.Message);
            return true;
        }

        // Tag: program[/service...][pid]: message
        ReadOnlySpan<byte> tag;
        ReadOnlySpan<byte> message;
        int first = s.IndexOfAny(TagStops);
        if (first > 0 && s[first] == '[')
        {
            // The usual "postfix/smtpd[123]: ": one search finds the end of the name, which then
            // holds no space and no colon; the first ": " follows the pid.
            int colon = SpanText.IndexOf(s[(first + 1)..], (byte)':', (byte)' ');
            if (colon < 0 || s[first + colon] != ']')
                return false;
            tag = s[..first];
            message = s[(first + colon + 3)..];
        }
        else
        {
            int colon = SpanText.IndexOf(s, (byte)':', (byte)' ');
            if (colon <= 0)
                return false;
            tag = s[..colon];
            message = s[(colon + 2)..];

            int bracket = tag.IndexOf((byte)'[');
            if (bracket >= 0)
            {
                if (tag[^1] != ']')
                    return false;
                tag = tag[..bracket];
            }

            if (tag.IsEmpty || tag.IndexOf((byte)' ') >= 0)
                return false;
        }

        p.Program = tag;
        Classify(tag, ref p);

        p.Message = message.StartsWith("[ID "u8) ? SolarisId(message) : message;
        return true;
    }

    // Solaris-style "[ID 197553 mail.info] " after the tag.
    private static ReadOnlySpan<byte> SolarisId(ReadOnlySpan<byte> message)
    {
        int close = message.IndexOf("] "u8);
        return close > 0 ? message[(close + 2)..] : message;
    }

    private const ulong PostfixSlash = 0x2F78696674736F70; // "postfix/" read as a little-endian ulong
    private const ulong Ones = 0x0101010101010101;
    private const ulong HighBits = 0x8080808080808080;

    /// <summary>
    /// The tag nearly every line has, "postfix/NAME[PID]: " with a NAME of up to seven letters that
    /// <see cref="DaemonOf"/> knows, read with two 8-byte loads instead of three searches. Anything
    /// else is left to the general reader, which gives the same result for these tags.
    /// </summary>
    private static bool TryPostfixTag(ReadOnlySpan<byte> s, ref ParsedLine p)
    {
        if (s.Length < 20 || BinaryPrimitives.ReadUInt64LittleEndian(s) != PostfixSlash)
            return false;
        ulong name = BinaryPrimitives.ReadUInt64LittleEndian(s[8..]);
        // The first '[' among the eight bytes after "postfix/" (the classic zero-byte test on name ^ "[[[[[[[[").
        ulong x = name ^ 0x5B5B5B5B5B5B5B5B;
        ulong found = (x - Ones) & ~x & HighBits;
        if (found == 0)
            return false;
        int length = BitOperations.TrailingZeroCount(found) >> 3;
        if (length == 0)
            return false;
        var daemon = ShortDaemonOf(name & ((1UL << (length * 8)) - 1));
        if (daemon == Daemon.Other)
            return false;
        int i = 9 + length;
        int pid = s.Length >= i + 8 ? PidLength(BinaryPrimitives.ReadUInt64LittleEndian(s[i..])) : -1;
        if (pid >= 0)
            i += pid;
        else
        {
            while (i < s.Length && SpanText.IsDigit(s[i]))
                i++;
        }

        if (i + 2 >= s.Length || s[i] != ']' || s[i + 1] != ':' || s[i + 2] != ' ')
            return false;
        p.Program = s[..(8 + length)];
        p.Family = Family.Postfix;
        p.Daemon = daemon;
        p.Message = s[(i + 3)..];
        return true;
    }

    /// <summary>The number of digits before the first ']' among eight bytes, or -1 when they are not digits up to one.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int PidLength(ulong w)
    {
        ulong x = w ^ 0x5D5D5D5D5D5D5D5D; // "]]]]]]]]"
        ulong found = (x - Ones) & ~x & HighBits;
        if (found == 0)
            return -1;
        int k = BitOperations.TrailingZeroCount(found) >> 3;
        ulong lanes = HighBits & ((1UL << (k * 8)) - 1);
        // A digit's byte plus 0x50 reaches 0x80 and plus 0x46 does not; no carry leaves a byte below 0x80.
        ulong digits = (w + (Ones * 0x50)) & ~(w + (Ones * 0x46)) & HighBits;
        return (w & lanes) == 0 && (digits & lanes) == lanes ? k : -1;
    }

    // The names of up to seven bytes DaemonOf knows, as little-endian integers of their bytes.
    internal static Daemon ShortDaemonOf(ulong name) => name switch
    {
        0x70746D73 => Daemon.Smtp, // smtp
        0x70746D6C => Daemon.Lmtp, // lmtp
        0x72676D71 => Daemon.Qmgr, // qmgr
        0x65706970 => Daemon.Pipe, // pipe
        0x6470746D73 => Daemon.Smtpd, // smtpd
        0x6C61636F6C => Daemon.Local, // local
        0x726F727265 => Daemon.Error, // error
        0x7972746572 => Daemon.Retry, // retry
        0x6C69766E61 => Daemon.Anvil, // anvil
        0x6873756C66 => Daemon.Flush, // flush
        0x71776F6873 => Daemon.Showq, // showq
        0x6E77617073 => Daemon.Spawn, // spawn
        0x6470716D71 => Daemon.Qmqpd, // qmqpd
        0x72676D716F => Daemon.Oqmgr, // oqmgr
        0x70756B636970 => Daemon.Pickup, // pickup
        0x65636E756F62 => Daemon.Bounce, // bounce
        0x72657473616D => Daemon.Master, // master
        0x656863616373 => Daemon.Scache, // scache
        0x72676D736C74 => Daemon.Tlsmgr, // tlsmgr
        0x796669726576 => Daemon.Verify, // verify
        0x6C617574726976 => Daemon.Virtual, // virtual
        0x70756E61656C63 => Daemon.Cleanup, // cleanup
        0x64726163736964 => Daemon.Discard, // discard
        0x676F6C62736E64 => Daemon.Dnsblog, // dnsblog
        0x70616D74736F70 => Daemon.Postmap, // postmap
        0x676F6C74736F70 => Daemon.Postlog, // postlog
        _ => Daemon.Other,
    };

    private static readonly System.Buffers.SearchValues<byte> TagStops = System.Buffers.SearchValues.Create(" :["u8);

    private static void Classify(ReadOnlySpan<byte> tag, ref ParsedLine p)
    {
        if (tag.StartsWith("postfix"u8) && (tag.Length == 7 || tag[7] == '/' || tag[7] == '-'))
        {
            p.Family = Family.Postfix;
            // The tag is short: a backward loop beats the vectorised LastIndexOf's set-up.
            int slash = tag.Length - 1;
            while (slash >= 7 && tag[slash] != '/')
                slash--;
            if (slash < 7)
                slash = -1;
            p.Daemon = slash < 0 ? Daemon.Other : DaemonOf(tag[(slash + 1)..]);
            return;
        }

        if (tag.SequenceEqual("opendkim"u8))
        {
            p.Family = Family.OpenDkim;
            p.Daemon = Daemon.OpenDkim;
            return;
        }

        p.Family = Family.Foreign;
    }

    public static Daemon DaemonOf(ReadOnlySpan<byte> name) => name.Length switch
    {
        4 => name.SequenceEqual("smtp"u8) ? Daemon.Smtp
            : name.SequenceEqual("lmtp"u8) ? Daemon.Lmtp
            : name.SequenceEqual("qmgr"u8) ? Daemon.Qmgr
            : name.SequenceEqual("pipe"u8) ? Daemon.Pipe
            : Daemon.Other,
        5 => name.SequenceEqual("smtpd"u8) ? Daemon.Smtpd
            : name.SequenceEqual("local"u8) ? Daemon.Local
            : name.SequenceEqual("error"u8) ? Daemon.Error
            : name.SequenceEqual("retry"u8) ? Daemon.Retry
            : name.SequenceEqual("anvil"u8) ? Daemon.Anvil
            : name.SequenceEqual("flush"u8) ? Daemon.Flush
            : name.SequenceEqual("showq"u8) ? Daemon.Showq
            : name.SequenceEqual("spawn"u8) ? Daemon.Spawn
            : name.SequenceEqual("qmqpd"u8) ? Daemon.Qmqpd
            : name.SequenceEqual("oqmgr"u8) ? Daemon.Oqmgr
            : Daemon.Other,
        6 => name.SequenceEqual("pickup"u8) ? Daemon.Pickup
            : name.SequenceEqual("bounce"u8) ? Daemon.Bounce
            : name.SequenceEqual("master"u8) ? Daemon.Master
            : name.SequenceEqual("scache"u8) ? Daemon.Scache
            : name.SequenceEqual("tlsmgr"u8) ? Daemon.Tlsmgr
            : name.SequenceEqual("verify"u8) ? Daemon.Verify
            : Daemon.Other,
        7 => name.SequenceEqual("virtual"u8) ? Daemon.Virtual
            : name.SequenceEqual("cleanup"u8) ? Daemon.Cleanup
            : name.SequenceEqual("discard"u8) ? Daemon.Discard
            : name.SequenceEqual("dnsblog"u8) ? Daemon.Dnsblog
            : name.SequenceEqual("postmap"u8) ? Daemon.Postmap
            : name.SequenceEqual("postlog"u8) ? Daemon.Postlog
            : Daemon.Other,
        8 => name.SequenceEqual("tlsproxy"u8) ? Daemon.Tlsproxy
            : name.SequenceEqual("postlogd"u8) ? Daemon.Postlogd
            : name.SequenceEqual("proxymap"u8) ? Daemon.Proxymap
            : name.SequenceEqual("sendmail"u8) ? Daemon.Sendmail
            : name.SequenceEqual("postdrop"u8) ? Daemon.Postdrop
            : name.SequenceEqual("postconf"u8) ? Daemon.Postconf
            : Daemon.Other,
        9 => name.SequenceEqual("postsuper"u8) ? Daemon.Postsuper
            : name.SequenceEqual("postqueue"u8) ? Daemon.Postqueue
            : name.SequenceEqual("postalias"u8) ? Daemon.Postalias
            : name.SequenceEqual("postmulti"u8) ? Daemon.Postmulti
            : Daemon.Other,
        10 => name.SequenceEqual("postscreen"u8) ? Daemon.Postscreen : Daemon.Other,
        14 => name.SequenceEqual("postfix-script"u8) ? Daemon.PostfixScript : Daemon.Other,
        15 => name.SequenceEqual("trivial-rewrite"u8) ? Daemon.TrivialRewrite : Daemon.Other,
        _ => Daemon.Other,
    };

    internal static bool TryTimestamp(ref ReadOnlySpan<byte> s, ref LogTimestamp t)
    {
        if (s.Length < 16)
            return false;
        if (SpanText.IsDigit(s[0]))
            return TryRfc3339(ref s, ref t);
        return TryBsd(ref s, ref t);
    }

    // "Nov 27 23:52:35 " or "Apr  7 15:35:20 ", optionally with ".123456" after the seconds.
    private static bool TryBsd(ref ReadOnlySpan<byte> s, ref LogTimestamp t)
    {
        if (TryPlainBsd(ref s, ref t))
            return true;
        int month = MonthOf(s[0], s[1], s[2]);
        if (month == 0 || s[3] != ' ')
            return false;
        int i = 4;
        if (s[i] == ' ')
            i++;
        int day = 0;
        int digits = 0;
        while (i < s.Length && SpanText.IsDigit(s[i]) && digits < 2)
        {
            day = (day * 10) + (s[i] - '0');
            i++;
            digits++;
        }

        if (digits == 0 || day is < 1 or > 31 || i >= s.Length || s[i] != ' ')
            return false;
        i++;
        if (!TryClock(s, ref i, out int secondOfDay, out int micro))
            return false;

        // Some collectors put a year after the time ("Nov 27 23:52:35 2026 host").
        int year = 0;
        if (i + 5 < s.Length && s[i] == ' ' && SpanText.IsDigit(s[i + 1]) && SpanText.IsDigit(s[i + 2]) && SpanText.IsDigit(s[i + 3]) && SpanText.IsDigit(s[i + 4]) && s[i + 5] == ' ')
        {
            year = (int)SpanText.ParseLong(s.Slice(i + 1, 4));
            i += 5;
        }

        if (i >= s.Length || s[i] != ' ')
            return false;
        t.Year = year;
        t.Month = month;
        t.Day = day;
        t.SecondOfDay = secondOfDay;
        t.Microsecond = micro;
        s = s[(i + 1)..];
        return true;
    }

    /// <summary>
    /// The shape nearly every line has, "Nov 27 23:52:35 host" or "Apr  7 15:35:20 host", read at fixed
    /// offsets; anything else (fractions, a year, a one-digit day without padding, bad values) is left to the
    /// general reader, which gives the same result for these lines.
    /// </summary>
    internal static bool TryPlainBsd(ref ReadOnlySpan<byte> s, ref LogTimestamp t)
    {
        if (s.Length < 21 || s[3] != ' ' || s[6] != ' ' || s[9] != ':' || s[12] != ':' || s[15] != ' ')
            return false;
        // A year after the time ("… 23:52:35 2026 host") is the general reader's case.
        if (SpanText.IsDigit(s[16]) && SpanText.IsDigit(s[17]) && SpanText.IsDigit(s[18]) && SpanText.IsDigit(s[19]) && s[20] == ' ')
            return false;
        int month = MonthOf(s[0], s[1], s[2]);
        uint d1 = (uint)(s[4] - '0');
        uint d2 = (uint)(s[5] - '0');
        uint h1 = (uint)(s[7] - '0');
        uint h2 = (uint)(s[8] - '0');
        uint m1 = (uint)(s[10] - '0');
        uint m2 = (uint)(s[11] - '0');
        uint c1 = (uint)(s[13] - '0');
        uint c2 = (uint)(s[14] - '0');
        if (month == 0 || d2 > 9 || h1 > 9 || h2 > 9 || m1 > 9 || m2 > 9 || c1 > 9 || c2 > 9)
            return false;
        int day = s[4] == ' ' ? (int)d2 : d1 <= 9 ? (int)((d1 * 10) + d2) : -1;
        int h = (int)((h1 * 10) + h2);
        int m = (int)((m1 * 10) + m2);
        int sec = (int)((c1 * 10) + c2);
        if (day is < 1 or > 31 || h > 23 || m > 59 || sec > 60)
            return false;
        t.Year = 0;
        t.Month = month;
        t.Day = day;
        t.SecondOfDay = (h * 3600) + (m * 60) + sec;
        t.Microsecond = 0;
        s = s[16..];
        return true;
    }

    // "2026-11-27T23:52:30.122603+00:00 " (fraction and offset optional, "Z" accepted).
    private static bool TryRfc3339(ref ReadOnlySpan<byte> s, ref LogTimestamp t)
    {
        if (s.Length < 20 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != ' '))
            return false;
        long year = SpanText.ParseLong(s[..4]);
        long month = SpanText.ParseLong(s.Slice(5, 2));
        long day = SpanText.ParseLong(s.Slice(8, 2));
        if (year < 1970 || month is < 1 or > 12 || day is < 1 or > 31)
            return false;
        int i = 11;
        if (!TryClock(s, ref i, out int secondOfDay, out int micro))
            return false;
        int offset = 0;
        bool hasOffset = false;
        if (i < s.Length && s[i] == 'Z')
        {
            hasOffset = true;
            i++;
        }
        else if (i + 6 <= s.Length && (s[i] == '+' || s[i] == '-') && s[i + 3] == ':')
        {
            long oh = SpanText.ParseLong(s.Slice(i + 1, 2));
            long om = SpanText.ParseLong(s.Slice(i + 4, 2));
            if (oh is < 0 or > 23 || om is < 0 or > 59)
                return false;
            offset = (int)((oh * 60) + om) * (s[i] == '-' ? -1 : 1);
            hasOffset = true;
            i += 6;
        }

        if (i >= s.Length || s[i] != ' ')
            return false;
        t.Year = (int)year;
        t.Month = (int)month;
        t.Day = (int)day;
        t.SecondOfDay = secondOfDay;
        t.Microsecond = micro;
        t.OffsetMinutes = offset;
        t.HasOffset = hasOffset;
        s = s[(i + 1)..];
        return true;
    }

    private static bool TryClock(ReadOnlySpan<byte> s, ref int i, out int secondOfDay, out int micro)
    {
        secondOfDay = 0;
        micro = 0;
        if (i + 8 > s.Length || s[i + 2] != ':' || s[i + 5] != ':')
            return false;
        int h = TwoDigits(s[i], s[i + 1]);
        int m = TwoDigits(s[i + 3], s[i + 4]);
        int sec = TwoDigits(s[i + 6], s[i + 7]);
        if (h is < 0 or > 23 || m is < 0 or > 59 || sec is < 0 or > 60)
            return false;
        secondOfDay = (h * 3600) + (m * 60) + sec;
        i += 8;
        if (i < s.Length && s[i] == '.')
        {
            i++;
            int digits = 0;
            while (i < s.Length && SpanText.IsDigit(s[i]))
            {
                if (digits < 6)
                    micro = (micro * 10) + (s[i] - '0');
                digits++;
                i++;
            }

            if (digits == 0)
                return false;
            for (int d = digits; d < 6; d++)
                micro *= 10;
        }

        return true;
    }

    private static int TwoDigits(byte a, byte b) =>
        SpanText.IsDigit(a) && SpanText.IsDigit(b) ? ((a - '0') * 10) + (b - '0') : -1;

    private static int MonthOf(byte a, byte b, byte c) => (a, b, c) switch
    {
        ((byte)'J', (byte)'a', (byte)'n') => 1,
        ((byte)'F', (byte)'e', (byte)'b') => 2,
        ((byte)'M', (byte)'a', (byte)'r') => 3,
        ((byte)'A', (byte)'p', (byte)'r') => 4,
        ((byte)'M', (byte)'a', (byte)'y') => 5,
        ((byte)'J', (byte)'u', (byte)'n') => 6,
        ((byte)'J', (byte)'u', (byte)'l') => 7,
        ((byte)'A', (byte)'u', (byte)'g') => 8,
        ((byte)'S', (byte)'e', (byte)'p') => 9,
        ((byte)'O', (byte)'c', (byte)'t') => 10,
        ((byte)'N', (byte)'o', (byte)'v') => 11,
        ((byte)'D', (byte)'e', (byte)'c') => 12,
        _ => 0,
    };
}
