using MailAgent.Postfix;
using Prometheus;

namespace MailAgent.Certificates;

/// <summary>Registers the certificate deployer, its metrics and (with Certificates:Watch) the watcher.</summary>
internal static class CertificateServiceCollectionExtensions
{
    public static IServiceCollection AddCertificates(this IServiceCollection services, CertificateOptions options, string stateDirectory, string healthSmtpEndpoints, System.Net.IPAddress? probeSource = null)
    {
        services.AddSingleton(options);
        services.AddSingleton(sp => new CertificateMetrics(sp.GetRequiredService<CollectorRegistry>(), sp.GetRequiredService<TimeProvider>()));
        services.AddSingleton(sp => Create(options, stateDirectory, healthSmtpEndpoints, sp.GetRequiredService<IPostfixCommands>(),
            sp.GetRequiredService<CertificateMetrics>(), sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<ILogger<CertificateDeployer>>(), probeSource));
        if (options.Watch)
            services.AddHostedService<CertificateWatcher>();
        return services;
    }

    /// <summary>The deployer as the daemon and <c>mailagent cert-deployed</c> both build it.</summary>
    public static CertificateDeployer Create(
        CertificateOptions options, string stateDirectory, string healthSmtpEndpoints, IPostfixCommands postfix, CertificateMetrics metrics, TimeProvider time, ILogger logger,
        System.Net.IPAddress? probeSource = null)
    {
        string backup = string.IsNullOrWhiteSpace(options.BackupDirectory) ? Path.Combine(stateDirectory, "certificates") : options.BackupDirectory;
        return new CertificateDeployer(options, new CertificateLocator(options, postfix), new CertificateStore(backup), postfix,
            new StartTlsProbe(options.ProbeTimeout, time, source: probeSource), options.EndpointList(healthSmtpEndpoints), metrics, time, logger);
    }
}
