using System.Buffers.Binary;
using System.Runtime.CompilerServices;

namespace MailAgent.LogParsing;

/// <summary>
/// What the previous line's header held, so the next line can skip reading what repeats: a busy
/// mail host writes hundreds of lines in the same second, and every line of a host's log carries
/// the same host name. A hit is proven by comparing the bytes, so the result is always the one the
/// full reader gives. One per pipeline thread; not thread-safe.
/// </summary>
internal sealed class HeaderCache
{
    private const int MaxHost = 64;
    private readonly byte[] _host = new byte[MaxHost];
    private int _hostLength;
    private ulong _hostHead;
    private ulong _hostMask;
    private ulong _hostTail;
    private ulong _stamp0;
    private ulong _stamp1;
    private LogTimestamp _stamp;
    private bool _hasStamp;

    /// <summary>Reads the timestamp as <c>Header</c> does; a plain BSD stamp ("Nov 27 23:52:35 ") equal to the last one is not read again.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool TryTimestamp(ref ReadOnlySpan<byte> s, ref LogTimestamp t)
    {
        if (_hasStamp && s.Length >= 21 && BinaryPrimitives.ReadUInt64LittleEndian(s) == _stamp0
            && BinaryPrimitives.ReadUInt64LittleEndian(s[8..]) == _stamp1 && !YearFollows(s))
        {
            t = _stamp;
            s = s[16..];
            return true;
        }

        return TryNewTimestamp(ref s, ref t);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private bool TryNewTimestamp(ref ReadOnlySpan<byte> s, ref LogTimestamp t)
    {
        if (s.Length >= 21)
        {
            ulong a = BinaryPrimitives.ReadUInt64LittleEndian(s);
            ulong b = BinaryPrimitives.ReadUInt64LittleEndian(s[8..]);
            var rest = s;
            if (Header.TryPlainBsd(ref rest, ref t))
            {
                (_stamp0, _stamp1, _stamp, _hasStamp) = (a, b, t, true);
                s = rest;
                return true;
            }
        }

        return Header.TryTimestamp(ref s, ref t);
    }

    // "… 23:52:35 2026 host": Header.TryPlainBsd leaves a year after the time to the general reader.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool YearFollows(ReadOnlySpan<byte> s) =>
        SpanText.IsDigit(s[16]) && SpanText.IsDigit(s[17]) && SpanText.IsDigit(s[18]) && SpanText.IsDigit(s[19]) && s[20] == ' ';

    /// <summary>The index of the space after the host (as <c>IndexOf((byte)' ')</c>), comparing with the last host first.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public int HostEnd(ReadOnlySpan<byte> s)
    {
        int n = _hostLength;
        if (n > 0 && s.Length > n && s[n] == ' ' && s.Length >= 8)
        {
            // Compared as eight-byte words: the first (masked to the host when it is shorter) and the last.
            ulong head = BinaryPrimitives.ReadUInt64LittleEndian(s);
            if (n < 8 ? (head & _hostMask) == _hostHead
                : head == _hostHead && BinaryPrimitives.ReadUInt64LittleEndian(s[(n - 8)..]) == _hostTail
                  && (n <= 16 || s[8..n].SequenceEqual(_host.AsSpan(8, n - 8))))
                return n;
        }

        return NewHostEnd(s);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private int NewHostEnd(ReadOnlySpan<byte> s)
    {
        int sp = s.IndexOf((byte)' ');
        if (sp is > 0 and <= MaxHost && s.Length >= 8)
        {
            s[..sp].CopyTo(_host);
            _hostLength = sp;
            _hostMask = sp < 8 ? (1UL << (sp * 8)) - 1 : ulong.MaxValue;
            _hostHead = BinaryPrimitives.ReadUInt64LittleEndian(s) & _hostMask;
            _hostTail = sp < 8 ? 0 : BinaryPrimitives.ReadUInt64LittleEndian(s[(sp - 8)..]);
        }
        else
        {
            _hostLength = 0;
        }

        return sp;
    }
}
