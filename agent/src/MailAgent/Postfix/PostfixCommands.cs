using System.ComponentModel;
using System.Net.Sockets;
using System.Text;
using CliWrap;

namespace MailAgent.Postfix;

/// <summary>Why a Postfix program did not succeed, read from how it ended and what it printed.</summary>
internal enum PostfixFailure
{
    /// <summary>It ran and exited 0.</summary>
    None,

    /// <summary>It failed for a reason none of the other classes names.</summary>
    Other,

    /// <summary>It could not be started: not found, or not executable.</summary>
    NotInstalled,

    /// <summary>The master daemon is not running (<c>postfix status</c>, <c>postfix reload</c>).</summary>
    NotRunning,

    /// <summary>The agent's user may not read the configuration or run the program.</summary>
    Permission,

    /// <summary><c>-c DIR</c> was refused: DIR is not in the default instance's alternate_config_directories.</summary>
    AlternateConfigDirectory,

    /// <summary>It did not finish within the seam's time limit and was killed.</summary>
    TimedOut,
}

/// <summary>
/// How a Postfix program ended: whether it started, its exit code and what it printed. The one
/// result type of <see cref="IPostfixCommands"/>; <see cref="Failure"/> is the one error policy.
/// </summary>
internal readonly record struct PostfixResult(bool Started, int ExitCode, string StandardOutput, string StandardError)
{
    /// <summary>The <c>-c</c> directory the program ran against; null for Postfix's default instance.</summary>
    public string? ConfigDirectory { get; init; }

    /// <summary>True when the seam killed the program at its time limit.</summary>
    public bool TimedOut { get; init; }

    public bool Succeeded => Started && ExitCode == 0 && !TimedOut;

    /// <summary>What the program printed, error output first, for reasons and audit lines.</summary>
    public string Output => (StandardError + "\n" + StandardOutput).Trim();

    /// <summary>The class of the failure; <see cref="PostfixFailure.None"/> when it succeeded.</summary>
    public PostfixFailure Failure =>
        Succeeded ? PostfixFailure.None
        : !Started ? PostfixFailure.NotInstalled
        : TimedOut ? PostfixFailure.TimedOut
        : Classify(Output, ConfigDirectory);

    /// <summary>A program that could not be started, with the reason in <see cref="StandardError"/>.</summary>
    public static PostfixResult NotStarted(string program, string reason) => new(false, -1, "", $"cannot run '{program}': {reason}");

    /// <summary>Why a Postfix program failed, from what it printed (stderr first) and the <c>-c</c> directory it was given.</summary>
    public static PostfixFailure Classify(string output, string? configDirectory = null)
    {
        if (output.Contains("alternate_config_directories", StringComparison.Ordinal) || output.Contains("alternate configuration director", StringComparison.OrdinalIgnoreCase))
            return PostfixFailure.AlternateConfigDirectory;
        if (output.Contains("ermission denied", StringComparison.Ordinal) || output.Contains("superuser", StringComparison.Ordinal) || output.Contains("not owned by", StringComparison.Ordinal))
            return PostfixFailure.Permission;
        if (output.Contains("is not running", StringComparison.Ordinal))
            return PostfixFailure.NotRunning;
        // Non-root postqueue/postsuper with -c DIR first read the default instance's main.cf for
        // alternate_config_directories: failing to open that file is the alternate-directory rule.
        if (!string.IsNullOrWhiteSpace(configDirectory)
            && output.Contains("/etc/postfix/main.cf", StringComparison.Ordinal)
            && !configDirectory.TrimEnd('/').Equals("/etc/postfix", StringComparison.Ordinal))
            return PostfixFailure.AlternateConfigDirectory;
        return PostfixFailure.Other;
    }
}

/// <summary>
/// Whether the master daemon answers on QUEUE_DIRECTORY/public/showq: true, false (nothing listens),
/// or null (cannot tell: the path could not be found or reached); <see cref="Detail"/> says which.
/// </summary>
internal readonly record struct MasterProbe(bool? Running, string Detail);

/// <summary>
/// Every Postfix program the agent runs (postfix, postconf, postqueue); tests substitute a fake.
/// Arguments are a list, never a shell line, and <c>-c DIR</c> comes first when a directory is
/// configured. A <c>configDirectory</c> overrides <see cref="PostfixOptions.ConfigDirectory"/> (a
/// staged copy). The error policy: a program that cannot start, fails or outlives the time limit is
/// a <see cref="PostfixResult"/>, never an exception; cancelling the caller's token kills the
/// program and throws <see cref="OperationCanceledException"/>.
/// </summary>
internal interface IPostfixCommands
{
    /// <summary><c>postfix [-c DIR] ARGS</c>, e.g. status, reload, check.</summary>
    Task<PostfixResult> PostfixAsync(IReadOnlyList<string> arguments, CancellationToken cancellationToken, string? configDirectory = null);

    /// <summary><c>postconf [-c DIR] ARGS</c>, e.g. -n, -h name, -e name=value, -X name.</summary>
    Task<PostfixResult> PostconfAsync(IReadOnlyList<string> arguments, CancellationToken cancellationToken, string? configDirectory = null);

    /// <summary>
    /// <c>postqueue [-c DIR] ARGS</c> with its standard output handed to <paramref name="readOutput"/> while it
    /// runs (null drains it); <see cref="PostfixResult.StandardOutput"/> stays empty, standard error is kept.
    /// </summary>
    Task<PostfixResult> PostqueueAsync(IReadOnlyList<string> arguments, Func<Stream, CancellationToken, Task>? readOutput, CancellationToken cancellationToken);

    /// <summary>True when the agent runs as root, the only user <c>postfix status</c> serves.</summary>
    bool RunsAsRoot { get; }

    /// <summary>
    /// Connects to the master's public/showq socket (srw-rw-rw- in the postdrop-only public/
    /// directory; postqueue uses it too), the queue directory from <c>postconf -h queue_directory</c>.
    /// The master holds that socket while it runs, so a refused connection means it does not. Works
    /// for any member of group postdrop, unlike <c>postfix status</c>.
    /// </summary>
    Task<MasterProbe> ProbeMasterAsync(CancellationToken cancellationToken);
}

/// <summary>The commands the agent names, over the three programs of <see cref="IPostfixCommands"/>.</summary>
internal static class PostfixCommandsExtensions
{
    /// <summary>The arguments of the queue listing (after <c>-c DIR</c>).</summary>
    public static readonly IReadOnlyList<string> ListQueueArguments = ["-j"];

    /// <summary><c>postfix status</c>: exit 0 when the master daemon is running.</summary>
    public static Task<PostfixResult> StatusAsync(this IPostfixCommands commands, CancellationToken cancellationToken) =>
        commands.PostfixAsync(["status"], cancellationToken);

    /// <summary><c>postqueue -j</c>, its JSON lines streamed to <paramref name="readOutput"/>.</summary>
    public static Task<PostfixResult> ListQueueAsync(this IPostfixCommands commands, Func<Stream, CancellationToken, Task>? readOutput, CancellationToken cancellationToken) =>
        commands.PostqueueAsync(ListQueueArguments, readOutput, cancellationToken);
}

/// <summary>
/// <see cref="IPostfixCommands"/> over CliWrap: no shell, working directory /, standard input closed,
/// each run bounded by <paramref name="timeout"/> (default <see cref="DefaultTimeout"/>).
/// </summary>
internal sealed class PostfixCommands(PostfixOptions options, TimeProvider? time = null, TimeSpan? timeout = null) : IPostfixCommands
{
    /// <summary>Long enough for <c>postfix start</c> on a slow host; a hung program is still killed.</summary>
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromMinutes(2);

    /// <summary>Standard error kept for reasons; the rest is read and dropped so the program never blocks.</summary>
    private const int MaxErrorBytes = 64 * 1024;

    private readonly TimeSpan _timeout = timeout ?? DefaultTimeout;
    private readonly TimeProvider _time = time ?? TimeProvider.System;

    /// <summary>The command line as logged: the program and its arguments, <c>-c DIR</c> included.</summary>
    public static string CommandLine(string program, PostfixOptions options, IReadOnlyList<string> arguments) =>
        string.Join(' ', [program, .. options.Arguments([.. arguments])]);

    public Task<PostfixResult> PostfixAsync(IReadOnlyList<string> arguments, CancellationToken cancellationToken, string? configDirectory = null) =>
        RunAsync(options.PostfixPath, arguments, configDirectory, null, buffered: true, cancellationToken);

    public Task<PostfixResult> PostconfAsync(IReadOnlyList<string> arguments, CancellationToken cancellationToken, string? configDirectory = null) =>
        RunAsync(options.PostconfPath, arguments, configDirectory, null, buffered: true, cancellationToken);

    public Task<PostfixResult> PostqueueAsync(IReadOnlyList<string> arguments, Func<Stream, CancellationToken, Task>? readOutput, CancellationToken cancellationToken) =>
        RunAsync(options.PostqueuePath, arguments, null, readOutput, buffered: false, cancellationToken);

    public bool RunsAsRoot => Environment.IsPrivilegedProcess;

    private static readonly TimeSpan MasterConnectTimeout = TimeSpan.FromSeconds(2);

    public async Task<MasterProbe> ProbeMasterAsync(CancellationToken cancellationToken)
    {
        var postconf = await PostconfAsync(["-h", "queue_directory"], cancellationToken);
        string queue = postconf.StandardOutput.Trim();
        if (!postconf.Succeeded || queue.Length == 0)
            return new MasterProbe(null, $"postconf -h queue_directory failed (exit {postconf.ExitCode}): {postconf.Output}");

        string showq = Path.Combine(queue, "public", "showq");
        using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(MasterConnectTimeout);
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
            return new MasterProbe(null, $"{showq}: no answer within {MasterConnectTimeout.TotalSeconds:0} s");
        }
    }

    private async Task<PostfixResult> RunAsync(
        string program, IReadOnlyList<string> arguments, string? configDirectory, Func<Stream, CancellationToken, Task>? readOutput, bool buffered, CancellationToken cancellationToken)
    {
        string? directory = configDirectory ?? (string.IsNullOrWhiteSpace(options.ConfigDirectory) ? null : options.ConfigDirectory);
        IReadOnlyList<string> all = directory is null ? arguments : ["-c", directory, .. arguments];
        var stdout = new StringBuilder();
        var stderr = new BoundedCapture(MaxErrorBytes);
        var output = buffered ? PipeTarget.ToStringBuilder(stdout) : readOutput is null ? PipeTarget.Null : PipeTarget.Create(readOutput);
        using var limit = new CancellationTokenSource(_timeout, _time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, limit.Token);
        try
        {
            // Cancellation is forceful: CliWrap kills the process, so a hung program cannot outlive the limit.
            var result = await CliWrap.Cli.Wrap(program).WithWorkingDirectory("/")
                .WithArguments(all)
                .WithStandardInputPipe(PipeSource.Null)
                .WithStandardOutputPipe(output)
                .WithStandardErrorPipe(PipeTarget.Create(stderr.ReadAsync))
                .WithValidation(CommandResultValidation.None)
                .ExecuteAsync(linked.Token);
            return new PostfixResult(true, result.ExitCode, stdout.ToString(), stderr.Text) { ConfigDirectory = directory };
        }
        catch (OperationCanceledException) when (limit.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            return new PostfixResult(true, -1, stdout.ToString(), $"{program} did not finish within {_timeout.TotalSeconds:0.###} s and was killed")
            {
                ConfigDirectory = directory,
                TimedOut = true,
            };
        }
        catch (Exception e) when (e is Win32Exception or InvalidOperationException)
        {
            // Not found, not executable: CliWrap says which and names the path.
            return PostfixResult.NotStarted(program, (e.InnerException ?? e).Message) with { ConfigDirectory = directory };
        }
    }

    /// <summary>Keeps the first bytes of a stream and drains the rest, so the writer never blocks.</summary>
    private sealed class BoundedCapture(int limit)
    {
        private readonly byte[] _kept = new byte[limit];
        private int _length;

        public string Text => Encoding.UTF8.GetString(_kept, 0, _length);

        public async Task ReadAsync(Stream stream, CancellationToken cancellationToken)
        {
            var buffer = new byte[4096];
            int read;
            while ((read = await stream.ReadAsync(buffer, cancellationToken)) > 0)
            {
                int keep = Math.Min(read, limit - _length);
                buffer.AsSpan(0, keep).CopyTo(_kept.AsSpan(_length));
                _length += keep;
            }
        }
    }
}
