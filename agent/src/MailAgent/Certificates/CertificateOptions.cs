using static MailAgent.Common.ConfigChecks;

namespace MailAgent.Certificates;

/// <summary>The TLS certificate Postfix serves: where it is, what it must cover, how renewals are deployed and checked (section <c>Certificates</c>).</summary>
internal sealed class CertificateOptions
{
    public const string SectionName = "Certificates";

    /// <summary>PEM certificate chain (leaf first); empty reads smtpd_tls_chain_files, else smtpd_tls_cert_file, with postconf.</summary>
    public string CertificateFile { get; set; } = "";

    /// <summary>PEM private key; empty reads smtpd_tls_key_file (or the chain file itself).</summary>
    public string KeyFile { get; set; } = "";

    /// <summary>The name the certificate must cover; empty reads myhostname with postconf.</summary>
    public string Hostname { get; set; } = "";

    /// <summary>STARTTLS listeners whose served certificate is checked, ';'-separated host:port; empty uses Health:SmtpEndpoints plus 127.0.0.1:587.</summary>
    public string Endpoints { get; set; } = "";

    /// <summary>Implicit-TLS listeners (submissions, 465), ';'-separated host:port.</summary>
    public string ImplicitTlsEndpoints { get; set; } = "";

    /// <summary>Fewer days left than this: degraded.</summary>
    public int ExpiryDegradedDays { get; set; } = 21;

    /// <summary>Fewer days left than this: unhealthy (an expired certificate always is).</summary>
    public int ExpiryUnhealthyDays { get; set; } = 3;

    /// <summary>Other services to reload after Postfix, each an argv line split on spaces, no shell (e.g. "systemctl reload dovecot").</summary>
    public List<string> ReloadCommands { get; set; } = [];

    /// <summary>How often the served fingerprint is probed after a reload before giving up.</summary>
    public int VerifyRetries { get; set; } = 5;

    /// <summary>Pause between two verification probes.</summary>
    public TimeSpan VerifyDelay { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>One TLS probe (connect, EHLO, STARTTLS, handshake) taking longer fails.</summary>
    public TimeSpan ProbeTimeout { get; set; } = TimeSpan.FromSeconds(4);

    /// <summary>Watch the files and deploy changes; false leaves deployment to cert-deployed and ReloadCertificates.</summary>
    public bool Watch { get; set; } = true;

    /// <summary>The watcher's fallback poll of the files' contents.</summary>
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>Quiet time after a change before deploying (certbot changes several links).</summary>
    public TimeSpan Debounce { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>Served certificate different from the files for longer than this: unhealthy (degraded before).</summary>
    public TimeSpan ServedMismatchGrace { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>Where the last good files and the last result are kept; empty is LogTailing:StateDirectory/certificates.</summary>
    public string BackupDirectory { get; set; } = "";

    public IReadOnlyList<IReadOnlyList<string>> ReloadCommandLines() =>
        ReloadCommands.Where(c => !string.IsNullOrWhiteSpace(c)).Select(c => (IReadOnlyList<string>)c.Split(' ', StringSplitOptions.RemoveEmptyEntries)).ToArray();

    /// <summary>The endpoints to probe: the configured ones, or the health check's SMTP endpoints plus submission.</summary>
    public IReadOnlyList<TlsEndpoint> EndpointList(string healthSmtpEndpoints)
    {
        var list = new List<TlsEndpoint>();
        var starttls = string.IsNullOrWhiteSpace(Endpoints) ? healthSmtpEndpoints + ";127.0.0.1:587" : Endpoints;
        foreach (var text in Split(starttls))
        {
            if (TcpEndpoint.TryParse(text, out var host, out var port) && !list.Any(e => e.Host == host && e.Port == port))
                list.Add(new TlsEndpoint(host, port, false));
        }

        foreach (var text in Split(ImplicitTlsEndpoints))
        {
            if (TcpEndpoint.TryParse(text, out var host, out var port))
                list.Add(new TlsEndpoint(host, port, true));
        }

        return list;
    }

    /// <summary>Checks the section; each error names the key, the value and what is valid.</summary>
    public static void Validate(CertificateOptions options, List<string> errors)
    {
        foreach (var (key, value) in new[] { ("Certificates:Endpoints", options.Endpoints), ("Certificates:ImplicitTlsEndpoints", options.ImplicitTlsEndpoints) })
        {
            foreach (var e in Split(value).Where(e => !TcpEndpoint.TryParse(e, out _, out _)))
                errors.Add($"{key} has '{e}', which is not valid: use host:port, several separated by ';'");
        }

        if (options.ExpiryUnhealthyDays is < 0 or > 365)
            errors.Add($"Certificates:ExpiryUnhealthyDays = {options.ExpiryUnhealthyDays} is not valid: use 0 to 365");
        if (options.ExpiryDegradedDays < options.ExpiryUnhealthyDays || options.ExpiryDegradedDays > 365)
            errors.Add($"Certificates:ExpiryDegradedDays = {options.ExpiryDegradedDays} is not valid: use Certificates:ExpiryUnhealthyDays ({options.ExpiryUnhealthyDays}) to 365");
        if (options.VerifyRetries is < 1 or > 100)
            errors.Add($"Certificates:VerifyRetries = {options.VerifyRetries} is not valid: use 1 to 100");
        Range(errors, "Certificates:VerifyDelay", options.VerifyDelay, TimeSpan.Zero, TimeSpan.FromMinutes(5));
        Range(errors, "Certificates:ProbeTimeout", options.ProbeTimeout, TimeSpan.FromMilliseconds(100), TimeSpan.FromMinutes(5));
        Range(errors, "Certificates:PollInterval", options.PollInterval, TimeSpan.FromSeconds(1), TimeSpan.FromDays(1));
        Range(errors, "Certificates:Debounce", options.Debounce, TimeSpan.Zero, TimeSpan.FromMinutes(10));
        Range(errors, "Certificates:ServedMismatchGrace", options.ServedMismatchGrace, TimeSpan.Zero, TimeSpan.FromDays(1));
        foreach (var (key, value) in new[] { ("Certificates:CertificateFile", options.CertificateFile), ("Certificates:KeyFile", options.KeyFile), ("Certificates:BackupDirectory", options.BackupDirectory) })
        {
            if (!string.IsNullOrWhiteSpace(value) && !Path.IsPathFullyQualified(value))
                errors.Add($"{key} = '{value}' is not valid: use an absolute path, or leave it empty for the default");
        }

        if (string.IsNullOrWhiteSpace(options.CertificateFile) && !string.IsNullOrWhiteSpace(options.KeyFile))
            errors.Add($"Certificates:KeyFile = '{options.KeyFile}' is set without Certificates:CertificateFile: set both, or neither to read Postfix's settings");
        foreach (var command in options.ReloadCommands.Where(c => !string.IsNullOrWhiteSpace(c) && c.Contains('"', StringComparison.Ordinal)))
            errors.Add($"Certificates:ReloadCommands has '{command}', which is not valid: it is split on spaces and run without a shell, so quotes are not understood; use a wrapper script for complex commands");
    }

    private static string[] Split(string value) => value.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
}
