using MailControlPlane.Scoring;

namespace MailControlPlane.Tests.Scoring;

public sealed class HealthScorerStateTests
{
    private const string Provider = "postfix-oregon";
    private const string Other = "postfix-virginia";

    private static ScoringFixture Fixture(Action<ScoringOptions>? tweak = null)
    {
        var options = ScoringFixture.StateOptions();
        tweak?.Invoke(options);
        return new ScoringFixture(options);
    }

    private static AgentObservation PostfixDown(ScoringFixture f) =>
        new(f.Time.GetUtcNow(), [new("postfix", CheckStatus.Unhealthy, "the Postfix mail system is not running")], null);

    [Fact]
    public void Evaluate_SoftScore_MatchesFixtureTarget()
    {
        var f = Fixture();

        Assert.Equal(65, f.Evaluate(Provider, f.Soft(65)).Score);
        Assert.Equal(20, f.Step(Provider, () => f.Soft(20)).Score);
        Assert.Equal(100, f.Step(Provider, () => f.Serving(Provider)).Score);
    }

    [Fact]
    public void Evaluate_Below70Twice_Degraded()
    {
        var f = Fixture();
        Assert.Equal(ProviderState.Healthy, f.Evaluate(Provider, f.Soft(100)).State);

        var once = f.Step(Provider, () => f.Soft(65));
        var twice = f.Step(Provider, () => f.Soft(65));

        Assert.Equal(ProviderState.Healthy, once.State);
        Assert.Equal(ProviderState.Degraded, twice.State);
        Assert.True(twice.StateChanged);
        Assert.StartsWith("degraded (score below 70 for 2 evaluations)", twice.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Evaluate_DegradedThen80FiveTimes_Healthy()
    {
        var f = Fixture();
        f.Evaluate(Provider, f.Soft(60));
        f.Step(Provider, () => f.Soft(60));

        var states = Enumerable.Range(0, 5).Select(_ => f.Step(Provider, () => f.Soft(80)).State).ToArray();

        Assert.Equal([ProviderState.Degraded, ProviderState.Degraded, ProviderState.Degraded, ProviderState.Degraded, ProviderState.Healthy], states);
    }

    [Fact]
    public void Evaluate_Below40ThreeTimes_Failed()
    {
        var f = Fixture();

        var states = new[] { f.Evaluate(Provider, f.Soft(30)), f.Step(Provider, () => f.Soft(30)), f.Step(Provider, () => f.Soft(30)) };

        Assert.Equal([ProviderState.Healthy, ProviderState.Degraded, ProviderState.Failed], states.Select(s => s.State));
        Assert.StartsWith("failed (score below 40 for 3 evaluations; ejection 1 in 24 h: out for ", states[2].Reason, StringComparison.Ordinal);
        Assert.True(states[2].IsActive);
    }

    [Fact]
    public void Evaluate_CapZero_FailedAtOnce()
    {
        var f = Fixture();
        f.Evaluate(Provider, f.Soft(100));

        var a = f.Step(Provider, () => PostfixDown(f));

        Assert.Equal(ProviderState.Failed, a.State);
        Assert.Equal(0, a.Score);
        Assert.True(a.StateChanged);
    }

    [Fact]
    public void Evaluate_TenFailedEvaluations_Inactive()
    {
        var f = Fixture();
        var results = new List<ProviderAssessment> { f.Evaluate(Provider, f.Soft(10), withoutAgent: 1) };
        for (int i = 0; i < 12; i++)
            results.Add(f.Step(Provider, () => f.Soft(10), withoutAgent: 1));

        int firstFailed = results.FindIndex(r => r.State == ProviderState.Failed);
        int firstInactive = results.FindIndex(r => !r.IsActive);
        Assert.Equal(2, firstFailed);
        Assert.Equal(firstFailed + 9, firstInactive); // the 10th failed evaluation
        Assert.Contains("is_active set false after 10 failed evaluations", results[firstInactive].Reason, StringComparison.Ordinal);
        Assert.All(results.Skip(firstInactive), r => Assert.False(r.IsActive));
    }

    [Fact]
    public void Evaluate_FailedRecovers_ProbationAfterEjectionThenHealthy()
    {
        var f = Fixture();
        f.Evaluate(Provider, f.Soft(100), withoutAgent: 1);
        var failedAt = f.Time.GetUtcNow() + f.Options.EvaluationInterval;
        Assert.Equal(ProviderState.Failed, f.Step(Provider, () => PostfixDown(f), withoutAgent: 1).State);
        for (int i = 0; i < 10; i++)
            f.Step(Provider, () => PostfixDown(f), withoutAgent: 1);

        // Healthy signals again: the provider stays failed and inactive until the ejection time is over.
        ProviderAssessment a;
        do
        {
            a = f.Step(Provider, () => f.Serving(Provider), withoutAgent: 1);
            if (a.State == ProviderState.Failed)
                Assert.False(a.IsActive);
        }
        while (a.State == ProviderState.Failed);

        var ejection = f.Time.GetUtcNow() - failedAt;
        Assert.Equal(ProviderState.Probation, a.State);
        Assert.True(a.IsActive);
        Assert.True(a.StateChanged);
        Assert.InRange(ejection, TimeSpan.FromSeconds(108), TimeSpan.FromSeconds(132) + f.Options.EvaluationInterval);

        var probation = Enumerable.Range(0, 5).Select(_ => f.Step(Provider, () => f.Serving(Provider), withoutAgent: 1)).ToArray();
        Assert.All(probation.Take(4), p => Assert.Equal(ProviderState.Probation, p.State));
        Assert.Equal(ProviderState.Healthy, probation[4].State);
        Assert.StartsWith("healthy (recovered: score 80 or above for 5 evaluations on probation)", probation[4].Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Evaluate_CapZeroStillInForce_StaysFailedPastEjectionTime()
    {
        var f = Fixture();
        f.Evaluate(Provider, PostfixDown(f), withoutAgent: 1);
        for (int i = 0; i < 150; i++)
            Assert.Equal(ProviderState.Failed, f.Step(Provider, () => PostfixDown(f), withoutAgent: 1).State);

        // Healthy again and long past the ejection time, but time is not evidence: still failed.
        for (int i = 0; i < 100; i++)
            Assert.Equal(ProviderState.Failed, f.Step(Provider, () => f.Soft(100), withoutAgent: 1).State);

        // Fresh evidence (RecoverDeliveries successful deliveries): probation.
        f.Scorer.RecordDelivery(Provider, f.Time.GetUtcNow(), DeliveryOutcomeKind.Sent, "2.0.0");
        f.Scorer.RecordDelivery(Provider, f.Time.GetUtcNow(), DeliveryOutcomeKind.Sent, "2.0.0");
        var a = f.Step(Provider, () => f.Serving(Provider), withoutAgent: 1);
        Assert.Equal(ProviderState.Probation, a.State);
        Assert.True(a.IsActive);
        Assert.True(a.ActiveChanged);
        Assert.Contains("3 deliveries without a server failure", a.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Evaluate_ProbationFallsAgain_FailedWithLongerEjection()
    {
        var f = Fixture();
        f.Evaluate(Provider, PostfixDown(f), withoutAgent: 1);
        while (f.Step(Provider, () => f.Serving(Provider), withoutAgent: 1).State != ProviderState.Probation)
        {
        }

        var again = f.Step(Provider, () => f.Soft(20), withoutAgent: 1);
        var failedAt = f.Time.GetUtcNow();
        while (f.Step(Provider, () => f.Serving(Provider), withoutAgent: 1).State != ProviderState.Probation)
        {
        }

        Assert.Equal(ProviderState.Failed, again.State);
        Assert.StartsWith("failed (on probation, score below 40 for 1 evaluations; ejection 2 in 24 h", again.Reason, StringComparison.Ordinal);
        Assert.True(again.IsActive); // is_active waits for 10 failed evaluations again
        Assert.InRange(f.Time.GetUtcNow() - failedAt, TimeSpan.FromSeconds(216), TimeSpan.FromSeconds(264) + f.Options.EvaluationInterval);
    }

    [Fact]
    public void Evaluate_RepeatedEjections_GrowTwoMinutesEachUpTo30()
    {
        var f = Fixture(o => o.EvaluationInterval = TimeSpan.FromSeconds(10));
        var measured = new List<TimeSpan>();
        f.Evaluate(Provider, f.Soft(100), withoutAgent: 1);
        for (int n = 1; n <= 18; n++)
        {
            Assert.Equal(ProviderState.Failed, f.Step(Provider, () => PostfixDown(f), withoutAgent: 1).State);
            var failedAt = f.Time.GetUtcNow();
            while (f.Step(Provider, () => f.Serving(Provider), withoutAgent: 1).State != ProviderState.Probation)
            {
            }

            measured.Add(f.Time.GetUtcNow() - failedAt);
        }

        for (int n = 1; n <= measured.Count; n++)
        {
            var expected = TimeSpan.FromMinutes(Math.Min(2 * n, 30));
            Assert.InRange(measured[n - 1], expected * 0.9, expected * 1.1 + f.Options.EvaluationInterval);
        }

        // A day later the history is forgotten: back to 2 minutes.
        f.Time.Advance(TimeSpan.FromHours(25));
        Assert.Equal(ProviderState.Failed, f.Evaluate(Provider, PostfixDown(f), withoutAgent: 1).State);
        var start = f.Time.GetUtcNow();
        while (f.Step(Provider, () => f.Serving(Provider), withoutAgent: 1).State != ProviderState.Probation)
        {
        }

        Assert.InRange(f.Time.GetUtcNow() - start, TimeSpan.FromSeconds(108), TimeSpan.FromSeconds(142));
    }

    [Fact]
    public void Evaluate_SameJitterSeed_SameEjectionTimes()
    {
        static string EjectionReason(int seed)
        {
            var f = Fixture(o => o.JitterSeed = seed);
            return f.Evaluate(Provider, PostfixDown(f)).Reason;
        }

        Assert.Equal(EjectionReason(11), EjectionReason(11));
    }

    [Fact]
    public void Evaluate_OscillatingAround70_NeverDegraded()
    {
        var f = Fixture();
        f.Evaluate(Provider, f.Soft(100));

        var results = Enumerable.Range(0, 60).Select(i => f.Step(Provider, () => f.Soft(i % 2 == 0 ? 66 : 74))).ToArray();

        Assert.All(results, r => Assert.Equal(ProviderState.Healthy, r.State));
        Assert.DoesNotContain(results, r => r.StateChanged);
    }

    [Fact]
    public void Evaluate_DegradedOscillatingAround80_StaysDegraded()
    {
        var f = Fixture();
        f.Evaluate(Provider, f.Soft(60));

        var results = new List<ProviderAssessment> { f.Step(Provider, () => f.Soft(60)) };
        for (int i = 0; i < 60; i++)
            results.Add(f.Step(Provider, () => f.Soft(i % 4 == 3 ? 75 : 95)));

        Assert.Single(results, r => r.StateChanged);
        Assert.All(results, r => Assert.Equal(ProviderState.Degraded, r.State));
    }

    [Fact]
    public void Evaluate_SmoothedSignalSwingingAcrossThresholds_DoesNotFlap()
    {
        // Default weights and smoothing: the raw soft score swings 55 ↔ 85 every evaluation.
        var f = new ScoringFixture();
        AgentObservation Swing(bool low)
        {
            var now = f.Time.GetUtcNow();
            return new AgentObservation(now,
                [new("milter", CheckStatus.Healthy, "signing", low ? 0.5 : 0.95), new("disk", CheckStatus.Healthy, "space", low ? 14 : 30)],
                new QueueObservation(now, TimeSpan.FromMinutes(15), 0, 0, 0));
        }

        Assert.Equal(ProviderState.Healthy, f.Evaluate(Provider, f.Healthy()).State);

        var results = Enumerable.Range(0, 100).Select(i => f.Step(Provider, () => Swing(i % 2 == 0))).ToArray();

        Assert.DoesNotContain(results, r => r.StateChanged);
        Assert.All(results, r => Assert.Equal(ProviderState.Healthy, r.State));
        Assert.All(results.Skip(20), r => Assert.InRange(r.Score, 66, 74));
        Assert.Contains(results, r => r.Score < 70); // the thresholds are really crossed
    }

    [Fact]
    public void Evaluate_LastActiveProviderOnSoftSignals_PanicGuardKeepsActive()
    {
        var f = Fixture();
        var results = new List<ProviderAssessment> { f.Evaluate(Provider, f.Soft(10), withoutAgent: 0) };
        for (int i = 0; i < 20; i++)
            results.Add(f.Step(Provider, () => f.Soft(10), withoutAgent: 0));

        Assert.Equal(ProviderState.Failed, results[^1].State);
        Assert.All(results, r => Assert.True(r.IsActive));
        Assert.Contains("panic guard: kept active as the last active email provider", results[^1].Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Evaluate_LastActiveProviderOnCapZero_Deactivated()
    {
        var f = Fixture();
        f.Evaluate(Provider, PostfixDown(f), withoutAgent: 0);
        ProviderAssessment a = null!;
        for (int i = 0; i < 10; i++)
            a = f.Step(Provider, () => PostfixDown(f), withoutAgent: 0);

        Assert.False(a.IsActive);
    }

    [Fact]
    public void Evaluate_TwoProvidersFailingSoftly_OnlyTheWorseIsDeactivated()
    {
        var f = Fixture();
        IReadOnlyList<ProviderAssessment> last = [];
        for (int i = 0; i < 15; i++)
        {
            f.Time.Advance(f.Options.EvaluationInterval);
            last = f.Scorer.Evaluate(new Dictionary<string, AgentObservation> { [Provider] = f.Soft(10), [Other] = f.Soft(20) }, 0);
        }

        Assert.False(last.Single(a => a.ProviderName == Provider).IsActive);
        Assert.True(last.Single(a => a.ProviderName == Other).IsActive);
        Assert.All(last, a => Assert.Equal(ProviderState.Failed, a.State));
    }

    [Fact]
    public void Evaluate_GuardedProviderWhenAnotherRecovers_DeactivatedThen()
    {
        var f = Fixture();
        for (int i = 0; i < 15; i++)
        {
            f.Time.Advance(f.Options.EvaluationInterval);
            f.Scorer.Evaluate(new Dictionary<string, AgentObservation> { [Provider] = f.Soft(10) }, 0);
        }

        f.Time.Advance(f.Options.EvaluationInterval);
        var both = f.Scorer.Evaluate(new Dictionary<string, AgentObservation> { [Provider] = f.Soft(10), [Other] = f.Soft(100) }, 0);

        Assert.False(both.Single(a => a.ProviderName == Provider).IsActive);
        Assert.True(both.Single(a => a.ProviderName == Other).IsActive);
    }
}
