using System.CommandLine;
using System.Globalization;
using System.Net;

namespace MailAgent.Cli;

/// <summary>
/// The mailagent commands, parsed with System.CommandLine: each command's options and arguments,
/// and the call into its body. A command's help is its man-style page (<see cref="HelpPages"/>).
/// </summary>
internal static class CommandLine
{
    public const string Usage = """
        mailagent — follows a Postfix mail host's log and reports what it sees

        Usage:
          mailagent run [--config FILE] [Section:Key=value ...]   run the agent (the daemon)
          mailagent replay FILE... [--format json|prometheus|summary]
          mailagent events [--log FILE] [--follow] [--format json|text]   delivery events
          mailagent queue [--format json|prometheus] [Queue:Key=value ...]   one queue snapshot
          mailagent check-config [--config FILE] [Section:Key=value ...]
          mailagent apply-config FILE [--dry-run] [--expected-hash HASH]   change main.cf safely
          mailagent pki init --dir DIR [--agent-name NAME] [--client-name NAME] [--days N]
          mailagent pki issue --ca-dir DIR --agent-name NAME [--san NAME ...]   one more agent's certificate
          mailagent cert-deployed [--config FILE] [Section:Key=value ...]   certbot deploy hook
          mailagent doctor [--format text|json]   check the go-live checklist from this host
          mailagent version
          mailagent help [COMMAND]   also: mailagent COMMAND --help

        Configuration is read from /etc/mailagent/agent.json (or --config FILE), then from
        MAILAGENT__Section__Key environment variables, then from Section:Key=value arguments;
        later sources win. 'mailagent help run' lists every key.
        """;

    private const string DefaultConfigFile = "/etc/mailagent/agent.json";

    public static Task<int> RunAsync(string[] args, CliContext context)
    {
        if (args.Length == 0)
        {
            context.Error.WriteLine(Usage);
            return Task.FromResult(2);
        }

        return Build(context).RunAsync(args);
    }

    /// <summary>The command tree; <see cref="CliParsing.Root"/> lists every command.</summary>
    internal static CliParsing Build(CliContext context)
    {
        var cli = new CliParsing("mailagent", "follows a Postfix mail host's log and reports what it sees", context,
            help: command => PageOf(command) ?? Usage, usage: command => UsageOf(command), version: () => $"mailagent {ProductVersion.Text}");
        var root = cli.Root;
        root.SetAction(_ => context.UsageError("mailagent: name a command", Usage));

        root.Subcommands.Add(ConfigurationCommand("run", "run the agent (the daemon)", (args, _) => Hosting.AgentHost.RunAsync(args, context)));
        root.Subcommands.Add(ConfigurationCommand("check-config", "check a configuration the way 'run' would",
            (args, _) => Hosting.AgentHost.CheckConfigAsync(args, context)));
        root.Subcommands.Add(Replay(context));
        root.Subcommands.Add(Events(context));
        root.Subcommands.Add(Queue(context));
        root.Subcommands.Add(ApplyConfig(cli, context));
        root.Subcommands.Add(Pki(cli, context));
        root.Subcommands.Add(ConfigurationCommand("cert-deployed", "certbot's deploy hook",
            (args, _) => CertDeployedCommand.RunAsync(args, context, Environment.GetEnvironmentVariable("RENEWED_LINEAGE"))));
        root.Subcommands.Add(Doctor(context));
        root.Subcommands.Add(Version(context));
        root.Subcommands.Add(Help(cli, context));
        return cli;
    }

    /// <summary>A command that takes only the configuration: <c>[--config FILE] [Section:Key=value ...]</c>.</summary>
    private static Command ConfigurationCommand(string name, string summary, Func<List<string>, ParseResult, Task<int>> body)
    {
        var config = CliParsing.ConfigOption(DefaultConfigFile);
        var settings = CliParsing.SettingsArgument();
        var command = new Command(name, summary) { config, settings };
        command.SetAction((result, _) => body(CliParsing.ConfigurationArguments(result, config, settings), result));
        return command;
    }

    private static Command Replay(CliContext context)
    {
        var format = CliParsing.Choice("--format", "-f", "json", "json", "prometheus", "summary");
        var probeSource = new Option<string>("--probe-source") { HelpName = "ADDRESS", Description = "leave the agent's probe sessions out of the client counts" };
        probeSource.Validators.Add(r =>
        {
            if (r.Tokens.Count > 0 && !IPAddress.TryParse(r.Tokens[^1].Value, out _))
                r.AddError($"--probe-source '{r.Tokens[^1].Value}' is not an IP address: use one, e.g. 127.0.0.2");
        });
        var files = new Argument<string[]>("FILE") { Arity = ArgumentArity.ZeroOrMore, Description = "log files, plain or gzip; - for standard input" };
        var command = new Command("replay", "read whole logs and print what they add up to") { format, probeSource, files };
        command.Validators.Add(r =>
        {
            string[] names = r.GetValue(files) ?? [];
            // An option without its value is reported as such (a command's error would hide it).
            if (r.Children.OfType<System.CommandLine.Parsing.OptionResult>().Any(o => o is { Implicit: false, Tokens.Count: 0 } && o.Option.Arity.MinimumNumberOfValues > 0))
                return;
            if (names.FirstOrDefault(f => f.StartsWith('-') && f != "-") is { } option)
                r.AddError($"unknown option '{option}'");
            else if (names.Length == 0)
                r.AddError("name at least one log file (- for standard input)");
        });
        command.SetAction((r, _) => ReplayCommand.RunAsync(r.GetRequiredValue(format), r.GetValue(probeSource), r.GetRequiredValue(files), context));
        return command;
    }

    private static Command Events(CliContext context)
    {
        var format = CliParsing.Choice("--format", "-f", "json", "json", "text");
        var log = new Option<string>("--log") { HelpName = "FILE", Description = "the log to read instead of LogTailing:Path" };
        var follow = new Option<bool>("--follow") { Description = "keep printing new events until interrupted" };
        var config = CliParsing.ConfigOption(DefaultConfigFile);
        var settings = CliParsing.SettingsArgument();
        var command = new Command("events", "print the delivery events the daemon streams") { format, log, follow, config, settings };
        command.SetAction((r, _) => EventsCommand.RunAsync(r.GetRequiredValue(format), r.GetValue(log), r.GetValue(follow),
            CliParsing.ConfigurationArguments(r, config, settings), context));
        return command;
    }

    private static Command Queue(CliContext context) =>
        Report("queue", "one queue snapshot, as the daemon would take it", ["json", "prometheus"], QueueCommand.RunAsync, context);

    // A command that reads the configuration and prints one report in a --format (the first one by default).
    private static Command Report(string name, string description, string[] formats, Func<string, List<string>, CliContext, Task<int>> run, CliContext context)
    {
        var format = CliParsing.Choice("--format", "-f", formats[0], formats);
        var config = CliParsing.ConfigOption(DefaultConfigFile);
        var settings = CliParsing.SettingsArgument();
        var command = new Command(name, description) { format, config, settings };
        command.SetAction((r, _) => run(r.GetRequiredValue(format), CliParsing.ConfigurationArguments(r, config, settings), context));
        return command;
    }

    private static Command ApplyConfig(CliParsing cli, CliContext context)
    {
        var dryRun = new Option<bool>("--dry-run", "-n") { Description = "stage and check only; change nothing" };
        var expectedHash = new Option<string>("--expected-hash") { HelpName = "HASH", Description = "refuse unless main.cf's SHA-256 is HASH" };
        var key = new Option<string>("--idempotency-key") { HelpName = "KEY", Description = "recorded in the audit log" };
        var config = CliParsing.ConfigOption(DefaultConfigFile);
        // FILE and the settings in any order: a word with '=' is a setting, the other one the file.
        var words = new Argument<string[]>("FILE") { Arity = ArgumentArity.ZeroOrMore, Description = "the change in main.cf syntax (- for standard input), and Section:Key=value settings" };
        var command = new Command("apply-config", "set or remove Postfix main.cf parameters safely") { dryRun, expectedHash, key, config, words };
        command.SetAction((r, _) =>
        {
            string? file = null;
            var settings = new List<string>();
            if (r.GetResult(config) is { Implicit: false } && r.GetValue(config) is { } configFile)
                settings.AddRange(["--config", configFile]);
            foreach (var word in r.GetValue(words) ?? [])
            {
                if (word.Contains('=', StringComparison.Ordinal) && !word.StartsWith('-'))
                    settings.Add(word);
                else if (file == null && (word == "-" || !word.StartsWith('-')))
                    file = word;
                else
                    return Task.FromResult(cli.UsageError(r, word.StartsWith('-') && word != "-" ? $"unknown option '{word}'" : $"unexpected argument '{word}': one FILE only"));
            }

            if (file == null)
                return Task.FromResult(cli.UsageError(r, "name the FILE holding the change (- for standard input)"));
            return ApplyConfigCommand.RunAsync(file, r.GetValue(expectedHash) ?? "", r.GetValue(key) ?? "", r.GetValue(dryRun), settings, context);
        });
        return command;
    }

    private static Command Pki(CliParsing cli, CliContext context)
    {
        Option<int> Days() => new("--days")
        {
            HelpName = "N",
            Description = "validity of the agent and client certificates, 1 to 3650; the CA gets twice that",
            DefaultValueFactory = _ => 825,
            CustomParser = r =>
            {
                string text = r.Tokens.Count > 0 ? r.Tokens[^1].Value : "";
                if (int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int days) && days is >= 1 and <= 3650)
                    return days;
                r.AddError($"--days {text} is not valid: use 1 to 3650");
                return 0;
            },
        };
        Option<string[]> Sans() => new("--san") { HelpName = "NAME", Description = "an extra DNS name or IP address (repeatable)", AllowMultipleArgumentsPerToken = false };
        Option<string> Value(string name, string help) => new(name) { HelpName = help };

        var dir = Value("--dir", "DIR");
        var agentName = Value("--agent-name", "NAME");
        var clientName = Value("--client-name", "NAME");
        var initDays = Days();
        var initSans = Sans();
        var init = new Command("init", "make a private CA, an agent and a client certificate") { dir, agentName, clientName, initDays, initSans };
        init.SetAction((r, _) =>
        {
            var values = Values(r, dir, agentName, clientName);
            return PkiCommand.InitAsync(values, r.GetValue(initDays), [.. r.GetValue(initSans) ?? []], context);
        });

        var caDir = Value("--ca-dir", "DIR");
        var issueName = Value("--agent-name", "NAME");
        var issueDays = Days();
        var issueSans = Sans();
        var issue = new Command("issue", "one more agent's certificate from the CA") { caDir, issueName, issueDays, issueSans };
        issue.SetAction((r, _) =>
        {
            var values = Values(r, caDir, issueName);
            return PkiCommand.IssueAsync(values, r.GetValue(issueDays), [.. r.GetValue(issueSans) ?? []], context);
        });

        var pki = new Command("pki", "make the private CA and certificates for the gRPC API") { init, issue };
        pki.SetAction(r => cli.UsageError(r, "missing subcommand: use init or issue"));
        return pki;

        static Dictionary<string, string> Values(ParseResult r, params Option<string>[] options)
        {
            var values = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var option in options)
            {
                if (r.GetValue(option) is { } value)
                    values[option.Name] = value;
            }

            return values;
        }
    }

    private static Command Doctor(CliContext context) =>
        Report("doctor", "check the go-live checklist from this host", ["text", "json"], DoctorCommand.RunAsync, context);

    private static Command Version(CliContext context)
    {
        var command = new Command("version", "print the agent's version");
        command.SetAction(async _ =>
        {
            await context.Out.WriteLineAsync($"mailagent {ProductVersion.Text}");
            await context.Out.FlushAsync();
            return 0;
        });
        return command;
    }

    private static Command Help(CliParsing cli, CliContext context)
    {
        var topic = new Argument<string>("COMMAND") { Arity = ArgumentArity.ZeroOrOne, Description = "the command whose page is printed" };
        var markdown = new Option<bool>("--markdown") { Description = "help run: the key reference as docs/configuration.md's tables" };
        var command = new Command("help", "print the overview or one command's page") { topic, markdown };
        command.SetAction(async r =>
        {
            string? name = r.GetValue(topic);
            if (r.GetValue(markdown) && name != "run")
                return cli.UsageError(r, "--markdown goes with 'help run' only");
            await context.Out.WriteLineAsync(r.GetValue(markdown) ? ConfigurationReference.Markdown(ConfigurationKeys.Sections).TrimEnd()
                : name == null ? Usage : HelpPages.For(name) ?? Usage);
            await context.Out.FlushAsync();
            return 0;
        });
        return command;
    }

    /// <summary>The man-style page of a command, or of the nearest command above it that has one.</summary>
    private static string? PageOf(Command command)
    {
        if (HelpPages.For(command.Name) is { } page)
            return page;
        return command.Parents.OfType<Command>().Select(PageOf).FirstOrDefault(p => p != null);
    }

    /// <summary>What a usage error prints after its line: the command's short usage.</summary>
    private static string UsageOf(Command command) => command.Name switch
    {
        "replay" => ReplayCommand.Usage,
        "events" => EventsCommand.Usage,
        "queue" => QueueCommand.Usage,
        "apply-config" => ApplyConfigCommand.Usage,
        "pki" or "init" or "issue" => PkiCommand.Usage,
        "cert-deployed" => CertDeployedCommand.Usage,
        "doctor" => DoctorCommand.Synopsis,
        _ when HelpPages.For(command.Name) is { } page && command.Parents.Any() => page,
        _ => Usage,
    };
}
