using MailControlPlane.Scoring;

namespace MailControlPlane.Tests.Scoring;

public sealed class DeliveryWindowTests
{
    private static readonly DateTimeOffset T0 = ScoringFixture.Start;

    [Fact]
    public void BucketCount_FifteenMinutesOf30Seconds_IsBounded()
    {
        var window = new DeliveryWindow(TimeSpan.FromMinutes(15), TimeSpan.FromSeconds(30));

        for (int i = 0; i < 100_000; i++)
            window.Record(T0.AddSeconds(i), T0.AddSeconds(i), DeliveryFault.None);

        Assert.Equal(31, window.BucketCount);
        Assert.InRange(window.Totals(T0.AddSeconds(99_999)).Attempts, 15 * 60, 15 * 60 + 30);
    }

    [Fact]
    public void Totals_AfterWindowPasses_Expire()
    {
        var window = new DeliveryWindow(TimeSpan.FromMinutes(15), TimeSpan.FromSeconds(30));
        window.Record(T0, T0, DeliveryFault.Connection);
        window.Record(T0, T0, DeliveryFault.Reputation);

        Assert.Equal(new DeliveryTotals(2, 2, 1, 1, 0, 0), window.Totals(T0.AddMinutes(14)));
        Assert.Equal(default, window.Totals(T0.AddMinutes(16)));
    }

    [Fact]
    public void Record_OlderThanWindow_IsDropped()
    {
        var window = new DeliveryWindow(TimeSpan.FromMinutes(15), TimeSpan.FromSeconds(30));

        window.Record(T0.AddMinutes(-20), T0, DeliveryFault.Connection);

        Assert.Equal(0, window.Totals(T0).Attempts);
    }

    [Fact]
    public void Record_InTheFuture_CountsAsNow()
    {
        var window = new DeliveryWindow(TimeSpan.FromMinutes(15), TimeSpan.FromSeconds(30));

        window.Record(T0.AddHours(1), T0, DeliveryFault.Tls);

        Assert.Equal(1, window.Totals(T0).Tls);
    }

    [Fact]
    public void Record_LateIntoReusedSlot_DoesNotEraseNewerBucket()
    {
        var window = new DeliveryWindow(TimeSpan.FromMinutes(15), TimeSpan.FromSeconds(30));
        var now = T0.AddMinutes(20);
        window.Record(now, now, DeliveryFault.None);

        // 15.5 min earlier maps to the same slot as now; it is outside the window and must not reset the slot.
        window.Record(now.AddSeconds(-31 * 30), now, DeliveryFault.Connection);

        Assert.Equal(new DeliveryTotals(1, 0, 0, 0, 0, 0), window.Totals(now));
    }
}
