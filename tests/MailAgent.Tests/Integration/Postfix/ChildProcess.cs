using System.Collections.Concurrent;
using CliWrap;

namespace MailAgent.Tests.Integration.Postfix;

/// <summary>
/// A long-running child (smtp-sink, opendkim) started through CliWrap. Its output is kept for
/// diagnostics, and disposing it kills it.
/// </summary>
internal sealed class ChildProcess : IAsyncDisposable
{
    private readonly CancellationTokenSource _kill;
    private readonly CommandTask<CommandResult> _run;
    private readonly ConcurrentQueue<string> _output;

    private ChildProcess(string name, CommandTask<CommandResult> run, CancellationTokenSource kill, ConcurrentQueue<string> output)
    {
        Name = name;
        _run = run;
        _kill = kill;
        _output = output;
    }

    public string Name { get; }

    public int ProcessId => _run.ProcessId;

    public bool HasExited => _run.Task.IsCompleted;

    /// <summary>Standard output and error so far, interleaved by line.</summary>
    public string Output => string.Join('\n', _output);

    public static ChildProcess Start(
        string name,
        string executable,
        IEnumerable<string> arguments,
        IReadOnlyDictionary<string, string?> environment)
    {
        var output = new ConcurrentQueue<string>();
        var kill = new CancellationTokenSource();
        var sink = PipeTarget.ToDelegate(output.Enqueue);
        var run = CliWrap.Cli.Wrap(executable)
            .WithArguments(arguments)
            .WithEnvironmentVariables(environment)
            .WithStandardOutputPipe(sink)
            .WithStandardErrorPipe(sink)
            .WithValidation(CommandResultValidation.None)
            .ExecuteAsync(kill.Token);
        return new ChildProcess(name, run, kill, output);
    }

    public string Describe() =>
        $"{Name} (pid {ProcessId}, {(HasExited ? $"exited {_run.Task.Result.ExitCode}" : "running")}): {Output}";

    /// <summary>Kills the process (SIGKILL through CliWrap's forceful cancellation) and waits for it.</summary>
    public async ValueTask DisposeAsync()
    {
        if (!HasExited)
        {
            await _kill.CancelAsync();
        }

        try
        {
            await _run;
        }
        catch (OperationCanceledException)
        {
            // the cancellation we asked for
        }

        _kill.Dispose();
    }
}
