using MailAgent.Metrics;

namespace MailAgent.Health.Checks;

/// <summary>
/// Failures the receiving side causes (connection failures, 4.7.x deferrals, 5.7.x bounces) as a
/// share of outbound delivery attempts over the window. Unknown recipients do not count.
/// </summary>
internal sealed class DeliveryOutcomeCheck(LogStats stats, HealthOptions options, TimeProvider time) : IHealthCheck
{
    private static readonly int Deferred47 = Array.IndexOf(LabelSets.DsnClasses, "4.7");
    private static readonly int Bounced57 = Array.IndexOf(LabelSets.DsnClasses, "5.7");
    private readonly CounterWindow _window = new(options.OutcomeWindow);

    public string Name => "delivery";

    public bool IsSlow => true;

    public Task<HealthCheckResult> RunAsync(CancellationToken cancellationToken)
    {
        long[] now =
        [
            stats.SmtpProcessed.Values[0],
            stats.ConnectionFailures.Values.Sum(),
            stats.DeferredByDsn.Values[Deferred47],
            stats.BouncedByDsn.Values[Bounced57],
        ];
        var delta = _window.Add(time.GetUtcNow(), now);
        return Task.FromResult(delta == null ? HealthCheckResult.Healthy("collecting: the first sample of the window") : Evaluate(delta));
    }

    private HealthCheckResult Evaluate(long[] d)
    {
        long failures = d[1] + d[2] + d[3];
        long attempts = d[0] + failures;
        string counts = $"{failures} server-caused failures in {attempts} attempts over the last {LogFreshnessCheck.Age(options.OutcomeWindow)} ({d[1]} connection failures, {d[2]} 4.7.x deferrals, {d[3]} 5.7.x bounces)";
        if (attempts < options.DeliveryMinAttempts)
            return HealthCheckResult.Healthy($"too few attempts to judge: {counts}");
        double ratio = (double)failures / attempts;
        if (ratio >= options.DeliveryFailureUnhealthy)
            return HealthCheckResult.Unhealthy($"{ratio:P0} failing: {counts}");
        if (ratio >= options.DeliveryFailureDegraded)
            return HealthCheckResult.Degraded($"{ratio:P0} failing: {counts}");
        return HealthCheckResult.Healthy($"{ratio:P0} failing: {counts}");
    }
}
