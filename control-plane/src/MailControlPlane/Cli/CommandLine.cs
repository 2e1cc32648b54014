using System.CommandLine;

namespace MailControlPlane.Cli;

/// <summary>The mailagent-control-plane commands, parsed with System.CommandLine; a command's help is its man-style page.</summary>
internal static class CommandLine
{
    public const string Usage = """
        mailagent-control-plane — scores the mail servers the agents watch and writes the routing table

        Usage:
          mailagent-control-plane run [--config FILE] [Section:Key=value ...]            run it (the daemon)
          mailagent-control-plane check-config [--config FILE] [Section:Key=value ...]   check a configuration
          mailagent-control-plane suppressions [--days N] [--format text|json]           hard bounces to suppress
          mailagent-control-plane version
          mailagent-control-plane help [COMMAND]

        Configuration is read from /etc/mailagent/control-plane.json (or --config FILE), then from
        MAILAGENT_CP__Section__Key environment variables, then from Section:Key=value arguments;
        later sources win. 'mailagent-control-plane help run' lists every key.
        """;

    public const string RunUsage = """
        NAME
        mailagent-control-plane run - score the mail servers and write the routing table

        SYNOPSIS
        mailagent-control-plane run [--config FILE] [Section:Key=value ...]

        DESCRIPTION
        Dials every configured agent over mutual TLS (gRPC, mailagent.v1.AgentService), follows its
        delivery and health events, reads its status and queue, scores each provider 0..100
        (docs/health-score.md) and writes the score and is_active into the platform's routing table
        (messaging_providers), with a messaging_provider_health_logs row on each state change.
        Serves /metrics and /health on Http:Urls and the API (mailagent.controlplane.v1) on
        Grpc:Listen. Under systemd (Type=notify) it reports ready once listening; SIGTERM or
        Ctrl-C stops it after the writer flushed what it could.

        OPTIONS
          --config FILE, -c FILE        read FILE instead of /etc/mailagent/control-plane.json
          Section:Key=value             set one key; wins over the file and MAILAGENT_CP__Section__Key

        Configuration keys (defaults in brackets):
          Agents:N:Name                 a unique agent name, e.g. postfix-oregon
          Agents:N:Address              the agent's gRPC API, https://HOST:PORT
          Agents:N:Region               free text, e.g. us-west-2
          Agents:N:ProviderName         the messaging_providers.provider_name it backs (one agent per provider)
          Agents:N:ProbeHost            SMTP host probed for it; empty: config.smtp_host of its row []
          Agents:N:ProbePort            SMTP port probed; empty: config.smtp_port (with ProbeHost: 25) []
          Tls:CaFile                    CA the agents' certificates chain to (not the system store) [/etc/mailagent/pki/ca.crt]
          Tls:CertificateFile           the control plane's client certificate [/etc/mailagent/pki/client.crt]
          Tls:KeyFile                   its private key [/etc/mailagent/pki/client.key]
          Connections:StatusInterval    heartbeat (status, queue) pushed by each agent every [00:00:05]
          Connections:HeartbeatTimeout  no answer this long: unreachable, dial again [00:00:15]
          Connections:BackoffMin        first wait after a failure (jittered, doubling) [00:00:00.5]
          Connections:BackoffMax        longest wait [00:00:30]
          Connections:CallTimeout       deadline of one call [00:00:05]
          Http:Urls                     the status page (/), /api/*, /metrics and /health listener(s), ';'-separated, port 0 picks one [http://127.0.0.1:9170]
          Grpc:Listen                   the API's ADDRESS:PORT (TLS, HTTP/2, client certificates); empty: off []
          Grpc:CertificateFile          the API's server certificate (PEM) []
          Grpc:KeyFile                  its private key []
          Grpc:ReadClients              client certificate CNs allowed ListAgents, ListProviders, WatchProviders, comma-separated;
                                        certificates chain to Tls:CaFile and hold exactly one CN []
          Grpc:WriteClients             client certificate CNs allowed RollOutConfig (applied to every agent) []
          Grpc:Clients                  old name of the read list; still read, read-only (never grants RollOutConfig) []
          Grpc:ClientSpkiPins           optional base64 SHA-256 of allowed client keys' SubjectPublicKeyInfo []
          Scoring:EvaluationInterval    score every [00:00:02]; Scoring:* holds every number of docs/health-score.md
          Probing:Enabled               active SMTP probes of every provider (docs/health-score.md) [false]
          Probing:Interval              probe each provider every [00:00:05]; Timeout [00:00:05]
          Routing:ConnectionString      PostgreSQL (Npgsql) connection string; empty: the SQLite file []
          Routing:SqlitePath            the stand-alone routing table
          Routing:CreateMissingProviders insert an agent's missing messaging_providers row with defaults [false]
          DeliveryEvents:Enabled        store the agents' delivery events in the routing database [true]
          DeliveryEvents:BatchSize      rows per insert [1000]; BufferSize events waiting [20000]
          DeliveryEvents:FlushInterval  longest wait for a batch [00:00:00.5]; RetentionDays [30]
          DeliveryEvents:Webhook:Url    signed POSTs of the events (docs/delivery-events.md); SecretFile, CaFile []
          Log:FilePath                  the control plane's own log; empty: console only [/var/log/mailagent-control-plane/control-plane.log]
          Log:Level                     Verbose … Fatal [Information]
          Log:RetainedDays              rolled log files kept [14]
        Agents are reloaded without a restart when the configuration file changes or on SIGHUP
        (checked first; on any error the running agents are kept). Other sections need a restart.
        Environment: MAILAGENT_CP__Agents__0__Address=… and so on. docs/configuration.md
        lists every key, Scoring:*, Routing:*, Probing:* and DeliveryEvents:* included.

        EXIT STATUS
          0  stopped by SIGTERM or Ctrl-C
          1  the configuration is not valid (each error names the key, the value and what is valid),
             or a listener could not be opened

        FILES
          /etc/mailagent/control-plane.json            the configuration
          /var/lib/mailagent-control-plane/routing.db  the stand-alone routing table (Routing:SqlitePath)
          /var/log/mailagent-control-plane/control-plane.log         its own log (Log:FilePath)

        EXAMPLES
          mailagent pki init --dir /etc/mailagent/pki      # certificates: ca.crt, agent.*, client.*
          mailagent-control-plane run Agents:0:Name=oregon Agents:0:Address=https://mx1:9161 \
              Agents:0:ProviderName=postfix-oregon Routing:ConnectionString='Host=db;Database=app'
        """;

    public const string CheckConfigUsage = """
        NAME
        mailagent-control-plane check-config - check a configuration without starting

        SYNOPSIS
        mailagent-control-plane check-config [--config FILE] [Section:Key=value ...]

        DESCRIPTION
        Reads the configuration like 'run' does, checks every key (files, addresses, ranges) and
        prints what would run.

        OPTIONS
          --config FILE, -c FILE   read FILE instead of /etc/mailagent/control-plane.json
          Section:Key=value        set one key

        EXIT STATUS
          0  the configuration is valid
          1  it is not: one line per problem, naming the key, the value and what is valid

        FILES
          /etc/mailagent/control-plane.json   the configuration

        EXAMPLES
          mailagent-control-plane check-config --config /etc/mailagent/control-plane.json
        """;

    public const string VersionUsage = """
        NAME
        mailagent-control-plane version - print the version

        SYNOPSIS
        mailagent-control-plane version

        DESCRIPTION
        Prints "mailagent-control-plane VERSION".

        OPTIONS
          none

        EXIT STATUS
          0  always

        FILES
          none

        EXAMPLES
          mailagent-control-plane version
        """;

    public static string Version => ProductVersion.Text;

    private const string DefaultConfigFile = "/etc/mailagent/control-plane.json";

    public static Task<int> RunAsync(string[] args, CliContext context)
    {
        if (args.Length == 0)
        {
            context.Error.WriteLine(Usage);
            return Task.FromResult(2);
        }

        return Build(context).RunAsync(args);
    }

    /// <summary>The command tree, parsed with System.CommandLine; each command's help is its man-style page.</summary>
    internal static CliParsing Build(CliContext context)
    {
        var cli = new CliParsing("mailagent-control-plane", "scores the mail servers the agents watch and writes the routing table", context,
            help: command => PageOf(command.Name) ?? Usage, usage: command => PageOf(command.Name) ?? Usage,
            version: () => $"mailagent-control-plane {Version}");
        var root = cli.Root;
        root.SetAction(_ => context.UsageError("mailagent-control-plane: name a command", Usage));
        root.Subcommands.Add(ConfigurationCommand("run", "run it (the daemon)", args => RunCommand.RunAsync(args, context)));
        root.Subcommands.Add(ConfigurationCommand("check-config", "check a configuration", args => RunCommand.CheckConfigAsync(args, context)));
        root.Subcommands.Add(Suppressions(context));

        var version = new Command("version", "print the version");
        version.SetAction(_ => PrintAsync(context, $"mailagent-control-plane {Version}"));
        root.Subcommands.Add(version);

        var topic = new Argument<string>("COMMAND") { Arity = ArgumentArity.ZeroOrOne, Description = "the command whose page is printed" };
        var help = new Command("help", "print the overview or one command's page") { topic };
        help.SetAction(r => PrintAsync(context, r.GetValue(topic) is { } name ? PageOf(name) ?? Usage : Usage));
        root.Subcommands.Add(help);
        return cli;
    }

    private static Command ConfigurationCommand(string name, string summary, Func<List<string>, Task<int>> body)
    {
        var config = CliParsing.ConfigOption(DefaultConfigFile);
        var settings = CliParsing.SettingsArgument();
        var command = new Command(name, summary) { config, settings };
        command.SetAction(r => body(CliParsing.ConfigurationArguments(r, config, settings)));
        return command;
    }

    private static Command Suppressions(CliContext context)
    {
        var days = new Option<int>("--days")
        {
            HelpName = "N",
            Description = "only candidates whose last bounce is in the last N days",
            DefaultValueFactory = _ => 30,
            CustomParser = r =>
            {
                string text = r.Tokens.Count > 0 ? r.Tokens[^1].Value : "";
                if (int.TryParse(text, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int n) && n is >= 1 and <= 3650)
                    return n;
                r.AddError($"--days '{text}' is not valid: use 1 to 3650");
                return 0;
            },
        };
        var format = CliParsing.Choice("--format", "-f", "text", "text", "json");
        var config = CliParsing.ConfigOption(DefaultConfigFile);
        var settings = CliParsing.SettingsArgument();
        var command = new Command("suppressions", "hard bounces to suppress") { days, format, config, settings };
        command.SetAction(r => SuppressionsCommand.RunAsync(r.GetValue(days), r.GetRequiredValue(format), CliParsing.ConfigurationArguments(r, config, settings), context));
        return command;
    }

    private static string? PageOf(string command) => command switch
    {
        "run" => RunUsage,
        "check-config" => CheckConfigUsage,
        "version" => VersionUsage,
        "suppressions" => SuppressionsCommand.Usage,
        _ => null,
    };

    private static async Task<int> PrintAsync(CliContext context, string text)
    {
        await context.Out.WriteLineAsync(text);
        await context.Out.FlushAsync();
        return 0;
    }
}
