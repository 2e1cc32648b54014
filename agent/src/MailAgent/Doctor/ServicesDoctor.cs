using MailAgent.Postfix;

namespace MailAgent.Doctor;

/// <summary>
/// The SMTP services as a client sees them: 25, 465 and 587 listening; STARTTLS on 25 and 587; AUTH
/// on submission only and never before TLS; and <c>postfix check</c> clean.
/// </summary>
internal sealed class ServicesDoctor(DoctorOptions options, PostfixOptions postfix, IPostfixCommands commands, string relayProbeSource = "", string domain = "") : IDoctorCheck
{
    public async Task<IReadOnlyList<DoctorItem>> RunAsync(CancellationToken cancellationToken)
    {
        var probes = await Task.WhenAll(
            SmtpSession.ProbeAsync(options.SmtpHost, options.SmtpPort, false, options.Timeout, cancellationToken),
            SmtpSession.ProbeAsync(options.SmtpHost, options.SubmissionsPort, true, options.Timeout, cancellationToken),
            SmtpSession.ProbeAsync(options.SmtpHost, options.SubmissionPort, false, options.Timeout, cancellationToken));
        var (smtp, submissions, submission) = (probes[0], probes[1], probes[2]);
        var evidence = probes.Select(p => p.Describe()).ToArray();
        return
        [
            Listening(probes, evidence),
            StartTls(smtp, submission, evidence),
            Auth(smtp, submissions, submission, evidence),
            await SaslAsync(cancellationToken),
            await OpenRelayAsync(cancellationToken),
            await DkimAsync(cancellationToken),
            await PostfixCheckAsync(cancellationToken),
        ];
    }

    private DoctorItem Listening(SmtpCapabilities[] probes, string[] evidence)
    {
        const string Title = "25, 465 and 587 listening";
        var down = probes.Where(p => !p.Connected).ToArray();
        var broken = probes.Where(p => p.Connected && p.Problem != null).ToArray();
        string fix = "enable smtp (25), submissions (465, smtpd_tls_wrappermode=yes) and submission (587) in master.cf, 'postfix reload', and open the ports in the firewall";
        if (down.Length > 0)
            return new(DoctorGroup.Services, "services.listening", Title, DoctorStatus.Fail, $"nothing answers on {string.Join(", ", down.Select(p => p.Port))} at {options.SmtpHost}", evidence, fix);
        if (broken.Length > 0)
            return new(DoctorGroup.Services, "services.listening", Title, DoctorStatus.Fail, string.Join("; ", broken.Select(p => p.Describe())), evidence, fix);
        return new(DoctorGroup.Services, "services.listening", Title, DoctorStatus.Pass, $"{string.Join(", ", probes.Select(p => p.Port))} answer with a 220 banner and EHLO", evidence, fix);
    }

    private static DoctorItem StartTls(SmtpCapabilities smtp, SmtpCapabilities submission, string[] evidence)
    {
        const string Title = "STARTTLS offered";
        const string Fix = "set smtpd_tls_chain_files (key and certificate) and smtpd_tls_security_level = may in main.cf, and smtpd_tls_security_level=encrypt for submission in master.cf";
        var without = new[] { smtp, submission }.Where(p => !p.OffersStartTls || p.AfterTls == null).ToArray();
        if (without.Length > 0)
            return new(DoctorGroup.Services, "services.starttls", Title, DoctorStatus.Fail,
                string.Join("; ", without.Select(p => p.Problem ?? $"{p.Port} does not offer STARTTLS")), evidence, Fix);
        return new(DoctorGroup.Services, "services.starttls", Title, DoctorStatus.Pass, $"{smtp.Port} and {submission.Port} offer STARTTLS and complete the handshake", evidence, Fix);
    }

    private static DoctorItem Auth(SmtpCapabilities smtp, SmtpCapabilities submissions, SmtpCapabilities submission, string[] evidence)
    {
        const string Title = "AUTH on submission only, never before TLS";
        const string Fix = "in master.cf give submission and submissions '-o smtpd_sasl_auth_enable=yes -o smtpd_tls_auth_only=yes', and keep smtpd_sasl_auth_enable = no in main.cf for port 25";
        var problems = new List<string>();
        if (SmtpCapabilities.HasAuth(smtp.BeforeTls) || SmtpCapabilities.HasAuth(smtp.AfterTls))
            problems.Add($"{smtp.Port} offers AUTH; the MTA port must not take logins");
        if (SmtpCapabilities.HasAuth(submission.BeforeTls))
            problems.Add($"{submission.Port} offers AUTH before STARTTLS; passwords would cross the network in clear");
        if (!SmtpCapabilities.HasAuth(submission.AfterTls))
            problems.Add($"{submission.Port} does not offer AUTH after STARTTLS{(submission.Problem == null ? "" : $" ({submission.Problem})")}");
        if (!SmtpCapabilities.HasAuth(submissions.AfterTls))
            problems.Add($"{submissions.Port} does not offer AUTH{(submissions.Problem == null ? "" : $" ({submissions.Problem})")}");
        return problems.Count > 0
            ? new(DoctorGroup.Services, "services.auth", Title, DoctorStatus.Fail, string.Join("; ", problems), evidence, Fix)
            : new(DoctorGroup.Services, "services.auth", Title, DoctorStatus.Pass, $"AUTH only on {submissions.Port} and on {submission.Port} after STARTTLS; not on {smtp.Port}", evidence, Fix);
    }

    private async Task<DoctorItem> SaslAsync(CancellationToken cancellationToken)
    {
        const string Title = "SASL authentication works";
        const string Fix = "check Dovecot's auth service (doveadm auth test USER), smtpd_sasl_type = dovecot and smtpd_sasl_path (private/auth, or inet:host:port) for submission, and the probe user's password";
        if (options.SaslProbeUser.Length == 0 || options.SaslProbePasswordFile.Length == 0)
            return DoctorItem.Skip(DoctorGroup.Services, "services.sasl", Title, "no probe credential configured (Doctor:SaslProbeUser and Doctor:SaslProbePasswordFile)",
                "create a mailbox-less user for the check in Dovecot's passdb, and set Doctor:SaslProbeUser and Doctor:SaslProbePasswordFile (a file readable by root only holding its password)");
        if (!File.Exists(options.SaslProbePasswordFile))
            return new(DoctorGroup.Services, "services.sasl", Title, DoctorStatus.Fail, $"the password file {options.SaslProbePasswordFile} does not exist", [], "create it, mode 0600");
        string password = (await File.ReadAllTextAsync(options.SaslProbePasswordFile, cancellationToken)).TrimEnd('\r', '\n');
        var (reply, transcript) = await SmtpSession.AuthProbeAsync(options.SmtpHost, options.SubmissionPort, options.SaslProbeUser, password, options.Timeout, cancellationToken);
        if (reply == null)
            return new(DoctorGroup.Services, "services.sasl", Title, DoctorStatus.Fail, $"the login was not tried on {options.SubmissionPort}", [transcript], Fix);
        return reply.StartsWith("235", StringComparison.Ordinal)
            ? new(DoctorGroup.Services, "services.sasl", Title, DoctorStatus.Pass, $"{options.SaslProbeUser} logs in on {options.SubmissionPort} after STARTTLS", [transcript], Fix)
            : new(DoctorGroup.Services, "services.sasl", Title, DoctorStatus.Fail, $"{options.SaslProbeUser} cannot log in on {options.SubmissionPort}: {reply}", [transcript], Fix);
    }

    private async Task<DoctorItem> OpenRelayAsync(CancellationToken cancellationToken)
    {
        const string Title = "Not an open relay";
        const string Fix = "keep mynetworks to the host itself (127.0.0.0/8 [::1]/128) and smtpd_relay_restrictions = permit_mynetworks, permit_sasl_authenticated, defer_unauth_destination";
        string source = options.RelayProbeSource.Length > 0 ? options.RelayProbeSource : relayProbeSource;
        if (!System.Net.IPAddress.TryParse(source, out var from))
            return DoctorItem.Skip(DoctorGroup.Services, "services.open-relay", Title,
                "no source address outside mynetworks to probe from (Doctor:RelayProbeSource, or the first of Health:Dns:HostAddresses)", "set Doctor:RelayProbeSource to a public address of this host");
        var (reply, transcript) = await SmtpSession.RelayProbeAsync(options.SmtpHost, options.SmtpPort, from, options.RelayProbeRecipient, options.Timeout, cancellationToken);
        if (reply == null)
            return new(DoctorGroup.Services, "services.open-relay", Title, DoctorStatus.Warn, "the relay probe did not get as far as RCPT TO, so relaying was not tested", [transcript], Fix);
        if (reply.StartsWith('2'))
            return new(DoctorGroup.Services, "services.open-relay", Title, DoctorStatus.Fail,
                $"OPEN RELAY: {options.SmtpHost}:{options.SmtpPort} accepted a recipient at a foreign domain ({options.RelayProbeRecipient}) from {from} without authentication", [transcript], Fix);
        return new(DoctorGroup.Services, "services.open-relay", Title, DoctorStatus.Pass, $"a foreign recipient from {from} is refused: {reply}", [transcript], Fix);
    }

    private async Task<DoctorItem> DkimAsync(CancellationToken cancellationToken)
    {
        const string Title = "OpenDKIM signs outgoing mail";
        string sender = options.DkimProbeSender.Length > 0 ? options.DkimProbeSender : domain.Length > 0 ? "postmaster@" + domain : "";
        string signingDomain = sender[(sender.IndexOf('@', StringComparison.Ordinal) + 1)..];
        string fix = $"add smtpd_milters = inet:127.0.0.1:8891 (OpenDKIM's Socket) and non_smtpd_milters = $smtpd_milters to main.cf, " +
                     $"put '*@{(signingDomain.Length > 0 ? signingDomain : "DOMAIN")} SELECTOR._domainkey.DOMAIN' in OpenDKIM's SigningTable with the key in its KeyTable, and restart opendkim";
        if (options.DkimProbeRecipient.Length == 0 || sender.Length == 0)
            return DoctorItem.Skip(DoctorGroup.Services, "services.dkim-signing", Title,
                "no probe recipient configured (Doctor:DkimProbeRecipient; the sender is Doctor:DkimProbeSender or postmaster@Health:Dns:Domain)",
                $"pick a recipient such as doctor@dkim-probe.invalid, route its domain in transport_maps to smtp:[{options.DkimSinkAddress}]:{options.DkimSinkPort}, and set Doctor:DkimProbeRecipient");
        var sink = new System.Net.IPEndPoint(System.Net.IPAddress.Parse(options.DkimSinkAddress), options.DkimSinkPort);
        var outcome = await DkimSigningProbe.RunAsync(options.SmtpHost, options.SmtpPort, sender, options.DkimProbeRecipient, sink, options.Timeout, options.DkimProbeWait, cancellationToken);
        if (outcome.ArrivedHeaders == null)
            return new(DoctorGroup.Services, "services.dkim-signing", Title, DoctorStatus.Fail,
                $"the test message from {sender} to {options.DkimProbeRecipient} did not come back to {sink}", [outcome.Transcript],
                $"check that transport_maps routes {options.DkimProbeRecipient} to smtp:[{options.DkimSinkAddress}]:{options.DkimSinkPort} and that Postfix accepts mail from {options.SmtpHost}; then: " + fix);
        var signatures = DkimSigningProbe.Signatures(outcome.ArrivedHeaders);
        var evidence = new[] { outcome.Transcript }.Concat(signatures.Select(t => $"DKIM-Signature: d={t.GetValueOrDefault("d")} s={t.GetValueOrDefault("s")} a={t.GetValueOrDefault("a")} h={t.GetValueOrDefault("h")}")).ToArray();
        var ours = signatures.FirstOrDefault(t => string.Equals(t.GetValueOrDefault("d"), signingDomain, StringComparison.OrdinalIgnoreCase));
        if (ours != null)
            return new(DoctorGroup.Services, "services.dkim-signing", Title, DoctorStatus.Pass,
                $"the test message from {sender} arrived signed: d={ours.GetValueOrDefault("d")} s={ours.GetValueOrDefault("s")}", evidence, fix);
        return new(DoctorGroup.Services, "services.dkim-signing", Title, DoctorStatus.Fail,
            signatures.Count == 0
                ? $"the test message from {sender} arrived without a DKIM-Signature header"
                : $"the test message from {sender} arrived signed for another domain ({string.Join(", ", signatures.Select(t => t.GetValueOrDefault("d")))}), not {signingDomain}",
            evidence, fix);
    }

    private async Task<DoctorItem> PostfixCheckAsync(CancellationToken cancellationToken)
    {
        const string Title = "postfix check is clean";
        var outcome = await commands.PostfixAsync(["check"], cancellationToken);
        string command = PostfixCommands.CommandLine(postfix.PostfixPath, postfix, ["check"]);
        var evidence = new[] { $"{command}: exit {outcome.ExitCode}" }.Concat(outcome.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Take(20)).ToArray();
        const string Fix = "run 'postfix check' as root and correct each line it prints (ownership and modes under /etc/postfix and the queue, unknown parameters)";
        if (!outcome.Succeeded)
            return new(DoctorGroup.Services, "services.postfix-check", Title, DoctorStatus.Fail, $"'{command}' failed (exit {outcome.ExitCode})", evidence, Fix);
        if (outcome.Output.Length > 0)
            return new(DoctorGroup.Services, "services.postfix-check", Title, DoctorStatus.Warn, $"'{command}' printed warnings", evidence, Fix);
        return new(DoctorGroup.Services, "services.postfix-check", Title, DoctorStatus.Pass, $"'{command}' printed nothing", evidence, Fix);
    }
}
