using System.Text;
using MailAgent.LogTailing;

namespace MailAgent.Tests.LogTailing;

public sealed class LineSplitterTests
{
    [Fact]
    public void Feed_PartialLastLine_IsHeldUntilTheNewlineArrives()
    {
        var splitter = new LineSplitter();
        var sink = new CollectingSink();

        splitter.Feed("first\nsec"u8, sink);
        var afterFirstPiece = sink.Lines.ToArray();
        int pending = splitter.PendingBytes;
        splitter.Feed("ond li"u8, sink);
        var afterSecondPiece = sink.Lines.ToArray();
        splitter.Feed("ne\nthird\n"u8, sink);

        Assert.Equal(["first"], afterFirstPiece);
        Assert.Equal(3, pending);
        Assert.Equal(["first"], afterSecondPiece);
        Assert.Equal(["first", "second line", "third"], sink.Lines);
        Assert.Equal(0, splitter.PendingBytes);
    }

    [Fact]
    public void Feed_OneByteAtATime_GivesTheSameLines()
    {
        var splitter = new LineSplitter(bufferSize: 64);
        var sink = new CollectingSink();
        var data = "alpha\r\nbeta\n\ngamma delta\n"u8.ToArray();

        foreach (byte b in data)
            splitter.Feed([b], sink);

        Assert.Equal(["alpha", "beta", "", "gamma delta"], sink.Lines);
    }

    [Fact]
    public void Feed_CrLfLines_AreTrimmedOfTheCarriageReturn()
    {
        var splitter = new LineSplitter();
        var sink = new CollectingSink();

        splitter.Feed("one\r\ntwo\r\n\r\nthree\rstill three\r\n"u8, sink);

        Assert.Equal(["one", "two", "", "three\rstill three"], sink.Lines);
    }

    [Fact]
    public void Feed_LineLongerThanTheBuffer_IsHandedOnOnceCutAndTheRestSkipped()
    {
        var splitter = new LineSplitter(bufferSize: 16);
        var sink = new CollectingSink();

        splitter.Feed("short\n0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"u8, sink);
        bool skipping = splitter.SkippingOverlongLine;
        splitter.Feed("abcdefghijklmnopqrstuvwxyz\nnext\n"u8, sink);

        Assert.True(skipping);
        Assert.Equal(["short", "0123456789ABCDEF", "next"], sink.Lines);
        Assert.False(splitter.SkippingOverlongLine);
    }

    [Fact]
    public void Feed_LineExactlyAsLongAsTheBuffer_IsHandedOnOnce()
    {
        var splitter = new LineSplitter(bufferSize: 8);
        var sink = new CollectingSink();

        splitter.Feed("12345678\nnext\n"u8, sink);

        Assert.Equal(["12345678", "next"], sink.Lines);
    }

    [Fact]
    public void Feed_HeldPartialLineGrowingPastTheBuffer_IsCutOnce()
    {
        var splitter = new LineSplitter(bufferSize: 8);
        var sink = new CollectingSink();

        splitter.Feed("ab\ncdef"u8, sink);
        splitter.Feed("ghijklmnop"u8, sink);
        splitter.Feed("qrs\ntail\n"u8, sink);

        Assert.Equal(["ab", "cdefghij", "tail"], sink.Lines);
    }

    [Fact]
    public void Flush_HeldPartialLine_IsHandedOver()
    {
        var splitter = new LineSplitter();
        var sink = new CollectingSink();
        splitter.Feed("complete\npartial without newline\r"u8, sink);

        splitter.Flush(sink);

        Assert.Equal(["complete", "partial without newline"], sink.Lines);
        Assert.Equal(0, splitter.PendingBytes);
    }

    [Fact]
    public void Flush_NothingHeld_HandsOverNothing()
    {
        var splitter = new LineSplitter();
        var sink = new CollectingSink();
        splitter.Feed("complete\n"u8, sink);

        splitter.Flush(sink);

        Assert.Equal(["complete"], sink.Lines);
    }

    [Fact]
    public void Flush_WhileSkippingAnOverlongLine_HandsOverNothingMore()
    {
        var splitter = new LineSplitter(bufferSize: 8);
        var sink = new CollectingSink();
        splitter.Feed("0123456789abcdef"u8, sink);

        splitter.Flush(sink);
        splitter.Feed("fresh\n"u8, sink);

        Assert.Equal(["01234567", "fresh"], sink.Lines);
    }

    [Fact]
    public void ReadAvailable_StreamInSmallReads_GivesEveryCompleteLine()
    {
        var splitter = new LineSplitter(bufferSize: 32);
        var sink = new CollectingSink();
        var text = string.Join("\n", Enumerable.Range(0, 100).Select(i => $"line {i}")) + "\nheld";
        using var stream = new TrickleStream(Encoding.ASCII.GetBytes(text), maxRead: 5);

        long read = splitter.ReadAvailable(stream, sink);

        Assert.Equal(text.Length, read);
        Assert.Equal(Enumerable.Range(0, 100).Select(i => $"line {i}"), sink.Lines);
        Assert.Equal(4, splitter.PendingBytes);
    }

    [Theory]
    [InlineData(1 << 20, 1)]
    [InlineData(1 << 20, 2)]
    [InlineData(64, 3)]
    [InlineData(17, 4)]
    public void Feed_RandomLinesInRandomPieces_GivesWhatSplitGives(int bufferSize, int seed)
    {
        // Newlines at every offset of the 16-byte blocks the splitter searches, several in one block, none in many.
        var random = new Random(seed);
        var lines = Enumerable.Range(0, 3000).Select(_ => new string('x', random.Next(random.Next(4) == 0 ? 60 : 12)) + (random.Next(5) == 0 ? "\r" : "")).ToList();
        var data = Encoding.ASCII.GetBytes(string.Join("\n", lines) + "\n");
        var splitter = new LineSplitter(bufferSize);
        var sink = new CollectingSink();

        for (int at = 0; at < data.Length;)
        {
            int n = Math.Min(data.Length - at, random.Next(1, 200));
            splitter.Feed(data.AsSpan(at, n), sink);
            at += n;
        }

        // A line that does not fit the buffer is handed on once, cut to the buffer's size.
        Assert.Equal(lines.Select(l => l.Length >= bufferSize ? l[..bufferSize] : l.TrimEnd('\r')), sink.Lines);
    }

    private sealed class CollectingSink : ILineSink
    {
        public List<string> Lines { get; } = [];

        public void OnLine(ReadOnlySpan<byte> line) => Lines.Add(Encoding.UTF8.GetString(line));
    }

    /// <summary>A stream that returns at most a few bytes per read, as a file being written does.</summary>
    private sealed class TrickleStream(byte[] data, int maxRead) : MemoryStream(data)
    {
        public override int Read(byte[] buffer, int offset, int count) => base.Read(buffer, offset, Math.Min(count, maxRead));

        public override int Read(Span<byte> buffer) => base.Read(buffer[..Math.Min(buffer.Length, maxRead)]);
    }
}
