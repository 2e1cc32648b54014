using System.Collections.Concurrent;
using Prometheus;

namespace MailAgent.Certificates;

/// <summary>
/// <c>mailagent_tls_certificate_expiry_seconds{path}</c> (docs/metrics.md: seconds until notAfter, computed
/// at each scrape) and <c>mailagent_cert_reloads_total{result}</c>. <c>path</c> is the certificate
/// file, or <c>starttls://host:port</c> / <c>tls://host:port</c> for the certificate an endpoint serves;
/// labels are bounded by the configured files and endpoints.
/// </summary>
internal sealed class CertificateMetrics
{
    private readonly Gauge _expiry;
    private readonly Counter _reloads;
    private readonly ConcurrentDictionary<string, DateTimeOffset> _notAfter = new(StringComparer.Ordinal);
    private readonly TimeProvider _time;

    public CertificateMetrics(CollectorRegistry registry, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(registry);
        _time = time ?? TimeProvider.System;
        var factory = Prometheus.Metrics.WithCustomRegistry(registry);
        _expiry = factory.CreateGauge("mailagent_tls_certificate_expiry_seconds",
            "Seconds until the TLS certificate's notAfter (negative once expired): path is the certificate file, or starttls://host:port / tls://host:port for the one served there.",
            new GaugeConfiguration { LabelNames = ["path"] });
        _reloads = factory.CreateCounter("mailagent_cert_reloads_total",
            "Certificate deployments by result: deployed, unchanged, refused (invalid files), rolled_back (reloaded but not served).",
            new CounterConfiguration { LabelNames = ["result"] });
        foreach (var result in Enum.GetValues<CertificateReloadResult>())
            _reloads.WithLabels(Label(result)).Publish();
        registry.AddBeforeCollectCallback(Refresh);
    }

    public void FileExpiry(string path, DateTimeOffset notAfter) => Record(path, notAfter);

    public void ServedExpiry(TlsEndpoint endpoint, DateTimeOffset notAfter) =>
        Record($"{(endpoint.ImplicitTls ? "tls" : "starttls")}://{endpoint.Host}:{endpoint.Port}", notAfter);

    public void Reload(CertificateReloadResult result) => _reloads.WithLabels(Label(result)).Inc();

    public static string Label(CertificateReloadResult result) => result switch
    {
        CertificateReloadResult.Deployed => "deployed",
        CertificateReloadResult.Unchanged => "unchanged",
        CertificateReloadResult.Refused => "refused",
        _ => "rolled_back",
    };

    private void Record(string path, DateTimeOffset notAfter)
    {
        _notAfter[path] = notAfter;
        Refresh();
    }

    private void Refresh()
    {
        var now = _time.GetUtcNow();
        foreach (var (path, notAfter) in _notAfter)
            _expiry.WithLabels(path).Set(Math.Round((notAfter - now).TotalSeconds));
    }
}
