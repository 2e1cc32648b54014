namespace MailAgent.Cli;

/// <summary>Entry point dispatch for the mailagent commands.</summary>
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

    public static async Task<int> RunAsync(string[] args, CliContext context)
    {
        if (args.Length == 0)
        {
            await context.Error.WriteLineAsync(Usage);
            return 2;
        }

        var rest = args[1..];
        // 'mailagent COMMAND --help' prints the same page as 'mailagent help COMMAND'.
        if (rest.Any(a => a is "--help" or "-h") && HelpPages.For(args[0]) is { } page)
        {
            await context.Out.WriteLineAsync(page);
            await context.Out.FlushAsync();
            return 0;
        }

        switch (args[0])
        {
            case "replay":
                return await ReplayCommand.RunAsync(rest, context);
            case "events":
                return await EventsCommand.RunAsync(rest, context);
            case "queue":
                return await QueueCommand.RunAsync(rest, context);
            case "run":
                return await Hosting.AgentHost.RunAsync(rest, context);
            case "check-config":
                return await Hosting.AgentHost.CheckConfigAsync(rest, context);
            case "pki":
                return await PkiCommand.RunAsync(rest, context);
            case "apply-config":
                return await ApplyConfigCommand.RunAsync(rest, context);
            case "cert-deployed":
                return await CertDeployedCommand.RunAsync(rest, context, Environment.GetEnvironmentVariable("RENEWED_LINEAGE"));
            case "doctor":
                return await DoctorCommand.RunAsync(rest, context);
            case "version" or "--version":
                await context.Out.WriteLineAsync($"mailagent {ProductVersion.Text}");
                await context.Out.FlushAsync();
                return 0;
            case "help" or "--help" or "-h":
                await context.Out.WriteLineAsync(rest.Length == 0 ? Usage : HelpPages.For(rest[0]) ?? Usage);
                await context.Out.FlushAsync();
                return 0;
            default:
                return context.UsageError($"mailagent: unknown command '{args[0]}'", Usage);
        }
    }
}
