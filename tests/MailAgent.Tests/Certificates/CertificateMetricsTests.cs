using MailAgent.Certificates;
using Microsoft.Extensions.Time.Testing;

namespace MailAgent.Tests.Certificates;

/// <summary>docs/metrics.md's mailagent_tls_certificate_expiry_seconds: seconds until notAfter, as of the scrape.</summary>
public sealed class CertificateMetricsTests
{
    [Fact]
    public async Task Expiry_ClockMoves_SecondsLeftCountDownPerPath()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 11, 28, 0, 0, 0, TimeSpan.Zero));
        var registry = Prometheus.Metrics.NewCustomRegistry();
        var metrics = new CertificateMetrics(registry, time);
        var notAfter = time.GetUtcNow().AddDays(10);

        metrics.FileExpiry("/etc/letsencrypt/live/mx/fullchain.pem", notAfter);
        metrics.ServedExpiry(new TlsEndpoint("127.0.0.1", 25, ImplicitTls: false), notAfter);
        time.Advance(TimeSpan.FromDays(1));
        string text = await Scrape(registry);

        Assert.Contains("mailagent_tls_certificate_expiry_seconds{path=\"/etc/letsencrypt/live/mx/fullchain.pem\"} 777600", text, StringComparison.Ordinal);
        Assert.Contains("mailagent_tls_certificate_expiry_seconds{path=\"starttls://127.0.0.1:25\"} 777600", text, StringComparison.Ordinal);
        Assert.Contains("mailagent_cert_reloads_total{result=\"refused\"} 0", text, StringComparison.Ordinal);
    }

    private static async Task<string> Scrape(Prometheus.CollectorRegistry registry)
    {
        using var stream = new MemoryStream();
        await registry.CollectAndExportAsTextAsync(stream);
        return System.Text.Encoding.UTF8.GetString(stream.ToArray());
    }
}
