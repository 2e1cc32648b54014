namespace MailControlPlane.Cli;

/// <summary>The standard streams and clock a command uses; tests pass their own.</summary>
internal sealed class CliContext(Stream stdout, Stream stderr, TimeProvider time)
{
    public TextWriter Out { get; } = new StreamWriter(stdout, leaveOpen: true) { AutoFlush = false };

    public TextWriter Error { get; } = new StreamWriter(stderr, leaveOpen: true) { AutoFlush = true };

    public TimeProvider Time { get; } = time;
}
