using MailControlPlane.Routing;

namespace MailControlPlane.Hosting;

/// <summary>Whether the routing-table writer is keeping up, for /health.</summary>
internal interface IRoutingHealth
{
    bool IsHealthy(out string problem);
}

/// <summary>
/// The writer is failing when it wrote before and has not managed to for a while (the database is
/// down or the lock was lost). A replica that never wrote is a standby and not failing.
/// </summary>
internal sealed class WriterRoutingHealth(RoutingTableWriter writer, RoutingOptions options, TimeProvider time) : IRoutingHealth
{
    public bool IsHealthy(out string problem)
    {
        var stale = TimeSpan.FromSeconds(30) > options.RetryMaxDelay * 3 ? TimeSpan.FromSeconds(30) : options.RetryMaxDelay * 3;
        var last = writer.LastSuccessfulWrite;
        if (last == null || time.GetUtcNow() - last.Value <= stale)
        {
            problem = "";
            return true;
        }

        problem = $"no successful write since {last.Value:u} ({writer.BufferedRows} health-log row(s) waiting); {(writer.IsLeader ? "writing fails" : "the database is unreachable or another replica took the lock")}";
        return false;
    }
}
