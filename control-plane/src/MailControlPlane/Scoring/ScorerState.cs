namespace MailControlPlane.Scoring;

/// <summary>
/// One provider's scorer memory as the control plane keeps it in its own table (docs/control-plane-state.sql), so that a
/// restart or a leader takeover goes on where the last writer stopped.
/// </summary>
/// <param name="State">The routing state (healthy, degraded, failed, probation).</param>
/// <param name="Score">The last score written.</param>
/// <param name="IsActive">The last is_active the scorer wanted.</param>
/// <param name="Ejections">The ejections in the last Scoring:EjectionHistory (24 h), oldest first.</param>
/// <param name="FailedAt">When the provider last failed.</param>
/// <param name="OutUntil">The end of the ejection time (failed) — the earliest it may come back on fresh evidence.</param>
/// <param name="FailedEvaluations">Consecutive failed evaluations.</param>
/// <param name="ProbationProgress">Evaluations in a row at or above Scoring:RecoverAtOrAbove (on probation: toward healthy).</param>
/// <param name="DeactivatedByControlPlane">True when is_active = false in the routing row was written by the control plane (it may raise it again); false: a person's, which stays.</param>
internal sealed record ScorerState(
    string ProviderName,
    ProviderState State,
    int Score,
    bool IsActive,
    IReadOnlyList<DateTimeOffset> Ejections,
    DateTimeOffset? FailedAt,
    DateTimeOffset? OutUntil,
    int FailedEvaluations,
    int ProbationProgress,
    bool DeactivatedByControlPlane,
    DateTimeOffset SavedAt);

/// <summary>The scorer's memory behind a seam: the routing-table writer saves and restores it with the table.</summary>
internal interface IScorerMemory
{
    IReadOnlyList<ScorerState> Export();

    void Import(IEnumerable<ScorerState> states);
}
