namespace MailControlPlane.Routing;

/// <summary>One health-log row as the status page charts it.</summary>
internal sealed record HealthPoint(string ProviderName, DateTimeOffset At, int Score, string State);

/// <summary>Reads the agent_health rows of the health log (the status page's score-over-time chart).</summary>
internal interface IHealthHistoryReader
{
    /// <summary>The rows checked at or after <paramref name="since"/>, oldest first; at most <paramref name="limit"/>, the newest kept.</summary>
    Task<IReadOnlyList<HealthPoint>> ReadHistoryAsync(DateTimeOffset since, int limit, CancellationToken cancellationToken);
}
