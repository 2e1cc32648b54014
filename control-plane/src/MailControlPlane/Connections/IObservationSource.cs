using MailControlPlane.Scoring;

namespace MailControlPlane.Connections;

/// <summary>Where the loop reads the agents' state (the connections; a fake in tests).</summary>
internal interface IObservationSource
{
    IReadOnlyDictionary<string, AgentObservation> Observations();

    /// <summary>Completes when the first evaluation may run (every agent answered once, or a time limit passed).</summary>
    Task ReadyAsync(CancellationToken cancellationToken);
}
