using Prometheus;

namespace MailAgent.Certificates;

/// <summary><c>mailagent_certificate_expiry_seconds</c> and <c>mailagent_certificate_reloads_total</c>; labels bounded by the configured endpoints.</summary>
internal sealed class CertificateMetrics
{
    private readonly Gauge _expiry;
    private readonly Counter _reloads;

    public CertificateMetrics(CollectorRegistry registry)
    {
        var factory = Prometheus.Metrics.WithCustomRegistry(registry);
        _expiry = factory.CreateGauge("mailagent_certificate_expiry_seconds",
            "NotAfter of the TLS certificate as unix time: source=file (the configured files) or served (after STARTTLS on endpoint).",
            new GaugeConfiguration { LabelNames = ["source", "endpoint"] });
        _reloads = factory.CreateCounter("mailagent_certificate_reloads_total",
            "Certificate deployments by result: deployed, unchanged, refused (invalid files), rolled_back (reloaded but not served).",
            new CounterConfiguration { LabelNames = ["result"] });
        foreach (var result in Enum.GetValues<CertificateReloadResult>())
            _reloads.WithLabels(Label(result)).Publish();
    }

    public void FileExpiry(DateTimeOffset notAfter) => _expiry.WithLabels("file", "").Set(notAfter.ToUnixTimeSeconds());

    public void ServedExpiry(TlsEndpoint endpoint, DateTimeOffset notAfter) => _expiry.WithLabels("served", endpoint.ToString()).Set(notAfter.ToUnixTimeSeconds());

    public void Reload(CertificateReloadResult result) => _reloads.WithLabels(Label(result)).Inc();

    public static string Label(CertificateReloadResult result) => result switch
    {
        CertificateReloadResult.Deployed => "deployed",
        CertificateReloadResult.Unchanged => "unchanged",
        CertificateReloadResult.Refused => "refused",
        _ => "rolled_back",
    };
}
