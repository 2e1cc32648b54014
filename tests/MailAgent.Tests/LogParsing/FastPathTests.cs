using System.Buffers.Binary;
using System.Text;
using MailAgent.Correlation;
using MailAgent.LogParsing;

namespace MailAgent.Tests.LogParsing;

/// <summary>
/// The per-line fast paths (the header cache, the "postfix/NAME[PID]: " tag, the short queue ID, its packed key,
/// delays=, the clock's last instant) must give exactly what the general code gives, for real logs and
/// for the shapes next to the ones they take.
/// </summary>
public sealed class FastPathTests
{
    public static TheoryData<string> Logs => new()
    {
        "real-postfix-3.7.log.gz", "real-postfix-3.7-syslog.log.gz", "opendkim-dovecot-mail.log.gz", "example-lines.txt", "public-fixture-lines.txt",
    };

    [Theory]
    [MemberData(nameof(Logs))]
    public void Parse_WithHeaderCache_EqualsParseWithout(string log)
    {
        var cache = new HeaderCache();
        int lines = 0;
        foreach (var line in TestData.ReadLines(log))
        {
            var bytes = Encoding.UTF8.GetBytes(line);
            var expected = ParsedView.Of(bytes);
            var actual = ParsedView.Of(bytes, cache);
            Assert.True(expected == actual, $"line {lines + 1} of {log}: {line}\nexpected {expected}\nactual   {actual}");
            lines++;
        }

        Assert.True(lines > 10, $"{log} has {lines} lines");
    }

    // Neighbours of the cached and fast shapes, in an order that makes stale cache entries show.
    private static readonly string[] Tricky =
    [
        "Nov 27 23:52:35 mail postfix/smtpd[1]: connect from a[1.2.3.4]",
        "Nov 27 23:52:35 mail-oregon postfix/smtpd[1]: connect from a[1.2.3.4]",
        "Nov 27 23:52:35 mail postfix/smtpd[1]: connect from a[1.2.3.4]",
        "Nov 27 23:52:35 mail  postfix/smtpd[1]: connect from a[1.2.3.4]",
        "Nov 27 23:52:35 mailx postfix/smtpd[1]: connect from a[1.2.3.4]",
        "Nov 27 23:52:35 2026 mail postfix/smtpd[1]: connect from a[1.2.3.4]",
        "Nov 27 23:52:35 2026 mail postfix/smtpd[1]: connect from a[1.2.3.4]",
        "Nov 27 23:52:35 mail postfix/smtpd[1]: connect from a[1.2.3.4]",
        "Nov 27 23:52:35.123456 mail postfix/smtpd[1]: connect from a[1.2.3.4]",
        "Nov 27 23:52:35 mail postfix/smtpd[1]: connect from a[1.2.3.4]",
        "Nov 27 23:52:36 mail postfix/smtpd[1]: connect from a[1.2.3.4]",
        "Nov 27 23:52:36 mail",
        "Nov 27 23:52:36 mail ",
        "Nov 27 23:52:36 mail postfix/smtpd[1]",
        "Nov 27 23:52:36 mail postfix/smtpd[1]:",
        "Nov 27 23:52:36 mail postfix/smtpd[1]: ",
        "Nov 27 23:52:36 mail postfix/smtpd[]: x",
        "Nov 27 23:52:36 mail postfix/smtpd[12a]: x",
        "Nov 27 23:52:36 mail postfix/smtpd[12]:x",
        "Nov 27 23:52:36 mail postfix/smtpd[12] : x",
        "Nov 27 23:52:36 mail postfix/smtpdx[12]: x",
        "Nov 27 23:52:36 mail postfix/smtp[12]: x",
        "Nov 27 23:52:36 mail postfix/smtp d[12]: x",
        "Nov 27 23:52:36 mail postfix/sm:tp[12]: x",
        "Nov 27 23:52:36 mail postfix/[12]: x",
        "Nov 27 23:52:36 mail postfix/submission/smtpd[12]: connect from a[1.2.3.4]",
        "Nov 27 23:52:36 mail postfix/trivial-rewrite[12]: x",
        "Nov 27 23:52:36 mail postfix/postscreen[12]: CONNECT from [1.2.3.4]:5 to [5.6.7.8]:25",
        "Nov 27 23:52:36 mail postfix/cleanup[12]: [ID 197553 mail.info] 4FE0BDC995: message-id=<a@b>",
        "Nov 27 23:52:36 mail postfix-out/smtp[12]: 4FE0BDC995: to=<a@b>, relay=none, delay=1, status=sent (ok)",
        "Nov 27 23:52:36 mail postfix/smtp: 4FE0BDC995: to=<a@b>, relay=none, delay=1, status=sent (ok)",
        "Nov 27 23:52:36 mail opendkim[12]: 4FE0BDC995: DKIM-Signature field added (s=a, d=b)",
        "Nov  7 23:52:36 mail postfix/qmgr[12]: 4FE0BDC995: removed",
        "Nov  7 23:52:36 mail postfix/qmgr[12]: 4fe0bdc995: removed",
        "Nov  7 23:52:36 mail postfix/qmgr[12]: 4FE0: removed",
        "Nov  7 23:52:36 mail postfix/qmgr[12]: 4FE0BDC99512345678901: removed",
        "Nov  7 23:52:36 mail postfix/qmgr[12]: 4FE0BDC9951234567890123: removed",
        "Nov  7 23:52:36 mail postfix/qmgr[12]: 3xWyLP6Nmfz23fk: removed",
        "Nov  7 23:52:36 mail postfix/qmgr[12]: 4FE0BDC995:removed and more text after it",
        "Nov  7 23:52:36 mail postfix/qmgr[12]: 4FE0:BDC995: removed and more text after it",
        "2026-11-27T23:52:30.122603+00:00 mail postfix/smtpd[1]: connect from a[1.2.3.4]",
        "2026-11-27T23:52:30.122603+00:00 mail postfix/smtpd[1]: connect from a[1.2.3.4]",
        "<22>Nov 27 23:52:36 mail postfix/smtpd[1]: connect from a[1.2.3.4]",
        "Nov 27 23:52:36 mail postfix/smtpd[1]: connect from a[1.2.3.4]",
        "Foo 27 23:52:36 mail postfix/smtpd[1]: connect from a[1.2.3.4]",
        "Nov 27 23:52:36 m postfix/smtpd[1]: x",
        "Nov 27 23:52:36 mx postfix/smtpd[1]: x",
        "Nov 27 23:52:36 my postfix/smtpd[1]: x",
        "Nov 27 23:52:36 mxy postfix/smtpd[1]: x",
        "Nov 27 23:52:36 mailhost postfix/smtpd[1]: x",
        "Nov 27 23:52:36 mailhosu postfix/smtpd[1]: x",
        "Nov 27 23:52:36 mailhost-a-b-c-d postfix/smtpd[1]: x",
        "Nov 27 23:52:36 mailhost-a-X-c-d postfix/smtpd[1]: x",
        "Nov 27 23:52:36 mail.example.org.abc postfix/smtpd[1]: x",
        "Nov 27 23:52:36 mail.exXmple.org.abc postfix/smtpd[1]: x",
        "Nov 27 23:52:36 mail.example.org.abc postfix/smtpd[1234567]: x",
        "Nov 27 23:52:36 mail.example.org.abc postfix/smtpd[12345678]: x",
        "Nov 27 23:52:36 mail.example.org.abc postfix/smtpd[123456789012]: x",
        "Nov 27 23:52:36 mail.example.org.abc postfix/smtpd[12é34]: x",
        "Nov 27 23:52:36 mail.example.org.abc postfix/smtpd[12/34]: x",
        "Nov 27 23:52:36 mail.example.org.abc postfix/smtpd[1]]: x",
        "Nov 27 23:52:36 mail.example.org.abc postfix/smtpd[1]",
        "Nov 27 23:52:36 mail.example.org.abc postfix/smtpd[123]: ",
        "Nov 27 23:52:36 mail.example.org.abc",
    ];

    [Fact]
    public void Parse_NeighboursOfTheFastShapes_EqualParseWithout()
    {
        var cache = new HeaderCache();
        foreach (var line in Tricky.Concat(Tricky.Reverse()))
        {
            var bytes = Encoding.UTF8.GetBytes(line);
            Assert.Equal(ParsedView.Of(bytes), ParsedView.Of(bytes, cache));
        }
    }

    [Fact]
    public void ShortDaemonOf_EveryKnownNameOfUpToSevenBytes_IsWhatDaemonOfSays()
    {
        int names = 0;
        foreach (var daemon in Enum.GetValues<Daemon>())
        {
            var name = Encoding.ASCII.GetBytes(daemon.ToString().ToLowerInvariant());
            if (name.Length > 7 || Header.DaemonOf(name) != daemon)
                continue;
            var padded = new byte[8];
            name.CopyTo(padded, 0);
            Assert.Equal(daemon, Header.ShortDaemonOf(BinaryPrimitives.ReadUInt64LittleEndian(padded)));
            names++;
        }

        Assert.True(names >= 20, $"{names} names");
        Assert.Equal(Daemon.Other, Header.ShortDaemonOf(BinaryPrimitives.ReadUInt64LittleEndian("smtpdx\0\0"u8)));
    }

    [Fact]
    public void TrySplit_CorpusAndNeighbours_EqualsTheGeneralReader()
    {
        var messages = TestData.ReadLines("real-postfix-3.7.log.gz").Take(50_000)
            .Select(l => l[(l.IndexOf("]: ", StringComparison.Ordinal) + 3)..])
            .Concat(Tricky.Select(l => l[(l.IndexOf(": ", StringComparison.Ordinal) + 2)..]))
            .Concat(
            [
                "4FE0BDC995: removed", "4FE0BDC995:removed and more text after it..", "4FE0B: the shortest ID at 26 bytes or more",
                "4FE0: too short, with more than twenty-six bytes", "ABCDEFABCDEFABC: fifteen digits then more bytes",
                "ABCDEFABCDEFABCD: sixteen digits then more bytes", "ABCDEFABCDEFABCDEF01: twenty digits then more bytes",
                "no colon in the first sixteen bytes: then one", "no colon in the first twenty-six bytes at all here",
                "NOQUEUE: reject: RCPT from x[1.2.3.4]: 554 5.7.1", "3xWyLP6Nmfz23fk: from=<a@b>, size=1, nrcpt=1 (queue active)",
                "FGHIJ67890: other MTA style with more bytes after", "4fe0bdc995: lower case hex is not a short ID here",
                "4FE0BDC995 : a space before the colon, more bytes", "4FE0BD\u00C9995: non-ASCII byte inside the ID, more",
                "exactly twenty-six bytes..", "exactly twenty-six bytes.:", "4FE0BDC995: ", "4FE0BDC995:",
            ]);
        int n = 0;
        foreach (var m in messages)
        {
            var bytes = Encoding.UTF8.GetBytes(m);
            bool fast = QueueIds.TrySplit(bytes, out var id, out var rest);
            bool general = QueueIds.TrySplitGeneral(bytes, out var gid, out var grest);
            Assert.True(fast == general && id.SequenceEqual(gid) && rest.SequenceEqual(grest), m);
            n++;
        }

        Assert.True(n > 50_000);
    }

    [Fact]
    public void QueueIdKeyFrom_AnyId_EqualsTheCharacterLoop()
    {
        var random = new Random(18);
        const string hex = "0123456789ABCDEF";
        const string other = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz:/ \u00C9\0";
        for (int i = 0; i < 20_000; i++)
        {
            int length = random.Next(1, 24);
            string alphabet = i % 4 == 0 ? other : hex;
            var id = new StringBuilder();
            for (int j = 0; j < length; j++)
                id.Append(alphabet[random.Next(alphabet.Length)]);
            var bytes = Encoding.UTF8.GetBytes(id.ToString());
            Assert.True(QueueIdKey.From(bytes) == QueueIdKey.Slow(bytes), id.ToString());
        }
    }

    [Fact]
    public void QueueIdKeyFrom_ShortHexId_PacksSixBitsACharacter()
    {
        // '4' → 5, 'F' → 16, 'E' → 15, '0' → 1, ...: the layout the checkpoint stores, which must not change.
        var key = QueueIdKey.From("4FE0BDC995AB"u8);
        ulong low = 0;
        byte[] codes = [5, 16, 15, 1, 12, 14, 13, 10, 10, 6];
        for (int i = 0; i < codes.Length; i++)
            low |= (ulong)codes[i] << (6 * i);
        Assert.Equal(low, key.Low);
        Assert.Equal(11UL | (12UL << 6), key.High);
    }

    [Fact]
    public void ParseDelays_AnyValue_EqualsThePartByPartReading()
    {
        var random = new Random(18);
        const string alphabet = "0123456789./x";
        var values = new List<string> { "", "0.13/0.25/0/0", "1/2/3/4", "1/2/3/4/5", "1/2/3", "1./2/3/.4", "0.1234567891234/0/0/0",
            "1234567890123456789012345/0/0/0", "123456789012345678901234/0/0/0", "1/2/3/123456789012345678901234", "1/2/3/1234567890123456789012345",
            "//////", "1//2/3", "1/2/3/", "a/1/2/3", "1.2.3/0/0/0" };
        for (int i = 0; i < 20_000; i++)
        {
            var v = new StringBuilder();
            for (int j = random.Next(0, 30); j > 0; j--)
                v.Append(alphabet[random.Next(i % 2 == 0 ? alphabet.Length : alphabet.Length - 1)]);
            values.Add(v.ToString());
        }

        foreach (var value in values)
        {
            var bytes = Encoding.ASCII.GetBytes(value);
            var fast = new ParsedLine();
            var general = new ParsedLine();
            Delivery.ParseDelays(bytes, ref fast);
            Delivery.ParseDelaysGeneral(bytes, ref general);
            Assert.True(fast.HasDelays == general.HasDelays && fast.DelayBeforeQueueManager.Equals(general.DelayBeforeQueueManager)
                && fast.DelayInQueueManager.Equals(general.DelayInQueueManager) && fast.DelayConnectionSetup.Equals(general.DelayConnectionSetup)
                && fast.DelayTransmission.Equals(general.DelayTransmission), value);
        }
    }

    [Theory]
    [InlineData("from=<a@b>, size=2781, nrcpt=1 (queue active)", 2781, 1)]
    [InlineData("from=<a@b>, size=2781, nrcpt=12", 2781, 12)]
    [InlineData("from=<a@b>, size=2781 nrcpt=3 (queue active)", 2781, 3)]
    [InlineData("from=<a@b>, size=2781, nrcpt=x (queue active)", 2781, -1)]
    [InlineData("from=<a@b>, size=2781, other=1, nrcpt=4", 2781, 4)]
    [InlineData("from=<>, size=0, nrcpt=99999999999 (queue active)", 0, int.MaxValue)]
    public void Parse_QmgrQueued_SizeAndRecipients(string message, long size, int recipients)
    {
        var p = ParsedView.Of($"Nov 27 23:52:36 mail postfix/qmgr[12]: 4FE0BDC995: {message}");

        Assert.Equal(EventKind.QmgrQueued, p.Kind);
        Assert.Equal(size, p.Size);
        Assert.Equal(recipients, p.Recipients);
    }

    [Fact]
    public void ToUnixSeconds_SameStampAgain_EqualsAClockThatSawItOnce()
    {
        var reference = new DateTimeOffset(2027, 1, 2, 0, 0, 0, TimeSpan.Zero);
        string[] stamps = ["Dec 31 23:59:59", "Dec 31 23:59:59", "Jan  1 00:00:01", "Jan  1 00:00:01", "Dec 31 23:59:58", "Dec 31 23:59:58",
            "Jan  1 00:00:02", "Feb 30 00:00:00", "Feb 30 00:00:00", "Jan  1 00:00:02", "2026-11-27T23:52:30.25+02:00", "2026-11-27T23:52:30.25+02:00", "Jan  1 00:00:02"];
        var memo = new LogClock(reference);
        var plain = new LogClock(reference);
        string? last = null;
        double lastPlain = double.NaN;
        foreach (var stamp in stamps)
        {
            double got = memo.ToUnixSeconds(Stamp(stamp));
            // The plain clock sees each run of equal stamps once, so it cannot have used the repeat.
            double want = stamp == last ? lastPlain : plain.ToUnixSeconds(Stamp(stamp));
            Assert.Equal(want, got);
            (last, lastPlain) = (stamp, want);
        }
    }

    [Fact]
    public void ToUnixSeconds_StateRestoredBetweenEqualStamps_UsesTheRestoredYear()
    {
        var clock = new LogClock(new DateTimeOffset(2026, 11, 28, 12, 0, 0, TimeSpan.Zero));
        double first = clock.ToUnixSeconds(Stamp("Nov 27 23:52:35"));

        clock.State = (2025, 11);
        double again = clock.ToUnixSeconds(Stamp("Nov 27 23:52:35"));

        Assert.Equal(first - (365 * 86400), again);
    }

    private static LogTimestamp Stamp(string text) => ParsedView.Of($"{text} host postfix/qmgr[1]: removed").Timestamp;
}
