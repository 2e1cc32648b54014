namespace MailAgent.Common;

/// <summary>The standard streams and clock a command uses; tests pass their own.</summary>
internal sealed class CliContext
{
    /// <summary>A context without standard input (the control plane reads none).</summary>
    public CliContext(Stream stdout, Stream stderr, TimeProvider time)
        : this(Stream.Null, stdout, stderr, time)
    {
    }

    public CliContext(Stream stdin, Stream stdout, Stream stderr, TimeProvider time)
    {
        InStream = stdin;
        OutStream = stdout;
        Out = new StreamWriter(stdout, leaveOpen: true) { AutoFlush = false };
        Error = new StreamWriter(stderr, leaveOpen: true) { AutoFlush = true };
        Time = time;
    }

    public Stream InStream { get; }
    public Stream OutStream { get; }
    public TextWriter Out { get; }
    public TextWriter Error { get; }
    public TimeProvider Time { get; }

    public int UsageError(string message, string usage)
    {
        Error.WriteLine(message);
        Error.WriteLine();
        Error.WriteLine(usage);
        return 2;
    }
}
