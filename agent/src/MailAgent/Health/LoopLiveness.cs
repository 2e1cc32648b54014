using MailAgent.LogTailing;
using Microsoft.Extensions.Options;

namespace MailAgent.Health;

/// <summary>Whether the agent's loops (log tail, health) went round recently; feeds the watchdog and /health/live.</summary>
internal sealed class LoopLiveness(ITailStatus tail, HealthMonitor monitor, IOptions<HealthOptions> options, TimeProvider time)
{
    public bool AllAlive(out string stalled)
    {
        var now = time.GetUtcNow();
        var limit = options.Value.LoopStallTimeout;
        var names = new List<string>();
        if (tail.LastLoopUtc is not { } t || now - t > limit)
            names.Add("tail");
        if (monitor.LastLoopUtc is not { } h || now - h > limit)
            names.Add("health");
        stalled = string.Join(", ", names);
        return names.Count == 0;
    }
}
