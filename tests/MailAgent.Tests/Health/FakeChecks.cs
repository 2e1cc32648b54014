using MailAgent.Health;
using MailAgent.LogTailing;

namespace MailAgent.Tests.Health;

/// <summary>A check that returns whatever the test sets, and counts its runs.</summary>
internal sealed class FakeCheck(string name, bool slow = false) : IHealthCheck
{
    public string Name => name;
    public bool IsSlow => slow;
    public HealthCheckResult Next { get; set; } = HealthCheckResult.Healthy("fine");
    public Exception? Throw { get; set; }
    public TaskCompletionSource<HealthCheckResult>? Hang { get; set; }
    public int Runs { get; private set; }

    public Task<HealthCheckResult> RunAsync(CancellationToken cancellationToken)
    {
        Runs++;
        if (Throw != null)
            throw Throw;
        return Hang?.Task ?? Task.FromResult(Next);
    }
}

internal sealed class FakeTailStatus : ITailStatus
{
    public bool Positioned { get; set; } = true;
    public long LagBytes { get; set; }
    public DateTimeOffset? LastLoopUtc { get; set; }
    public TailOpenProblem? OpenProblem { get; set; }
}
