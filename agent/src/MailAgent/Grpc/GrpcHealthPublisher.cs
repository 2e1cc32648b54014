using Grpc.HealthCheck;
using MailAgent.Health;

namespace MailAgent.Grpc;

/// <summary>
/// Mirrors the health checks into grpc.health.v1: the overall "" service and one service per
/// check are NOT_SERVING while unhealthy (degraded still serves), updated on every change.
/// </summary>
internal sealed class GrpcHealthPublisher(IHealthReportSource source, HealthServiceImpl health) : IHostedService
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
