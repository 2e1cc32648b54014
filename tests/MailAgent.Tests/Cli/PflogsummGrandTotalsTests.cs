namespace MailAgent.Tests.Cli;

public sealed class PflogsummGrandTotalsTests
{
    private const string Report = """
        Postfix log summaries for Nov 27

        Grand Totals
        ------------
        messages

          39300   received
          41785   delivered
              0   forwarded
           3200   deferred  (12633  deferrals)
           2000   bounced
            800   rejected (1%)
              0   reject warnings
              0   held
              0   discarded (0%)

          86772k  bytes received
            105m  bytes delivered
              6   senders
              2   sending hosts/domains
          34801   recipients
              6   recipient hosts/domains


        Per-Day Traffic Summary
        -----------------------
            date          received  delivered   deferred    bounced     rejected
        """;

    [Fact]
    public void Parse_GrandTotalsBlock_ReadsEveryFieldWithItsUnit()
    {
        var totals = PflogsummGrandTotals.Parse(Report);

        Assert.Equal(PflogsummGrandTotals.FieldNames.Order(), totals.Keys.Order());
        Assert.Equal(new PflogsummNumber(39300, ' '), totals["received"]);
        Assert.Equal(new PflogsummNumber(3200, ' '), totals["deferred"]);
        Assert.Equal(new PflogsummNumber(12633, ' '), totals["deferrals"]);
        Assert.Equal(new PflogsummNumber(800, ' '), totals["rejected"]);
        Assert.Equal(new PflogsummNumber(0, ' '), totals["discarded"]);
        Assert.Equal(new PflogsummNumber(86772, 'k'), totals["bytes_received"]);
        Assert.Equal(new PflogsummNumber(105, 'm'), totals["bytes_delivered"]);
        Assert.Equal(new PflogsummNumber(6, ' '), totals["recipient_hosts_domains"]);
    }

    [Theory]
    [InlineData(524288, 524288, ' ')]
    [InlineData(524289, 512, 'k')]
    [InlineData(88861455, 86778, 'k')]
    [InlineData(536870912, 524288, 'k')]
    [InlineData(536870913, 512, 'm')]
    public void As_Value_ScalesLikePflogsumm(long value, long shown, char unit)
    {
        var n = PflogsummNumber.As(value);

        Assert.Equal(new PflogsummNumber(shown, unit), n);
    }
}
