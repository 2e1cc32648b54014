using System.Buffers.Binary;
using System.Runtime.CompilerServices;

namespace MailAgent.Correlation;

/// <summary>
/// A queue ID packed into 128 bits (6 bits a character, up to 20 characters; character codes are
/// never zero, so the length is implied), so the correlator's map needs no string per message.
/// Longer IDs, which Postfix does not write, are hashed.
/// </summary>
internal readonly struct QueueIdKey(ulong low, ulong high) : IEquatable<QueueIdKey>
{
    public ulong Low { get; } = low;
    public ulong High { get; } = high;

    public bool Equals(QueueIdKey other) => Low == other.Low && High == other.High;

    public override bool Equals(object? obj) => obj is QueueIdKey other && Equals(other);

    // One multiply-and-fold: the packed characters are already well spread.
    public override int GetHashCode()
    {
        ulong h = (Low ^ (High * 0x9E3779B97F4A7C15UL)) * 0xBF58476D1CE4E5B9UL;
        return (int)(h ^ (h >> 32));
    }

    public static bool operator ==(QueueIdKey left, QueueIdKey right) => left.Equals(right);

    public static bool operator !=(QueueIdKey left, QueueIdKey right) => !left.Equals(right);

    public static QueueIdKey From(ReadOnlySpan<byte> id)
    {
        if (id.Length is >= 8 and <= 16)
        {
            // Short IDs (upper-case hex, 10-12 digits as Postfix writes them): eight codes at a time.
            // The tail is the last eight bytes moved down so that byte 8 of the ID is its lowest (zero bytes above).
            int tailBytes = id.Length - 8;
            ulong head = BinaryPrimitives.ReadUInt64LittleEndian(id);
            ulong tail = tailBytes == 0 ? 0 : BinaryPrimitives.ReadUInt64LittleEndian(id[tailBytes..]) >> ((8 - tailBytes) * 8);
            ulong tailLanes = tailBytes == 0 ? 0 : HighBits >> ((8 - tailBytes) * 8);
            if (TryHexCodes(head, HighBits, out ulong a) && TryHexCodes(tail, tailLanes, out ulong b))
            {
                // Code i goes to bit 6i: codes 0-9 into low, 10-15 into high.
                ulong packedB = Pack(b);
                return new QueueIdKey(Pack(a) | ((packedB & 0xFFF) << 48), packedB >> 12);
            }
        }

        return Slow(id);
    }

    private const ulong Ones = 0x0101010101010101;
    private const ulong HighBits = 0x8080808080808080;

    /// <summary>
    /// The <see cref="Codes"/> of the bytes of <paramref name="x"/> in <paramref name="lanes"/> (their high bits),
    /// one a byte, when each is an upper-case hex digit: '0'-'9' → 1-10, 'A'-'F' → 11-16; the other bytes are zero.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool TryHexCodes(ulong x, ulong lanes, out ulong codes)
    {
        codes = 0;
        if ((x & HighBits) != 0)
            return false;
        // Per byte (all below 0x80, so no carry crosses a byte): the high bit is set when the byte is at least the bound.
        ulong ge30 = (x + (Ones * 0x50)) & HighBits;
        ulong ge3A = (x + (Ones * 0x46)) & HighBits;
        ulong ge41 = (x + (Ones * 0x3F)) & HighBits;
        ulong ge47 = (x + (Ones * 0x39)) & HighBits;
        ulong valid = (ge30 & ~ge3A) | (ge41 & ~ge47);
        if (valid != lanes)
            return false;
        codes = x - ((valid >> 7) * 0x2F) - ((ge41 >> 7) * 0x07);
        return true;
    }

    // Bytes b0..b7 (each below 64) to b0 | b1 << 6 | … | b7 << 42.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong Pack(ulong x)
    {
        x = (x & 0x00FF00FF00FF00FF) | ((x & 0xFF00FF00FF00FF00) >> 2);
        x = (x & 0x0000FFFF0000FFFF) | ((x & 0xFFFF0000FFFF0000) >> 4);
        return (x & 0x00000000FFFFFFFF) | ((x & 0xFFFFFFFF00000000) >> 8);
    }

    /// <summary>One character at a time, for any ID (what the tests compare the fast path with).</summary>
    internal static QueueIdKey Slow(ReadOnlySpan<byte> id)
    {
        if (id.Length > 20)
            return Hashed(id);
        ulong low = 0;
        ulong high = 0;
        for (int i = 0; i < id.Length; i++)
        {
            ulong code = Code(id[i]);
            if (i < 10)
                low |= code << (i * 6);
            else
                high |= code << ((i - 10) * 6);
        }

        return new QueueIdKey(low, high);
    }

    private static QueueIdKey Hashed(ReadOnlySpan<byte> id)
    {
        // FNV-1a, twice with different offsets; the top bit marks a hashed key.
        ulong a = 14695981039346656037UL;
        ulong b = 1099511628211UL * 31;
        foreach (byte x in id)
        {
            a = (a ^ x) * 1099511628211UL;
            b = (b ^ x) * 1099511628211UL;
        }

        return new QueueIdKey(a, b | (1UL << 63));
    }

    private static ulong Code(byte b) => Codes[b];

    // 1–10 digits, 11–36 upper case, 37–62 lower case, 63 anything else; never 0.
    private static readonly byte[] Codes = BuildCodes();

    private static byte[] BuildCodes()
    {
        var codes = new byte[256];
        for (int b = 0; b < 256; b++)
        {
            codes[b] = b switch
            {
                >= '0' and <= '9' => (byte)(b - '0' + 1),
                >= 'A' and <= 'Z' => (byte)(b - 'A' + 11),
                >= 'a' and <= 'z' => (byte)(b - 'a' + 37),
                _ => 63,
            };
        }

        return codes;
    }
}
