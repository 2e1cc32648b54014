using MailControlPlane.Scoring;

namespace MailControlPlane.Routing;

/// <summary>A <c>messaging_provider_health_logs</c> row waiting to be written.</summary>
/// <param name="Status">healthy, degraded or failed (the table's vocabulary).</param>
/// <param name="MetadataJson">The components and state as a JSON object.</param>
/// <param name="ResponseTimeMs">The latest active SMTP probe's time (response_time_ms); null without probes.</param>
internal sealed record HealthLogEntry(
    string ProviderName,
    string Status,
    string Reason,
    string MetadataJson,
    DateTimeOffset CheckedAt,
    int? ResponseTimeMs = null);

/// <summary>Where the scorer's verdicts go: the routing-table writer keeps the latest per provider and writes it when it changed.</summary>
internal interface IRoutingTableSink
{
    /// <summary>Records the latest verdict for a provider; never blocks on the database.</summary>
    void Publish(ProviderAssessment assessment);

    /// <summary>Queues a health-log row in a bounded buffer; a full buffer drops the oldest and counts it.</summary>
    void Enqueue(HealthLogEntry entry);

    /// <summary>Active email providers in the table that no agent backs (paid providers): the panic guard counts them.</summary>
    int ActiveProvidersWithoutAgent { get; }
}
