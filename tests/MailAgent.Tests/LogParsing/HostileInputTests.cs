using System.Text;
using MailAgent.LogParsing;
using MailAgent.LogTailing;
using MailAgent.Metrics;
using MailAgent.Pipeline;

namespace MailAgent.Tests.LogParsing;

/// <summary>
/// The parser reads whatever is in the log file: random bytes, broken UTF-8, NULs, huge lines and
/// lines cut anywhere. It must never throw, and what it cannot read must be counted, not dropped.
/// </summary>
public sealed class HostileInputTests
{
    private const string Header = "Nov 27 23:52:35 mail-oregon ";

    private static readonly string[] Programs =
    [
        "postfix/smtpd", "postfix/submission/smtpd", "postfix/smtp", "postfix/lmtp", "postfix/local", "postfix/virtual", "postfix/pipe",
        "postfix/error", "postfix/discard", "postfix/qmgr", "postfix/cleanup", "postfix/pickup", "postfix/bounce", "postfix/master",
        "postfix/postscreen", "postfix/postsuper", "postfix/postfix-script", "postfix/anvil", "postfix/dnsblog", "postfix-out/smtp", "opendkim",
    ];

    // Message starts the parser has rules for, to be followed by garbage.
    private static readonly string[] KnownStarts =
    [
        "", "4FE0BDC995: ", "NOQUEUE: ", "3xWyLP6Nmfz23fk: ", "connect from ", "disconnect from ", "client=", "client=x, sasl_method=",
        "reject: ", "reject: RCPT from ", "reject: RCPT from x[1.2.3.4]: ", "milter-reject: END-OF-MESSAGE from ", "reject_warning: ",
        "hold: ", "discard: ", "warning: ", "warning: header ", "warning: x[1.2.3.4]: SASL ", "lost connection after ", "timeout after ",
        "to=", "to=<", "to=<a@b>, ", "to=<a@b>, orig_to=<", "to=<a@b>, relay=x, delays=", "to=<a@b>, relay=x, delays=1/2/3/",
        "to=<a@b>, relay=x, delay=", "to=<a@b>, status=", "from=", "from=<", "from=<a@b>, size=", "from=<a@b>, status=",
        "removed", "uid=", "message-id=", "connect to ", "host ", "host x said: ", "Anonymous TLS connection established ",
        "Verified TLS connection established to ", "sender non-delivery notification: ", " notification: ", "daemon started",
        "warning: x -- throttling", "CONNECT from ", "PASS NEW ", "DNSBL rank ", "DKIM-Signature field added", "DKIM-Signature field added (",
        "DKIM-Signature field added (s=", "key retrieval failed (", "key retrieval failed (s=", "[ID ", "statistics: ", "addr ",
        "table ", "Force-expired: ", "starting the Postfix", "fatal: ", "panic: ",
    ];

    private static readonly byte[][] Garbage =
    [
        [],
        [0xff, 0xfe, 0xfd],
        [0xc0, 0x80, 0xed, 0xa0, 0x80, 0xf4, 0x90, 0x80, 0x80],
        [0x00, 0x00, 0x00],
        "<<<>>>, , ,(((("u8.ToArray(),
        ")))): : : [[[]]]"u8.ToArray(),
        "999999999999999999999999999999999999"u8.ToArray(),
        "s=, d=, s=x, (s=)"u8.ToArray(),
        "1/2/3/4/5/6/x/"u8.ToArray(),
        "\r\t\v\f \u00a0"u8.ToArray(),
    ];

    [Fact]
    public void Parse_RandomBytes_NeverThrows()
    {
        var random = new Random(20261127);
        var header = Encoding.ASCII.GetBytes(Header + "postfix/smtpd[1]: ");

        for (int i = 0; i < 20_000; i++)
        {
            var line = new byte[random.Next(0, 300)];
            random.NextBytes(line);
            if (i % 2 == 1)
                line = [.. header, .. line];

            _ = LineParser.Parse(line);
        }
    }

    [Fact]
    public void Parse_RandomPrintableText_NeverThrows()
    {
        // Random text from the characters log lines are made of hits far more rules than random bytes.
        const string alphabet = "Nov 27 23:52:35 postfix/smtpd[1]: <>=,;:.()[]/-_@ 0123456789ABCDEFz toremovdlaysnquecbkfihpSVRTML";
        var random = new Random(4711);
        var chars = new char[400];

        for (int i = 0; i < 20_000; i++)
        {
            int length = random.Next(0, chars.Length);
            for (int j = 0; j < length; j++)
                chars[j] = alphabet[random.Next(alphabet.Length)];
            string message = new(chars, 0, length);

            _ = ParsedView.Of(Header + Programs[i % Programs.Length] + "[1]: " + message);
            _ = ParsedView.Of(message);
        }
    }

    [Fact]
    public void Parse_EveryPrefixOfEveryExampleLine_NeverThrows()
    {
        foreach (string line in ExampleLines())
        {
            var bytes = Encoding.UTF8.GetBytes(line);
            for (int length = 0; length <= bytes.Length; length++)
                _ = LineParser.Parse(bytes.AsSpan(0, length));
        }
    }

    [Fact]
    public void Parse_ExampleLinePrefixesWithGarbageAppended_NeverThrow()
    {
        foreach (string line in ExampleLines())
        {
            var bytes = Encoding.UTF8.GetBytes(line);
            for (int length = 0; length <= bytes.Length; length++)
            {
                // Cut where fields start or end: after a space, '=', '<', ':', ',', '(' or '/'.
                if (length > 0 && length < bytes.Length && bytes[length - 1] is not ((byte)' ' or (byte)'=' or (byte)'<' or (byte)':' or (byte)',' or (byte)'(' or (byte)'/'))
                    continue;
                foreach (var garbage in Garbage)
                    _ = LineParser.Parse([.. bytes.AsSpan(0, length), .. garbage]);
            }
        }
    }

    [Fact]
    public void Parse_KnownMessageStartsWithGarbage_NeverThrow()
    {
        foreach (string program in Programs)
        {
            foreach (string start in KnownStarts)
            {
                var prefix = Encoding.UTF8.GetBytes($"{Header}{program}[4242]: {start}");
                foreach (var garbage in Garbage)
                {
                    _ = LineParser.Parse([.. prefix, .. garbage]);
                    _ = LineParser.Parse([.. prefix, .. garbage, .. prefix]);
                }
            }
        }
    }

    [Fact]
    public void Parse_InvalidUtf8AndNulBytes_AreUnderstoodAroundThem()
    {
        byte[] line =
        [
            .. "Nov 27 23:52:35 mail postfix/smtp[1]: 4FE0BDC995: to=<"u8, 0xff, 0x00, 0xed, 0xa0, 0x80, .. "@x>, relay=none, delay=1, delays=0/0/0/1, dsn=4.4.1, status=deferred ("u8,
            0x00, 0x00, 0xfe, (byte)')',
        ];

        var p = ParsedView.Of(line);

        Assert.Equal(EventKind.Delivery, p.Kind);
        Assert.Equal(DeliveryStatus.Deferred, p.Status);
        Assert.Equal("4.4.1", p.Dsn);
    }

    [Fact]
    public void Parse_NulInHeader_IsNotUnderstood()
    {
        byte[] line = [.. "Nov 27 23:52:35 mail postfix/sm"u8, 0x00, .. "tp[1]: 4FE0BDC995: removed"u8];

        var p = ParsedView.Of(line);

        Assert.False(p.Understood);
    }

    [Fact]
    public void Parse_TenMegabyteLine_ReturnsWithoutThrowing()
    {
        var line = Encoding.ASCII.GetBytes(Header + "postfix/smtp[1]: 4FE0BDC995: to=<" + new string('a', 10 << 20) + ">, relay=none, delay=1, status=sent (ok)");

        var p = LineParser.Parse(line);

        // Only the first LineParser.MaxLineBytes are examined, so the status is never reached.
        Assert.Equal(EventKind.Unparsed, p.Kind);
        Assert.Equal(Family.Postfix, p.Family);
    }

    [Fact]
    public void Process_MalformedMailSystemLines_AreCountedAsUnparsed()
    {
        // Messages no rule of any program reads.
        byte[][] unreadable =
        [
            [0xff, 0xfe, 0xfd],
            [0xc0, 0x80, 0xed, 0xa0, 0x80],
            [0x00, 0x00, 0x00],
            "<<<>>>, , ,(((("u8.ToArray(),
            ")))): : : [[[]]]"u8.ToArray(),
            "\r\t\v\f \u00a0"u8.ToArray(),
        ];
        var input = new MemoryStream();
        foreach (string program in Programs)
        {
            foreach (var message in unreadable)
            {
                input.Write(Encoding.ASCII.GetBytes($"{Header}{program}[4242]: "));
                input.Write(message);
                input.WriteByte((byte)'\n');
            }
        }

        var processor = NewProcessor();
        var splitter = new LineSplitter();
        splitter.Feed(input.ToArray(), processor);
        splitter.Flush(processor);

        var stats = processor.Stats;
        int lines = Programs.Length * unreadable.Length;
        Assert.Equal(lines, stats.Summary[(int)SummaryField.UnparsedLines]);
        Assert.Equal(lines, stats.Summary[(int)SummaryField.Lines]);
        Assert.Equal(lines, stats.Unparsed.Values.Sum());
        Assert.Equal(2 * unreadable.Length, stats.Unparsed.Values[(int)Daemon.Smtpd]); // postfix/smtpd and postfix/submission/smtpd
        Assert.Equal(unreadable.Length, stats.Unparsed.Values[(int)Daemon.Qmgr]);
        Assert.Equal(unreadable.Length, stats.Unparsed.Values[LabelSets.OpenDkimProgram]);
    }

    [Fact]
    public void Process_LinesWithoutAReadableHeader_AreCountedAsUnparsedOtherLines()
    {
        var processor = NewProcessor();
        string[] lines = ["Nov 27 23:52:35 mail-oregon postfix/smtpd[28448]", "Nov 27 23:52:35", "\0\0\0", "Jan: 1 00:00:00 hostname postfix/postscreen[12345]: foo"];

        foreach (string line in lines)
            processor.Process(Encoding.ASCII.GetBytes(line));

        Assert.Equal(lines.Length, processor.Stats.Summary[(int)SummaryField.UnparsedLines]);
        Assert.Equal(lines.Length, processor.Stats.Summary[(int)SummaryField.OtherLines]);
        Assert.Equal(lines.Length, processor.Stats.Unparsed.Values[LabelSets.ForeignProgram]);
    }

    [Fact]
    public void Process_HostileStreamInRandomPieces_CountsEveryLineOnce()
    {
        var random = new Random(1234);
        var input = new MemoryStream();
        foreach (string line in ExampleLines())
        {
            var bytes = Encoding.UTF8.GetBytes(line);
            for (int length = 0; length <= bytes.Length; length += 7)
            {
                input.Write(bytes.AsSpan(0, length));
                input.Write(Garbage[length % Garbage.Length]);
                input.WriteByte((byte)'\n');
            }

            input.Write(bytes);
            input.Write("\r\n"u8);
        }

        for (int i = 0; i < 2000; i++)
        {
            var noise = new byte[random.Next(0, 200)];
            random.NextBytes(noise);
            input.Write(noise);
            input.WriteByte((byte)'\n');
        }

        // A 10 MB line: handed on once, cut to the splitter's buffer, and the rest skipped.
        input.Write(Encoding.ASCII.GetBytes(Header + "postfix/smtpd[1]: "));
        for (int i = 0; i < 10; i++)
            input.Write(new byte[1 << 20].AsSpan());
        input.Write("\nNov 28 00:00:00 mail-oregon postfix/qmgr[28412]: C96AADCFDE: removed"u8);
        var data = input.ToArray();

        var processor = NewProcessor();
        var sink = new CountingSink(processor);
        var splitter = new LineSplitter();
        for (int offset = 0; offset < data.Length;)
        {
            int piece = Math.Min(data.Length - offset, random.Next(1, 100_000));
            splitter.Feed(data.AsSpan(offset, piece), sink);
            offset += piece;
        }

        splitter.Flush(sink);

        var stats = processor.Stats;
        Assert.Equal(sink.Lines, stats.Lines.Values.Sum());
        Assert.Equal(sink.Lines, stats.Summary[(int)SummaryField.Lines] + stats.Summary[(int)SummaryField.OtherLines]);
        Assert.Equal(sink.Unparsed, stats.Summary[(int)SummaryField.UnparsedLines]);
        Assert.Equal(sink.Unparsed, stats.Unparsed.Values.Sum());
        Assert.True(sink.Unparsed > 2000, $"only {sink.Unparsed} of {sink.Lines} lines unparsed");
        Assert.Equal(1 << 20, sink.Longest);
        Assert.Equal("Nov 28 00:00:00 mail-oregon postfix/qmgr[28412]: C96AADCFDE: removed", sink.Last);
        Assert.True(stats.QmgrRemoved.Values[0] >= 1);
    }

    private static LogProcessor NewProcessor() =>
        LogProcessor.Create(new DateTimeOffset(2026, 11, 28, 12, 0, 0, TimeSpan.Zero), maxMessages: 10_000, maxAge: TimeSpan.FromDays(1));

    private static IEnumerable<string> ExampleLines() => TestData.ExampleSections().SelectMany(s => s.Lines);

    /// <summary>Passes lines on to the processor and remembers, independently, how many the parser could not read.</summary>
    private sealed class CountingSink(LogProcessor processor) : ILineSink
    {
        public long Lines { get; private set; }
        public long Unparsed { get; private set; }
        public int Longest { get; private set; }
        public string Last { get; private set; } = "";

        public void OnLine(ReadOnlySpan<byte> line)
        {
            Lines++;
            Longest = Math.Max(Longest, line.Length);
            if (LineParser.Parse(line).Kind == EventKind.Unparsed)
                Unparsed++;
            Last = Encoding.UTF8.GetString(line[..Math.Min(line.Length, 200)]);
            processor.Process(line);
        }
    }
}
