using System.Numerics;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace MailAgent.LogTailing;

/// <summary>Receives complete lines (without the line terminator).</summary>
internal interface ILineSink
{
    void OnLine(ReadOnlySpan<byte> line);
}

/// <summary>
/// Cuts a byte stream into lines. A line without its newline yet is held back until the newline
/// arrives, so a partial last line is never parsed early. A line longer than the buffer is
/// passed on once, cut to the buffer's size, and the rest of it skipped.
/// </summary>
internal sealed class LineSplitter
{
    private readonly byte[] _buffer;
    private int _held;
    private bool _skippingRest;

    public LineSplitter(int bufferSize = 1 << 20)
    {
        _buffer = new byte[bufferSize];
    }

    /// <summary>Bytes held back as an incomplete line (or the kept head of an overlong one).</summary>
    public int PendingBytes => _skippingRest ? 0 : _held;

    /// <summary>True while the rest of an overlong line is being skipped.</summary>
    public bool SkippingOverlongLine => _skippingRest;

    public void Reset()
    {
        _held = 0;
        _skippingRest = false;
    }

    /// <summary>
    /// Reads <paramref name="stream"/> to its current end, handing every complete line to
    /// <paramref name="sink"/>. Returns the number of bytes read.
    /// </summary>
    public long ReadAvailable(Stream stream, ILineSink sink, long maxBytes = long.MaxValue)
    {
        long total = 0;
        while (total < maxBytes)
        {
            int room = _buffer.Length - _held;
            int want = (int)Math.Min(room, maxBytes - total);
            int n = stream.Read(_buffer, _held, want);
            if (n <= 0)
                break;
            total += n;
            Consume(n, sink);
        }

        return total;
    }

    /// <summary>Feeds bytes already in memory (tests and the replay of decompressed input use this).</summary>
    public void Feed(ReadOnlySpan<byte> data, ILineSink sink)
    {
        while (!data.IsEmpty)
        {
            int n = Math.Min(data.Length, _buffer.Length - _held);
            data[..n].CopyTo(_buffer.AsSpan(_held));
            data = data[n..];
            Consume(n, sink);
        }
    }

    /// <summary>Hands over a held partial line as if it had ended (end of a rotated file, end of replay input).</summary>
    public void Flush(ILineSink sink)
    {
        if (_held > 0 && !_skippingRest)
            sink.OnLine(TrimCr(_buffer.AsSpan(0, _held)));
        _held = 0;
        _skippingRest = false;
    }

    private void Consume(int added, ILineSink sink)
    {
        var data = _buffer.AsSpan(0, _held + added);
        ref byte first = ref MemoryMarshal.GetReference(data);
        var newline = Vector128.Create((byte)'\n');
        int start = 0;
        // One pass over the new bytes, 16 at a time: each block's newlines as a bit mask, taken one by one.
        int pos = _held;
        uint mask = 0;
        int maskBase = 0;
        while (true)
        {
            if (mask == 0)
            {
                while (pos + 16 <= data.Length)
                {
                    mask = Vector128.Equals(Vector128.LoadUnsafe(ref first, (nuint)pos), newline).ExtractMostSignificantBits();
                    maskBase = pos;
                    pos += 16;
                    if (mask != 0)
                        break;
                }

                if (mask == 0)
                {
                    // Fewer than 16 bytes left.
                    int k = data[pos..].IndexOf((byte)'\n');
                    if (k < 0)
                        break;
                    maskBase = pos + k;
                    mask = 1;
                    pos = maskBase + 1;
                }
            }

            int end = maskBase + BitOperations.TrailingZeroCount(mask);
            mask &= mask - 1;
            if (_skippingRest)
                _skippingRest = false;
            else
                sink.OnLine(TrimCr(data[start..end]));
            start = end + 1;
        }

        int remaining = data.Length - start;
        if (_skippingRest)
        {
            _held = 0;
            return;
        }

        if (remaining == _buffer.Length)
        {
            // No newline in a full buffer: pass the head on as the line, skip the rest of it.
            sink.OnLine(data);
            _held = 0;
            _skippingRest = true;
            return;
        }

        if (start > 0 && remaining > 0)
            data[start..].CopyTo(_buffer);
        _held = remaining;
    }

    private static ReadOnlySpan<byte> TrimCr(ReadOnlySpan<byte> line) =>
        line.Length > 0 && line[^1] == '\r' ? line[..^1] : line;
}
