namespace MailAgent.Cli;

/// <summary>
/// Man-style pages (NAME, SYNOPSIS, DESCRIPTION, OPTIONS, EXIT STATUS, FILES, EXAMPLES) printed by
/// <c>mailagent help COMMAND</c> and <c>mailagent COMMAND --help</c>; the package's mailagent(1) is
/// built from them. A new command adds its page to <see cref="Pages"/> and its line to
/// <see cref="CommandLine.Usage"/>.
/// </summary>
internal static class HelpPages
{
    private const string CommonFiles = """
        /etc/mailagent/agent.json   the configuration (JSON, // comments allowed); --config FILE replaces it
        """;

    private const string ConfigurationOptions = """
        --config FILE, -c FILE
            Read FILE instead of /etc/mailagent/agent.json (which is optional: without it the
            defaults apply).
        Section:Key=value
            Set one key; wins over the file and over MAILAGENT__Section__Key environment variables.
            'mailagent help run' lists every key with its default.
        """;

    /// <summary>The page for <paramref name="command"/>, or null when there is none.</summary>
    public static string? For(string command) => Pages.TryGetValue(command, out var page) ? page() : null;

    public static IReadOnlyCollection<string> Commands => Pages.Keys;

    private static readonly Dictionary<string, Func<string>> Pages = new(StringComparer.Ordinal)
    {
        ["run"] = () => Page(
            "run",
            "run the agent: follow the Postfix log, list the queue, check health, serve /metrics and /health",
            "mailagent run [--config FILE] [Section:Key=value ...]",
            """
            The daemon. It follows the Postfix log by path (through rotation, copytruncate and
            restarts: a checkpoint under LogTailing:StateDirectory keeps every count exact), runs
            'postqueue -j' every Queue:Interval, runs the health checks, and serves Prometheus
            metrics at /metrics and health at /health, /health/live and /health/ready on Http:Urls.
            With Grpc:Listen set it also serves the gRPC API to the control plane (TLS with client
            certificates, see 'mailagent help pki').

            Under systemd (Type=notify) it reports READY=1 once the listener is up, the tail is
            positioned and the first checks ran, and pings the watchdog at half of WatchdogSec=
            while its loops run. SIGTERM stops it after the checkpoint is written. The packaged
            unit runs it as user mailagent (groups adm and postdrop); see docs/operations.md, "Install".
            """,
            ConfigurationOptions + "\n" + RunKeys(),
            """
            0   stopped by SIGTERM or Ctrl-C
            1   the configuration is not valid (each error names the key, the value and what is
                valid), or the listener could not be opened
            """,
            CommonFiles + """

            /var/lib/mailagent/         checkpoint (LogTailing:StateDirectory)
            /var/log/mailagent/         the agent's own log, agentYYYYMMDD.log (AgentLog:FilePath)
            /var/log/mail.log           the Postfix log it follows by default (LogTailing:Path)
            /lib/systemd/system/mailagent.service
            """,
            """
            mailagent run
            mailagent run LogTailing:Path=/var/log/postfix.log Http:Urls=http://0.0.0.0:9160
            MAILAGENT__AgentLog__Level=Debug mailagent run --config /tmp/agent.json
            """),

        ["check-config"] = () => Page(
            "check-config",
            "check a configuration the way 'mailagent run' would",
            "mailagent check-config [--config FILE] [Section:Key=value ...]",
            """
            Reads the configuration exactly as 'mailagent run' does (file, then MAILAGENT__
            environment variables, then arguments), checks every key, and prints either each error
            (naming the key, the value and what is valid) or a summary of the main settings. The
            packaged systemd unit runs it as ExecStartPre=, so a broken edit stops a restart before
            the running agent is replaced. Run it after every edit, as the service user:
              runuser -u mailagent -- mailagent check-config
            Then, as that user, it checks what 'run' will need, each finding with its fix: the log
            opens for reading, the state directory takes a file, Postfix's commands are permitted,
            the TLS files open and the milters accept a connection.
            """,
            ConfigurationOptions,
            """
            0   the configuration is valid; 'warning:' lines name checks that would be unhealthy
            1   it is not ('configuration error:' lines), or 'run' could not do its job as this user
                ('error:' lines: an unreadable log, a state directory it cannot write)
            """,
            CommonFiles,
            """
            mailagent check-config
            mailagent check-config --config /etc/mailagent/agent.json.new
            mailagent check-config Queue:Interval=00:00:05
            """),

        ["replay"] = () => Page(
            "replay",
            "read whole logs and print pflogsumm's totals or the metrics the daemon would expose",
            "mailagent replay FILE... [--format json|prometheus|summary]",
            """
            Reads whole log files (plain or gzip-compressed, in the order given; '-' is standard
            input) through the same parser and correlator as the daemon. Counts follow pflogsumm's
            definitions (received, delivered, forwarded, deferred and deferrals, bounced, rejected,
            reject warnings, held, discarded, bytes, senders, recipients), plus expired,
            dkim_signed, sasl_auth_failures, rejects by stage and code, unparsed_lines and lines per
            program. It does not read the configuration and touches nothing.
            """,
            """
            --format FORMAT, -f FORMAT
                json        one JSON object (the default)
                prometheus  the metrics the daemon would expose after reading these files
                summary     the same totals as an aligned table for a person
            """,
            """
            0   success
            1   a file cannot be read
            2   usage error
            """,
            "none: only the files named.",
            """
            mailagent replay /var/log/mail.log /var/log/mail.log.1 --format summary
            zcat /var/log/mail.log.*.gz | mailagent replay - --format json
            """),

        ["events"] = () => Page(
            "events",
            "print the delivery events (one per recipient outcome) the daemon streams to the control plane",
            "mailagent events [--log FILE] [--follow] [--format json|text] [--config FILE] [Section:Key=value ...]",
            """
            Reads the mail log (LogTailing:Path, or --log FILE; plain or gzip) through the daemon's
            parser and correlator, with the daemon's Events settings, and prints one event per
            recipient outcome: delivered, deferred (each attempt), bounced, and expired (one per
            message: Postfix logs expiry per message). Each carries the Message-ID, queue ID,
            recipient domain, the recipient only with Events:IncludeRecipients (otherwise
            HMAC-SHA256 of the lower-cased address with Events:RecipientHashKey or
            Events:RecipientHashKeyFile, or nothing without a key), DSN, hard/soft with a reason
            class (unknown_user, mailbox_full, policy, dns, tls, connection, message, expired,
            other), the reply with addresses masked, relay, delays, attempt number and event key.
            It reads the file itself, so it needs no client certificate and works with the daemon
            stopped.
            """,
            """
            --log FILE          read FILE instead of LogTailing:Path
            --follow            after the end, keep printing new events until interrupted
                                (a rotated file is not followed)
            --format FORMAT, -f FORMAT
                json            one JSON object per line (the default)
                text            one aligned line per event for a person
            """ + ConfigurationOptions,
            """
            0   success
            1   the log cannot be read
            2   usage or configuration error
            """,
            CommonFiles + "/var/log/mail.log            the log read by default (LogTailing:Path)\n",
            """
            mailagent events --format text | grep bounced
            mailagent events --follow
            mailagent events --log /var/log/mail.log.1 Events:IncludeRecipients=true
            """),

        ["queue"] = () => Page(
            "queue",
            "take one snapshot of the Postfix queue and print it",
            "mailagent queue [--format json|prometheus] [--config FILE] [Queue:Key=value ...]",
            """
            Runs 'postqueue [-c Postfix:ConfigDirectory] -j' once, the way the daemon does (streaming,
            killed after Queue:Timeout), and prints per queue (active, deferred, hold, incoming,
            maildrop) the messages, recipients, bytes, oldest arrival and age histogram, and the
            deferred recipients by reason class and by top domain. As a user other than root it
            needs the postdrop group (the package adds user mailagent to it).
            """,
            """
            --format FORMAT, -f FORMAT
                json        one JSON object (the default)
                prometheus  the postfix_showq_*, postfix_deferred_* and mailagent_queue_* series
            """ + "\n" + ConfigurationOptions,
            """
            0   success
            1   postqueue failed or timed out (the JSON says why)
            2   usage or configuration error
            """,
            CommonFiles + "\n/usr/sbin/postqueue         run as Postfix:PostqueuePath",
            """
            mailagent queue
            mailagent queue --format prometheus Postfix:ConfigDirectory=/etc/postfix-out
            """),

        ["apply-config"] = () => ApplyConfigCommand.Usage,

        ["cert-deployed"] = () => CertDeployedCommand.Usage,

        ["pki"] = () => Page(
            "pki",
            "make the private CA and certificates for the gRPC API",
            "mailagent pki init --dir DIR [--agent-name NAME] [--client-name NAME] [--days N] [--san NAME ...]\n"
            + "mailagent pki issue --ca-dir DIR --agent-name NAME [--days N] [--san NAME ...]",
            """
            init creates a private CA and two certificates signed by it (ECDSA P-256), as PEM files in
            DIR:
              ca.crt ca.key           the CA: ca.crt goes to the agent (Grpc:CaFile) and the
                                      control plane
              agent.crt agent.key     the agent's server certificate (Grpc:CertificateFile,
                                      Grpc:KeyFile); names: localhost, 127.0.0.1, ::1, this host's
                                      name, the agent name and the --san values
              client.crt client.key   a control-plane client certificate; its CN goes in
                                      Grpc:ReadClients and Grpc:WriteClients
            Keys are written 0600 and never overwritten. Keep ca.key offline once the certificates
            exist. The packaged agent runs as user mailagent: give it the key with
            'chgrp mailagent DIR/agent.key && chmod 0640 DIR/agent.key'.

            issue adds one more agent (a new mail host) to an existing CA: it reads DIR/ca.crt and
            DIR/ca.key and writes DIR/NAME.crt and DIR/NAME.key, a server certificate for NAME
            (names as above). Copy them and ca.crt to the new host; the control plane and the
            other agents trust it without any change.
            """,
            """
            --dir DIR            where the files are written (created if missing)
            --ca-dir DIR         issue: the directory with ca.crt and ca.key
            --agent-name NAME    the agent certificate's CN [this host's name]
            --client-name NAME   the client certificate's CN [control-plane]
            --days N             validity of the agent and client certificates, 1 to 3650 [825];
                                 the CA gets twice that
            --san NAME           an extra DNS name or IP address for the agent certificate
                                 (repeatable)
            """,
            """
            0   the files were written
            1   a file already exists or cannot be written
            2   usage error
            """,
            "DIR/ca.crt, DIR/ca.key, DIR/agent.crt, DIR/agent.key, DIR/client.crt, DIR/client.key",
            """
            mailagent pki init --dir /etc/mailagent/pki --san mx1.example.com
            mailagent pki issue --ca-dir /etc/mailagent/pki --agent-name postfix-frankfurt --san mx3.example.com
            """),

        ["doctor"] = () => Page(
            "doctor",
            "check the go-live checklist from this host, with a fix for every failure",
            DoctorCommand.Synopsis,
            """
            Checks every item of the go-live checklist that can be checked from the host and prints,
            per item, PASS, WARN, FAIL or SKIP, why, the evidence (the records, answers and command
            output seen) and the fix. DNS goes through Health:Dns:Resolver (or /etc/resolv.conf);
            the SMTP probes connect to Doctor:SmtpHost and always end with QUIT.

            DNS (needs Health:Dns:Domain, HostName, HostAddresses, DkimSelector, DkimKeyFile)
              dns.mx         the domain's MX names myhostname.
                             fix: MX "10 myhostname." at the domain.
              dns.address    myhostname's A/AAAA are exactly Health:Dns:HostAddresses (extra ones warn).
                             fix: correct the A/AAAA records.
              dns.spf        SPF (RFC 7208, macros included) passes for each address; softfail or
                             neutral warn. fix: add ip4:/ip6: terms for the addresses, stay under
                             10 lookups.
              dns.dkim       the TXT at SELECTOR._domainkey.DOMAIN carries the key of DkimKeyFile
                             (the key OpenDKIM's KeyTable names). fix: publish the .txt record
                             opendkim-genkey wrote.
              dns.dmarc      _dmarc.DOMAIN has v=DMARC1 with p=none|quarantine|reject; missing warns.
                             fix: publish "v=DMARC1; p=quarantine; rua=mailto:…".
              dns.ptr        each address's PTR names myhostname, and myhostname resolves back.
                             fix: ask the address's provider for the reverse DNS.
            Reputation
              reputation.zen    each address on Doctor:ZenZone [zen.spamhaus.org]: listed fails;
                                127.255.255.252/254/255 (the resolver was refused) warns.
                                fix: remove the cause, then use the list's removal form; use a
                                resolver of your own, not a public one.
              reputation.dbl    the domain on Doctor:DblZone [dbl.spamhaus.org], same answers.
              reputation.dnsbl  each address on Doctor:ExtraBlocklists (';'-separated); skipped
                                when none are set.
            Transport security
              transport.mta-sts     one v=STSv1 TXT at _mta-sts.DOMAIN; missing warns.
              transport.tls-rpt     one v=TLSRPTv1 TXT at _smtp._tls.DOMAIN; missing warns.
              transport.certificate 25 and 587 (STARTTLS) and 465 (TLS at once) serve a
                                    certificate naming myhostname, valid for more than
                                    Doctor:CertificateMinimumDays [14], the same on all three.
                                    fix: certbot certonly, smtpd_tls_chain_files, postfix reload.
              transport.renewal     certbot.timer is installed and a hook in
                                    Doctor:CertbotDeployHookDirectory runs 'mailagent cert-deployed'.
              transport.mta-sts-policy  https://mta-sts.DOMAIN/.well-known/mta-sts.txt (valid
                                    certificate, no redirects): version STSv1, mode, max_age, an mx
                                    line covering myhostname; mode testing/none or unreachable from
                                    this host warns. fix: serve the file; mode: enforce.
              transport.dane        the TLSA records of _25._tcp.MYHOSTNAME match what 25 serves after
                                    STARTTLS (usage 1/3: the leaf, 0/2: any certificate of the chain;
                                    selector 0 certificate, 1 SubjectPublicKeyInfo; matching 0 exact,
                                    1 SHA-256, 2 SHA-512); skipped without TLSA records. fix: publish
                                    '3 1 1 <SHA-256 of the key>', certbot --reuse-key.
            Services
              services.listening    25, 465 and 587 answer 220 and EHLO.
                                    fix: enable smtp, submissions, submission in master.cf.
              services.starttls     25 and 587 offer STARTTLS and complete the handshake.
                                    fix: smtpd_tls_chain_files, smtpd_tls_security_level = may.
              services.auth         AUTH never on 25, on 587 only after STARTTLS, on 465.
                                    fix: smtpd_sasl_auth_enable and smtpd_tls_auth_only=yes in
                                    master.cf for submission/submissions only.
              services.sasl         with Doctor:SaslProbeUser and Doctor:SaslProbePasswordFile set,
                                    AUTH PLAIN after STARTTLS on 587 answers 235; skipped without
                                    a probe credential. fix: doveadm auth test, smtpd_sasl_type =
                                    dovecot and smtpd_sasl_path for submission.
              services.open-relay   from Doctor:RelayProbeSource (default: the first of
                                    Health:Dns:HostAddresses, which must be outside mynetworks),
                                    RCPT TO a foreign address (Doctor:RelayProbeRecipient) on 25 is
                                    refused; never sends DATA. fix: narrow mynetworks, keep
                                    reject/defer_unauth_destination in smtpd_relay_restrictions.
              services.dkim-signing with Doctor:DkimProbeRecipient set (route its domain in
                                    transport_maps to smtp:[Doctor:DkimSinkAddress]:Doctor:DkimSinkPort,
                                    default [127.0.0.1]:10026, where the doctor listens), a message
                                    from Doctor:DkimProbeSender (default postmaster@DOMAIN) submitted
                                    on 25 arrives within Doctor:DkimProbeWait [30 s] with a
                                    DKIM-Signature d=DOMAIN; skipped without a recipient. fix:
                                    smtpd_milters/non_smtpd_milters, OpenDKIM's SigningTable/KeyTable.
              services.postfix-check  'postfix [-c Postfix:ConfigDirectory] check' exits 0 and
                                    prints nothing; printed warnings warn.
            Host
              host.fail2ban   an enabled jail for Postfix SASL ([postfix-sasl] or filter
                              postfix[mode=auth]) in Doctor:Fail2banDirectory's jail.conf, jail.d/,
                              jail.local, and 'fail2ban-client status' lists it as running.
                              fix: enable [postfix-sasl] in jail.d/postfix-sasl.local, restart.
              host.firewall   'nft list ruleset' (else iptables-save; or Doctor:FirewallRulesFile):
                              an input chain dropping by default that accepts tcp 25, 465, 587.
              host.updates    APT::Periodic::Unattended-Upgrade "1" in Doctor:AptPeriodicDirectory.
                              fix: apt install unattended-upgrades; dpkg-reconfigure it.
              host.disk       Doctor:DiskPath's file system has Doctor:MinimumFreeDiskRatio free.
              host.memory     MemAvailable is at least Doctor:MinimumAvailableMemoryMiB.
            Platform (needs Doctor:ControlPlaneUrl; both skip without it)
              platform.provider-row   GET Doctor:ControlPlaneUrl/api/status: the control plane reads
                                    its routing table (PostgreSQL or SQLite) and says whether this
                                    host's messaging_providers row (Doctor:ProviderName, else the
                                    provider of the matched Agents entry) exists with is_active
                                    true. Inactive warns (fix: the control plane's reason, or
                                    UPDATE … SET is_active = true for a person's false); no row
                                    fails (fix: INSERT the email row, or Routing:CreateMissingProviders
                                    =true on the control plane); a table error fails with it.
              platform.control-plane  the control plane's Agents entry for this host (by
                                    Doctor:ProviderName, else by Address: its host is
                                    Health:Dns:HostName, one of Health:Dns:HostAddresses or Grpc:Listen's
                                    address, on Grpc:Listen's port) is Connected; shows the last
                                    heartbeat's age and the control plane's last error. Not
                                    connected fails: fix Agents:N:Address, the mTLS certificates
                                    (Grpc:ReadClients, Grpc:CaFile, Tls:CaFile) or the firewall.
                                    An unreachable control plane fails both, naming the URL.
            """,
            """
            --format text|json   text (the default) for a person; json: {"status", "counts", "items":
                                 [{"group", "id", "title", "status", "why", "evidence", "fix"}]}
            """ + "\n" + ConfigurationOptions,
            """
            0   nothing failed (warnings and skips allowed)
            1   at least one item failed
            2   usage or configuration error
            """,
            CommonFiles + "\n/etc/fail2ban, /etc/apt/apt.conf.d, /etc/letsencrypt/renewal-hooks/deploy, /proc/meminfo",
            """
            mailagent doctor
            mailagent doctor --format json | jq '.items[] | select(.status == "fail")'
            mailagent doctor Doctor:SmtpHost=203.0.113.10 Doctor:ExtraBlocklists=bl.spamcop.net
            mailagent doctor Doctor:ControlPlaneUrl=http://cp.internal:9170 Doctor:ProviderName=postfix-oregon
            """),

        ["version"] = () => Page(
            "version",
            "print the agent's version",
            "mailagent version",
            "Prints 'mailagent VERSION' (the version the binary was built as) and exits.",
            "none.",
            "0   always",
            "none.",
            "mailagent version"),

        ["help"] = () => Page(
            "help",
            "print the overview or one command's page",
            "mailagent help [COMMAND]\nmailagent COMMAND --help\nmailagent help run --markdown",
            """
            Without COMMAND prints the list of commands; with one prints its page (the sections of
            this one). 'man mailagent' has every page. 'help run --markdown' prints the key reference
            as the tables of docs/configuration.md ('make docs' writes them there).
            """,
            "COMMAND      one of: " + string.Join(", ", Commands) + "\n--markdown   with run: the key tables in markdown",
            "0   the page was printed\n2   --markdown without run",
            "none.",
            """
            mailagent help run
            mailagent queue --help
            mailagent help run --markdown
            """),
    };

    /// <summary>The configuration key list of <c>mailagent run</c>, from <see cref="ConfigurationKeys"/>.</summary>
    private static string RunKeys() =>
        ConfigurationReference.HelpText(ConfigurationKeys.Sections)
        + "\n('mailagent pki init' makes the Grpc certificates.)\nEnvironment: MAILAGENT__LogTailing__Path=… and so on.";

    private static string Page(string command, string summary, string synopsis, string description, string options, string exitStatus, string files, string examples) =>
        $"""
        NAME
        {Indent($"mailagent {command} - {summary}")}

        SYNOPSIS
        {Indent(synopsis)}

        DESCRIPTION
        {Indent(description)}

        OPTIONS
        {Indent(options)}

        EXIT STATUS
        {Indent(exitStatus)}

        FILES
        {Indent(files)}

        EXAMPLES
        {Indent(examples)}
        """;

    private static string Indent(string text) =>
        string.Join('\n', text.TrimEnd().Split('\n').Select(l => l.Length == 0 ? "" : "    " + l));
}
