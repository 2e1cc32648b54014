using MailControlPlane.Hosting;
using MailControlPlane.Registry;
using Serilog;

namespace MailControlPlane.Cli;

/// <summary><c>mailagent-control-plane run</c> and <c>check-config</c>: read and check the configuration, then host.</summary>
internal static class RunCommand
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
        await context.Out.WriteLineAsync(settings.Grpc.Enabled ? $"  Grpc:Listen = {settings.Grpc.Listen}, ReadClients = {string.Join(',', settings.Grpc.ClientLists().ReadClients)}, WriteClients = {string.Join(',', settings.Grpc.ClientLists().WriteClients)}" : "  Grpc:Listen is empty: API off");
        await context.Out.WriteLineAsync($"  Scoring:EvaluationInterval = {settings.Scoring.EvaluationInterval}");
        await context.Out.WriteLineAsync(string.IsNullOrWhiteSpace(settings.Routing.ConnectionString)
            ? $"  Routing: SQLite {settings.Routing.SqlitePath}"
            : "  Routing: PostgreSQL (Routing:ConnectionString)");
        await context.Out.FlushAsync();
        return 0;
    }

    public static async Task<int> RunAsync(IReadOnlyList<string> args, CliContext context)
    {
        var config = ControlPlaneConfiguration.Build(args, out _, out var errors);
        errors.AddRange(ControlPlaneConfiguration.Validate(config, out var settings));
        if (errors.Count > 0)
        {
            foreach (var e in errors)
                await context.Error.WriteLineAsync($"configuration error: {e}");
            await context.Error.WriteLineAsync("mailagent-control-plane: not started; 'mailagent-control-plane check-config' checks a configuration, 'mailagent-control-plane help run' lists the keys");
            return 1;
        }

        using var serilog = ControlPlaneHost.CreateLogger(settings.Log);
        var app = ControlPlaneHost.Build(settings, context.Time, reloadArgs: args, configure: builder =>
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
                await ControlPlaneHost.StartAsync(app, settings);
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
}
