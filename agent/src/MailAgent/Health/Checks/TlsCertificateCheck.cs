using MailAgent.Certificates;

namespace MailAgent.Health.Checks;

/// <summary>
/// The TLS certificate: the files (valid, key matches, names cover the host name, chain present,
/// days left), the certificate each endpoint serves after STARTTLS (the files' one, days left),
/// and the last deployment (a refused or rolled-back renewal is unhealthy until a later one
/// succeeds). A slow check. Its value is the days left of the served certificate.
/// </summary>
internal sealed class TlsCertificateCheck(CertificateDeployer deployer, CertificateOptions options, CertificateMetrics metrics, TimeProvider time) : IHealthCheck
{
    private readonly Dictionary<TlsEndpoint, DateTimeOffset> _mismatchSince = [];

    public string Name => "tls";

    public bool IsSlow => true;

    public async Task<HealthCheckResult> RunAsync(CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var (location, problem) = await deployer.Locator.LocateAsync(cancellationToken);
        if (location == null)
        {
            return problem == CertificateLocator.NotConfigured
                ? HealthCheckResult.Healthy(problem)
                : HealthCheckResult.Unhealthy(problem!);
        }

        var findings = new List<(HealthStatus Status, string Text)>();
        var files = CertificateDeployer.Validate(location, now);
        if (files.NotAfter is { } fileNotAfter)
            metrics.FileExpiry(location.CertificateFiles[0], fileNotAfter);
        if (!files.IsValid)
            findings.Add((HealthStatus.Unhealthy, $"files {string.Join(", ", location.AllFiles)}: {files.Reason}"));
        else
            findings.Add((Expiry(files.NotAfter!.Value, now), $"files valid until {files.NotAfter:u} ({Days(files.NotAfter.Value, now):0.#} days), {files.ChainDescription}"));

        var served = await deployer.ProbeAllAsync(cancellationToken);
        double? value = null;
        foreach (var s in served)
        {
            if (!s.Ok)
            {
                findings.Add((HealthStatus.Degraded, $"{s.Endpoint}: {s.Problem}"));
                continue;
            }

            metrics.ServedExpiry(s.Endpoint, s.NotAfter!.Value);
            double days = Days(s.NotAfter.Value, now);
            value = value == null ? days : Math.Min(value.Value, days);
            var status = Expiry(s.NotAfter.Value, now);
            if (!CertificateValidator.Covers(s.Names, location.Hostname))
                status = HealthStatus.Unhealthy;
            string text = $"{s.Endpoint} serves {CertificateDeployer.Short(s.Fingerprint)} until {s.NotAfter:u}";
            if (files.Fingerprint != null && s.Fingerprint != files.Fingerprint)
            {
                if (!_mismatchSince.TryGetValue(s.Endpoint, out var since))
                    _mismatchSince[s.Endpoint] = since = now;
                var late = now - since >= options.ServedMismatchGrace;
                status = Worst(status, late ? HealthStatus.Unhealthy : HealthStatus.Degraded);
                text += $", not the files' {CertificateDeployer.Short(files.Fingerprint)} (since {since:u})";
            }
            else
            {
                _mismatchSince.Remove(s.Endpoint);
            }

            findings.Add((status, text));
        }

        var last = deployer.Store.LastOutcome();
        if (last?.Result is CertificateReloadResult.Refused or CertificateReloadResult.RolledBack)
            findings.Add((HealthStatus.Unhealthy, $"last renewal {CertificateMetrics.Label(last.Result).Replace('_', ' ')} at {last.At:u}: {last.Reason}"));

        var worst = findings.Max(f => f.Status);
        // Worst findings first, so the reason starts with what is wrong.
        string reason = string.Join("; ", findings.OrderByDescending(f => f.Status).Select(f => f.Text));
        return new HealthCheckResult(worst, reason, value ?? (files.NotAfter is { } n ? Math.Round(Days(n, now), 2) : null));
    }

    private HealthStatus Expiry(DateTimeOffset notAfter, DateTimeOffset now)
    {
        double days = Days(notAfter, now);
        if (days <= 0 || days < options.ExpiryUnhealthyDays)
            return HealthStatus.Unhealthy;
        return days < options.ExpiryDegradedDays ? HealthStatus.Degraded : HealthStatus.Healthy;
    }

    private static double Days(DateTimeOffset notAfter, DateTimeOffset now) => Math.Round((notAfter - now).TotalDays, 2);

    private static HealthStatus Worst(HealthStatus a, HealthStatus b) => a > b ? a : b;
}
