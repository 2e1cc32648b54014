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
    public const string RunUsage = """
        mailagent run [--config FILE] [Section:Key=value ...]

        Runs the agent: follows the Postfix log, keeps the metrics and serves them at /metrics,
        runs health checks and serves them at /health, /health/live and /health/ready.
        Under systemd (Type=notify) it reports ready once its listener is up, the tail is
        positioned and the first checks ran, and pings the watchdog (WatchdogSec=) while its
        loops run; as a Windows service it runs under the service manager. SIGTERM or Ctrl-C stops it after the
        checkpoint is written.

        Configuration keys (defaults in brackets):
          LogTailing:Path                 log file to follow [Postfix's maillog_file, else /var/log/mail.log]
          LogTailing:StateDirectory       checkpoint directory [/var/lib/mailagent]
          LogTailing:StartAt              End or Beginning, when there is no checkpoint [End]
          LogTailing:PollInterval         fallback poll [00:00:02]
          LogTailing:CheckpointInterval   checkpoint at most this often [00:00:01]
          LogTailing:RotatedFileGrace     keep reading a renamed log this long [00:00:05]
          LogTailing:LineDigestFile       diagnostics: a hash of every counted line, kept in step with the checkpoint []
          Http:Urls                       /metrics listener(s), ';'-separated [http://127.0.0.1:9160]
          Correlation:MaxMessages         messages followed at once [200000]
          Correlation:MaxAge              drop a message not seen to end after [6.00:00:00]
          Postfix:ConfigDirectory         the instance, passed as '-c DIR' to every Postfix program [Postfix's default]
          Postfix:PostfixPath             postfix command, in PATH or absolute [postfix]
          Postfix:PostconfPath            postconf command [postconf]
          Postfix:PostqueuePath           postqueue command [postqueue]
          Queue:Enabled                   list the Postfix queue for the postfix_showq_* series [true]
          Queue:Interval                  time between two 'postqueue -j' runs [00:00:30]
          Queue:Timeout                   kill a run taking longer; at most Interval [00:00:20]
          Queue:TopDomains                deferred recipient domains named, the rest 'other' [10]
          Queue:AgeBuckets                message age histogram bounds, seconds [60,300,...,432000]
          Health:Checks                   checks run, ';'-separated, also dns [postfix;log;delivery;smtp;milter;disk;tls]
          Health:Interval                 fast checks (postfix, log, smtp, milter) every [00:00:05]
          Health:SlowInterval             slow checks (delivery, disk, tls, dns) every [00:01:00]
          Health:CheckTimeout             a check taking longer is unhealthy [00:00:05]
          Health:StartupTimeout           readiness waits at most for tail and first checks [00:00:30]
          Health:LoopStallTimeout         a loop silent this long stops watchdog and /health/live [00:00:30]
          Health:LogStaleDegraded         no new log line for this long: degraded [00:30:00]
          Health:LogStaleUnhealthy        no new log line for this long: unhealthy [02:00:00]
          Health:LogLagDegradedBytes      unread log bytes: degraded at [16777216]
          Health:LogLagUnhealthyBytes     unread log bytes: unhealthy at [268435456]
          Health:OutcomeWindow            window for delivery outcomes and DKIM signing [00:15:00]
          Health:DeliveryMinAttempts      fewer attempts in the window: no verdict [20]
          Health:DeliveryFailureDegraded  server-caused failure ratio: degraded at [0.2]
          Health:DeliveryFailureUnhealthy server-caused failure ratio: unhealthy at [0.5]
          Health:SmtpEndpoints            host:port list that must answer 220 and EHLO [127.0.0.1:25]
          Health:ProbeSourceAddress       loopback source of the agent's SMTP/TLS probes, left out of postfix_smtpd_* [127.0.0.2]
          Health:MilterAddress            milters: inet:host:port, unix:/path, local:/path or host:port, ','-separated;
                                          empty: Postfix's smtpd_milters and non_smtpd_milters (postconf) []
          Health:DkimMinMessages          fewer queued messages in the window: no signing verdict [10]
          Health:DkimSigningDegraded      signatures per queued message below: degraded [0.5]
          Health:QueueDirectory           directory on the queue file system [/var/spool/postfix]
          Health:DiskFreeDegradedPercent  free space below: degraded [10]
          Health:DiskFreeUnhealthyPercent free space below: unhealthy [5]
          Health:Dns:Resolver             dns check resolver ADDRESS[:PORT]; empty for /etc/resolv.conf []
          Health:Dns:Domain               mail domain whose SPF, DKIM, DMARC records are checked []
          Health:Dns:HostAddresses        this host's public addresses, ';'-separated []
          Health:Dns:HostName             myhostname: what the PTR records must name []
          Health:Dns:DkimSelector         DKIM selector []
          Health:Dns:DkimKeyFile          DKIM private key (PEM) or opendkim-genkey .txt record []
          Health:Dns:Timeout              one DNS query, at most half of CheckTimeout [00:00:02]
          Certificates:CertificateFile    PEM chain, leaf first; empty: postconf smtpd_tls_chain_files or smtpd_tls_cert_file []
          Certificates:KeyFile            PEM key; empty: smtpd_tls_key_file or the chain file []
          Certificates:Hostname           name the certificate must cover; empty: postconf myhostname []
          Certificates:Endpoints          STARTTLS host:port list probed; empty: Health:SmtpEndpoints + 127.0.0.1:587 []
          Certificates:ImplicitTlsEndpoints  implicit-TLS host:port list (465) []
          Certificates:ExpiryDegradedDays fewer days left: tls check degraded [21]
          Certificates:ExpiryUnhealthyDays fewer days left: unhealthy (expired always is) [3]
          Certificates:ReloadCommands:0   another service to reload after Postfix, split on spaces, no shell []
          Certificates:VerifyRetries      probes after a reload until the new certificate is served [5]
          Certificates:VerifyDelay        between two probes [00:00:02]
          Certificates:ProbeTimeout       one STARTTLS probe [00:00:04]
          Certificates:Watch              deploy when the files change [true]
          Certificates:PollInterval       fallback poll of the files [00:05:00]
          Certificates:Debounce           quiet time after a change before deploying [00:00:02]
          Certificates:ServedMismatchGrace served differs from the files this long: unhealthy [00:10:00]
          Certificates:BackupDirectory    last good files and last result [LogTailing:StateDirectory/certificates]
          AgentLog:FilePath               the agent's own log, empty for console only [/var/log/mailagent/agent.log]
          AgentLog:Level                  Verbose … Fatal [Information]
          AgentLog:RetainedDays           rolled log files kept [14]
          Grpc:Listen                     gRPC API ADDRESS:PORT (TLS, HTTP/2), e.g. 127.0.0.1:9161; empty turns it off []
          Grpc:CaFile                     PEM CA bundle client certificates must chain to []
          Grpc:CertificateFile            the agent's PEM server certificate []
          Grpc:KeyFile                    its PEM private key []
          Grpc:ReadClients                client CNs allowed GetStatus, GetQueue, WatchEvents, Health (comma-separated) []
          Grpc:WriteClients               client CNs allowed ApplyConfig, ReloadCertificates (comma-separated) []
          Grpc:ClientSpkiPins             optional base64 SHA-256 of allowed client keys' SubjectPublicKeyInfo []
          Grpc:EventBufferSize            events kept for WatchEvents to resume from [10000]
          Events:IncludeRecipients        send recipient addresses in clear in delivery events [false]
          Events:RecipientHashKey         HMAC-SHA256 key (16+ characters) for recipient hashes []
          Events:RecipientHashKeyFile     file holding that key (first line); use one of the two []
          ConfigApply:AllowedParameters   main.cf names ApplyConfig may change, ';'-separated, '*' wildcards [see docs/operations.md]
          ConfigApply:AllowDangerous      dangerous parameters ApplyConfig may still change, same syntax []
          ConfigApply:AuditLogPath        one JSON line per apply [/var/log/mailagent/config-audit.log]
          ConfigApply:StagingDirectory    snapshots and staged copies [LogTailing:StateDirectory/config-apply]
          ConfigApply:VerifyTimeout       after the reload, Postfix must be verified within [00:00:30]
          ConfigApply:LockTimeout         a second apply waits at most this for the first [00:02:00]
          ConfigApply:IdempotencyKeysKept replies remembered by idempotency key [1000]
          ConfigApply:RollbackDegradedFor health check 'config' degraded after a rollback for [00:30:00]
          ('mailagent pki init' makes the certificates.)
        Environment: MAILAGENT__LogTailing__Path=… and so on.
        """;

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
        await context.Out.WriteLineAsync(string.IsNullOrWhiteSpace(certificates.CertificateFile)
            ? $"  Certificates: Postfix's smtpd_tls_chain_files or smtpd_tls_cert_file, Watch = {certificates.Watch}"
            : $"  Certificates:CertificateFile = {certificates.CertificateFile}, KeyFile = {certificates.KeyFile}, Watch = {certificates.Watch}");

        // What run will need, checked as the user this runs as (run it as the service user).
        var findings = await new ServiceUserChecks(tail, health, certificates, new PostfixCommands(postfix, context.Time, ServiceUserChecks.CommandTimeout))
            .RunAsync(CancellationToken.None);
        await context.Out.WriteLineAsync($"checked as {FileAccessAdvice.Identity()}: log, state directory, Postfix commands, TLS files, milters");
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
        if (args.Contains("--help") || args.Contains("-h"))
        {
            await context.Out.WriteLineAsync(RunUsage);
            await context.Out.FlushAsync();
            return 0;
        }

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
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { ContentRootPath = AppContext.BaseDirectory });
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
