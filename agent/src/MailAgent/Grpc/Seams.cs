using System.Globalization;
using MailAgent.Postfix;

namespace MailAgent.Grpc;

/// <summary>Postfix facts the API reports: its version and <c>qmgr_message_active_limit</c>.</summary>
internal sealed record PostfixFacts(string Version, long ActiveLimit);

/// <summary>Postfix's version and active-queue limit, read once.</summary>
internal interface IPostfixVersionSource
{
    Task<PostfixFacts> GetAsync(CancellationToken cancellationToken);
}

/// <summary><c>postconf -h mail_version qmgr_message_active_limit</c>; empty / 0 when postconf is missing, fails or is slow.</summary>
internal sealed class PostconfVersionSource(IPostfixCommands postfix) : IPostfixVersionSource
{
    private Task<PostfixFacts>? _facts;

    public Task<PostfixFacts> GetAsync(CancellationToken cancellationToken) => (_facts ??= ReadAsync()).WaitAsync(cancellationToken);

    private async Task<PostfixFacts> ReadAsync()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        try
        {
            var run = await postfix.PostconfAsync(["-h", "mail_version", "qmgr_message_active_limit"], timeout.Token);
            if (!run.Succeeded)
                return new PostfixFacts("", 0);
            var lines = run.StandardOutput.Split('\n', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
            long limit = lines.Length > 1 && long.TryParse(lines[1], NumberStyles.None, CultureInfo.InvariantCulture, out var l) ? l : 0;
            return new PostfixFacts(lines.Length > 0 ? lines[0] : "", limit);
        }
        catch (OperationCanceledException)
        {
            return new PostfixFacts("", 0);
        }
    }
}
