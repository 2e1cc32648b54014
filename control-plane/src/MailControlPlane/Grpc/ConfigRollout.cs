using Grpc.Core;
using MailAgent.Protos.ControlPlane.V1;
using MailAgent.Protos.V1;
using MailControlPlane.Connections;

namespace MailControlPlane.Grpc;

/// <summary>The agents a roll-out talks to (the connections; a fake in tests).</summary>
internal interface IRolloutTarget
{
    bool Exists(string agent);

    Task<ApplyConfigResponse> ApplyConfigAsync(string agent, ApplyConfigRequest request, CancellationToken cancellationToken);

    /// <summary>Connected and no check unhealthy; otherwise false and why.</summary>
    bool IsHealthy(string agent, out string reason);

    /// <summary>Tells the scorer a change is in progress on the agent (null: it ended).</summary>
    void SetChangeInProgress(string agent, DateTimeOffset? startedAt);
}

/// <summary>
/// One main.cf change, one agent at a time: the next agent only after the previous answered
/// APPLIED or UNCHANGED and stayed healthy for the soak time; the first failure stops the roll-out.
/// </summary>
internal sealed class ConfigRollout(IRolloutTarget target, TimeProvider time)
{
    public static readonly TimeSpan DefaultSoakTime = TimeSpan.FromSeconds(60);

    /// <summary>How often health is looked at during the soak.</summary>
    public TimeSpan HealthPollInterval { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Checks the request; returns why it cannot run, or null.</summary>
    public string? Problem(RollOutConfigRequest request)
    {
        if (request.Agents.Count == 0)
            return "agents is empty: name the agents in roll-out order";
        if (request.Set.Count == 0 && request.Remove.Count == 0)
            return "set and remove are both empty: nothing to roll out";
        var duplicate = request.Agents.GroupBy(a => a, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1);
        if (duplicate != null)
            return $"agent '{duplicate.Key}' is named twice: each agent at most once";
        var unknown = request.Agents.FirstOrDefault(a => !target.Exists(a));
        if (unknown != null)
            return $"agent '{unknown}' is not configured (Agents:N:Name)";
        if (request.SoakTime != null && request.SoakTime.ToTimeSpan() < TimeSpan.Zero)
            return "soak_time is negative";
        return null;
    }

    /// <summary>Runs the roll-out, reporting each step; returns true when every agent is done.</summary>
    public async Task<bool> RunAsync(RollOutConfigRequest request, Func<RollOutProgress, Task> report, CancellationToken cancellationToken)
    {
        var soak = request.SoakTime?.ToTimeSpan() ?? DefaultSoakTime;
        string rollout = Guid.NewGuid().ToString("N");
        for (int i = 0; i < request.Agents.Count; i++)
        {
            string agent = request.Agents[i];
            await report(new RollOutProgress { Agent = agent, Step = RollOutStep.Applying });
            var failure = await ApplyAndSoakAsync(agent, request, rollout, soak, report, cancellationToken);
            if (failure != null)
            {
                await report(failure);
                foreach (var rest in request.Agents.Skip(i + 1))
                    await report(new RollOutProgress { Agent = rest, Step = RollOutStep.Skipped, Reason = $"stopped after {agent} failed" });
                return false;
            }

            await report(new RollOutProgress { Agent = agent, Step = RollOutStep.Done });
        }

        return true;
    }

    private async Task<RollOutProgress?> ApplyAndSoakAsync(string agent, RollOutConfigRequest request, string rollout, TimeSpan soak,
        Func<RollOutProgress, Task> report, CancellationToken cancellationToken)
    {
        var apply = new ApplyConfigRequest { IdempotencyKey = $"{rollout}-{agent}" };
        apply.Set.Add(request.Set);
        apply.Remove.Add(request.Remove);
        ApplyConfigResponse reply;
        target.SetChangeInProgress(agent, time.GetUtcNow());
        try
        {
            reply = await target.ApplyConfigAsync(agent, apply, cancellationToken);
        }
        catch (RpcException e)
        {
            return new RollOutProgress { Agent = agent, Step = RollOutStep.Failed, Reason = $"ApplyConfig failed: {e.StatusCode}: {e.Status.Detail}" };
        }
        finally
        {
            target.SetChangeInProgress(agent, null);
        }

        string result = reply.Result.ToString();
        if (reply.Result is not (ApplyResult.Applied or ApplyResult.Unchanged))
            return new RollOutProgress { Agent = agent, Step = RollOutStep.Failed, ApplyResult = result, Reason = reply.Reason, ConfigHash = reply.ConfigHash };

        await report(new RollOutProgress { Agent = agent, Step = RollOutStep.Soaking, ApplyResult = result, ConfigHash = reply.ConfigHash });
        var until = time.GetUtcNow() + soak;
        while (true)
        {
            if (!target.IsHealthy(agent, out string reason))
                return new RollOutProgress { Agent = agent, Step = RollOutStep.Failed, ApplyResult = result, ConfigHash = reply.ConfigHash, Reason = $"unhealthy during the soak time: {reason}" };
            var left = until - time.GetUtcNow();
            if (left <= TimeSpan.Zero)
                return null;
            await Task.Delay(left < HealthPollInterval ? left : HealthPollInterval, time, cancellationToken);
        }
    }
}

/// <summary>The roll-out's view of the agent connections.</summary>
internal sealed class ConnectionRolloutTarget(AgentConnections connections, TimeProvider time, TimeSpan callTimeout) : IRolloutTarget
{
    public bool Exists(string agent) => connections.Find(agent) != null;

    public async Task<ApplyConfigResponse> ApplyConfigAsync(string agent, ApplyConfigRequest request, CancellationToken cancellationToken)
    {
        var connection = connections.Find(agent) ?? throw new InvalidOperationException($"agent {agent} is not configured");
        // Applying runs postfix check and a reload on the agent: give it more than a read.
        var deadline = time.GetUtcNow().UtcDateTime + (callTimeout * 12);
        return await connection.Client.ApplyConfigAsync(request, deadline: deadline, cancellationToken: cancellationToken);
    }

    public bool IsHealthy(string agent, out string reason)
    {
        var snapshot = connections.Find(agent)?.Snapshot();
        if (snapshot == null)
        {
            reason = "not configured";
            return false;
        }

        if (snapshot.State != Connections.ConnectionState.Connected)
        {
            reason = $"connection {snapshot.State}: {snapshot.LastError}";
            return false;
        }

        var bad = snapshot.Checks.FirstOrDefault(c => c.Status == Scoring.CheckStatus.Unhealthy);
        reason = bad == null ? "" : $"check {bad.Name} unhealthy: {bad.Reason}";
        return bad == null;
    }

    public void SetChangeInProgress(string agent, DateTimeOffset? startedAt) => connections.Find(agent)?.SetChangeInProgress(startedAt);
}
