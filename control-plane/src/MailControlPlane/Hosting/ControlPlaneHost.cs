using System.Text.Json;
using MailControlPlane.Connections;
using MailControlPlane.DeliveryEvents;
using MailControlPlane.Grpc;
using MailControlPlane.Registry;
using MailControlPlane.Routing;
using MailControlPlane.Scoring;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Prometheus;

namespace MailControlPlane.Hosting;

/// <summary>The control plane's host: services, listeners and logging, shared by <c>run</c> and the tests.</summary>
internal static class ControlPlaneHost
{
    /// <summary>The whole control plane as a WebApplication (not started); <paramref name="configure"/> runs after the registrations (logging, service hosting, test decorators).</summary>
    /// <param name="reloadArgs">The command line the configuration came from: its file is watched (and SIGHUP heard) to add and remove agents; null: no reloads.</param>
    public static WebApplication Build(ControlPlaneSettings settings, TimeProvider time, Action<WebApplicationBuilder>? configure = null, IReadOnlyList<string>? reloadArgs = null)
    {
        // The content root is the program's own directory, never the working directory (which its user may not be able to read).
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { ContentRootPath = AppContext.BaseDirectory });
        if (settings.Grpc.Enabled)
            builder.WebHost.UseKestrelHttpsConfiguration();
        builder.WebHost.ConfigureKestrel(kestrel => GrpcApi.ConfigureListeners(kestrel, settings.Http, settings.Grpc, settings.Tls, time));

        var registry = Prometheus.Metrics.NewCustomRegistry();
        var services = builder.Services;
        services.AddSingleton(time);
        services.AddSingleton(registry);
        services.AddSingleton(settings);
        services.AddSingleton(settings.Registry);
        services.AddSingleton(new HealthScorer(settings.Scoring, time));
        services.AddSingleton<IScorerMemory>(sp => sp.GetRequiredService<HealthScorer>());
        services.AddSingleton<IProviderEvaluator>(sp => new ScorerEvaluator(sp.GetRequiredService<HealthScorer>()));
        services.AddSingleton<IDeliveryRecorder>(sp => sp.GetRequiredService<IProviderEvaluator>());
        services.AddDeliveryEvents(settings.DeliveryEvents, settings.Routing);
        services.AddSingleton(sp => new AgentConnections(settings.Registry, settings.Tls, settings.Connections,
            sp.GetRequiredService<IDeliveryRecorder>(), time, sp.GetRequiredService<ILoggerFactory>(), sp.GetService<DeliveryEvents.IDeliveryEventSink>()));
        services.AddHostedService(sp => sp.GetRequiredService<AgentConnections>());
        services.AddRoutingTable(settings.Routing, settings.Registry.ProviderNames);
        services.AddSingleton<IRoutingHealth>(sp => new WriterRoutingHealth(sp.GetRequiredService<RoutingTableWriter>(), settings.Routing, time));
        services.AddSingleton<ProviderBoard>();
        services.AddSingleton<Probing.ISmtpProber>(new Probing.SmtpProber(settings.Probing, time));
        services.AddSingleton(sp => new Probing.ProbeRunner(settings.Probing, settings.Registry.Agents, sp.GetRequiredService<Probing.ISmtpProber>(),
            sp.GetRequiredService<IRoutingOrderReader>(), time, registry, sp.GetRequiredService<ILogger<Probing.ProbeRunner>>()));
        services.AddHostedService(sp => sp.GetRequiredService<Probing.ProbeRunner>());
        services.AddSingleton(sp =>
        {
            var connections = sp.GetRequiredService<AgentConnections>();
            var loop = new EvaluationLoop(
                new Probing.ProbedObservationSource(connections, sp.GetRequiredService<Probing.ProbeRunner>()),
                sp.GetRequiredService<IProviderEvaluator>(),
                sp.GetRequiredService<IRoutingTableSink>(), sp.GetRequiredService<ProviderBoard>(), settings.Scoring.EvaluationInterval, time,
                registry, sp.GetRequiredService<ILogger<EvaluationLoop>>());
            connections.Changed = loop.Nudge;
            return loop;
        });
        services.AddHostedService(sp => sp.GetRequiredService<EvaluationLoop>());
        if (reloadArgs != null)
        {
            services.AddSingleton(sp => new FleetReloader(reloadArgs, settings.Registry, sp.GetRequiredService<AgentConnections>(),
                sp.GetRequiredService<RoutingTableWriter>(), sp.GetRequiredService<ProviderBoard>(), time, TimeSpan.FromSeconds(1),
                sp.GetRequiredService<ILogger<FleetReloader>>()));
            services.AddHostedService(sp => sp.GetRequiredService<FleetReloader>());
        }

        services.AddSingleton<IRolloutTarget>(sp => new ConnectionRolloutTarget(sp.GetRequiredService<AgentConnections>(), time, settings.Connections.CallTimeout));
        services.AddSingleton(sp => new ConfigRollout(sp.GetRequiredService<IRolloutTarget>(), time));
        services.AddSingleton(sp => new ApiAuthorization(settings.Grpc.ClientLists(), registry, sp.GetRequiredService<ILogger<ApiAuthorization>>()));
        services.AddGrpc();
        // Last, so that it may replace a registration (tests wrap the routing-table sink).
        configure?.Invoke(builder);

        var app = builder.Build();
        app.MapMetrics("/metrics", registry);
        app.MapGet("/health", (HttpContext http) => Health(app.Services, time, http));
        StatusPage.StatusEndpoints.MapStatusPage(app, time);
        if (settings.Grpc.Enabled)
            app.MapGrpcApi();
        return app;
    }

    /// <summary>Starts the app and logs each bound address in one stable line.</summary>
    public static async Task StartAsync(WebApplication app, ControlPlaneSettings settings)
    {
        var logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("MailControlPlane");
        Log.Starting(logger, ProductVersion.Text, settings.Registry.Agents.Count,
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

    public static Serilog.Core.Logger CreateLogger(LogOptions options) =>
        SerilogBootstrap.Create(options.Level, options.FilePath, options.RetainedDays);
}

/// <summary>The health scorer behind the loop's seam.</summary>
internal sealed class ScorerEvaluator(HealthScorer scorer) : IProviderEvaluator
{
    public void RecordDelivery(string providerName, DateTimeOffset at, DeliveryOutcomeKind outcome, string dsn) =>
        scorer.RecordDelivery(providerName, at, outcome, dsn);

    public IReadOnlyList<ProviderAssessment> Evaluate(IReadOnlyDictionary<string, AgentObservation> byProvider, int activeProvidersWithoutAgent) =>
        scorer.Evaluate(byProvider, activeProvidersWithoutAgent);
}
