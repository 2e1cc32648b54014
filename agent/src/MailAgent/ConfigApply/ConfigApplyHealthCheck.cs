using MailAgent.Health;

namespace MailAgent.ConfigApply;

/// <summary>
/// Health check <c>config</c>: degraded for ConfigApply:RollbackDegradedFor after a rollback (someone
/// should look at why), healthy otherwise; an apply in progress is said in the reason.
/// </summary>
internal sealed class ConfigApplyHealthCheck(ConfigApplier applier, ConfigApplyOptions options, TimeProvider time) : IHealthCheck
{
    public string Name => "config";

    public bool IsSlow => false;

    public Task<HealthCheckResult> RunAsync(CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        string running = applier.InProgressSince is { } since ? $"; an apply is in progress since {since:O}" : "";
        if (applier.LastRollback is { } rollback && now - rollback.At < options.RollbackDegradedFor)
            return Task.FromResult(HealthCheckResult.Degraded($"config apply rolled back at {rollback.At:O}: {rollback.Reason}{running}"));
        return Task.FromResult(HealthCheckResult.Healthy($"no config rollback in the last {options.RollbackDegradedFor}{running}"));
    }
}
