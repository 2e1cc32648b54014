using MailAgent.Certificates;
using MailAgent.Config;
using Microsoft.Extensions.Logging.Abstractions;

namespace MailAgent.Cli;

/// <summary><c>mailagent cert-deployed</c>: certbot's deploy hook; runs the certificate deployer once.</summary>
internal static class CertDeployedCommand
{
    public const string Usage = """
        NAME
            mailagent cert-deployed - deploy renewed TLS certificate files to Postfix, safely

        SYNOPSIS
            mailagent cert-deployed [--config FILE] [Section:Key=value ...]

        DESCRIPTION
            Meant as a certbot deploy hook. Validates the certificate files Postfix uses
            (Certificates:CertificateFile/KeyFile, or Postfix's smtpd_tls_chain_files or
            smtpd_tls_cert_file/smtpd_tls_key_file read with postconf): they parse, the key
            matches the certificate, it is within its validity, its names cover myhostname
            (or Certificates:Hostname) and a chain is present. A valid new pair is deployed:
            'postfix reload', then each Certificates:ReloadCommands entry, then every endpoint
            is probed with STARTTLS until it serves the new certificate (Certificates:VerifyRetries
            probes, Certificates:VerifyDelay apart). An invalid pair, or one still not served,
            is replaced by the last good files kept in Certificates:BackupDirectory, and Postfix
            is reloaded again. The result is recorded there, so the running agent's tls health
            check reports a refused or rolled-back renewal.

            When certbot sets RENEWED_LINEAGE (the renewed live/NAME directory) and none of
            Postfix's certificate files lies in it, the renewal is not Postfix's: nothing is done.

            Prints one line: RESULT: reason. The running agent and this command take the same
            lock, so they never deploy at the same time.

        OPTIONS
            --config FILE          the agent's configuration [/etc/mailagent/agent.json]
            Section:Key=value      any configuration key ('mailagent help run' lists them)

        EXIT STATUS
            0  deployed, unchanged (already served), or not Postfix's lineage
            1  refused (invalid files), rolled back (not served), or no certificate configured
            2  usage or configuration error

        FILES
            /etc/mailagent/agent.json                        the agent's configuration
            /etc/letsencrypt/renewal-hooks/deploy/mailagent  the packaged deploy hook that runs this command
            /var/lib/mailagent/certificates/                 last good files and the last result (Certificates:BackupDirectory)

        EXAMPLES
            certbot renew --deploy-hook 'mailagent cert-deployed'
            mailagent cert-deployed Certificates:CertificateFile=/etc/letsencrypt/live/mail/fullchain.pem \
                Certificates:KeyFile=/etc/letsencrypt/live/mail/privkey.pem
        """;

    public static async Task<int> RunAsync(IReadOnlyList<string> args, CliContext context, string? renewedLineage)
    {
        var config = AgentConfiguration.Build(args, out _, out var errors);
        errors.AddRange(AgentConfiguration.Validate(config, out var settings));
        if (errors.Count > 0)
        {
            foreach (var e in errors)
                await context.Error.WriteLineAsync($"configuration error: {e}");
            return 2;
        }

        var postfix = new MailAgent.Postfix.PostfixCommands(settings.Postfix);
        var deployer = CertificateServiceCollectionExtensions.Create(settings.Certificates, settings.Tail.StateDirectory, settings.Health.SmtpEndpoints,
            postfix, new CertificateMetrics(Prometheus.Metrics.NewCustomRegistry()), context.Time, NullLogger.Instance);

        if (!string.IsNullOrWhiteSpace(renewedLineage))
        {
            var (location, problem) = await deployer.Locator.LocateAsync(CancellationToken.None);
            if (location == null)
            {
                await context.Error.WriteLineAsync($"REFUSED: {problem}");
                return 1;
            }

            if (!location.AllFiles.Any(f => InLineage(f, renewedLineage)))
            {
                await context.Out.WriteLineAsync($"NOT POSTFIX'S: RENEWED_LINEAGE={renewedLineage} holds none of {string.Join(", ", location.AllFiles)} ({location.Source}); nothing to do");
                await context.Out.FlushAsync();
                return 0;
            }
        }

        var outcome = await deployer.DeployAsync("cert-deployed", CancellationToken.None);
        // The running daemon follows the audit log: this run reaches its mailagent_cert_reloads_total.
        new MailAgent.ConfigApply.ConfigAuditLog(settings.ConfigApply.AuditLogPath, context.Time, NullLogger.Instance)
            .WriteCertificateReload($"local:cert-deployed uid {Environment.UserName}", CertificateMetrics.Label(outcome.Result), outcome.Reason);
        string line = $"{CertificateMetrics.Label(outcome.Result).ToUpperInvariant()}: {outcome.Reason}";
        bool ok = outcome.Result is CertificateReloadResult.Deployed or CertificateReloadResult.Unchanged;
        if (ok)
        {
            await context.Out.WriteLineAsync(line);
            await context.Out.FlushAsync();
            return 0;
        }

        await context.Error.WriteLineAsync(line);
        return 1;
    }

    private static bool InLineage(string file, string lineage)
    {
        string directory = Path.GetFullPath(lineage).TrimEnd('/') + "/";
        return Path.GetFullPath(file).StartsWith(directory, StringComparison.Ordinal);
    }
}
