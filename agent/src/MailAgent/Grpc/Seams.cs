using CliWrap;
using CliWrap.Buffered;
using MailAgent.Postfix;

namespace MailAgent.Grpc;

/// <summary>Postfix's version, read once.</summary>
internal interface IPostfixVersionSource
{
    Task<string> GetAsync(CancellationToken cancellationToken);
}

/// <summary><c>postconf -h mail_version</c>; empty when postconf is missing, fails or is slow.</summary>
internal sealed class PostconfVersionSource(PostfixOptions options) : IPostfixVersionSource
{
    private Task<string>? _version;

    public Task<string> GetAsync(CancellationToken cancellationToken) => (_version ??= ReadAsync()).WaitAsync(cancellationToken);

    private async Task<string> ReadAsync()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        try
        {
            var result = await CliWrap.Cli.Wrap(options.PostconfPath).WithArguments(options.Arguments("-h", "mail_version"))
                .WithValidation(CommandResultValidation.None).ExecuteBufferedAsync(timeout.Token);
            return result.ExitCode == 0 ? result.StandardOutput.Trim() : "";
        }
        catch (Exception e) when (e is System.ComponentModel.Win32Exception or OperationCanceledException or InvalidOperationException)
        {
            return "";
        }
    }
}
