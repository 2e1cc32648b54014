using CliWrap;
using CliWrap.Buffered;

namespace MailAgent.Grpc;

/// <summary>Agent health states as the API reports them.</summary>
internal enum AgentHealthStatus
{
    Unknown,
    Healthy,
    Degraded,
    Unhealthy,
}

/// <summary>One health check's result.</summary>
internal sealed record AgentHealthCheck(string Name, AgentHealthStatus Status, string Reason);

/// <summary>What the gRPC status needs from the agent's health checks; the Health feature binds it.</summary>
internal interface IAgentHealthView
{
    AgentHealthStatus Overall { get; }
    IReadOnlyList<AgentHealthCheck> Checks { get; }
}

/// <summary>Used until health checks are bound: says honestly that nothing is known.</summary>
internal sealed class UnknownHealthView : IAgentHealthView
{
    public AgentHealthStatus Overall => AgentHealthStatus.Unknown;
    public IReadOnlyList<AgentHealthCheck> Checks { get; } = [new("agent", AgentHealthStatus.Unknown, "health checks are not bound yet")];
}

/// <summary>Per-queue counts from the queue inspector.</summary>
internal sealed record QueueDepthSnapshot(string Name, long Messages, long Bytes, TimeSpan OldestAge);

/// <summary>The latest queue snapshot and when it was taken.</summary>
internal sealed record QueueSnapshot(DateTimeOffset TakenAt, IReadOnlyList<QueueDepthSnapshot> Queues);

/// <summary>The queue inspector's latest snapshot; registered by the queue feature when it exists.</summary>
internal interface IQueueSnapshotSource
{
    QueueSnapshot? Latest { get; }
}

/// <summary>Postfix's version, read once.</summary>
internal interface IPostfixVersionSource
{
    Task<string> GetAsync(CancellationToken cancellationToken);
}

/// <summary><c>postconf -h mail_version</c>; empty when postconf is missing, fails or is slow.</summary>
internal sealed class PostconfVersionSource : IPostfixVersionSource
{
    private readonly Lazy<Task<string>> _version = new(ReadAsync);

    public Task<string> GetAsync(CancellationToken cancellationToken) => _version.Value.WaitAsync(cancellationToken);

    private static async Task<string> ReadAsync()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        try
        {
            var result = await CliWrap.Cli.Wrap("postconf").WithArguments(["-h", "mail_version"])
                .WithValidation(CommandResultValidation.None).ExecuteBufferedAsync(timeout.Token);
            return result.ExitCode == 0 ? result.StandardOutput.Trim() : "";
        }
        catch (Exception e) when (e is System.ComponentModel.Win32Exception or OperationCanceledException or InvalidOperationException)
        {
            return "";
        }
    }
}
