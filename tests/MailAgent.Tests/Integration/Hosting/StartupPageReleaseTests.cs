using MailAgent.Tests.Integration.Agent;
using MailAgent.Tests.Integration.Postfix;

namespace MailAgent.Tests.Integration.Hosting;

/// <summary>The daemon releases its executable's clean read-only pages after start-up unless told not to, and serves on.</summary>
[Trait("Category", "Integration")]
public sealed class StartupPageReleaseTests : IDisposable
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "agent-pages-" + Guid.NewGuid().ToString("N")[..8]);

    public StartupPageReleaseTests() => Directory.CreateDirectory(_dir);

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public async Task Run_Default_ReleasesAfterStartUpAndStillCountsLines()
    {
        if (!OperatingSystem.IsLinux())
            return;
        string log = Path.Combine(_dir, "mail.log");
        await File.WriteAllTextAsync(log, "");
        await using var agent = await AgentProcess.StartAsync($"LogTailing:Path={log}", $"LogTailing:StateDirectory={Path.Combine(_dir, "state")}");

        await Eventually.UntilAsync(
            _ => Task.FromResult(agent.Output),
            o => o.Contains(" 7900 ", StringComparison.Ordinal),
            Deadline,
            o => "no release logged:\n" + o);
        await File.AppendAllTextAsync(log, "Dec  6 08:00:00 mx postfix/smtpd[1]: connect from unknown[192.0.2.1]\n");
        await Eventually.UntilAsync(
            _ => agent.ScrapeAsync(),
            m => AgentProcess.Value(m, "mailagent_log_lines_total") >= 1,
            Deadline,
            m => $"{AgentProcess.Value(m, "mailagent_log_lines_total")} lines counted after the release");
        Assert.DoesNotContain(" 7901 ", agent.Output, StringComparison.Ordinal);
        Assert.DoesNotContain(" 7902 ", agent.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Run_ReleaseStartupPagesFalse_NothingReleased()
    {
        string log = Path.Combine(_dir, "mail.log");
        await File.WriteAllTextAsync(log, "");
        await using var agent = await AgentProcess.StartAsync(
            $"LogTailing:Path={log}", $"LogTailing:StateDirectory={Path.Combine(_dir, "state")}", "Memory:ReleaseStartupPages=false");

        // A line read and counted comes after start-up, where the release would have been logged.
        await File.AppendAllTextAsync(log, "Dec  6 08:00:00 mx postfix/smtpd[1]: connect from unknown[192.0.2.1]\n");
        await Eventually.UntilAsync(
            _ => agent.ScrapeAsync(),
            m => AgentProcess.Value(m, "mailagent_log_lines_total") >= 1,
            Deadline,
            m => $"{AgentProcess.Value(m, "mailagent_log_lines_total")} lines counted");
        Assert.DoesNotContain(" 7900 ", agent.Output, StringComparison.Ordinal);
    }
}
