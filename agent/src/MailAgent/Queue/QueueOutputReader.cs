using System.Buffers;
using System.Runtime.CompilerServices;

namespace MailAgent.Queue;

/// <summary>
/// Splits <c>postqueue -j</c> output into lines as it arrives and feeds them to a
/// <see cref="QueueSummarizer"/>. Holds at most one read buffer and one line (up to
/// <c>maxLineBytes</c>; a longer line is skipped and counted as malformed), never the whole output.
/// </summary>
internal static class QueueOutputReader
{
    /// <summary>Longest line kept: a message with thousands of recipients, each with its delay reason, fits.</summary>
    public const int DefaultMaxLineBytes = 8 * 1024 * 1024;

    private const int ReadSize = 64 * 1024;

    public static async Task ReadAsync(Stream output, QueueSummarizer summarizer, int maxLineBytes, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxLineBytes, 1);
        var buffer = ArrayPool<byte>.Shared.Rent(ReadSize);
        var state = new LineState(maxLineBytes);
        try
        {
            int read;
            while ((read = await output.ReadAsync(buffer.AsMemory(0, ReadSize), cancellationToken)) > 0)
                state.Feed(buffer.AsSpan(0, read), summarizer);
            state.Finish(summarizer);
        }
        finally
        {
            state.Dispose();
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>Synchronous form for callers that already have the output in memory (tests, fixtures).</summary>
    public static void Read(ReadOnlySpan<byte> output, QueueSummarizer summarizer, int maxLineBytes = DefaultMaxLineBytes)
    {
        var state = new LineState(maxLineBytes);
        try
        {
            state.Feed(output, summarizer);
            state.Finish(summarizer);
        }
        finally
        {
            state.Dispose();
        }
    }

    /// <summary>The part of a line that has arrived so far, when a read ended inside it.</summary>
    private sealed class LineState(int maxLineBytes) : IDisposable
    {
        private byte[]? _carry;
        private int _carryLength;
        private bool _discarding;

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Feed(ReadOnlySpan<byte> chunk, QueueSummarizer summarizer)
        {
            while (!chunk.IsEmpty)
            {
                int newline = chunk.IndexOf((byte)'\n');
                var piece = newline < 0 ? chunk : chunk[..newline];
                chunk = newline < 0 ? [] : chunk[(newline + 1)..];
                bool complete = newline >= 0;

                if (_discarding)
                {
                    // The rest of a line already counted as oversized.
                    _discarding = !complete;
                    continue;
                }

                if (_carryLength + piece.Length > maxLineBytes)
                {
                    summarizer.AddOversizedLine();
                    _carryLength = 0;
                    _discarding = !complete;
                    continue;
                }

                if (complete && _carryLength == 0)
                {
                    summarizer.AddLine(piece);
                    continue;
                }

                Append(piece);
                if (complete)
                {
                    summarizer.AddLine(_carry.AsSpan(0, _carryLength));
                    _carryLength = 0;
                }
            }
        }

        /// <summary>The output ended: a last line without a newline still counts.</summary>
        public void Finish(QueueSummarizer summarizer)
        {
            if (_carryLength > 0 && !_discarding)
                summarizer.AddLine(_carry.AsSpan(0, _carryLength));
            _carryLength = 0;
            _discarding = false;
        }

        public void Dispose()
        {
            if (_carry != null)
                ArrayPool<byte>.Shared.Return(_carry);
            _carry = null;
        }

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private void Append(ReadOnlySpan<byte> piece)
        {
            if (_carry == null || _carry.Length - _carryLength < piece.Length)
            {
                var larger = ArrayPool<byte>.Shared.Rent(Math.Max(_carryLength + piece.Length, Math.Min(maxLineBytes, (_carry?.Length ?? 4096) * 2)));
                if (_carry != null)
                {
                    _carry.AsSpan(0, _carryLength).CopyTo(larger);
                    ArrayPool<byte>.Shared.Return(_carry);
                }

                _carry = larger;
            }

            piece.CopyTo(_carry.AsSpan(_carryLength));
            _carryLength += piece.Length;
        }
    }
}
