namespace MailControlPlane.Scoring;

/// <summary>An agent health check's verdict as the agent reported it (GetStatus or a health-change event).</summary>
internal enum CheckStatus
{
    Unknown,
    Healthy,
    Degraded,
    Unhealthy,
}

/// <summary>One of the agent's health checks; <paramref name="Value"/> is the check's measured figure when it has one
/// (disk: free percent of the queue file system; tls: days until the served certificate expires; milter: DKIM signing ratio 0..1).</summary>
internal sealed record AgentCheck(string Name, CheckStatus Status, string Reason, double? Value = null);

/// <summary>The agent's latest queue snapshot, reduced to what the score needs.</summary>
internal sealed record QueueObservation(
    DateTimeOffset TakenAt,
    TimeSpan OldestIncomingOrActiveAge,
    long DeferredMessages,
    long ActiveMessages,
    long ActiveLimit);

/// <summary>How a delivery attempt ended, from the agent's WatchEvents stream.</summary>
internal enum DeliveryOutcomeKind
{
    Sent,
    Deferred,
    Bounced,
}

/// <summary>Everything the control plane knows about one agent (one provider) at an evaluation.</summary>
/// <param name="LastHeartbeat">Last time the agent answered (a stream message or GetStatus); null: never.</param>
/// <param name="Checks">The agent's latest health checks.</param>
/// <param name="Queue">The latest queue snapshot; null when none was read yet.</param>
/// <param name="ChangeStartedAt">When a config apply or certificate reload started on the agent, if one is in progress.</param>
/// <param name="Probe">The control plane's own active SMTP probe of the host; null when none ran yet or none is configured.</param>
/// <param name="AgentGone">True when the agent answered before and its connection is now down (a dropped stream, a refused dial).</param>
internal sealed record AgentObservation(
    DateTimeOffset? LastHeartbeat,
    IReadOnlyList<AgentCheck> Checks,
    QueueObservation? Queue,
    DateTimeOffset? ChangeStartedAt = null,
    ProbeObservation? Probe = null,
    bool AgentGone = false);

/// <summary>The latest active probe of a provider's SMTP endpoint, run by the control plane (Probing/).</summary>
/// <param name="At">When the latest probe ended.</param>
/// <param name="Ok">True when every step passed (connect, banner, EHLO, STARTTLS and the certificate, AUTH when configured).</param>
/// <param name="Reason">What failed, or what passed.</param>
/// <param name="ResponseTime">How long the probe took (into response_time_ms).</param>
/// <param name="LastSuccessAt">When a probe last passed; null: never since start.</param>
internal sealed record ProbeObservation(DateTimeOffset At, bool Ok, string Reason, TimeSpan ResponseTime, DateTimeOffset? LastSuccessAt);

/// <summary>A provider's state in the routing sense (docs/health-score.md, "States").</summary>
internal enum ProviderState
{
    Unknown,
    Healthy,
    Degraded,
    Failed,
    Probation,
}

/// <summary>The scorer's verdict for one provider at one evaluation.</summary>
/// <param name="Score">0..100, what goes into <c>config.health_score</c>.</param>
/// <param name="IsActive">What goes into <c>is_active</c>.</param>
/// <param name="StateChanged">True when <paramref name="State"/> differs from the previous evaluation's.</param>
/// <param name="Reason">Why, for people: the caps and weak components.</param>
/// <param name="Components">Each component 0..1 by name (delivery, reputation, queue, checks, host) plus "soft".</param>
internal sealed record ProviderAssessment(
    string ProviderName,
    int Score,
    ProviderState State,
    bool IsActive,
    bool StateChanged,
    string Reason,
    IReadOnlyDictionary<string, double> Components,
    DateTimeOffset EvaluatedAt)
{
    /// <summary>The latest active probe's time in milliseconds (health-log response_time_ms); null without a probe.</summary>
    public int? ResponseTimeMs { get; init; }

    /// <summary>True when is_active differs from the previous evaluation's.</summary>
    public bool ActiveChanged { get; init; }

    /// <summary>True once this process scored the provider on its agent's signals; until then the row is not written (never raised unseen).</summary>
    public bool Evaluated { get; init; } = true;
}
