namespace MailAgent.Correlation;

/// <summary>
/// A queue ID packed into 128 bits (6 bits a character, up to 20 characters; character codes are
/// never zero, so the length is implied), so the correlator's map needs no string per message.
/// Longer IDs, which Postfix does not write, are hashed.
/// </summary>
internal readonly record struct QueueIdKey(ulong Low, ulong High)
{
    public static QueueIdKey From(ReadOnlySpan<byte> id)
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

    private static ulong Code(byte b) => b switch
    {
        >= (byte)'0' and <= (byte)'9' => (ulong)(b - '0' + 1),
        >= (byte)'A' and <= (byte)'Z' => (ulong)(b - 'A' + 11),
        >= (byte)'a' and <= (byte)'z' => (ulong)(b - 'a' + 37),
        _ => 63,
    };
}
