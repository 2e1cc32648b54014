namespace MailAgent.Health;

/// <summary>A check's verdict; the order is the severity, worst last.</summary>
internal enum HealthStatus
{
    Healthy = 0,
    Degraded = 1,
    Unhealthy = 2,
}

/// <summary>What one run of a check found, in words a person understands.</summary>
internal readonly record struct HealthCheckResult(HealthStatus Status, string Reason, double? Value = null)
{
    public static HealthCheckResult Healthy(string reason) => new(HealthStatus.Healthy, reason);
    public static HealthCheckResult Degraded(string reason) => new(HealthStatus.Degraded, reason);
    public static HealthCheckResult Unhealthy(string reason) => new(HealthStatus.Unhealthy, reason);
}

/// <summary>One health check. Runs on the health loop only, never on a request.</summary>
internal interface IHealthCheck
{
    string Name { get; }

    /// <summary>Slow checks run on <see cref="HealthOptions.SlowInterval"/>, the others every <see cref="HealthOptions.Interval"/>.</summary>
    bool IsSlow { get; }

    Task<HealthCheckResult> RunAsync(CancellationToken cancellationToken);
}

/// <summary>The latest result of one check.</summary>
internal sealed record HealthCheckEntry(string Name, HealthStatus Status, string Reason, DateTimeOffset? LastRunUtc, TimeSpan Duration, double? Value = null);

/// <summary>The latest results of every configured check; <see cref="Status"/> is the worst of them.</summary>
internal sealed record HealthReport(HealthStatus Status, IReadOnlyList<HealthCheckEntry> Checks, bool FirstRunComplete)
{
    public static HealthStatus Worst(IEnumerable<HealthCheckEntry> checks) =>
        checks.Select(c => c.Status).DefaultIfEmpty(HealthStatus.Healthy).Max();
}

/// <summary>A check whose status changed (not raised for a reason change alone).</summary>
internal sealed record HealthStatusChange(string Name, HealthStatus? Previous, HealthCheckEntry Current);

/// <summary>Where /health, gRPC and the watchdog read health from; reading never runs a check.</summary>
internal interface IHealthReportSource
{
    HealthReport Current { get; }

    event Action<HealthStatusChange>? StatusChanged;
}
