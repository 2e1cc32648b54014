using Prometheus;

namespace MailControlPlane.Routing;

/// <summary>The routing-table writer's metrics (fixed names, no unbounded labels).</summary>
internal sealed class RoutingMetrics
{
    public RoutingMetrics(CollectorRegistry registry)
    {
        var factory = Metrics.WithCustomRegistry(registry);
        ProviderUpdates = factory.CreateCounter("mailagent_cp_routing_provider_updates_total", "Provider rows updated (health_score, is_active) in the routing table.");
        HealthLogRowsWritten = factory.CreateCounter("mailagent_cp_health_log_rows_written_total", "messaging_provider_health_logs rows inserted.");
        WriteFailures = factory.CreateCounter("mailagent_cp_routing_write_failures_total", "Write cycles that failed (database unreachable or an error); retried with backoff.");
        HealthLogDropped = factory.CreateCounter("mailagent_cp_health_log_dropped_total", "Health-log rows dropped because the buffer was full (the oldest goes).");
        HealthLogBufferDepth = factory.CreateGauge("mailagent_cp_health_log_buffer_depth", "Health-log rows waiting to be written.");
        Leader = factory.CreateGauge("mailagent_cp_routing_leader", "1 when this replica holds the writer lock (always 1 with SQLite).");
        LastSuccess = factory.CreateGauge("mailagent_cp_routing_last_success_timestamp_seconds", "Unix time of the last successful write cycle.");
        ActiveWithoutAgent = factory.CreateGauge("mailagent_cp_routing_active_providers_without_agent", "Active email providers in the table that no agent backs.");
    }

    public Counter ProviderUpdates { get; }

    public Counter HealthLogRowsWritten { get; }

    public Counter WriteFailures { get; }

    public Counter HealthLogDropped { get; }

    public Gauge HealthLogBufferDepth { get; }

    public Gauge Leader { get; }

    public Gauge LastSuccess { get; }

    public Gauge ActiveWithoutAgent { get; }
}
