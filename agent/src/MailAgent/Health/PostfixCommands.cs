using CliWrap;
using CliWrap.Buffered;
using MailAgent.Postfix;

namespace MailAgent.Health;

/// <summary>The outcome of a Postfix command: exit code and what it printed.</summary>
internal readonly record struct CommandOutcome(int ExitCode, string Output);

/// <summary>The Postfix commands the health checks run.</summary>
internal interface IPostfixCommands
{
    /// <summary><c>postfix [-c DIR] status</c>: exit 0 when the master daemon is running.</summary>
    Task<CommandOutcome> StatusAsync(CancellationToken cancellationToken);
}

/// <summary><see cref="IPostfixCommands"/> over CliWrap.</summary>
internal sealed class PostfixCommands(PostfixOptions options) : IPostfixCommands
{
    public async Task<CommandOutcome> StatusAsync(CancellationToken cancellationToken)
    {
        var result = await CliWrap.Cli.Wrap(options.PostfixPath).WithWorkingDirectory("/")
            .WithArguments(options.Arguments("status"))
            .WithValidation(CommandResultValidation.None)
            .ExecuteBufferedAsync(cancellationToken);
        return new CommandOutcome(result.ExitCode, (result.StandardError + result.StandardOutput).Trim());
    }
}
