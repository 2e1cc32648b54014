using MailControlPlane.Connections;

namespace MailControlPlane.Tests.Connections;

public sealed class BackoffTests
{
    [Fact]
    public void Next_ConsecutiveFailures_DoublesWithJitterUpToMax()
    {
        var backoff = new Backoff(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(10), new Random(42));
        var waits = Enumerable.Range(0, 8).Select(_ => backoff.Next()).ToList();

        double[] ceilings = [1, 2, 4, 8, 10, 10, 10, 10];
        for (int i = 0; i < waits.Count; i++)
        {
            Assert.InRange(waits[i].TotalSeconds, ceilings[i] / 2, ceilings[i]);
        }

        // Jitter: not every wait at the cap is the same.
        Assert.True(waits.Skip(4).Distinct().Count() > 1);
    }

    [Fact]
    public void Reset_AfterFailures_StartsAgainAtMin()
    {
        var backoff = new Backoff(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(30), new Random(1));
        for (int i = 0; i < 5; i++)
            backoff.Next();
        backoff.Reset();
        Assert.InRange(backoff.Next().TotalSeconds, 0.5, 1);
    }
}
