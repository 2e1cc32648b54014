using CliWrap;
using CliWrap.Buffered;

namespace MailAgent.Health;

/// <summary>The outcome of a Postfix command: exit code and what it printed.</summary>
internal readonly record struct CommandOutcome(int ExitCode, string Output);

/// <summary>The Postfix commands the health checks run (the queue inspector and gRPC have their own seams: to be merged into one).</summary>
internal interface IPostfixCommands
{
    /// <summary><c>postfix [-c DIR] status</c>: exit 0 when the master daemon is running.</summary>
    Task<CommandOutcome> StatusAsync(CancellationToken cancellationToken);
}

/// <summary><see cref="IPostfixCommands"/> over CliWrap.</summary>
internal sealed class PostfixCommands(HealthOptions options) : IPostfixCommands
{
    public async Task<CommandOutcome> StatusAsync(CancellationToken cancellationToken)
    {
        var args = new List<string>();
        if (!string.IsNullOrWhiteSpace(options.ConfigDirectory))
        {
            args.Add("-c");
            args.Add(options.ConfigDirectory);
        }

        args.Add("status");
        var result = await CliWrap.Cli.Wrap(options.PostfixPath)
            .WithArguments(args)
            .WithValidation(CommandResultValidation.None)
            .ExecuteBufferedAsync(cancellationToken);
        return new CommandOutcome(result.ExitCode, (result.StandardError + result.StandardOutput).Trim());
    }
}
