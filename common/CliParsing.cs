using System.CommandLine;
using System.CommandLine.Help;
using System.CommandLine.Invocation;
using System.CommandLine.Parsing;

namespace MailAgent.Common;

/// <summary>
/// How both binaries parse their command lines with System.CommandLine: the man-style page is a
/// command's help (<c>COMMAND --help</c>), a parse error prints one line naming the option and the
/// fix, then the command's usage, and exits 2. Compiled into the agent and the control plane.
/// </summary>
internal sealed class CliParsing
{
    private static readonly ParserConfiguration Parser = new()
    {
        // '@file' is a log file or a value, never a response file; '-fn' is not '-f -n'.
        ResponseFileTokenReplacer = null,
        EnablePosixBundling = false,
    };

    private readonly string _program;
    private readonly CliContext _context;
    private readonly Func<Command, string> _usage;

    /// <summary>
    /// A root command without System.CommandLine's own help, version and directives: <paramref name="help"/>
    /// gives the page of the command <c>--help</c> is given on (the root's without one), <paramref name="usage"/>
    /// what a usage error prints after its one line.
    /// </summary>
    public CliParsing(string program, string description, CliContext context, Func<Command, string> help, Func<Command, string> usage, Func<string> version)
    {
        _program = program;
        _context = context;
        _usage = usage;
        Root = new RootCommand(description);
        Root.Options.Clear();
        Root.Directives.Clear();
        Root.Options.Add(new HelpOption("--help", "-h") { Action = new PrintAction(r => help(r.CommandResult.Command), context) });
        Root.Options.Add(new VersionOption("--version") { Action = new PrintAction(_ => version(), context) });
    }

    public RootCommand Root { get; }

    /// <summary>The <c>--config FILE</c> option both daemons' commands take.</summary>
    public static Option<string> ConfigOption(string defaultFile) =>
        new("--config", "-c") { Description = $"read FILE instead of {defaultFile}", HelpName = "FILE" };

    /// <summary>Any number of <c>Section:Key=value</c> settings.</summary>
    public static Argument<string[]> SettingsArgument() =>
        new("Section:Key=value") { Arity = ArgumentArity.ZeroOrMore, Description = "set one key; wins over the file and the environment" };

    /// <summary>An option whose value must be one of <paramref name="allowed"/>; the error names them.</summary>
    public static Option<string> Choice(string name, string alias, string defaultValue, params string[] allowed)
    {
        var option = new Option<string>(name, alias) { DefaultValueFactory = _ => defaultValue, HelpName = string.Join('|', allowed) };
        option.Validators.Add(result =>
        {
            string? value = result.Tokens.Count > 0 ? result.Tokens[^1].Value : null;
            if (value != null && !allowed.Contains(value, StringComparer.Ordinal))
                result.AddError($"{name} '{value}' is not one of {string.Join(", ", allowed)}");
        });
        return option;
    }

    /// <summary>
    /// The arguments the layered configuration reads: <c>--config FILE</c> when given, then the settings.
    /// </summary>
    public static List<string> ConfigurationArguments(ParseResult result, Option<string> config, Argument<string[]> settings)
    {
        var args = new List<string>();
        if (result.GetResult(config) is { Implicit: false } && result.GetValue(config) is { } file)
            args.AddRange(["--config", file]);
        args.AddRange(result.GetValue(settings) ?? []);
        return args;
    }

    /// <summary>
    /// Parses and runs <paramref name="args"/>: the command's action, its help page, or — on a parse
    /// error — one line '<c>PROGRAM COMMAND: problem</c>' and the usage of the command on
    /// standard error, exit status 2.
    /// </summary>
    public async Task<int> RunAsync(IReadOnlyList<string> args)
    {
        var result = Root.Parse(args, Parser);
        if (result.Errors.Count == 0 || result.Action is { ClearsParseErrors: true })
        {
            return await result.InvokeAsync(new InvocationConfiguration
            {
                Output = _context.Out,
                Error = _context.Error,
                EnableDefaultExceptionHandler = false,
                // The daemons handle SIGTERM and Ctrl-C themselves (the host's lifetime).
                ProcessTerminationTimeout = null,
            });
        }

        return UsageError(result, Problem(result));
    }

    /// <summary>A usage error found by a command's action: '<c>PROGRAM COMMAND: problem</c>', the usage, exit status 2.</summary>
    public int UsageError(ParseResult result, string problem) =>
        _context.UsageError($"{Label(result.CommandResult)}: {problem}", _usage(result.CommandResult.Command));

    private string Problem(ParseResult result)
    {
        if (result.UnmatchedTokens.Count > 0)
        {
            string token = result.UnmatchedTokens[0];
            if (result.CommandResult.Command == Root)
                return $"unknown command '{token}'";
            if (result.CommandResult.Command.Subcommands.Count > 0)
                return $"unknown subcommand '{token}': use one of {string.Join(", ", result.CommandResult.Command.Subcommands.Select(c => c.Name))}";
            return token.StartsWith('-') && token != "-"
                ? $"unknown option '{token}'"
                : $"unexpected argument '{token}'";
        }

        // An option without its value first: the words after it were then taken for something else.
        var error = result.Errors.FirstOrDefault(e => e.SymbolResult is OptionResult { Tokens.Count: 0 }) ?? result.Errors[0];
        return error.SymbolResult switch
        {
            OptionResult { Tokens.Count: 0 } option => $"{option.Option.Name} needs a value",
            CommandResult { Command.Subcommands.Count: > 0 } command when command.Command.Action == null =>
                $"missing subcommand: use one of {string.Join(", ", command.Command.Subcommands.Select(c => c.Name))}",
            _ => error.Message,
        };
    }

    private string Label(CommandResult command)
    {
        var names = new List<string>();
        for (SymbolResult? r = command; r is CommandResult c; r = c.Parent)
            names.Add(c.Command == Root ? _program : c.Command.Name);
        names.Reverse();
        return string.Join(' ', names);
    }

    /// <summary>Prints a text (a help page, the version) to standard output; exit status 0.</summary>
    private sealed class PrintAction(Func<ParseResult, string> text, CliContext context) : SynchronousCommandLineAction
    {
        public override bool ClearsParseErrors => true;

        public override int Invoke(ParseResult parseResult)
        {
            context.Out.WriteLine(text(parseResult));
            context.Out.Flush();
            return 0;
        }
    }
}
