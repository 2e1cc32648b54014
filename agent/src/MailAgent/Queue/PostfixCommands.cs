using System.ComponentModel;
using System.Text;
using CliWrap;
using MailAgent.Postfix;

namespace MailAgent.Queue;

/// <summary>Runs the Postfix programs through CliWrap: arguments as a list, no shell, killed on cancellation.</summary>
internal sealed class PostfixCommands(PostfixOptions options) : IPostfixCommands
{
    /// <summary>Standard error kept for the failure message; the rest is read and dropped.</summary>
    private const int MaxErrorBytes = 4096;

    /// <summary>The arguments of the queue listing, each passed to postqueue as it is.</summary>
    public static IReadOnlyList<string> ListQueueArguments(PostfixOptions options) => options.Arguments("-j");

    public async Task<PostfixCommandResult> ListQueueAsync(Func<Stream, CancellationToken, Task> readOutput, CancellationToken cancellationToken)
    {
        var stderr = new BoundedCapture(MaxErrorBytes);
        var command = CliWrap.Cli.Wrap(options.PostqueuePath).WithWorkingDirectory("/")
            .WithArguments(ListQueueArguments(options))
            .WithStandardInputPipe(PipeSource.Null)
            .WithStandardOutputPipe(PipeTarget.Create(readOutput))
            .WithStandardErrorPipe(PipeTarget.Create(stderr.ReadAsync))
            .WithValidation(CommandResultValidation.None);
        try
        {
            // Cancellation is forceful: CliWrap kills the process, so a hung postqueue cannot outlive the timeout.
            var result = await command.ExecuteAsync(cancellationToken);
            return new PostfixCommandResult(result.ExitCode, stderr.Text);
        }
        catch (Exception e) when (e is Win32Exception or InvalidOperationException)
        {
            // Not found, not executable: CliWrap says which and names the path.
            throw new PostfixCommandException($"cannot run '{options.PostqueuePath}': {(e.InnerException ?? e).Message}", e);
        }
    }

    /// <summary>Keeps the first bytes of a stream and drains the rest, so the writer never blocks.</summary>
    private sealed class BoundedCapture(int limit)
    {
        private readonly byte[] _kept = new byte[limit];
        private int _length;

        public string Text => Encoding.UTF8.GetString(_kept, 0, _length).Trim();

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
