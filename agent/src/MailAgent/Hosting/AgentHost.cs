using MailAgent.Certificates;
using MailAgent.Config;
using MailAgent.ConfigApply;
using MailAgent.Grpc;
using MailAgent.Health;
using MailAgent.Health.Checks;
using MailAgent.LogTailing;
using MailAgent.Metrics;
using MailAgent.Pipeline;
using MailAgent.Postfix;
using MailAgent.Queue;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Prometheus;
using Serilog;

namespace MailAgent.Hosting;

/// <summary><c>mailagent run</c> and <c>mailagent check-config</c>.</summary>
internal static partial class AgentHost
{
    public static async Task<int> CheckConfigAsync(IReadOnlyList<string> args, CliContext context)
    {
        var config = AgentConfiguration.Build(args, out var file, out var errors);
        errors.AddRange(AgentConfiguration.Validate(config, out var settings));
        var (tail, http, correlation, log, grpc, queue, health, postfix, _, certificates) = settings;
        if (errors.Count > 0)
        {
            foreach (var e in errors)
                await context.Error.WriteLineAsync($"configuration error: {e}");
            return 1;
        }

        string logSource = "set";
        if (string.IsNullOrWhiteSpace(config["LogTailing:Path"]))
            (tail.Path, logSource) = await LogPathDefault.ResolveAsync(new PostfixCommands(postfix, context.Time), CancellationToken.None);

        await context.Out.WriteLineAsync($"configuration OK ({file ?? "defaults, environment and arguments only"})");
        await context.Out.WriteLineAsync($"  LogTailing:Path = {tail.Path} ({logSource})");
        await context.Out.WriteLineAsync($"  LogTailing:StateDirectory = {tail.StateDirectory}");
        await context.Out.WriteLineAsync($"  LogTailing:StartAt = {tail.StartAt}");
        await context.Out.WriteLineAsync($"  Http:Urls = {http.Urls}");
        await context.Out.WriteLineAsync($"  Postfix:ConfigDirectory = {postfix.EffectiveConfigDirectory}");
        await context.Out.WriteLineAsync($"  Correlation:MaxMessages = {correlation.MaxMessages}, MaxAge = {correlation.MaxAge}");
        await context.Out.WriteLineAsync($"  Health:Checks = {health.Checks}, Interval = {health.Interval}, SlowInterval = {health.SlowInterval}");
        await context.Out.WriteLineAsync($"  AgentLog:FilePath = {log.FilePath}, Level = {log.Level}");
        await context.Out.WriteLineAsync(grpc.Enabled
            ? $"  Grpc:Listen = {grpc.Listen}, ReadClients = {grpc.ReadClients}, WriteClients = {grpc.WriteClients}"
            : "  Grpc:Listen is empty: gRPC API off");
        await context.Out.WriteLineAsync(queue.Enabled
            ? $"  Queue: every {queue.Interval} (timeout {queue.Timeout}) with {PostfixCommands.CommandLine(postfix.PostqueuePath, postfix, PostfixCommandsExtensions.ListQueueArguments)}, top {queue.TopDomains} domains"
            : "  Queue:Enabled = false");
        await context.Out.WriteLineAsync($"  Memory:ReleaseStartupPages = {(settings.Memory.ReleaseStartupPages ? "true" : "false")}");
        await context.Out.WriteLineAsync(string.IsNullOrWhiteSpace(certificates.CertificateFile)
            ? $"  Certificates: Postfix's smtpd_tls_chain_files or smtpd_tls_cert_file, Watch = {certificates.Watch}"
            : $"  Certificates:CertificateFile = {certificates.CertificateFile}, KeyFile = {certificates.KeyFile}, Watch = {certificates.Watch}");

        // What run will need, checked as the user this runs as (run it as the service user).
        var findings = await new ServiceUserChecks(tail, health, certificates, new PostfixCommands(postfix, context.Time, ServiceUserChecks.CommandTimeout), context.Time, log.FilePath ?? "")
            .RunAsync(CancellationToken.None);
        await context.Out.WriteLineAsync($"checked as {FileAccessAdvice.Identity()}: log, state directory, agent log, Postfix commands, TLS files, milters");
        foreach (var finding in findings)
            await (finding.Severity == FindingSeverity.Error ? context.Error : context.Out).WriteLineAsync(finding.ToString());
        int failing = findings.Count(f => f.Severity == FindingSeverity.Error);
        await context.Out.WriteLineAsync(findings.Count == 0
            ? "service user checks OK"
            : $"{failing} error(s), {findings.Count - failing} warning(s): {(failing > 0 ? "run would not work" : "run would work, with the checks above unhealthy")}");
        await context.Out.FlushAsync();
        await context.Error.FlushAsync();
        return failing > 0 ? 1 : 0;
    }

    public static async Task<int> RunAsync(IReadOnlyList<string> args, CliContext context)
    {
        var config = AgentConfiguration.Build(args, out _, out var errors);
        errors.AddRange(AgentConfiguration.Validate(config, out var settings));
        var (tail, http, correlation, agentLog, grpc, queue, health, postfix, configApply, certificates) = settings;
        if (errors.Count > 0)
        {
            foreach (var e in errors)
                await context.Error.WriteLineAsync($"configuration error: {e}");
            await context.Error.WriteLineAsync("mailagent: not started; 'mailagent check-config' checks a configuration, 'mailagent help run' lists the keys");
            return 1;
        }

        string logSource = "set";
        if (string.IsNullOrWhiteSpace(config["LogTailing:Path"]))
            (tail.Path, logSource) = await LogPathDefault.ResolveAsync(new PostfixCommands(postfix, context.Time), CancellationToken.None);

        using var serilog = CreateLogger(agentLog);
        // The content root is the program's own directory, never the working directory: a daemon started
        // from a directory its user cannot read (runuser from /root, a clone in mktemp -d) must still start.
        // The agent reads no appsettings.json, so nothing watches for one: by default the host would keep an
        // inotify watch on that whole directory (the binary's, /usr/bin) and a thread for it (bench/README.md, "Memory").
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions
        {
            ContentRootPath = AppContext.BaseDirectory,
            Args = ["--hostBuilder:reloadConfigOnChange=false"],
        });
        builder.Configuration.AddConfiguration(config);
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
        builder.Host.UseWindowsService(o => o.ServiceName = "mailagent");
        if (grpc.Enabled)
        {
            // Explicit endpoints replace UseUrls, so both listeners are declared there.
            builder.WebHost.UseKestrelHttpsConfiguration();
            builder.WebHost.ConfigureKestrel(kestrel => GrpcApi.ConfigureListeners(kestrel, http.Urls, grpc));
        }
        else
        {
            builder.WebHost.UseUrls(http.Urls.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
        }

        builder.Services.AddSingleton(context.Time);
        builder.Services
            .AddPostfixCommands(postfix)
            .AddMetricsRegistry(context.Time)
            .AddLogPipeline(correlation, context.Time, health.ProbeSourceAddress)
            .AddLogTailing(tail)
            .AddQueueInspection(queue, postfix)
            .AddCertificates(certificates, tail.StateDirectory, health.SmtpEndpoints, MailAgent.Probes.ProbeConnection.Parse(health.ProbeSourceAddress))
            .AddHealth(health, postfix)
            .AddConfigApply(configApply, postfix, tail, health);
        if (settings.Memory.ReleaseStartupPages && OperatingSystem.IsLinux())
            builder.Services.AddHostedService(sp => new StartupPageRelease(
                sp.GetRequiredService<IHostApplicationLifetime>(), context.Time, sp.GetRequiredService<ILogger<StartupPageRelease>>()));
        if (grpc.Enabled)
        {
            builder.Services.AddSingleton(new MailAgent.Events.DeliveryEventFactory(settings.Events, MailAgent.Events.EventKeySecret.LoadOrCreate(tail.StateDirectory)));
            builder.Services.AddGrpcApi(grpc, context.Time, tail.StateDirectory);
        }

        var app = builder.Build();
        app.MapMetrics("/metrics", app.Services.GetRequiredService<CollectorRegistry>());
        app.MapHealth();
        app.MapGet("/", () => Results.Text("mailagent: see /metrics and /health\n"));
        if (grpc.Enabled)
            app.MapGrpcApi();

        try
        {
            await app.StartAsync();
        }
        catch (IOException e)
        {
            serilog.Fatal("Cannot listen on {Urls}: {Reason}", http.Urls, e.Message);
            return 1;
        }

        // StartAsync returned after HealthStartupGate: the tail is positioned and the first checks have run.
        var logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("MailAgent");
        LogLogPath(logger, tail.Path, logSource);
        foreach (var address in app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses ?? [])
        {
            if (address.StartsWith("https://", StringComparison.Ordinal))
                Grpc.Log.Listening(logger, address);
            else
                LogListening(logger, address);
        }

        await app.WaitForShutdownAsync();
        return 0;
    }

    private static IServiceCollection AddMetricsRegistry(this IServiceCollection services, TimeProvider time)
    {
        var registry = Prometheus.Metrics.NewCustomRegistry();
        ProcessMetrics.Register(registry, time);
        return services.AddSingleton(registry);
    }

    private static IServiceCollection AddLogPipeline(this IServiceCollection services, CorrelationOptions correlation, TimeProvider time, string probeSource)
    {
        services.AddSingleton(sp =>
        {
            var processor = LogProcessor.Create(time.GetUtcNow(), correlation.MaxMessages, correlation.MaxAge, sp.GetService<ILineObserver>(), probeSource);
            _ = new LogMetricsExporter(sp.GetRequiredService<CollectorRegistry>(), processor.Stats, () => processor.Correlator.Count);
            return processor;
        });
        services.AddSingleton(sp => sp.GetRequiredService<LogProcessor>().Stats);
        services.AddSingleton<ILineSink>(sp => sp.GetRequiredService<LogProcessor>());
        services.AddSingleton<ICheckpointState>(sp => new PipelineCheckpoint(sp.GetRequiredService<LogProcessor>(),
            sp.GetRequiredService<Microsoft.Extensions.Options.IOptions<TailOptions>>().Value.Path, sp.GetRequiredService<ILogger<PipelineCheckpoint>>()));
        return services;
    }

    private static IServiceCollection AddLogTailing(this IServiceCollection services, TailOptions tail)
    {
        services.AddSingleton(Microsoft.Extensions.Options.Options.Create(tail));
        services.AddSingleton<TailService>();
        services.AddSingleton<ITailStatus>(sp => sp.GetRequiredService<TailService>());
        services.AddHostedService(sp => sp.GetRequiredService<TailService>());
        return services;
    }

    private static Serilog.Core.Logger CreateLogger(AgentLogOptions options) =>
        SerilogBootstrap.Create(options.Level, options.FilePath, options.RetainedDays);

    [LoggerMessage(EventId = 7301, Level = LogLevel.Information, Message = "Log to follow: {Path} ({Source})")]
    private static partial void LogLogPath(Microsoft.Extensions.Logging.ILogger logger, string path, string source);

    [LoggerMessage(EventId = 5000, Level = LogLevel.Information, Message = "mailagent listening on {Address}")]
    private static partial void LogListening(Microsoft.Extensions.Logging.ILogger logger, string address);
}
