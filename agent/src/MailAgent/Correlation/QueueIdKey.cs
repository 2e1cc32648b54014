using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

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
        if (id.Length is >= 10 and <= 20)
        {
            // Postfix's short IDs have 10 to 12 characters: the ten of the low word unrolled, the table read without
            // a bounds check (a byte indexes 256 entries). The same codes at the same places as the loop in Slow.
            ref byte codes = ref MemoryMarshal.GetArrayDataReference(Codes);
            ulong low = CodeOf(ref codes, id[0]) | (CodeOf(ref codes, id[1]) << 6) | (CodeOf(ref codes, id[2]) << 12)
                | (CodeOf(ref codes, id[3]) << 18) | (CodeOf(ref codes, id[4]) << 24) | (CodeOf(ref codes, id[5]) << 30)
                | (CodeOf(ref codes, id[6]) << 36) | (CodeOf(ref codes, id[7]) << 42) | (CodeOf(ref codes, id[8]) << 48)
                | (CodeOf(ref codes, id[9]) << 54);
            ulong high = 0;
            for (int i = 10; i < id.Length; i++)
                high |= CodeOf(ref codes, id[i]) << ((i - 10) * 6);
            return new QueueIdKey(low, high);
        }

        return Slow(id);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong CodeOf(ref byte codes, byte b) => Unsafe.Add(ref codes, b);

    /// <summary>One character at a time, for any ID (what the tests compare <see cref="From"/> with).</summary>
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
