using MailAgent.Health.Checks;
using MailAgent.LogTailing;
using MailAgent.Metrics;
using MailAgent.Postfix;
using Microsoft.Extensions.Hosting.Systemd;
using Prometheus;

namespace MailAgent.Health;

/// <summary>Registers the health loop, its checks, the start-up gate and the systemd watchdog.</summary>
internal static class HealthServiceCollectionExtensions
{
    /// <summary>Call after AddLogTailing: the start-up gate must start after the tail and the health loop.</summary>
    public static IServiceCollection AddHealth(this IServiceCollection services, HealthOptions options, PostfixOptions postfix)
    {
        services.AddSingleton(Microsoft.Extensions.Options.Options.Create(options));
        services.AddSingleton(options);
        services.AddPostfixCommands(postfix);
        foreach (var name in options.CheckNames())
        {
            services.AddSingleton<IHealthCheck>(sp => name switch
            {
                "postfix" => new PostfixRunningCheck(sp.GetRequiredService<IPostfixCommands>()),
                "log" => new LogFreshnessCheck(sp.GetRequiredService<ITailStatus>(), sp.GetRequiredService<LogStats>(), options, sp.GetRequiredService<TimeProvider>()),
                "delivery" => new DeliveryOutcomeCheck(sp.GetRequiredService<LogStats>(), options, sp.GetRequiredService<TimeProvider>()),
                "smtp" => new SmtpBannerCheck(options),
                "milter" => new MilterCheck(sp.GetRequiredService<LogStats>(), options, sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<IPostfixCommands>()),
                "disk" => new DiskSpaceCheck(options),
                "dns" => new Dns.DnsCheck(options.Dns, new Dns.DnsClientLookup(options.Dns)),
                "blocklist" => new Dns.BlocklistCheck(options.Dns, new Dns.DnsClientLookup(options.Dns)),
                "tls" => new TlsCertificateCheck(sp.GetRequiredService<MailAgent.Certificates.CertificateDeployer>(), sp.GetRequiredService<MailAgent.Certificates.CertificateOptions>(),
                    sp.GetRequiredService<MailAgent.Certificates.CertificateMetrics>(), sp.GetRequiredService<TimeProvider>()),
                _ => throw new InvalidOperationException($"unknown health check '{name}'"),
            });
        }

        services.AddSingleton(sp => new HealthMonitor(
            sp.GetServices<IHealthCheck>(), sp.GetRequiredService<Microsoft.Extensions.Options.IOptions<HealthOptions>>(),
            sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<ILogger<HealthMonitor>>(), sp.GetRequiredService<CollectorRegistry>(),
            sp.GetService<TailService>()?.Started.Task));
        services.AddSingleton<IHealthReportSource>(sp => sp.GetRequiredService<HealthMonitor>());
        services.AddHostedService(sp => sp.GetRequiredService<HealthMonitor>());
        services.AddSingleton<LoopLiveness>();
        services.AddHostedService<HealthStartupGate>();
        services.AddSingleton(WatchdogSettings.FromEnvironment(
            Environment.GetEnvironmentVariable("WATCHDOG_USEC"), Environment.GetEnvironmentVariable("WATCHDOG_PID"), Environment.ProcessId));
        services.AddHostedService(sp => new WatchdogService(
            sp.GetService<ISystemdNotifier>(), sp.GetRequiredService<WatchdogSettings>(), sp.GetRequiredService<LoopLiveness>(), sp.GetRequiredService<IHostApplicationLifetime>(),
            sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<ILogger<WatchdogService>>()));
        return services;
    }
}
