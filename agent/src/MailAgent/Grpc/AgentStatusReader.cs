using System.Net;
using MailAgent.Health;

namespace MailAgent.Grpc;

/// <summary>Health as the API reports it: the monitor's verdicts, or unknown before a check has run.</summary>
internal enum AgentHealthStatus
{
    Unknown,
    Healthy,
    Degraded,
    Unhealthy,
}

/// <summary>One health check's result.</summary>
internal sealed record AgentHealthCheck(string Name, AgentHealthStatus Status, string Reason, double? Value = null);

/// <summary>Everything GetStatus reports.</summary>
internal sealed record AgentStatus(string Hostname, string AgentVersion, string PostfixVersion, DateTimeOffset StartedAt, TimeSpan Uptime,
    AgentHealthStatus Overall, IReadOnlyList<AgentHealthCheck> Checks);

/// <summary>Gathers the agent's identity, versions, uptime and health.</summary>
internal sealed class AgentStatusReader(TimeProvider time, DateTimeOffset startedAt, IHealthReportSource health, IPostfixVersionSource postfix)
{
    public async Task<AgentStatus> ReadAsync(CancellationToken cancellationToken)
    {
        string postfixVersion = (await postfix.GetAsync(cancellationToken)).Version;
        var now = time.GetUtcNow();
        var report = health.Current;
        var checks = report.Checks
            .Select(c => new AgentHealthCheck(c.Name, c.LastRunUtc == null ? AgentHealthStatus.Unknown : Map(c.Status), c.Reason, c.Value))
            .ToList();
        var overall = report.FirstRunComplete ? Map(report.Status) : AgentHealthStatus.Unknown;
        return new AgentStatus(Dns.GetHostName(), ProductVersion.Text, postfixVersion, startedAt, now - startedAt, overall, checks);
    }

    internal static AgentHealthStatus Map(HealthStatus status) => status switch
    {
        HealthStatus.Healthy => AgentHealthStatus.Healthy,
        HealthStatus.Degraded => AgentHealthStatus.Degraded,
        _ => AgentHealthStatus.Unhealthy,
    };
}
