using Grpc.HealthCheck;
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
        services.AddHostedService<GrpcHealthPublisher>();
        return services;
    }

    /// <summary>
    /// Mirrors the health checks into grpc.health.v1: the overall "" service and one service per
    /// check are NOT_SERVING while unhealthy (degraded still serves), updated on every change.
    /// </summary>
    private sealed class GrpcHealthPublisher(IHealthReportSource source, HealthServiceImpl health) : IHostedService
    {
        public Task StartAsync(CancellationToken cancellationToken)
        {
            source.StatusChanged += OnChanged;
            Publish();
            return Task.CompletedTask;
        }

        public Task StopAsync(CancellationToken cancellationToken)
        {
            source.StatusChanged -= OnChanged;
            return Task.CompletedTask;
        }

        private void OnChanged(HealthStatusChange change) => Publish();

        private void Publish()
        {
            var report = source.Current;
            foreach (var check in report.Checks)
                health.SetStatus(check.Name, Serving(check.Status));
            health.SetStatus("", Serving(report.Status));
        }

        private static global::Grpc.Health.V1.HealthCheckResponse.Types.ServingStatus Serving(HealthStatus status) =>
            status == HealthStatus.Unhealthy
                ? global::Grpc.Health.V1.HealthCheckResponse.Types.ServingStatus.NotServing
                : global::Grpc.Health.V1.HealthCheckResponse.Types.ServingStatus.Serving;
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
