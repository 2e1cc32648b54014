using System.Collections.Concurrent;
using System.Text;
using System.Threading.Channels;
using MailAgent.Queue;
using Microsoft.Extensions.Logging;

namespace MailAgent.Tests.Queue;

/// <summary>An <see cref="IPostfixCommands"/> that plays one scripted behaviour per call.</summary>
internal sealed class FakePostfixCommands : IPostfixCommands
{
    private readonly ConcurrentQueue<Func<Func<Stream, CancellationToken, Task>, CancellationToken, Task<PostfixCommandResult>>> _script = new();
    private int _calls;

    /// <summary>Gets an item each time a hanging call (see <see cref="ThenHang"/>) has begun.</summary>
    public Channel<int> HangStarted { get; } = Channel.CreateUnbounded<int>();

    public int Calls => Volatile.Read(ref _calls);

    /// <summary>The next call prints <paramref name="output"/> and exits 0.</summary>
    public FakePostfixCommands ThenPrint(string output)
    {
        _script.Enqueue(async (read, token) =>
        {
            using var stream = new MemoryStream(Encoding.UTF8.GetBytes(output));
            await read(stream, token);
            return new PostfixCommandResult(0, "");
        });
        return this;
    }

    /// <summary>The next call exits with <paramref name="exitCode"/> and prints <paramref name="error"/> on standard error.</summary>
    public FakePostfixCommands ThenExit(int exitCode, string error)
    {
        _script.Enqueue(async (read, token) =>
        {
            await read(Stream.Null, token);
            return new PostfixCommandResult(exitCode, error);
        });
        return this;
    }

    /// <summary>The next call cannot start the program.</summary>
    public FakePostfixCommands ThenCannotStart(string message)
    {
        _script.Enqueue((_, _) => Task.FromException<PostfixCommandResult>(new PostfixCommandException(message)));
        return this;
    }

    /// <summary>The next call prints nothing and never ends until cancelled, as a postqueue stuck on a busy queue.</summary>
    public FakePostfixCommands ThenHang()
    {
        _script.Enqueue(async (_, token) =>
        {
            HangStarted.Writer.TryWrite(Calls);
            await Task.Delay(Timeout.Infinite, token);
            throw new InvalidOperationException("unreachable");
        });
        return this;
    }

    public Task<PostfixCommandResult> ListQueueAsync(Func<Stream, CancellationToken, Task> readOutput, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _calls);
        if (!_script.TryDequeue(out var next))
            throw new InvalidOperationException("the test scripted no more postqueue runs");
        return next(readOutput, cancellationToken);
    }
}

/// <summary>Keeps what was logged, for assertions on event IDs.</summary>
internal sealed class ListLogger<T> : ILogger<T>
{
    private readonly ConcurrentQueue<(LogLevel Level, int EventId, string Message)> _entries = new();

    public IReadOnlyList<(LogLevel Level, int EventId, string Message)> Entries => [.. _entries];

    public int Count(int eventId) => _entries.Count(e => e.EventId == eventId);

    public IDisposable? BeginScope<TState>(TState state)
        where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => true;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
        _entries.Enqueue((logLevel, eventId.Id, formatter(state, exception)));
}
