using System.Text.Json.Serialization;
using MailAgent.LogTailing;

namespace MailAgent.Health;

/// <summary>/health, /health/live and /health/ready on the metrics listener; they read the cached report only.</summary>
internal static class HealthEndpoints
{
    public static void MapHealth(this IEndpointRouteBuilder app)
    {
        app.MapGet("/health", (IHealthReportSource source) =>
        {
            var report = source.Current;
            var body = new HealthResponse(
                Text(report.Status),
                report.Checks.Select(c => new HealthCheckResponse(c.Name, Text(c.Status), c.Reason, c.LastRunUtc, Math.Round(c.Duration.TotalMilliseconds, 1), c.Value)).ToArray());
            return Results.Json(body, HealthJsonContext.Default.HealthResponse, statusCode: StatusCode(report.Status));
        });
        app.MapGet("/health/live", (LoopLiveness liveness) =>
            liveness.AllAlive(out var stalled) ? Results.Text("live\n") : Results.Text($"stalled: {stalled}\n", statusCode: 503));
        app.MapGet("/health/ready", (IHealthReportSource source, ITailStatus tail) =>
            tail.Positioned && source.Current.FirstRunComplete
                ? Results.Text("ready\n")
                : Results.Text(tail.Positioned ? "waiting for the first health checks\n" : "waiting for the log tail\n", statusCode: 503));
    }

    public static int StatusCode(HealthStatus status) => status switch
    {
        HealthStatus.Healthy => 200,
        HealthStatus.Degraded => 429,
        _ => 503,
    };

    public static string Text(HealthStatus status) => status switch
    {
        HealthStatus.Healthy => "healthy",
        HealthStatus.Degraded => "degraded",
        _ => "unhealthy",
    };
}

/// <summary>The /health body.</summary>
internal sealed record HealthResponse(string Status, IReadOnlyList<HealthCheckResponse> Checks);

/// <summary>One check in the /health body.</summary>
internal sealed record HealthCheckResponse(string Name, string Status, string Reason, DateTimeOffset? LastRunUtc, double DurationMs, double? Value);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, WriteIndented = true)]
[JsonSerializable(typeof(HealthResponse))]
internal sealed partial class HealthJsonContext : JsonSerializerContext;
