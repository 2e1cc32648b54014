using System.Text;
using MailAgent.Cli;
using Microsoft.Extensions.Time.Testing;

namespace MailAgent.Tests.Cli;

/// <summary>Runs a mailagent command in-process on memory streams.</summary>
internal static class ReplayRunner
{
    /// <summary>The corpus was written in late November 2026; BSD stamps take their year from this clock.</summary>
    public static readonly DateTimeOffset CorpusNow = new(2026, 11, 28, 12, 0, 0, TimeSpan.Zero);

    public static Task<(int ExitCode, string Stdout, string Stderr)> RunAsync(params string[] args) => RunWithInputAsync([], args);

    public static Task<(int ExitCode, string Stdout, string Stderr)> RunWithInputAsync(byte[] input, params string[] args) =>
        RunAsync(new FakeTimeProvider(CorpusNow), input, args);

    /// <summary>With the clock a log's BSD stamps take their year from (the real one for a log written just now).</summary>
    public static async Task<(int ExitCode, string Stdout, string Stderr)> RunAsync(TimeProvider time, byte[] input, params string[] args)
    {
        using var stdin = new MemoryStream(input);
        using var stdout = new MemoryStream();
        using var stderr = new MemoryStream();
        var context = new CliContext(stdin, stdout, stderr, time);

        int exitCode = await CommandLine.RunAsync(args, context);

        return (exitCode, Encoding.UTF8.GetString(stdout.ToArray()), Encoding.UTF8.GetString(stderr.ToArray()));
    }
}
