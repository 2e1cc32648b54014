using MailAgent.LogParsing;

namespace MailAgent.Tests.LogParsing;

public sealed class LogClockTests
{
    [Fact]
    public void ToUnixSeconds_BsdStampInReferenceMonth_UsesTheReferenceYear()
    {
        var clock = new LogClock(new DateTimeOffset(2026, 11, 28, 12, 0, 0, TimeSpan.Zero));

        double t = clock.ToUnixSeconds(Stamp("Nov 27 23:52:35"));

        Assert.Equal(Unix(2026, 11, 27, 23, 52, 35), t);
    }

    [Fact]
    public void ToUnixSeconds_BsdStampInALaterMonth_IsLastYear()
    {
        var clock = new LogClock(new DateTimeOffset(2027, 1, 2, 0, 0, 0, TimeSpan.Zero));

        double t = clock.ToUnixSeconds(Stamp("Dec 31 23:59:59"));

        Assert.Equal(Unix(2026, 12, 31, 23, 59, 59), t);
    }

    [Fact]
    public void ToUnixSeconds_LogCrossingNewYear_AdvancesTheYear()
    {
        var clock = new LogClock(new DateTimeOffset(2027, 1, 2, 0, 0, 0, TimeSpan.Zero));

        double dec = clock.ToUnixSeconds(Stamp("Dec 31 23:59:59"));
        double jan = clock.ToUnixSeconds(Stamp("Jan  1 00:00:01"));
        double stray = clock.ToUnixSeconds(Stamp("Dec 31 23:59:58"));
        double janAgain = clock.ToUnixSeconds(Stamp("Jan  1 00:00:02"));

        Assert.Equal(Unix(2026, 12, 31, 23, 59, 59), dec);
        Assert.Equal(Unix(2027, 1, 1, 0, 0, 1), jan);
        Assert.Equal(Unix(2026, 12, 31, 23, 59, 58), stray);
        Assert.Equal(Unix(2027, 1, 1, 0, 0, 2), janAgain);
    }

    [Fact]
    public void ToUnixSeconds_Rfc3339WithOffset_IsConvertedToUtc()
    {
        var clock = new LogClock(new DateTimeOffset(2026, 11, 28, 12, 0, 0, TimeSpan.Zero));

        double t = clock.ToUnixSeconds(Stamp("2026-11-27T23:52:30.25+02:00"));

        Assert.Equal(Unix(2026, 11, 27, 21, 52, 30) + 0.25, t, 6);
    }

    [Fact]
    public void ToUnixSeconds_Rfc3339WithNegativeOffset_IsConvertedToUtc()
    {
        var clock = new LogClock(new DateTimeOffset(2026, 11, 28, 12, 0, 0, TimeSpan.Zero));

        double t = clock.ToUnixSeconds(Stamp("2026-11-27T23:52:30-05:30"));

        Assert.Equal(Unix(2026, 11, 28, 5, 22, 30), t);
    }

    [Fact]
    public void ToUnixSeconds_Rfc3339InAnotherYear_KeepsItsOwnYear()
    {
        var clock = new LogClock(new DateTimeOffset(2026, 11, 28, 12, 0, 0, TimeSpan.Zero));

        double t = clock.ToUnixSeconds(Stamp("2023-02-01T01:02:04Z"));

        Assert.Equal(Unix(2023, 2, 1, 1, 2, 4), t);
    }

    [Theory]
    [InlineData("Feb 30 10:00:00")]
    [InlineData("2026-02-29T10:00:00Z")]
    [InlineData("Jun 31 10:00:00")]
    public void ToUnixSeconds_DayNotInMonth_IsNaN(string stamp)
    {
        var clock = new LogClock(new DateTimeOffset(2026, 11, 28, 12, 0, 0, TimeSpan.Zero));

        double t = clock.ToUnixSeconds(Stamp(stamp));

        Assert.True(double.IsNaN(t));
    }

    [Fact]
    public void ToUnixSeconds_LeapDayInLeapYear_IsValid()
    {
        var clock = new LogClock(new DateTimeOffset(2028, 3, 1, 0, 0, 0, TimeSpan.Zero));

        double t = clock.ToUnixSeconds(Stamp("Feb 29 12:00:00"));

        Assert.Equal(Unix(2028, 2, 29, 12, 0, 0), t);
    }

    [Fact]
    public void ToUnixSeconds_InvalidStamp_IsNaN()
    {
        var clock = new LogClock(new DateTimeOffset(2026, 11, 28, 12, 0, 0, TimeSpan.Zero));

        double t = clock.ToUnixSeconds(default);

        Assert.True(double.IsNaN(t));
    }

    private static LogTimestamp Stamp(string stamp)
    {
        var p = ParsedView.Of($"{stamp} mail postfix/qmgr[1]: 4FE0BDC995: removed");
        Assert.Equal(EventKind.QmgrRemoved, p.Kind);
        return p.Timestamp;
    }

    private static double Unix(int year, int month, int day, int hour, int minute, int second) =>
        new DateTimeOffset(year, month, day, hour, minute, second, TimeSpan.Zero).ToUnixTimeSeconds();
}
