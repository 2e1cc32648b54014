using System.ComponentModel;
using CliWrap;
using CliWrap.Buffered;

namespace MailAgent.Postfix;

/// <summary>How a Postfix program ended; <see cref="Started"/> is false when it could not be run at all.</summary>
internal readonly record struct PostfixRun(bool Started, int ExitCode, string StandardOutput, string StandardError)
{
    public bool Succeeded => Started && ExitCode == 0;

    /// <summary>What the program printed, error output first, for reasons and audit lines.</summary>
    public string Output => (StandardError + "\n" + StandardOutput).Trim();
}

/// <summary>
/// The Postfix programs that read or change the instance (postfix, postconf); tests substitute a
/// fake. Arguments are a list, never a shell line. A <c>configDirectory</c> overrides
/// <see cref="PostfixOptions.ConfigDirectory"/> (a staged copy); null uses the configured instance.
/// </summary>
internal interface IPostfixControl
{
    /// <summary><c>postfix [-c DIR] ARGS</c>, e.g. status, reload, check, stop, start.</summary>
    Task<PostfixRun> PostfixAsync(IReadOnlyList<string> arguments, CancellationToken cancellationToken, string? configDirectory = null);

    /// <summary><c>postconf [-c DIR] ARGS</c>, e.g. -n, -h name, -e name=value, -X name.</summary>
    Task<PostfixRun> PostconfAsync(IReadOnlyList<string> arguments, CancellationToken cancellationToken, string? configDirectory = null);
}

/// <summary><see cref="IPostfixControl"/> over CliWrap; a program that cannot start is a failed run, not an exception.</summary>
internal sealed class PostfixControl(PostfixOptions options) : IPostfixControl
{
    public Task<PostfixRun> PostfixAsync(IReadOnlyList<string> arguments, CancellationToken cancellationToken, string? configDirectory = null) =>
        RunAsync(options.PostfixPath, arguments, configDirectory, cancellationToken);

    public Task<PostfixRun> PostconfAsync(IReadOnlyList<string> arguments, CancellationToken cancellationToken, string? configDirectory = null) =>
        RunAsync(options.PostconfPath, arguments, configDirectory, cancellationToken);

    private async Task<PostfixRun> RunAsync(string program, IReadOnlyList<string> arguments, string? configDirectory, CancellationToken cancellationToken)
    {
        string? directory = configDirectory ?? (string.IsNullOrWhiteSpace(options.ConfigDirectory) ? null : options.ConfigDirectory);
        IReadOnlyList<string> all = directory is null ? arguments : ["-c", directory, .. arguments];
        try
        {
            var result = await CliWrap.Cli.Wrap(program).WithWorkingDirectory("/")
                .WithArguments(all)
                .WithStandardInputPipe(PipeSource.Null)
                .WithValidation(CommandResultValidation.None)
                .ExecuteBufferedAsync(cancellationToken);
            return new PostfixRun(true, result.ExitCode, result.StandardOutput, result.StandardError);
        }
        catch (Exception e) when (e is Win32Exception or InvalidOperationException)
        {
            return new PostfixRun(false, -1, "", $"cannot run '{program}': {(e.InnerException ?? e).Message}");
        }
    }
}
