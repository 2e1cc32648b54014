using System.Text;
using MailAgent.Queue;
using static MailAgent.Tests.Queue.QueueSummarizerTests;

namespace MailAgent.Tests.Queue;

/// <summary>Whatever postqueue prints, the summariser never throws and counts what it cannot read.</summary>
public sealed class QueueHostileInputTests
{
    private static readonly DateTimeOffset Now = DateTimeOffset.FromUnixTimeSeconds(1_795_827_766);

    private static readonly string Good = Entry("deferred", Now.ToUnixTimeSeconds() - 60, 1000, ("u@a.test", "connect to a.test[192.0.2.1]:25: Connection refused"));

    public static TheoryData<string> MalformedLines() =>
    [
        "{",
        "}",
        "not json at all",
        "[]",
        "42",
        "\"deferred\"",
        "null",
        "{}",
        "{\"queue_name\": \"deferred\"}",
        "{\"queue_name\": \"deferred\", \"arrival_time\": 1795824166}",
        "{\"queue_name\": \"corrupt\", \"arrival_time\": 1795824166, \"message_size\": 1}",
        "{\"queue_name\": 3, \"arrival_time\": 1795824166, \"message_size\": 1}",
        "{\"queue_name\": \"deferred\", \"arrival_time\": \"yesterday\", \"message_size\": 1}",
        "{\"queue_name\": \"deferred\", \"arrival_time\": 1795824166.5, \"message_size\": 1}",
        "{\"queue_name\": \"deferred\", \"arrival_time\": -1, \"message_size\": 1}",
        "{\"queue_name\": \"deferred\", \"arrival_time\": 99999999999999999999, \"message_size\": 1}",
        "{\"queue_name\": \"deferred\", \"arrival_time\": 1795824166, \"message_size\": -5}",
        "{\"queue_name\": \"deferred\", \"arrival_time\": 1795824166, \"message_size\": 1, \"recipients\": {}}",
        "{\"queue_name\": \"deferred\", \"arrival_time\": 1795824166, \"message_size\": 1, \"recipients\": [1, 2]}",
        "{\"queue_name\": \"deferred\", \"arrival_time\": 1795824166, \"message_size\": 1, \"recipients\": [{\"address\": 7}]}",
        "{\"queue_name\": \"deferred\", \"arrival_time\": 1795824166, \"message_size\": 1, \"recipients\": [{\"address\": \"a@b\"}",
        "{\"queue_name\": \"deferred\", \"arrival_time\": 1795824166, \"message_size\": 1} {\"queue_name\": \"hold\"}",
        "{\"queue_name\": \"deferred\", \"arrival_time\": 1795824166, \"message_size\": 1} trailing",
        "{\"queue_name\": \"deferred\", \"arrival_time\": 1795824166, \"message_size\": 1, // comment\n}",
        "{\"queue_name\": \"deferred\", \"arrival_time\": 1795824166, \"message_size\": 1,}",
        "{'queue_name': 'deferred', 'arrival_time': 1795824166, 'message_size': 1}",
        "{\"queue_name\": \"deferred\", \"arrival_time\": 1795824166, \"message_size\": 1, \"x\": " + new string('[', 100) + new string(']', 100) + "}",
    ];

    [Theory]
    [MemberData(nameof(MalformedLines))]
    public void AddLine_Malformed_CountedAndSkipped(string line)
    {
        var summarizer = new QueueSummarizer(Now, [60], topDomains: 10);
        summarizer.AddLine(Good);

        summarizer.AddLine(line);
        summarizer.AddLine(Good);

        var summary = summarizer.Build();
        Assert.Equal(3, summary.Lines);
        Assert.Equal(1, summary.MalformedLines);
        Assert.Equal(2, summary[PostfixQueue.Deferred].Messages);
        Assert.Equal(2000, summary[PostfixQueue.Deferred].Bytes);
        Assert.Equal(2, summary.Deferred(DeferralReason.Refused));
        Assert.Equal([new DomainCount("a.test", 2)], summary.TopDeferredDomains);
    }

    [Fact]
    public void AddLine_UnknownMembersOfEveryShape_Ignored()
    {
        const string line = """
            {"future": {"nested": [1, {"deep": [true, null]}]}, "queue_name": "deferred", "queue_id": "4F1A2C0B3",
             "arrival_time": 1795827706, "message_size": 2783, "forced_expire": false, "sender": "alerts@tazzi.com",
             "log_class": ["a", "b"], "recipients": [{"address": "x@unreach.test", "orig_address": "y@z.test",
             "delay_reason": "connect to 127.0.0.1[127.0.0.1]:2599: Connection refused", "dsn": {"status": "4.4.1"}}], "z": -1.5e3}
            """;
        var summarizer = new QueueSummarizer(Now, [60], topDomains: 10);

        summarizer.AddLine(line.ReplaceLineEndings(" "));

        var summary = summarizer.Build();
        Assert.Equal(0, summary.MalformedLines);
        Assert.Equal(2783, summary[PostfixQueue.Deferred].Bytes);
        Assert.Equal(60, summary.OldestAgeSeconds(PostfixQueue.Deferred));
        Assert.Equal(1, summary.Deferred(DeferralReason.Refused));
        Assert.Equal([new DomainCount("unreach.test", 1)], summary.TopDeferredDomains);
    }

    [Fact]
    public void AddLine_EscapedStringsAndMembersInAnyOrder_Understood()
    {
        // queue_name after the recipients, escapes in every string the summariser reads.
        const string line = """{"recipients": [{"delay_reason": "Connection \u0072efused", "address": "u@\u0044omain.test"}], "message_size": 5, "arrival_time": 1795827766, "queue_name": "de\u0066erred"}""";
        var summarizer = new QueueSummarizer(Now, [60], topDomains: 10);

        summarizer.AddLine(line);

        var summary = summarizer.Build();
        Assert.Equal(1, summary[PostfixQueue.Deferred].Messages);
        Assert.Equal(1, summary.Deferred(DeferralReason.Refused));
        Assert.Equal([new DomainCount("domain.test", 1)], summary.TopDeferredDomains);
    }

    [Fact]
    public void AddLine_InvalidUtf8InAddressAndReason_MessageCountedAsOther()
    {
        var bytes = Encoding.UTF8.GetBytes(Entry("deferred", Now.ToUnixTimeSeconds(), 9, ("u@AAAA.test", "BBBB")));
        ReplaceWithInvalidUtf8(bytes, "AAAA");
        ReplaceWithInvalidUtf8(bytes, "BBBB");
        var summarizer = new QueueSummarizer(Now, [60], topDomains: 10);

        summarizer.AddLine(bytes);

        var summary = summarizer.Build();
        Assert.Equal(0, summary.MalformedLines);
        Assert.Equal(1, summary[PostfixQueue.Deferred].Messages);
        Assert.Equal(1, summary.Deferred(DeferralReason.Other));
        Assert.Equal(1, summary.OtherDeferredDomainRecipients);
    }

    [Fact]
    public void AddLine_RandomBytes_NeverThrows()
    {
        var random = new Random(20261128);
        var good = Encoding.UTF8.GetBytes(Good);
        var summarizer = new QueueSummarizer(Now, [60], topDomains: 10);

        for (int i = 0; i < 20_000; i++)
        {
            var line = good.ToArray();
            for (int flips = random.Next(1, 6); flips > 0; flips--)
                line[random.Next(line.Length)] = (byte)random.Next(256);
            summarizer.AddLine(line.AsSpan(0, random.Next(line.Length + 1)));
        }

        var summary = summarizer.Build();
        Assert.Equal(summary.Lines, summary.MalformedLines + summary.Messages);
    }

    [Fact]
    public void AddLine_BlankLinesAndCrLf_NotCountedAsLines()
    {
        var summarizer = new QueueSummarizer(Now, [60], topDomains: 10);

        summarizer.AddLine("");
        summarizer.AddLine("   \r");
        summarizer.AddLine(Good + "\r");

        Assert.Equal(1, summarizer.Lines);
        Assert.Equal(0, summarizer.MalformedLines);
    }

    [Fact]
    public void AddLine_HugeValidLine_Counted()
    {
        // One message with 20,000 recipients, each with its delay reason: about 2 MB on one line.
        var recipients = Enumerable.Range(0, 20_000).Select(i => ($"user{i}@d{i % 50}.test", (string?)"host said: 451 4.7.1 Greylisting in action")).ToArray();
        var line = Entry("deferred", Now.ToUnixTimeSeconds(), 123, recipients);
        Assert.True(line.Length > 1_500_000);
        var summarizer = new QueueSummarizer(Now, [60], topDomains: 3);

        QueueOutputReader.Read(Encoding.UTF8.GetBytes(Good + "\n" + line + "\n" + Good + "\n"), summarizer);

        var summary = summarizer.Build();
        Assert.Equal(0, summary.MalformedLines);
        Assert.Equal(3, summary[PostfixQueue.Deferred].Messages);
        Assert.Equal(20_002, summary[PostfixQueue.Deferred].Recipients);
        Assert.Equal(20_000, summary.Deferred(DeferralReason.GreylistRateLimit));
        Assert.Equal(400, summary.TopDeferredDomains[0].Recipients);
        Assert.Equal(20_002 - summary.TopDeferredDomains.Sum(d => d.Recipients), summary.OtherDeferredDomainRecipients);
    }

    [Fact]
    public void Read_LineOverTheLimit_CountedAsMalformedAndTheNextLineStillRead()
    {
        var huge = "{\"queue_name\": \"deferred\", \"pad\": \"" + new string('x', 300_000) + "\", \"arrival_time\": 1, \"message_size\": 1}";
        var output = Encoding.UTF8.GetBytes(Good + "\n" + huge + "\n" + Good + "\n" + huge);
        var summarizer = new QueueSummarizer(Now, [60], topDomains: 10);

        QueueOutputReader.Read(output, summarizer, maxLineBytes: 100_000);

        var summary = summarizer.Build();
        Assert.Equal(4, summary.Lines);
        Assert.Equal(2, summary.MalformedLines);
        Assert.Equal(2, summary[PostfixQueue.Deferred].Messages);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(7)]
    [InlineData(4096)]
    public async Task ReadAsync_OutputArrivingInSmallPieces_SameAsAllAtOnce(int pieceSize)
    {
        var output = File.ReadAllBytes(TestData.PathOf("postqueue-j.jsonl"));
        // Drop the final newline: the last line must count without one.
        output = output.AsSpan(0, output.Length - 1).ToArray();
        var summarizer = new QueueSummarizer(Now, [60, 3600], topDomains: 10);
        await using var stream = new TrickleStream(output, pieceSize);

        await QueueOutputReader.ReadAsync(stream, summarizer, maxLineBytes: 4096, CancellationToken.None);

        var summary = summarizer.Build();
        var whole = SummarizeFixture(buckets: "60,3600", takenAt: Now);
        Assert.Equal(whole.Lines, summary.Lines);
        Assert.Equal(0, summary.MalformedLines);
        Assert.Equal(whole[PostfixQueue.Deferred], summary[PostfixQueue.Deferred], QueueStatsComparer.Instance);
        Assert.Equal(whole.DeferredByReason, summary.DeferredByReason);
        Assert.Equal(whole.TopDeferredDomains, summary.TopDeferredDomains);
    }

    private static void ReplaceWithInvalidUtf8(byte[] bytes, string marker)
    {
        int at = bytes.AsSpan().IndexOf(Encoding.ASCII.GetBytes(marker));
        bytes[at] = 0xff;
        bytes[at + 1] = 0xc0;
    }

    /// <summary>A read-only stream that returns at most <c>pieceSize</c> bytes per read, like a slow pipe.</summary>
    private sealed class TrickleStream(byte[] data, int pieceSize) : Stream
    {
        private int _position;

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            int n = Math.Min(Math.Min(pieceSize, buffer.Length), data.Length - _position);
            data.AsSpan(_position, n).CopyTo(buffer);
            _position += n;
            return n;
        }

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) => ValueTask.FromResult(Read(buffer.Span));

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }

    /// <summary>Records hold arrays by reference; compare their contents.</summary>
    private sealed class QueueStatsComparer : IEqualityComparer<QueueStats>
    {
        public static readonly QueueStatsComparer Instance = new();

        public bool Equals(QueueStats? x, QueueStats? y) =>
            x != null && y != null && x.Queue == y.Queue && x.Messages == y.Messages && x.Recipients == y.Recipients && x.Bytes == y.Bytes
            && x.OldestArrival == y.OldestArrival && x.AgeBucketCounts.SequenceEqual(y.AgeBucketCounts) && x.AgeBucketSums.SequenceEqual(y.AgeBucketSums);

        public int GetHashCode(QueueStats obj) => obj.Messages.GetHashCode();
    }
}
