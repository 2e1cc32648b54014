using System.Buffers.Binary;
using System.Text;

namespace MailAgent.Correlation;

/// <summary>
/// The correlator's followed messages as saved in the checkpoint: a compact binary image
/// (base64 in the JSON) of every per-message field, plus what decides evictions. Bounded by
/// the correlator's own bounds (Correlation:MaxMessages). <see cref="Layout"/> names the
/// fields' types in order; a checkpoint written with another layout is not restored.
/// </summary>
internal sealed class CorrelatorState
{
    public string Layout { get; set; } = "";
    public int Count { get; set; }
    /// <summary>Every message's fields, packed (<see cref="FieldWriter"/>); base64 in the JSON, written straight from the bytes.</summary>
    public byte[] Messages { get; set; } = [];
    public long Serial { get; set; }
    public ulong[] Refused { get; set; } = [];
    public int RefusedNext { get; set; }
}

/// <summary>
/// Reads or writes one message's fields. <c>MessageCorrelator.MessageState.Fields</c> calls it
/// once per field, in order, for writing, reading and describing: a new field is one line there.
/// </summary>
internal interface IFieldCodec
{
    void Long(ref long value);
    void Double(ref double value);
    void Bool(ref bool value);
    void String(ref string? value);
}

internal sealed class FieldWriter(Stream stream) : IFieldCodec
{
    private readonly byte[] _buffer = new byte[8];

    public void Long(ref long value)
    {
        BinaryPrimitives.WriteInt64LittleEndian(_buffer, value);
        stream.Write(_buffer, 0, 8);
    }

    public void Double(ref double value)
    {
        BinaryPrimitives.WriteDoubleLittleEndian(_buffer, value);
        stream.Write(_buffer, 0, 8);
    }

    public void Bool(ref bool value) => stream.WriteByte(value ? (byte)1 : (byte)0);

    public void String(ref string? value)
    {
        if (value == null)
        {
            BinaryPrimitives.WriteInt32LittleEndian(_buffer, -1);
            stream.Write(_buffer, 0, 4);
            return;
        }

        var bytes = Encoding.UTF8.GetBytes(value);
        BinaryPrimitives.WriteInt32LittleEndian(_buffer, bytes.Length);
        stream.Write(_buffer, 0, 4);
        stream.Write(bytes);
    }
}

internal sealed class FieldReader(byte[] data) : IFieldCodec
{
    private int _at;

    public bool AtEnd => _at >= data.Length;

    public void Long(ref long value)
    {
        value = BinaryPrimitives.ReadInt64LittleEndian(Take(8));
    }

    public void Double(ref double value)
    {
        value = BinaryPrimitives.ReadDoubleLittleEndian(Take(8));
    }

    public void Bool(ref bool value) => value = Take(1)[0] != 0;

    public void String(ref string? value)
    {
        int length = BinaryPrimitives.ReadInt32LittleEndian(Take(4));
        value = length < 0 ? null : Encoding.UTF8.GetString(Take(length));
    }

    private ReadOnlySpan<byte> Take(int n)
    {
        if (n < 0 || _at + n > data.Length)
            throw new FormatException("correlator state is truncated");
        var span = data.AsSpan(_at, n);
        _at += n;
        return span;
    }
}

/// <summary>Describes the layout (one letter per field) so a checkpoint from another version is recognised.</summary>
internal sealed class FieldLayout : IFieldCodec
{
    private readonly StringBuilder _layout = new();

    public override string ToString() => _layout.ToString();

    public void Long(ref long value) => _layout.Append('l');

    public void Double(ref double value) => _layout.Append('d');

    public void Bool(ref bool value) => _layout.Append('b');

    public void String(ref string? value) => _layout.Append('s');
}
