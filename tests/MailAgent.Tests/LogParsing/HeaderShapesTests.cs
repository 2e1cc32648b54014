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
