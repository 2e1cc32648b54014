using MailAgent.Health;

namespace MailAgent.Grpc;

/// <summary>
/// Puts health changes on the event ring for WatchEvents: one <see cref="HealthChanged"/> per check
/// whose status changed (its first verdict included, which replaces "unknown"), then one named ""
/// when the overall status changed, as grpc.health.v1 names the overall service. The report is
/// compared with what was last published, so verdicts made before this service started (the
/// start-up gate waits for the first checks) are published on start, and none twice.
/// </summary>
internal sealed class HealthEventPublisher(IHealthReportSource source, EventRing ring) : IHostedService
{
    public const string OverallName = "";

    private readonly Lock _lock = new();
    private readonly Dictionary<string, HealthStatus> _published = [];
    private HealthStatus? _overall;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        source.StatusChanged += OnChanged;
        Publish();
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken)
    {
        source.StatusChanged -= OnChanged;
        return Task.CompletedTask;
    }

    private void OnChanged(HealthStatusChange change) => Publish();

    /// <summary>Appends what changed since the last call; the monitor publishes a round's report before raising its changes.</summary>
    internal void Publish()
    {
        var report = source.Current;
        lock (_lock)
        {
            foreach (var check in report.Checks)
            {
                if (check.LastRunUtc == null || (_published.TryGetValue(check.Name, out var last) && last == check.Status))
                    continue;
                _published[check.Name] = check.Status;
                ring.Append(new HealthChanged(check.Name, AgentStatusReader.Map(check.Status), check.Reason));
            }

            if (!report.FirstRunComplete || report.Status == _overall)
                return;
            _overall = report.Status;
            var worst = report.Checks.Where(c => c.Status == report.Status).Select(c => c.Name);
            string reason = report.Status == HealthStatus.Healthy
                ? "every check is healthy"
                : $"{report.Status.ToString().ToLowerInvariant()}: {string.Join(", ", worst)}";
            ring.Append(new HealthChanged(OverallName, AgentStatusReader.Map(report.Status), reason));
        }
    }
}
