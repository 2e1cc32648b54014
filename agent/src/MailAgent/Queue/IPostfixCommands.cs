namespace MailAgent.Queue;

/// <summary>The Postfix programs the agent runs; tests substitute a fake.</summary>
internal interface IPostfixCommands
{
    /// <summary>
    /// Runs <c>postqueue [-c DIR] -j</c> and hands its standard output to <paramref name="readOutput"/>
    /// while it runs. Cancelling <paramref name="cancellationToken"/> kills the process and throws
    /// <see cref="OperationCanceledException"/>; a program that cannot be started throws
    /// <see cref="PostfixCommandException"/>.
    /// </summary>
    Task<PostfixCommandResult> ListQueueAsync(Func<Stream, CancellationToken, Task> readOutput, CancellationToken cancellationToken);
}

/// <summary>How a Postfix program ended: its exit code and the start of its standard error.</summary>
internal readonly record struct PostfixCommandResult(int ExitCode, string StandardError);

/// <summary>A Postfix program could not be run at all (not found, not executable).</summary>
internal sealed class PostfixCommandException : Exception
{
    public PostfixCommandException()
    {
    }

    public PostfixCommandException(string message)
        : base(message)
    {
    }

    public PostfixCommandException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
