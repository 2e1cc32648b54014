using MailControlPlane.Scoring;
using Microsoft.Extensions.Time.Testing;

namespace MailControlPlane.Tests.Scoring;

public sealed class ScoringOptionsTests
{
    [Fact]
    public void Validate_Defaults_NoErrors()
    {
        Assert.Empty(new ScoringOptions().Validate());
    }

    [Fact]
    public void Defaults_AreTheDesignNumbers()
    {
        var o = new ScoringOptions();

        Assert.Equal(TimeSpan.FromSeconds(2), o.EvaluationInterval);
        Assert.Equal(TimeSpan.FromMinutes(15), o.DeliveryWindow);
        Assert.Equal([40.0, 15, 15, 20, 10], [o.DeliveryWeight, o.ReputationWeight, o.QueueWeight, o.ChecksWeight, o.HostWeight]);
        Assert.Equal(0.3, o.EwmaAlpha);
        Assert.Equal([0.01, 0.10], [o.DeliveryFailureFull, o.DeliveryFailureZero]);
        Assert.Equal(3, o.RecoverDeliveries);
        Assert.Equal(10, o.ReputationZeroPerThousand);
        Assert.Equal([TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(90)], [o.HeartbeatFreezeAfter, o.HeartbeatZeroAfter]);
        Assert.Equal([40, 10, 50, 20], [o.DkimBrokenCap, o.DiskCap, o.ChangeCap, o.BlocklistCap]);
        Assert.Equal([70, 2, 50, 3, 10, 80, 5], [o.DegradedBelow, o.DegradedEvaluations, o.FailedBelow, o.FailedEvaluations, o.DeactivateAfterFailedEvaluations, o.RecoverAtOrAbove, o.RecoverEvaluations]);
        Assert.Equal([TimeSpan.FromSeconds(30), TimeSpan.FromMinutes(30), TimeSpan.FromHours(24)], [o.EjectionBase, o.EjectionMax, o.EjectionHistory]);
        Assert.Equal(0.1, o.EjectionJitter);
    }

    [Fact]
    public void Validate_BadValues_NameKeyValueAndRange()
    {
        var o = new ScoringOptions { EwmaAlpha = 1.5, DeliveryWeight = 50, DegradedBelow = 30, HeartbeatZeroAfter = TimeSpan.FromSeconds(10) };

        var errors = o.Validate();

        Assert.Contains("Scoring:EwmaAlpha = 1.5 is not valid: use a number above 0 up to 1", errors);
        Assert.Contains(errors, e => e.StartsWith("Scoring:*Weight add up to 110", StringComparison.Ordinal) && e.EndsWith("they must add up to 100", StringComparison.Ordinal));
        Assert.Contains("Scoring:FailedBelow = 50 is above Scoring:DegradedBelow = 30: use a failed threshold at or below the degraded one", errors);
        Assert.Contains("Scoring:HeartbeatZeroAfter = 00:00:10 is not longer than Scoring:HeartbeatFreezeAfter = 00:00:30: the score freezes first, then drops to 0", errors);
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(101)]
    public void Validate_BlocklistCapOutOfRange_NamesKeyAndRange(int cap)
    {
        var errors = new ScoringOptions { BlocklistCap = cap }.Validate();

        Assert.Contains($"Scoring:BlocklistCap = {cap} is not valid: use 0 to 100", errors);
    }

    [Fact]
    public void Constructor_InvalidOptions_Throws()
    {
        var e = Assert.Throws<ArgumentException>(() => new HealthScorer(new ScoringOptions { EvaluationInterval = TimeSpan.Zero }, new FakeTimeProvider()));

        Assert.Contains("Scoring:EvaluationInterval = 00:00:00 is not valid", e.Message, StringComparison.Ordinal);
    }
}
