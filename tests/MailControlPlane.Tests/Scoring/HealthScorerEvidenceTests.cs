using MailControlPlane.Scoring;

namespace MailControlPlane.Tests.Scoring;

/// <summary>Recovery on evidence, and the active probe's part in the score (issue 17).</summary>
public sealed class HealthScorerEvidenceTests
{
    private const string Provider = "postfix-virginia";

    private static void Record(ScoringFixture f, int count, DeliveryOutcomeKind outcome, string dsn)
    {
        for (int i = 0; i < count; i++)
            f.Scorer.RecordDelivery(Provider, f.Time.GetUtcNow(), outcome, dsn);
    }

    private static ScoringFixture Failed(out List<ProviderAssessment> history)
    {
        var f = new ScoringFixture();
        history = [];
        Record(f, 300, DeliveryOutcomeKind.Sent, "2.0.0");
        history.Add(f.Evaluate(Provider, f.Healthy(), withoutAgent: 1));
        // The outage: every attempt refused or unreachable.
        while (history[^1].IsActive)
        {
            Record(f, 10, DeliveryOutcomeKind.Deferred, "4.4.1");
            Record(f, 10, DeliveryOutcomeKind.Deferred, "4.7.1");
            history.Add(f.Step(Provider, () => f.Healthy(), withoutAgent: 1));
        }

        return f;
    }

    [Fact]
    public void Evaluate_WindowStillHoldsOngoingOutage_NeverReactivated()
    {
        var f = Failed(out var history);
        Assert.Equal(ProviderState.Failed, history[^1].State);

        // The outage goes on for an hour, past every ejection time: never back, never above the failed threshold.
        for (int i = 0; i < 1800; i++)
        {
            Record(f, 1, DeliveryOutcomeKind.Deferred, "4.4.1");
            var a = f.Step(Provider, () => f.Healthy(), withoutAgent: 1);
            Assert.Equal(ProviderState.Failed, a.State);
            Assert.False(a.IsActive);
        }
    }

    [Fact]
    public void Evaluate_FailedWithoutAnyEvidence_TimeAloneNeverReadmits()
    {
        var f = Failed(out _);

        // No traffic at all, healthy checks, two hours: no evidence, so no probation.
        for (int i = 0; i < 3600; i++)
            Assert.Equal(ProviderState.Failed, f.Step(Provider, () => f.Healthy(), withoutAgent: 1).State);
    }

    [Fact]
    public void Evaluate_OutageOverWithFreshDeliveries_ReadmittedOnceAtOrAboveFailedThreshold()
    {
        var f = Failed(out var history);
        var failedAt = f.Time.GetUtcNow();

        // The outage ends: deliveries succeed again while the 15-minute window still holds every failure.
        ProviderAssessment a;
        do
        {
            Record(f, 5, DeliveryOutcomeKind.Sent, "2.0.0");
            a = f.Step(Provider, () => f.Healthy(), withoutAgent: 1);
            history.Add(a);
        }
        while (!a.IsActive && f.Time.GetUtcNow() - failedAt < TimeSpan.FromMinutes(10));

        Assert.Equal(ProviderState.Probation, a.State);
        Assert.True(a.Score >= f.Options.FailedBelow, $"re-activated at {a.Score}");
        Assert.True(f.Time.GetUtcNow() - failedAt < TimeSpan.FromMinutes(2), $"back after {f.Time.GetUtcNow() - failedAt}");

        for (int i = 0; i < 30; i++)
        {
            Record(f, 5, DeliveryOutcomeKind.Sent, "2.0.0");
            history.Add(f.Step(Provider, () => f.Healthy(), withoutAgent: 1));
        }

        Assert.Equal(ProviderState.Healthy, history[^1].State);
        Assert.Equal(100, history[^1].Score);
        // Out once, back once; never re-activated below the failed threshold.
        int flips = history.Zip(history.Skip(1)).Count(p => p.First.IsActive != p.Second.IsActive);
        Assert.Equal(2, flips);
        Assert.DoesNotContain(history.SkipWhile(h => h.IsActive), h => h.IsActive && h.Score < f.Options.FailedBelow);
    }

    [Fact]
    public void Evaluate_ProbePassesAfterFailure_IsFreshEvidence()
    {
        var f = Failed(out _);
        var stale = new ProbeObservation(ScoringFixture.Start, true, "250 ok", TimeSpan.FromMilliseconds(12), ScoringFixture.Start);

        // A probe from before the failure is no evidence.
        f.Time.Advance(TimeSpan.FromMinutes(20)); // the outage leaves the window
        Assert.Equal(ProviderState.Failed, f.Evaluate(Provider, f.Healthy() with { Probe = stale }, withoutAgent: 1).State);

        ProviderAssessment a;
        do
        {
            var now = f.Time.GetUtcNow();
            a = f.Step(Provider, () => f.Healthy() with { Probe = new ProbeObservation(f.Time.GetUtcNow(), true, "STARTTLS ok", TimeSpan.FromMilliseconds(15), f.Time.GetUtcNow()) }, withoutAgent: 1);
        }
        while (a.State == ProviderState.Failed);

        Assert.Equal(ProviderState.Probation, a.State);
        Assert.Contains("the SMTP probe passed", a.Reason, StringComparison.Ordinal);
        Assert.Equal(15, a.ResponseTimeMs);
    }

    [Fact]
    public void Evaluate_AgentGoneAndProbeFails_ZeroAndFailedAtOnce()
    {
        var f = new ScoringFixture();
        var heard = f.Time.GetUtcNow();
        Assert.Equal(100, f.Evaluate(Provider, f.Healthy(), withoutAgent: 1).Score);

        f.Time.Advance(TimeSpan.FromSeconds(2));
        var gone = f.Healthy() with
        {
            LastHeartbeat = heard,
            AgentGone = true,
            Probe = new ProbeObservation(f.Time.GetUtcNow(), false, "connect to 127.0.0.1:2525: connection refused", TimeSpan.FromMilliseconds(1), heard),
        };
        var a = f.Evaluate(Provider, gone, withoutAgent: 1);

        Assert.Equal(0, a.Score);
        Assert.Equal(ProviderState.Failed, a.State);
        Assert.Contains("the agent is unreachable and the SMTP probe fails", a.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Evaluate_AgentGoneAndProbePasses_FrozenUnknownPastZeroTime()
    {
        var f = new ScoringFixture();
        var heard = f.Time.GetUtcNow();
        Record(f, 100, DeliveryOutcomeKind.Sent, "2.0.0");
        Assert.Equal(100, f.Evaluate(Provider, f.Healthy(), withoutAgent: 1).Score);

        for (int i = 0; i < 100; i++)
        {
            var a = f.Step(Provider, () => f.Healthy() with
            {
                LastHeartbeat = heard,
                AgentGone = true,
                Probe = new ProbeObservation(f.Time.GetUtcNow(), true, "STARTTLS ok", TimeSpan.FromMilliseconds(8), f.Time.GetUtcNow()),
            }, withoutAgent: 1);
            Assert.Equal(100, a.Score);
            Assert.Equal(ProviderState.Unknown, a.State);
            Assert.True(a.IsActive);
        }
    }

    [Fact]
    public void Evaluate_AgentConnectedButProbeFails_ChecksComponentZero()
    {
        var f = new ScoringFixture(new ScoringOptions { JitterSeed = 1, EwmaAlpha = 1 });
        var probe = new ProbeObservation(f.Time.GetUtcNow(), false, "EHLO: 421 too busy", TimeSpan.FromMilliseconds(4), null);

        var a = f.Evaluate(Provider, f.Healthy() with { Probe = probe });

        Assert.Equal(0.0, a.Components["checks"], 9);
        Assert.Equal(80, a.Score);
        Assert.Contains("the control plane's SMTP probe fails: EHLO: 421 too busy", a.Reason, StringComparison.Ordinal);
    }
}
