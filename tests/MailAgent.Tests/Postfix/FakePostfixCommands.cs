using System.Collections.Concurrent;
using System.Text;
using System.Threading.Channels;
using MailAgent.Postfix;

namespace MailAgent.Tests.Postfix;

/// <summary>
/// The <see cref="IPostfixCommands"/> of the unit tests: <c>postfix status</c> answers <see cref="Status"/>,
/// other postfix and postconf runs answer <see cref="Postfix"/> and <see cref="Postconf"/> (unexpected
/// when unset), and postqueue plays one scripted behaviour per call. Every run is recorded in <see cref="Ran"/>.
/// </summary>
internal sealed class FakePostfixCommands : IPostfixCommands
{
    private readonly ConcurrentQueue<Func<Func<Stream, CancellationToken, Task>?, CancellationToken, Task<PostfixResult>>> _postqueue = new();
    private readonly ConcurrentQueue<string> _ran = new();
    private int _postqueueCalls;

    /// <summary>What <c>postfix status</c> answers.</summary>
    public PostfixResult Status { get; set; } = new(true, 0, "", "postfix/postfix-script: the Postfix mail system is running: PID: 42");

    /// <summary>What other <c>postfix</c> runs answer, from their arguments.</summary>
    public Func<IReadOnlyList<string>, PostfixResult>? Postfix { get; set; }

    /// <summary>What <c>postconf</c> answers, from its arguments.</summary>
    public Func<IReadOnlyList<string>, PostfixResult>? Postconf { get; set; }

    /// <summary>Each run as "program arguments", in order.</summary>
    public IReadOnlyList<string> Ran => [.. _ran];

    /// <summary>Gets an item each time a hanging postqueue call (see <see cref="ThenHang"/>) has begun.</summary>
    public Channel<int> HangStarted { get; } = Channel.CreateUnbounded<int>();

    /// <summary>How many times postqueue ran.</summary>
    public int Calls => Volatile.Read(ref _postqueueCalls);

    /// <summary>The next postqueue call prints <paramref name="output"/> and exits 0.</summary>
    public FakePostfixCommands ThenPrint(string output)
    {
        _postqueue.Enqueue(async (read, token) =>
        {
            using var stream = new MemoryStream(Encoding.UTF8.GetBytes(output));
            if (read != null)
                await read(stream, token);
            return new PostfixResult(true, 0, "", "");
        });
        return this;
    }

    /// <summary>The next postqueue call exits with <paramref name="exitCode"/> and prints <paramref name="error"/> on standard error.</summary>
    public FakePostfixCommands ThenExit(int exitCode, string error)
    {
        _postqueue.Enqueue(async (read, token) =>
        {
            if (read != null)
                await read(Stream.Null, token);
            return new PostfixResult(true, exitCode, "", error);
        });
        return this;
    }

    /// <summary>The next postqueue call cannot start the program.</summary>
    public FakePostfixCommands ThenCannotStart(string reason)
    {
        _postqueue.Enqueue((_, _) => Task.FromResult(PostfixResult.NotStarted("postqueue", reason)));
        return this;
    }

    /// <summary>The next postqueue call prints nothing and never ends until cancelled, as a postqueue stuck on a busy queue.</summary>
    public FakePostfixCommands ThenHang()
    {
        _postqueue.Enqueue(async (_, token) =>
        {
            HangStarted.Writer.TryWrite(Calls);
            await Task.Delay(Timeout.Infinite, token);
            throw new InvalidOperationException("unreachable");
        });
        return this;
    }

    public Task<PostfixResult> PostfixAsync(IReadOnlyList<string> arguments, CancellationToken cancellationToken, string? configDirectory = null)
    {
        _ran.Enqueue(Line("postfix", arguments));
        if (arguments is ["status"])
            return Task.FromResult(Status);
        return Task.FromResult(Postfix?.Invoke(arguments) ?? throw new InvalidOperationException($"the test expected no '{Line("postfix", arguments)}'"));
    }

    public Task<PostfixResult> PostconfAsync(IReadOnlyList<string> arguments, CancellationToken cancellationToken, string? configDirectory = null)
    {
        _ran.Enqueue(Line("postconf", arguments));
        return Task.FromResult(Postconf?.Invoke(arguments) ?? throw new InvalidOperationException($"the test expected no '{Line("postconf", arguments)}'"));
    }

    public Task<PostfixResult> PostqueueAsync(IReadOnlyList<string> arguments, Func<Stream, CancellationToken, Task>? readOutput, CancellationToken cancellationToken)
    {
        _ran.Enqueue(Line("postqueue", arguments));
        Interlocked.Increment(ref _postqueueCalls);
        if (!_postqueue.TryDequeue(out var next))
            throw new InvalidOperationException("the test scripted no more postqueue runs");
        return next(readOutput, cancellationToken);
    }

    /// <summary>Whether the agent runs as root (only root gets an answer from <c>postfix status</c>).</summary>
    public bool RunsAsRoot { get; set; } = true;

    /// <summary>What the master-daemon probe on public/showq answers.</summary>
    public MasterProbe Probe { get; set; } = new(true, "connected to /var/spool/postfix/public/showq");

    /// <summary>How many times the master daemon was probed.</summary>
    public int Probes => Volatile.Read(ref _probes);

    private int _probes;

    public Task<MasterProbe> ProbeMasterAsync(CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _probes);
        return Task.FromResult(Probe);
    }

    private static string Line(string program, IReadOnlyList<string> arguments) => string.Join(' ', [program, .. arguments]);
}
