using MailAgent.Postfix;

namespace MailAgent.Certificates;

/// <summary>
/// Which files hold the certificate chain and the key, and the name they must cover. In chain
/// mode (smtpd_tls_chain_files) one set of files holds both.
/// </summary>
internal sealed record CertificateLocation(IReadOnlyList<string> CertificateFiles, IReadOnlyList<string> KeyFiles, string Hostname, string Source)
{
    /// <summary>Every distinct file, in order: what is backed up, restored and watched.</summary>
    public IReadOnlyList<string> AllFiles => CertificateFiles.Concat(KeyFiles).Distinct(StringComparer.Ordinal).ToArray();
}

/// <summary>Finds the certificate files: the configured paths, or Postfix's own settings read with <c>postconf -h</c>.</summary>
internal sealed class CertificateLocator(CertificateOptions options, IPostfixCommands postfix)
{
    /// <summary>The location, or null with the problem (nothing configured, or postconf failed).</summary>
    public async Task<(CertificateLocation? Location, string? Problem)> LocateAsync(CancellationToken cancellationToken)
    {
        string hostname = options.Hostname;
        string chainFiles = "", certFile = "", keyFile = "";
        if (string.IsNullOrWhiteSpace(options.CertificateFile) || string.IsNullOrWhiteSpace(hostname))
        {
            var run = await postfix.PostconfAsync(["-h", "-x", "smtpd_tls_chain_files", "smtpd_tls_cert_file", "smtpd_tls_key_file", "myhostname"], cancellationToken);
            if (!run.Succeeded)
                return (null, $"cannot read Postfix's TLS settings with postconf: {run.Output}");
            var lines = run.StandardOutput.Split('\n').Select(l => l.Trim()).ToArray();
            if (lines.Length < 4)
                return (null, $"postconf -h printed {lines.Length} lines, expected 4: {run.Output}");
            (chainFiles, certFile, keyFile) = (lines[0], lines[1], lines[2]);
            if (string.IsNullOrWhiteSpace(hostname))
                hostname = lines[3];
        }

        if (!string.IsNullOrWhiteSpace(options.CertificateFile))
        {
            string key = string.IsNullOrWhiteSpace(options.KeyFile) ? options.CertificateFile : options.KeyFile;
            return (new CertificateLocation([options.CertificateFile], [key], hostname, "Certificates:CertificateFile"), null);
        }

        var chain = chainFiles.Split([',', ' ', '\t'], StringSplitOptions.RemoveEmptyEntries);
        if (chain.Length > 0)
            return (new CertificateLocation(chain, chain, hostname, "smtpd_tls_chain_files"), null);
        if (!string.IsNullOrWhiteSpace(certFile))
        {
            // Postfix reads the key from the certificate file when smtpd_tls_key_file is empty.
            string key = string.IsNullOrWhiteSpace(keyFile) ? certFile : keyFile;
            return (new CertificateLocation([certFile], [key], hostname, "smtpd_tls_cert_file"), null);
        }

        return (null, NotConfigured);
    }

    /// <summary>The problem reported when neither the options nor Postfix name a certificate.</summary>
    public const string NotConfigured = "no certificate configured (Certificates:CertificateFile, smtpd_tls_chain_files and smtpd_tls_cert_file are empty)";
}
