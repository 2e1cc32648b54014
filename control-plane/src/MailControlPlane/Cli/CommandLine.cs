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

    public static string RunUsage => $"""
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

        {ConfigurationReference.HelpText(ConfigurationKeys.Sections)}
        Agents are reloaded without a restart when the configuration file changes or on SIGHUP
        (checked first; on any error the running agents are kept). Other sections need a restart.
        Environment: MAILAGENT_CP__Agents__0__Address=… and so on. docs/configuration.md has
        the same list, with the valid ranges.

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
        var markdown = new Option<bool>("--markdown") { Description = "help run: the key reference as docs/configuration.md's tables" };
        var help = new Command("help", "print the overview or one command's page") { topic, markdown };
        help.SetAction(r => r.GetValue(markdown)
            ? r.GetValue(topic) == "run"
                ? PrintAsync(context, ConfigurationReference.Markdown(ConfigurationKeys.Sections).TrimEnd())
                : Task.FromResult(cli.UsageError(r, "--markdown goes with 'help run' only"))
            : PrintAsync(context, r.GetValue(topic) is { } name ? PageOf(name) ?? Usage : Usage));
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
