using MailAgent.Health;
using MailAgent.Health.Checks;
using MailAgent.LogTailing;
using MailAgent.Postfix;
using Prometheus;

namespace MailAgent.ConfigApply;

/// <summary>Registers the config applier and its <c>config</c> health check.</summary>
internal static class ConfigApplyServiceCollectionExtensions
{
    public static IServiceCollection AddConfigApply(this IServiceCollection services, ConfigApplyOptions options, PostfixOptions postfix, TailOptions tail, HealthOptions health)
    {
        services.AddSingleton(options);
        services.AddSingleton(sp => Create(options, postfix, tail, health, sp.GetRequiredService<IPostfixCommands>(), sp.GetRequiredService<CollectorRegistry>(),
            sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<ILoggerFactory>()));
        services.AddHostedService(sp => new AuditLogFollower(options.AuditLogPath, health.Interval, sp.GetRequiredService<ConfigApplier>(),
            sp.GetService<MailAgent.Certificates.CertificateMetrics>(), sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<ILogger<AuditLogFollower>>()));
        services.AddSingleton<IHealthCheck>(sp => new ConfigApplyHealthCheck(sp.GetRequiredService<ConfigApplier>(), options, sp.GetRequiredService<TimeProvider>()));
        return services;
    }

    /// <summary>The applier as the daemon and <c>mailagent apply-config</c> build it.</summary>
    public static ConfigApplier Create(ConfigApplyOptions options, PostfixOptions postfix, TailOptions tail, HealthOptions health, IPostfixCommands control,
        CollectorRegistry registry, TimeProvider time, ILoggerFactory loggers)
    {
        var settings = new ConfigApplierSettings(options, postfix.EffectiveConfigDirectory, options.EffectiveStagingDirectory(tail.StateDirectory), tail.Path,
            health.SmtpEndpointList());
        var audit = new ConfigAuditLog(options.AuditLogPath, time, loggers.CreateLogger<ConfigAuditLog>());
        return new ConfigApplier(settings, control, (endpoint, ct) => SmtpBannerCheck.ProbeAsync(endpoint, ct, MailAgent.Probes.ProbeConnection.Parse(health.ProbeSourceAddress)), audit, registry, time, loggers.CreateLogger<ConfigApplier>());
    }
}
