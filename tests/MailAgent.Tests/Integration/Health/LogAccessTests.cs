using System.Diagnostics;
using System.Text.Json;
using MailAgent.Tests.Integration.Agent;
using Xunit.Abstractions;

namespace MailAgent.Tests.Integration.Health;

/// <summary>
/// The agent as an unprivileged user (nobody), started from a directory that user cannot read, tells the truth
/// about a log it cannot read or that is not there.
/// </summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class LogAccessTests(ITestOutputHelper output) : IDisposable
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);
    private readonly string _root = Directory.CreateTempSubdirectory("mailagent-logaccess-").FullName;

    [Fact]
    public async Task Health_LogMode0600Root_LogUnhealthyNamingPathAndPermissionAndCounted()
    {
        var (cwd, state, logDir) = Layout();
        string log = Path.Combine(logDir, "mail.log");
        await File.WriteAllTextAsync(log, "Dec  6 02:00:00 host postfix/master[1]: daemon started\n");
        File.SetUnixFileMode(log, UnixFileMode.UserRead | UnixFileMode.UserWrite);

        await using var agent = await AgentProcess.StartAsUserAsync("nobody", cwd, [], Settings(log, state));
        var seen = await UntilAsync(agent, b => Check(b, "log") is ("unhealthy", _));
        output.WriteLine(seen);

        var (_, reason) = Check(seen, "log");
        Assert.Contains(log, reason, StringComparison.Ordinal);
        Assert.Contains("permission denied", reason, StringComparison.Ordinal);
        Assert.Contains("mode 0600", reason, StringComparison.Ordinal);
        await UntilMetricAsync(agent, m => AgentProcess.Value(m, "mailagent_log_read_errors_total") >= 2);
        Assert.Single(agent.Output.Split('\n'), l => l.Contains("Cannot open the log", StringComparison.Ordinal));
        // Child processes (postconf, postqueue) do not inherit the unreadable working directory.
        Assert.DoesNotContain("working directory", agent.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Health_LogMissing_DegradedThenUnhealthyAndCounted()
    {
        var (cwd, state, logDir) = Layout();
        string log = Path.Combine(logDir, "mial.log");

        await using var agent = await AgentProcess.StartAsUserAsync("nobody", cwd, [], [.. Settings(log, state), "Health:LogMissingUnhealthy=00:00:04"]);
        var degraded = await UntilAsync(agent, b => Check(b, "log") is ("degraded", _));
        var unhealthy = await UntilAsync(agent, b => Check(b, "log") is ("unhealthy", _));
        output.WriteLine(unhealthy);

        Assert.Contains($"the log {log} does not exist", Check(degraded, "log").Reason, StringComparison.Ordinal);
        Assert.Contains($"the log {log} does not exist", Check(unhealthy, "log").Reason, StringComparison.Ordinal);
        await UntilMetricAsync(agent, m => AgentProcess.Value(m, "mailagent_log_read_errors_total") >= 2);
    }

    private (string Cwd, string State, string LogDir) Layout()
    {
        File.SetUnixFileMode(_root, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute
            | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute);
        // Inside a root-only directory: the agent's user can neither list nor even stat its working directory.
        string rootOnly = Directory.CreateDirectory(Path.Combine(_root, "root-only")).FullName;
        string cwd = Directory.CreateDirectory(Path.Combine(rootOnly, "cwd")).FullName;
        File.SetUnixFileMode(rootOnly, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        string state = Directory.CreateDirectory(Path.Combine(_root, "state")).FullName;
        Chown(state, "nobody:nogroup");
        string logDir = Directory.CreateDirectory(Path.Combine(_root, "log")).FullName;
        File.SetUnixFileMode(logDir, (UnixFileMode)0b111_101_101);
        return (cwd, state, logDir);
    }

    private static string[] Settings(string log, string state) =>
    [
        $"LogTailing:Path={log}",
        $"LogTailing:StateDirectory={state}",
        "LogTailing:PollInterval=00:00:00.200",
        "Health:Checks=log",
        "Health:Interval=00:00:00.500",
        "Health:StartupTimeout=00:00:05",
    ];

    private static void Chown(string path, string owner)
    {
        using var p = Process.Start("chown", [owner, path]);
        p.WaitForExit();
        Assert.Equal(0, p.ExitCode);
    }

    private static async Task<string> UntilAsync(AgentProcess agent, Func<string, bool> done)
    {
        var started = Stopwatch.GetTimestamp();
        while (true)
        {
            var (_, body) = await agent.GetAsync("/health");
            if (done(body))
                return body;
            if (Stopwatch.GetElapsedTime(started) >= Deadline)
                throw new TimeoutException("/health not as expected: " + body + "\n" + agent.Output);
            await Task.Delay(100);
        }
    }

    private static async Task UntilMetricAsync(AgentProcess agent, Func<string, bool> done)
    {
        var started = Stopwatch.GetTimestamp();
        while (true)
        {
            string metrics = await agent.ScrapeAsync();
            if (done(metrics))
                return;
            if (Stopwatch.GetElapsedTime(started) >= Deadline)
                throw new TimeoutException("metrics not as expected:\n" + metrics);
            await Task.Delay(100);
        }
    }

    private static (string? Status, string Reason) Check(string body, string name)
    {
        using var doc = JsonDocument.Parse(body);
        foreach (var check in doc.RootElement.GetProperty("checks").EnumerateArray())
        {
            if (check.GetProperty("name").GetString() == name)
                return (check.GetProperty("status").GetString(), check.GetProperty("reason").GetString() ?? "");
        }

        return (null, "");
    }

    public void Dispose() => Directory.Delete(_root, recursive: true);
}
