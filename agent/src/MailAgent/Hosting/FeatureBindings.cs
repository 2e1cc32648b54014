using MailAgent.Grpc;
using MailAgent.Health;

namespace MailAgent.Hosting;

/// <summary>
/// Lets the gRPC API read the health monitor and the queue inspector through the small views it
/// was written against, so neither feature depends on the other.
/// </summary>
internal static class FeatureBindings
{
    public static IServiceCollection AddFeatureBindings(this IServiceCollection services)
    {
        services.AddSingleton<IAgentHealthView>(sp => new HealthView(sp.GetRequiredService<IHealthReportSource>()));
        services.AddSingleton<Grpc.IQueueSnapshotSource>(sp => new QueueView(sp.GetService<Queue.IQueueSnapshotSource>()));
        return services;
    }

    private sealed class HealthView(IHealthReportSource source) : IAgentHealthView
    {
        public AgentHealthStatus Overall
        {
            get
            {
                var report = source.Current;
                return report.FirstRunComplete ? Map(report.Status) : AgentHealthStatus.Unknown;
            }
        }

        public IReadOnlyList<AgentHealthCheck> Checks =>
            source.Current.Checks
                .Select(c => new AgentHealthCheck(c.Name, c.LastRunUtc == null ? AgentHealthStatus.Unknown : Map(c.Status), c.Reason))
                .ToList();

        private static AgentHealthStatus Map(HealthStatus status) => status switch
        {
            HealthStatus.Healthy => AgentHealthStatus.Healthy,
            HealthStatus.Degraded => AgentHealthStatus.Degraded,
            _ => AgentHealthStatus.Unhealthy,
        };
    }

    // No source when Queue:Enabled is false: the API then says there is no snapshot.
    private sealed class QueueView(Queue.IQueueSnapshotSource? source) : Grpc.IQueueSnapshotSource
    {
        public Grpc.QueueSnapshot? Latest
        {
            get
            {
                var summary = source?.Current?.Summary;
                if (summary == null)
                    return null;
                return new Grpc.QueueSnapshot(
                    summary.TakenAt,
                    summary.Queues.Select(q => new QueueDepthSnapshot(q.Name, q.Messages, q.Bytes, TimeSpan.FromSeconds(summary.OldestAgeSeconds(q.Queue)))).ToList());
            }
        }
    }
}
