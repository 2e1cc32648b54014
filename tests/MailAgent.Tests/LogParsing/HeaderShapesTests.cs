using MailAgent.LogParsing;

namespace MailAgent.Tests.LogParsing;

/// <summary>
/// The header reader has a fixed-offset path for the usual "Mmm dd hh:mm:ss host prog[pid]: " shape and a
/// general one for everything else: lines at the border between the two must read the same either way.
/// </summary>
public sealed class HeaderShapesTests
{
    [Theory]
    // The usual shape, two-digit and space-padded day.
    [InlineData("Nov 27 23:52:35 mail postfix/qmgr[1]: 4FE0BDC995: removed", 0, 11, 27, 85_955, "mail", "postfix/qmgr")]
    [InlineData("Apr  7 01:02:03 m postfix/qmgr[1]: 4FE0BDC995: removed", 0, 4, 7, 3723, "m", "postfix/qmgr")]
    // A leap second is a valid time.
    [InlineData("Dec 31 23:59:60 mail postfix/qmgr[1]: 4FE0BDC995: removed", 0, 12, 31, 86_400, "mail", "postfix/qmgr")]
    // A year after the time is the year; four digits followed by more than a space are a host name.
    [InlineData("Nov 27 23:52:35 2026 mail postfix/qmgr[1]: 4FE0BDC995: removed", 2026, 11, 27, 85_955, "mail", "postfix/qmgr")]
    [InlineData("Nov 27 23:52:35 2026x postfix/qmgr[1]: 4FE0BDC995: removed", 0, 11, 27, 85_955, "2026x", "postfix/qmgr")]
    // A one-digit day without padding, and fractions of a second, take the general path.
    [InlineData("Nov 7 23:52:35 mail postfix/qmgr[1]: 4FE0BDC995: removed", 0, 11, 7, 85_955, "mail", "postfix/qmgr")]
    [InlineData("Nov 27 23:52:35.5 mail postfix/qmgr[1]: 4FE0BDC995: removed", 0, 11, 27, 85_955, "mail", "postfix/qmgr")]
    // Tags: a pid with a space in it, a colon in the name, no pid.
    [InlineData("Nov 27 23:52:35 mail postfix/qmgr[1 2]: 4FE0BDC995: removed", 0, 11, 27, 85_955, "mail", "postfix/qmgr")]
    [InlineData("Nov 27 23:52:35 mail post:fix[1]: 4FE0BDC995: removed", 0, 11, 27, 85_955, "mail", "post:fix")]
    [InlineData("Nov 27 23:52:35 mail postfix/qmgr: 4FE0BDC995: removed", 0, 11, 27, 85_955, "mail", "postfix/qmgr")]
    public void Parse_HeaderShapes_ReadTimeHostAndTag(string line, int year, int month, int day, int secondOfDay, string host, string program)
    {
        var p = ParsedView.Of(line);

        Assert.Equal(year, p.Timestamp.Year);
        Assert.Equal(month, p.Timestamp.Month);
        Assert.Equal(day, p.Timestamp.Day);
        Assert.Equal(secondOfDay, p.Timestamp.SecondOfDay);
        Assert.Equal(host, p.Host);
        Assert.Equal(program, p.Program);
        // A program that is not Postfix keeps its whole message.
        Assert.Equal(program.StartsWith("postfix/", StringComparison.Ordinal) ? "removed" : "4FE0BDC995: removed", p.Message);
    }

    [Fact]
    public void Parse_MutatedHeaders_NeverThrow()
    {
        // Random fixtures rarely reach the fixed-offset path; valid headers cut short and with header characters
        // swapped in do, at every offset the fast paths read.
        var random = new Random(20261206);
        byte[] alphabet = "Nov 0123456789:[] .-/postfix"u8.ToArray();
        byte[][] lines =
        [
            "Nov 27 23:52:35 mail-oregon postfix/smtpd[28448]: 4FE0BDC995: client=localhost[127.0.0.1]"u8.ToArray(),
            "Apr  7 15:35:20 m postfix/qmgr[1]: 4FE0BDC995: removed"u8.ToArray(),
            "Nov 27 23:52:35 2026 mail postfix/smtp[9]: 4FE0BDC995: to=<a@b>, relay=x[1.2.3.4]:25, delay=1, status=sent (ok)"u8.ToArray(),
        ];
        int understood = 0;
        for (int i = 0; i < 30_000; i++)
        {
            var line = (byte[])lines[i % lines.Length].Clone();
            int mutations = random.Next(1, 4);
            for (int m = 0; m < mutations; m++)
                line[random.Next(Math.Min(line.Length, 40))] = alphabet[random.Next(alphabet.Length)];
            var cut = line.AsSpan(0, random.Next(line.Length + 1));

            var p = new ParsedLine();
            LineParser.Parse(cut, ref p);
            if (p.Kind != EventKind.Unparsed)
                understood++;
        }

        Assert.InRange(understood, 1, 29_999);
    }

    [Theory]
    // Bad values at the fixed offsets.
    [InlineData("Nov 27 23:52:3x mail postfix/qmgr[1]: 4FE0BDC995: removed")]
    [InlineData("Nov 00 23:52:35 mail postfix/qmgr[1]: 4FE0BDC995: removed")]
    [InlineData("Nov x7 23:52:35 mail postfix/qmgr[1]: 4FE0BDC995: removed")]
    [InlineData("Nov 27 23:60:35 mail postfix/qmgr[1]: 4FE0BDC995: removed")]
    [InlineData("Nov 27 23:52:61 mail postfix/qmgr[1]: 4FE0BDC995: removed")]
    // Tags that are not one: something between the pid and the colon, an empty pid bracket at the start, a colon right after "[".
    [InlineData("Nov 27 23:52:35 mail postfix/qmgr[1]x: 4FE0BDC995: removed")]
    [InlineData("Nov 27 23:52:35 mail [1]: 4FE0BDC995: removed")]
    [InlineData("Nov 27 23:52:35 mail postfix/qmgr[: 4FE0BDC995: removed")]
    [InlineData("Nov 27 23:52:35 mail postfix qmgr[1]: 4FE0BDC995: removed")]
    public void Parse_NotAHeader_IsUnparsed(string line)
    {
        var p = ParsedView.Of(line);

        Assert.Equal(EventKind.Unparsed, p.Kind);
        Assert.NotEqual("4FE0BDC995", p.QueueId);
    }
}
