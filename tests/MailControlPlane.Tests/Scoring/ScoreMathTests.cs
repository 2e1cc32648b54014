using MailControlPlane.Scoring;

namespace MailControlPlane.Tests.Scoring;

public sealed class ScoreMathTests
{
    [Theory]
    [InlineData(100, 100, 0.963005)]
    [InlineData(95, 100, 0.888248)]
    [InlineData(990, 1000, 0.981690)]
    [InlineData(980, 1000, 0.969310)]
    [InlineData(1000, 1000, 0.996173)]
    [InlineData(0, 10, 0.0)]
    public void WilsonLowerBound_KnownCounts_MatchesFormula(long successes, long trials, double expected)
    {
        Assert.Equal(expected, ScoreMath.WilsonLowerBound(successes, trials, 1.96), 6);
    }

    [Fact]
    public void WilsonLowerBound_NoTrials_IsZero()
    {
        Assert.Equal(0, ScoreMath.WilsonLowerBound(0, 0, 1.96));
    }

    [Theory]
    [InlineData(0.99, 1.0)]
    [InlineData(0.995, 1.0)]
    [InlineData(0.90, 0.0)]
    [InlineData(0.80, 0.0)]
    [InlineData(0.945, 0.5)]
    public void Linear_DeliveryAnchors_MapsTo01(double success, double expected)
    {
        Assert.Equal(expected, ScoreMath.Linear(success, 0.90, 0.99), 9);
    }

    [Theory]
    [InlineData(42, "42 s")]
    [InlineData(127, "2 min 7 s")]
    [InlineData(120, "2 min")]
    [InlineData(3900, "1 h 5 min")]
    public void Human_Durations_ReadForPeople(int seconds, string expected)
    {
        Assert.Equal(expected, ScoreMath.Human(TimeSpan.FromSeconds(seconds)));
    }
}
