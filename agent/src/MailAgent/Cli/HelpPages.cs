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
            unit runs it as user mailagent (groups adm and postdrop); see README.md, "Install".
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
            "mailagent pki init --dir DIR [--agent-name NAME] [--client-name NAME] [--days N] [--san NAME ...]",
            """
            Creates a private CA and two certificates signed by it (ECDSA P-256), as PEM files in
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
            """,
            """
            --dir DIR            where the files are written (created if missing)
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
            "mailagent help [COMMAND]\nmailagent COMMAND --help",
            """
            Without COMMAND prints the list of commands; with one prints its page (the sections of
            this one). 'man mailagent' has every page.
            """,
            "COMMAND   one of: " + string.Join(", ", Commands),
            "0   always",
            "none.",
            """
            mailagent help run
            mailagent queue --help
            """),
    };

    /// <summary>The configuration key list of <c>mailagent run</c>, from its usage text.</summary>
    private static string RunKeys()
    {
        string usage = Hosting.AgentHost.RunUsage;
        int start = usage.IndexOf("Configuration keys", StringComparison.Ordinal);
        return start < 0 ? "" : usage[start..];
    }

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
