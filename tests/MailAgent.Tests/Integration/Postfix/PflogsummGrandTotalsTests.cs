
namespace MailAgent.Tests.Integration.Postfix;

[Trait("Category", "Integration")]
public sealed class PflogsummGrandTotalsTests
{
    [ServerFact("pflogsumm")]
    public void Parse_CorpusSyslogReport_ReadsEveryGrandTotal()
    {
        var report = File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "data", "pflogsumm-real-postfix-3.7-syslog.txt"));

        var totals = PflogsummGrandTotals.Parse(report);

        Assert.Equal(new PflogsummGrandTotals(
            Received: 2000, Delivered: 1900, Forwarded: 0, Deferred: 100, Deferrals: 100, Bounced: 100,
            Rejected: 20, RejectWarnings: 0, Held: 0, Discarded: 0, Senders: 1, Recipients: 1801), totals);
    }

    [ServerFact("pflogsumm")]
    public void Parse_NoGrandTotals_Throws()
    {
        Assert.Throws<FormatException>(() => PflogsummGrandTotals.Parse("Per-Hour Traffic Summary\n"));
    }
}
