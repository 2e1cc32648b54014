using CliWrap;
using CliWrap.Buffered;

namespace MailAgent.Tests.Integration.Postfix;

/// <summary>Runs a command-line tool to completion through CliWrap.</summary>
internal static class Tool
{
    /// <summary>Runs the tool and returns its result whatever the exit code.</summary>
    public static async Task<BufferedCommandResult> TryRunAsync(
        string executable,
        IEnumerable<string> arguments,
        CancellationToken cancellationToken,
        string? standardInput = null,
        IReadOnlyDictionary<string, string?>? environment = null)
    {
        var command = CliWrap.Cli.Wrap(executable)
            .WithArguments(arguments)
            .WithValidation(CommandResultValidation.None);
        if (standardInput is not null)
        {
            command = command.WithStandardInputPipe(PipeSource.FromString(standardInput));
        }

        if (environment is not null)
        {
            command = command.WithEnvironmentVariables(environment);
        }

        return await command.ExecuteBufferedAsync(cancellationToken);
    }

    /// <summary>Runs the tool and throws, with its output, when it exits non-zero.</summary>
    public static async Task<BufferedCommandResult> RunAsync(
        string executable,
        IEnumerable<string> arguments,
        CancellationToken cancellationToken,
        string? standardInput = null,
        IReadOnlyDictionary<string, string?>? environment = null)
    {
        var list = arguments as IReadOnlyList<string> ?? [.. arguments];
        var result = await TryRunAsync(executable, list, cancellationToken, standardInput, environment);
        if (result.ExitCode != 0)
        {
            throw new InvalidOperationException(
                $"'{executable} {string.Join(' ', list)}' exited {result.ExitCode}: " +
                $"{result.StandardError.Trim()} {result.StandardOutput.Trim()}".TrimEnd());
        }

        return result;
    }
}
