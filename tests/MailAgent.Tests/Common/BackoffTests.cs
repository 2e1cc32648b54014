namespace MailAgent.Tests.Common;

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

    [Theory]
    [InlineData(1, 1000)]
    [InlineData(2, 2000)]
    [InlineData(3, 4000)]
    [InlineData(10, 10000)]
    public void Delay_NoJitter_DoublesUpToMax(int failures, int expectedMs)
    {
        var delay = Backoff.Delay(failures, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(10), 1);

        Assert.Equal(TimeSpan.FromMilliseconds(expectedMs), delay);
    }

    [Fact]
    public void Delay_Jitter_StaysBetweenHalfAndAllOfTheCeilingNeverBelowMin()
    {
        var low = Backoff.Delay(3, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(10), 0);
        var high = Backoff.Delay(3, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(10), 1);
        var capped = Backoff.Delay(30, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(10), 5);

        Assert.Equal(TimeSpan.FromSeconds(2), low);
        Assert.Equal(TimeSpan.FromSeconds(4), high);
        Assert.Equal(TimeSpan.FromSeconds(10), capped);
        Assert.Equal(TimeSpan.FromSeconds(1), Backoff.Delay(1, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(10), 0));
    }
}
