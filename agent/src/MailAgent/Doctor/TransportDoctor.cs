using MailAgent.Certificates;

namespace MailAgent.Doctor;

/// <summary>
/// The certificate each listener serves (name, expiry, chain), and that renewal is configured (certbot timer and our deploy hook).
/// The handshake itself proves the listener holds the certificate's key (Postfix refuses TLS with a key that does not match).
/// </summary>
internal sealed class TransportDoctor(DoctorOptions options, string hostName, ITlsProbe probe, TimeProvider time) : IDoctorCheck
{
    public async Task<IReadOnlyList<DoctorItem>> RunAsync(CancellationToken cancellationToken)
    {
        var served = await Task.WhenAll(
            probe.ProbeAsync(new TlsEndpoint(options.SmtpHost, options.SmtpPort, false), cancellationToken),
            probe.ProbeAsync(new TlsEndpoint(options.SmtpHost, options.SubmissionsPort, true), cancellationToken),
            probe.ProbeAsync(new TlsEndpoint(options.SmtpHost, options.SubmissionPort, false), cancellationToken));
        return [Certificates(served), Renewal()];
    }

    private DoctorItem Certificates(ServedCertificate[] served)
    {
        const string Title = "Certificate on 25, 465 and 587 (name, expiry, chain)";
        string name = hostName.Trim().TrimEnd('.');
        var now = time.GetUtcNow();
        var problems = new List<string>();
        var evidence = new List<string>();
        foreach (var s in served)
        {
            if (!s.Ok)
            {
                problems.Add($"{s.Endpoint}: {s.Problem}");
                evidence.Add($"{s.Endpoint}: {s.Problem}");
                continue;
            }

            evidence.Add($"{s.Endpoint}: names [{string.Join(", ", s.Names)}], expires {s.NotAfter:yyyy-MM-dd HH:mm}Z, SHA-256 {s.Fingerprint}"
                + (s.Chain.Length > 0 ? $", chain {s.Chain}" : ""));
            if (s.ChainProblem != null)
                problems.Add($"{s.Endpoint}: {s.ChainProblem}");
            if (name.Length > 0 && !s.Names.Any(n => NameMatches(n, name)))
                problems.Add($"{s.Endpoint} serves a certificate for {string.Join(", ", s.Names)}, not {name}");
            if (s.NotAfter is { } expiry && expiry - now < TimeSpan.FromDays(options.CertificateMinimumDays))
                problems.Add(expiry <= now ? $"{s.Endpoint}'s certificate expired on {expiry:yyyy-MM-dd}" : $"{s.Endpoint}'s certificate expires on {expiry:yyyy-MM-dd}, within {options.CertificateMinimumDays} days");
        }

        if (served.Select(s => s.Fingerprint).Where(f => f != null).Distinct().Count() > 1)
            problems.Add("the listeners serve different certificates (one of them was not reloaded after a renewal)");
        string fix = $"issue a certificate for {(name.Length > 0 ? name : "myhostname")} (certbot certonly --standalone -d {(name.Length > 0 ? name : "mail.example.com")}), point smtpd_tls_chain_files at its key and full chain (privkey.pem, fullchain.pem), and 'postfix reload'";
        return problems.Count > 0
            ? new(DoctorGroup.TransportSecurity, "transport.certificate", Title, DoctorStatus.Fail, string.Join("; ", problems), evidence, fix)
            : new(DoctorGroup.TransportSecurity, "transport.certificate", Title, DoctorStatus.Pass, $"all three serve a certificate for {name} valid more than {options.CertificateMinimumDays} days, with its chain", evidence, fix);
    }

    private DoctorItem Renewal()
    {
        const string Title = "Renewal configured (certbot timer and deploy hook)";
        var evidence = new List<string>();
        string? timer = options.SystemdUnitDirectories.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(d => Path.Combine(d, "certbot.timer")).FirstOrDefault(File.Exists);
        evidence.Add(timer == null ? $"no certbot.timer in {options.SystemdUnitDirectories}" : $"timer: {timer}");
        string? hook = null;
        if (Directory.Exists(options.CertbotDeployHookDirectory))
        {
            hook = Directory.EnumerateFiles(options.CertbotDeployHookDirectory).Order(StringComparer.Ordinal)
                .FirstOrDefault(f => File.ReadAllText(f).Contains("mailagent cert-deployed", StringComparison.Ordinal));
        }

        evidence.Add(hook == null ? $"no hook running 'mailagent cert-deployed' in {options.CertbotDeployHookDirectory}" : $"deploy hook: {hook}");
        const string Fix = "install certbot (its certbot.timer renews twice a day) and put an executable hook running 'mailagent cert-deployed' in /etc/letsencrypt/renewal-hooks/deploy/";
        if (timer == null || hook == null)
            return new(DoctorGroup.TransportSecurity, "transport.renewal", Title, DoctorStatus.Fail,
                timer == null ? "certbot's timer is not installed, so nothing renews the certificate" : "no deploy hook tells the agent and Postfix about a renewed certificate", evidence, Fix);
        return new(DoctorGroup.TransportSecurity, "transport.renewal", Title, DoctorStatus.Pass, "certbot.timer renews and the deploy hook runs 'mailagent cert-deployed'", evidence, Fix);
    }

    private static bool NameMatches(string pattern, string name) =>
        pattern.Equals(name, StringComparison.OrdinalIgnoreCase)
        || (pattern.StartsWith("*.", StringComparison.Ordinal) && name.IndexOf('.', StringComparison.Ordinal) is var dot and > 0
            && name[(dot + 1)..].Equals(pattern[2..], StringComparison.OrdinalIgnoreCase));
}
