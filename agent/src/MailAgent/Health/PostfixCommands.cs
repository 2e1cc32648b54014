using System.Net.Sockets;
using CliWrap;
using CliWrap.Buffered;
using MailAgent.Postfix;

namespace MailAgent.Health;

/// <summary>The outcome of a Postfix command: exit code and what it printed.</summary>
internal readonly record struct CommandOutcome(int ExitCode, string Output);

/// <summary>
/// Whether the master daemon answers on QUEUE_DIRECTORY/public/showq: true, false (nothing listens),
/// or null (cannot tell: the path could not be found or reached); <see cref="Detail"/> says which.
/// </summary>
internal readonly record struct MasterProbe(bool? Running, string Detail);

/// <summary>The Postfix commands the health checks run.</summary>
internal interface IPostfixCommands
{
    /// <summary>True when the agent runs as root, the only user 'postfix status' serves.</summary>
    bool RunsAsRoot { get; }

    /// <summary><c>postfix [-c DIR] status</c>: exit 0 when the master daemon is running.</summary>
    Task<CommandOutcome> StatusAsync(CancellationToken cancellationToken);

    /// <summary>
    /// Connects to the master's public/showq socket (srw-rw-rw- in the postdrop-only public/
    /// directory; postqueue uses it too). The master holds that socket while it runs, so a refused
    /// connection means it does not. Works for any member of group postdrop, unlike 'postfix status'.
    /// </summary>
    Task<MasterProbe> ProbeMasterAsync(CancellationToken cancellationToken);
}

/// <summary><see cref="IPostfixCommands"/> over CliWrap.</summary>
internal sealed class PostfixCommands(PostfixOptions options) : IPostfixCommands
{
    private static readonly TimeSpan ConnectTimeout = TimeSpan.FromSeconds(2);

    public bool RunsAsRoot => Environment.IsPrivilegedProcess;

    public async Task<CommandOutcome> StatusAsync(CancellationToken cancellationToken)
    {
        var result = await CliWrap.Cli.Wrap(options.PostfixPath).WithWorkingDirectory("/")
            .WithArguments(options.Arguments("status"))
            .WithValidation(CommandResultValidation.None)
            .ExecuteBufferedAsync(cancellationToken);
        return new CommandOutcome(result.ExitCode, (result.StandardError + result.StandardOutput).Trim());
    }

    public async Task<MasterProbe> ProbeMasterAsync(CancellationToken cancellationToken)
    {
        var postconf = await CliWrap.Cli.Wrap(options.PostconfPath).WithWorkingDirectory("/")
            .WithArguments(options.Arguments("-h", "queue_directory"))
            .WithValidation(CommandResultValidation.None)
            .ExecuteBufferedAsync(cancellationToken);
        string queue = postconf.StandardOutput.Trim();
        if (postconf.ExitCode != 0 || queue.Length == 0)
            return new MasterProbe(null, $"postconf -h queue_directory failed (exit {postconf.ExitCode}): {(postconf.StandardError + postconf.StandardOutput).Trim()}");

        string showq = Path.Combine(queue, "public", "showq");
        using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(ConnectTimeout);
        try
        {
            await socket.ConnectAsync(new UnixDomainSocketEndPoint(showq), timeout.Token);
            return new MasterProbe(true, $"connected to {showq}");
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionRefused)
        {
            return new MasterProbe(false, $"{showq}: {e.Message}");
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.AccessDenied)
        {
            return new MasterProbe(null, $"{showq}: {e.Message}");
        }
        catch (SocketException e)
        {
            // ENOENT: the master never ran with this queue directory.
            return e.SocketErrorCode == SocketError.AddressNotAvailable
                ? new MasterProbe(false, $"{showq}: no such socket ({e.Message})")
                : new MasterProbe(null, $"{showq}: {e.Message}");
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return new MasterProbe(null, $"{showq}: no answer within {ConnectTimeout.TotalSeconds:0} s");
        }
    }
}
