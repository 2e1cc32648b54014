using System.ComponentModel;
using CliWrap;
using CliWrap.Buffered;

namespace MailAgent.Doctor;

/// <summary>The outcome of a host command: exit code and what it printed.</summary>
internal readonly record struct CommandOutcome(int ExitCode, string Output);

/// <summary>The host commands the doctor runs (nft, iptables-save, fail2ban-client; Postfix programs go through <see cref="MailAgent.Postfix.IPostfixCommands"/>); tests substitute a fake.</summary>
internal interface IHostCommands
{
    /// <summary>Runs <paramref name="executable"/>; a missing executable is exit code 127 with a message, not an exception.</summary>
    Task<CommandOutcome> RunAsync(string executable, IReadOnlyList<string> arguments, CancellationToken cancellationToken);
}

/// <summary><see cref="IHostCommands"/> over CliWrap, each command bounded by <paramref name="timeout"/>.</summary>
internal sealed class HostCommands(TimeSpan timeout) : IHostCommands
{
    public async Task<CommandOutcome> RunAsync(string executable, IReadOnlyList<string> arguments, CancellationToken cancellationToken)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        try
        {
            var result = await CliWrap.Cli.Wrap(executable)
                .WithArguments(arguments)
                .WithValidation(CommandResultValidation.None)
                .ExecuteBufferedAsync(deadline.Token);
            return new CommandOutcome(result.ExitCode, (result.StandardOutput + result.StandardError).Trim());
        }
        catch (Win32Exception e)
        {
            return new CommandOutcome(127, $"{executable}: {e.Message}");
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return new CommandOutcome(124, $"{executable} did not finish within {timeout.TotalSeconds:0.#} s");
        }
    }
}
