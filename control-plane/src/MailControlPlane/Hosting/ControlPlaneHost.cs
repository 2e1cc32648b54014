using System.Text.Json;
using MailControlPlane.Cli;
using MailControlPlane.Connections;
using MailControlPlane.Grpc;
using MailControlPlane.Registry;
using MailControlPlane.Routing;
using MailControlPlane.Scoring;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Prometheus;
using Serilog;
using Serilog.Events;

namespace MailControlPlane.Hosting;

/// <summary><c>mailagent-control-plane run</c> and <c>check-config</c>, and the host they share with the tests.</summary>
internal static class ControlPlaneHost
{
    public static async Task<int> CheckConfigAsync(IReadOnlyList<string> args, CliContext context)
    {
        var config = ControlPlaneConfiguration.Build(args, out var file, out var errors);
        errors.AddRange(ControlPlaneConfiguration.Validate(config, out var settings));
        if (errors.Count > 0)
        {
            foreach (var e in errors)
                await context.Error.WriteLineAsync($"configuration error: {e}");
            return 1;
        }

        await context.Out.WriteLineAsync($"configuration OK ({file ?? "defaults, environment and arguments only"})");
        foreach (var a in settings.Registry.Agents)
            await context.Out.WriteLineAsync($"  agent {a.Name}: {a.Address} region '{a.Region}' backs provider '{a.ProviderName}'");
        await context.Out.WriteLineAsync($"  Tls: CA {settings.Tls.CaFile}, client certificate {settings.Tls.CertificateFile}");
        await context.Out.WriteLineAsync($"  Connections: status every {settings.Connections.StatusInterval}, heartbeat timeout {settings.Connections.HeartbeatTimeout}, backoff {settings.Connections.BackoffMin} to {settings.Connections.BackoffMax}");
        await context.Out.WriteLineAsync($"  Http:Urls = {settings.Http.Urls}");
        await context.Out.WriteLineAsync(settings.Grpc.Enabled ? $"  Grpc:Listen = {settings.Grpc.Listen}, Clients = {settings.Grpc.Clients}" : "  Grpc:Listen is empty: API off");
        await context.Out.WriteLineAsync($"  Scoring:EvaluationInterval = {settings.Scoring.EvaluationInterval}");
        await context.Out.WriteLineAsync(string.IsNullOrWhiteSpace(settings.Routing.ConnectionString)
            ? $"  Routing: SQLite {settings.Routing.SqlitePath}"
            : "  Routing: PostgreSQL (Routing:ConnectionString)");
        await context.Out.FlushAsync();
        return 0;
    }

    public static async Task<int> RunAsync(IReadOnlyList<string> args, CliContext context)
    {
        if (args.Contains("--help") || args.Contains("-h"))
        {
            await context.Out.WriteLineAsync(CommandLine.RunUsage);
            await context.Out.FlushAsync();
            return 0;
        }

        var config = ControlPlaneConfiguration.Build(args, out _, out var errors);
        errors.AddRange(ControlPlaneConfiguration.Validate(config, out var settings));
        if (errors.Count > 0)
        {
            foreach (var e in errors)
                await context.Error.WriteLineAsync($"configuration error: {e}");
            await context.Error.WriteLineAsync("mailagent-control-plane: not started; 'mailagent-control-plane check-config' checks a configuration, 'mailagent-control-plane help run' lists the keys");
            return 1;
        }

        using var serilog = CreateLogger(settings.Log);
        var app = Build(settings, context.Time, builder =>
        {
            builder.Logging.ClearProviders();
            builder.Services.AddSerilog(serilog, dispose: false);
            builder.Host.UseSystemd();
            // UseSystemd() looks for systemd as the parent process; the unit's ProtectProc=invisible hides
            // PID 1 (root) from the service's user, so it would stay off and READY=1 never come (found under a
            // real systemd, packaging/test/systemd-namespace.sh). A service systemd started has INVOCATION_ID.
            if (!Microsoft.Extensions.Hosting.Systemd.SystemdHelpers.IsSystemdService()
                && !string.IsNullOrEmpty(Environment.GetEnvironmentVariable("NOTIFY_SOCKET"))
                && !string.IsNullOrEmpty(Environment.GetEnvironmentVariable("INVOCATION_ID")))
            {
                builder.Services.AddSingleton<Microsoft.Extensions.Hosting.Systemd.ISystemdNotifier, Microsoft.Extensions.Hosting.Systemd.SystemdNotifier>();
                builder.Services.AddSingleton<IHostLifetime, Microsoft.Extensions.Hosting.Systemd.SystemdLifetime>();
            }
            builder.Host.UseWindowsService(o => o.ServiceName = "mailagent-control-plane");
        });
        await using (app)
        {
            try
            {
                await StartAsync(app, settings);
            }
            catch (IOException e)
            {
                serilog.Fatal("Cannot listen on {Urls} / {Grpc}: {Reason}", settings.Http.Urls, settings.Grpc.Listen, e.Message);
                return 1;
            }

            await app.WaitForShutdownAsync();
        }

        return 0;
    }

    /// <summary>The whole control plane as a WebApplication (not started); <paramref name="configure"/> runs after the registrations (logging, service hosting, test decorators).</summary>
    public static WebApplication Build(ControlPlaneSettings settings, TimeProvider time, Action<WebApplicationBuilder>? configure = null)
    {
        // The content root is the program's own directory, never the working directory (which its user may not be able to read).
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { ContentRootPath = AppContext.BaseDirectory });
        if (settings.Grpc.Enabled)
            builder.WebHost.UseKestrelHttpsConfiguration();
        builder.WebHost.ConfigureKestrel(kestrel => GrpcApi.ConfigureListeners(kestrel, settings.Http, settings.Grpc, settings.Tls, time,
            kestrel.ApplicationServices.GetRequiredService<ILoggerFactory>().CreateLogger("MailControlPlane.Grpc")));

        var registry = Prometheus.Metrics.NewCustomRegistry();
        var services = builder.Services;
        services.AddSingleton(time);
        services.AddSingleton(registry);
        services.AddSingleton(settings);
        services.AddSingleton(settings.Registry);
        services.AddSingleton(new HealthScorer(settings.Scoring, time));
        services.AddSingleton<IProviderEvaluator>(sp => new ScorerEvaluator(sp.GetRequiredService<HealthScorer>()));
        services.AddSingleton<IDeliveryRecorder>(sp => sp.GetRequiredService<IProviderEvaluator>());
        services.AddSingleton(sp => new AgentConnections(settings.Registry, settings.Tls, settings.Connections,
            sp.GetRequiredService<IDeliveryRecorder>(), time, sp.GetRequiredService<ILoggerFactory>()));
        services.AddHostedService(sp => sp.GetRequiredService<AgentConnections>());
        services.AddRoutingTable(settings.Routing, settings.Registry.ProviderNames);
        services.AddSingleton<IRoutingHealth>(sp => new WriterRoutingHealth(sp.GetRequiredService<RoutingTableWriter>(), settings.Routing, time));
        services.AddSingleton<ProviderBoard>();
        services.AddSingleton(sp => new EvaluationLoop(sp.GetRequiredService<AgentConnections>(), sp.GetRequiredService<IProviderEvaluator>(),
            sp.GetRequiredService<IRoutingTableSink>(), sp.GetRequiredService<ProviderBoard>(), settings.Scoring.EvaluationInterval, time,
            registry, sp.GetRequiredService<ILogger<EvaluationLoop>>()));
        services.AddHostedService(sp => sp.GetRequiredService<EvaluationLoop>());
        services.AddSingleton<IRolloutTarget>(sp => new ConnectionRolloutTarget(sp.GetRequiredService<AgentConnections>(), time, settings.Connections.CallTimeout));
        services.AddSingleton(sp => new ConfigRollout(sp.GetRequiredService<IRolloutTarget>(), time));
        services.AddGrpc();
        // Last, so that it may replace a registration (tests wrap the routing-table sink).
        configure?.Invoke(builder);

        var app = builder.Build();
        app.MapMetrics("/metrics", registry);
        app.MapGet("/health", (HttpContext http) => Health(app.Services, time, http));
        app.MapGet("/", () => Results.Text("mailagent-control-plane: see /metrics and /health; the API is gRPC (mailagent.controlplane.v1)\n"));
        if (settings.Grpc.Enabled)
            app.MapGrpcApi();
        return app;
    }

    /// <summary>Starts the app and logs each bound address in one stable line.</summary>
    public static async Task StartAsync(WebApplication app, ControlPlaneSettings settings)
    {
        var logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("MailControlPlane");
        Log.Starting(logger, CommandLine.Version, settings.Registry.Agents.Count,
            string.IsNullOrWhiteSpace(settings.Routing.ConnectionString) ? "SQLite " + settings.Routing.SqlitePath : "PostgreSQL");
        await app.StartAsync();
        foreach (var address in app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses ?? [])
        {
            if (address.StartsWith("https://", StringComparison.Ordinal))
                Log.GrpcListening(logger, address);
            else
                Log.Listening(logger, address);
        }
    }

    /// <summary>
    /// /health: healthy while the evaluation loop runs (a round within three intervals) and the
    /// routing-table writer is not failing; says how many agents are connected. 503 otherwise.
    /// </summary>
    private static IResult Health(IServiceProvider services, TimeProvider time, HttpContext http)
    {
        var loop = services.GetRequiredService<EvaluationLoop>();
        var connections = services.GetRequiredService<AgentConnections>();
        var last = loop.LastRun;
        var now = time.GetUtcNow();
        bool loopRuns = last != null && now - last.Value <= loop.Interval * 3;
        var writer = services.GetRequiredService<RoutingTableWriter>();
        bool routingOk = services.GetRequiredService<IRoutingHealth>().IsHealthy(out string routingProblem);
        bool healthy = loopRuns && routingOk;
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteString("status", healthy ? "healthy" : "unhealthy");
            json.WriteBoolean("evaluationLoopRunning", loopRuns);
            if (last != null)
                json.WriteString("lastEvaluation", last.Value);
            json.WriteBoolean("routingWriterOk", routingOk);
            json.WriteString("routingRole", writer.IsLeader ? "leader" : "standby");
            if (writer.LastSuccessfulWrite != null)
                json.WriteString("lastRoutingWrite", writer.LastSuccessfulWrite.Value);
            json.WriteNumber("healthLogRowsWaiting", writer.BufferedRows);
            if (routingProblem.Length > 0)
                json.WriteString("routingProblem", routingProblem);
            json.WriteNumber("agentsConnected", connections.ConnectedCount);
            json.WriteNumber("agentsConfigured", connections.All.Count);
            json.WriteStartArray("agents");
            foreach (var c in connections.All)
            {
                var s = c.Snapshot();
                json.WriteStartObject();
                json.WriteString("name", s.Agent.Name);
                json.WriteString("provider", s.Agent.ProviderName);
                json.WriteString("state", s.State.ToString());
                if (s.LastHeartbeat != null)
                    json.WriteString("lastSeen", s.LastHeartbeat.Value);
                json.WriteEndObject();
            }

            json.WriteEndArray();
            json.WriteEndObject();
        }

        http.Response.StatusCode = healthy ? StatusCodes.Status200OK : StatusCodes.Status503ServiceUnavailable;
        return Results.Text(buffer.ToArray(), "application/json");
    }

    private static Serilog.Core.Logger CreateLogger(LogOptions options)
    {
        var level = Enum.Parse<LogEventLevel>(options.Level, ignoreCase: true);
        var config = new LoggerConfiguration()
            .MinimumLevel.Is(level)
            .MinimumLevel.Override("Microsoft", LogEventLevel.Warning)
            .MinimumLevel.Override("Microsoft.Hosting.Lifetime", LogEventLevel.Information)
            .MinimumLevel.Override("Grpc", LogEventLevel.Warning)
            .MinimumLevel.Override("System.Net.Http", LogEventLevel.Warning)
            .WriteTo.Console(outputTemplate: "{Timestamp:yyyy-MM-dd HH:mm:ss.fff} {Level:u3} {Message:lj}{NewLine}{Exception}");
        if (!string.IsNullOrWhiteSpace(options.FilePath))
        {
            config.WriteTo.File(options.FilePath, rollingInterval: RollingInterval.Day, retainedFileCountLimit: options.RetainedDays,
                outputTemplate: "{Timestamp:o} {Level:u3} [{SourceContext}] {Message:lj}{NewLine}{Exception}");
        }

        return config.CreateLogger();
    }
}

/// <summary>The health scorer behind the loop's seam.</summary>
internal sealed class ScorerEvaluator(HealthScorer scorer) : IProviderEvaluator
{
    public void RecordDelivery(string providerName, DateTimeOffset at, DeliveryOutcomeKind outcome, string dsn) =>
        scorer.RecordDelivery(providerName, at, outcome, dsn);

    public IReadOnlyList<ProviderAssessment> Evaluate(IReadOnlyDictionary<string, AgentObservation> byProvider, int activeProvidersWithoutAgent) =>
        scorer.Evaluate(byProvider, activeProvidersWithoutAgent);
}
