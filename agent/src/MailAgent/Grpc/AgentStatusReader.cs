using System.Net;
using MailAgent.Cli;

namespace MailAgent.Grpc;

/// <summary>Everything GetStatus reports.</summary>
internal sealed record AgentStatus(string Hostname, string AgentVersion, string PostfixVersion, DateTimeOffset StartedAt, TimeSpan Uptime,
    AgentHealthStatus Overall, IReadOnlyList<AgentHealthCheck> Checks);

/// <summary>Gathers the agent's identity, versions, uptime and health.</summary>
internal sealed class AgentStatusReader(TimeProvider time, DateTimeOffset startedAt, IAgentHealthView health, IPostfixVersionSource postfix)
{
    public async Task<AgentStatus> ReadAsync(CancellationToken cancellationToken)
    {
        string postfixVersion = await postfix.GetAsync(cancellationToken);
        var now = time.GetUtcNow();
        return new AgentStatus(Dns.GetHostName(), AgentVersion.Text, postfixVersion, startedAt, now - startedAt, health.Overall, health.Checks);
    }
}
