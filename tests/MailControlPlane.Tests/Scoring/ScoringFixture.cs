using MailControlPlane.Scoring;
using Microsoft.Extensions.Time.Testing;

namespace MailControlPlane.Tests.Scoring;

/// <summary>A scorer on a fake clock, and observations built to a chosen soft score.</summary>
internal sealed class ScoringFixture
{
    public static readonly DateTimeOffset Start = new(2026, 11, 28, 4, 0, 0, TimeSpan.Zero);

    public ScoringFixture(ScoringOptions? options = null)
    {
        Options = options ?? new ScoringOptions { JitterSeed = 7 };
        Scorer = new HealthScorer(Options, Time);
    }

    public FakeTimeProvider Time { get; } = new(Start);

    public ScoringOptions Options { get; }

    public HealthScorer Scorer { get; }

    /// <summary>Options whose soft score is driven only by queue age, DKIM signing ratio and disk space (no deliveries needed), unsmoothed.</summary>
    public static ScoringOptions StateOptions() => new()
    {
        JitterSeed = 7,
        // docs/health-score.md's failed threshold, which these state tests walk around (the product default is 50).
        FailedBelow = 40,
        // the first design's 2-minute ejection, whose growth these tests measure (the product default is 30 s).
        EjectionBase = TimeSpan.FromMinutes(2),
        EwmaAlpha = 1,
        DeliveryWeight = 0,
        ReputationWeight = 0,
        QueueWeight = 30,
        ChecksWeight = 40,
        HostWeight = 30,
    };

    /// <summary>A fresh, healthy observation: heartbeat now, every check passing.</summary>
    public AgentObservation Healthy(params AgentCheck[] extra) =>
        new(Time.GetUtcNow(), [new("postfix", CheckStatus.Healthy, "running"), .. extra], null);

    /// <summary>An observation whose soft score is <paramref name="soft"/> under <see cref="StateOptions"/>, without any cap.</summary>
    public AgentObservation Soft(double soft)
    {
        double deficit = 100 - soft;
        double queue = Math.Min(deficit, 30);
        deficit -= queue;
        double host = Math.Min(deficit, 30);
        deficit -= host;
        double checks = Math.Min(deficit, 40);
        var now = Time.GetUtcNow();
        var age = TimeSpan.FromSeconds(60 + queue / 30 * (900 - 60));
        return new AgentObservation(
            now,
            [
                new("postfix", CheckStatus.Healthy, "running"),
                new("milter", CheckStatus.Healthy, "signing", 0.5 + (1 - checks / 40) * 0.45),
                new("disk", CheckStatus.Healthy, "space", 15 + (1 - host / 30) * 15),
            ],
            new QueueObservation(now, age, 0, 0, 0));
    }

    /// <summary>Fresh evidence that <paramref name="provider"/> works: one successful delivery now; then an observation at <paramref name="soft"/>.</summary>
    public AgentObservation Serving(string provider, double soft = 100)
    {
        Scorer.RecordDelivery(provider, Time.GetUtcNow(), DeliveryOutcomeKind.Sent, "2.0.0");
        return Soft(soft);
    }

    public ProviderAssessment Evaluate(string provider, AgentObservation observation, int withoutAgent = 0) =>
        Scorer.Evaluate(new Dictionary<string, AgentObservation> { [provider] = observation }, withoutAgent).Single();

    /// <summary>Advances the clock by one evaluation interval, then evaluates.</summary>
    public ProviderAssessment Step(string provider, Func<AgentObservation> observation, int withoutAgent = 0)
    {
        Time.Advance(Options.EvaluationInterval);
        return Evaluate(provider, observation(), withoutAgent);
    }
}
