using MailAgent.Config;
using MailAgent.Health;
using MailAgent.Health.Checks;
using MailAgent.LogTailing;
using MailAgent.Metrics;
using MailAgent.Tests.Postfix;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Time.Testing;

namespace MailAgent.Tests.Health;

public sealed class HealthChecksTests
{
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 11, 28, 3, 0, 0, TimeSpan.Zero));

    [Fact]
    public async Task PostfixRunning_ExitZero_HealthyWithoutScriptPrefix()
    {
        var result = await new PostfixRunningCheck(new FakePostfixCommands()).RunAsync(CancellationToken.None);

        Assert.Equal(HealthStatus.Healthy, result.Status);
        Assert.Equal("the Postfix mail system is running: PID: 42", result.Reason);
    }

    [Fact]
    public async Task PostfixRunning_ExitOne_Unhealthy()
    {
        var commands = new FakePostfixCommands { Status = new(true, 1, "", "postfix/postfix-script: the Postfix mail system is not running") };

        var result = await new PostfixRunningCheck(commands).RunAsync(CancellationToken.None);

        Assert.Equal(HealthStatus.Unhealthy, result.Status);
        Assert.Contains("not running", result.Reason, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("postfix: fatal: do not specify alternate configuration directory /srv/pf unless it is listed in the default main.cf alternate_config_directories parameter", "alternate config directory", "alternate_config_directories")]
    [InlineData("postfix: fatal: open /etc/postfix/main.cf: Permission denied", "permission", "Permission denied")]
    [InlineData("postfix/postfix-script: the Postfix mail system is not running", "not running", "not running")]
    public async Task PostfixRunning_Failure_ReasonHasClassAndStderr(string stderr, string cls, string quoted)
    {
        var commands = new FakePostfixCommands { Status = new(true, 1, "", stderr) };

        var result = await new PostfixRunningCheck(commands).RunAsync(CancellationToken.None);

        Assert.Equal(HealthStatus.Unhealthy, result.Status);
        Assert.Contains(cls, result.Reason, StringComparison.Ordinal);
        Assert.Contains(quoted, result.Reason, StringComparison.Ordinal);
    }

    // 'postfix status' is for root only: as the mailagent user it fails, printing only to the mail log
    // (Postfix's stderr is not a terminal). The master's public/showq socket answers any postdrop member.
    [Fact]
    public async Task PostfixRunning_NotRootAndMasterAnswersOnShowq_Healthy()
    {
        var commands = new FakePostfixCommands { RunsAsRoot = false, Status = new(true, 1, "", "postfix: fatal: the postfix command is reserved for the superuser"), Probe = new(true, "connected to /var/spool/postfix/public/showq") };

        var result = await new PostfixRunningCheck(commands).RunAsync(CancellationToken.None);

        Assert.Equal(HealthStatus.Healthy, result.Status);
        Assert.Contains("public/showq", result.Reason, StringComparison.Ordinal);
        Assert.Contains("root", result.Reason, StringComparison.Ordinal);
    }

    // As the packaged service user 'postfix status' can only fail, yet it forks a shell script every
    // Health:Interval: the check asks the master directly instead, and runs nothing.
    [Fact]
    public async Task PostfixRunning_NotRoot_RunsNoPostfixCommand()
    {
        var commands = new FakePostfixCommands { RunsAsRoot = false, Status = new(true, 1, "", ""), Probe = new(true, "connected to /var/spool/postfix/public/showq") };

        var result = await new PostfixRunningCheck(commands).RunAsync(CancellationToken.None);

        Assert.Equal(HealthStatus.Healthy, result.Status);
        Assert.Empty(commands.Ran);
        Assert.Equal(1, commands.Probes);
    }

    [Fact]
    public async Task PostfixRunning_NotRootAndNothingListensOnShowq_UnhealthyNotRunning()
    {
        var commands = new FakePostfixCommands { RunsAsRoot = false, Status = new(true, 1, "", ""), Probe = new(false, "/var/spool/postfix/public/showq: Connection refused") };

        var result = await new PostfixRunningCheck(commands).RunAsync(CancellationToken.None);

        Assert.Equal(HealthStatus.Unhealthy, result.Status);
        Assert.Contains("not running", result.Reason, StringComparison.Ordinal);
        Assert.Contains("Connection refused", result.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task PostfixRunning_NotRootAndShowqNotPermitted_UnhealthyNamesPostdrop()
    {
        var commands = new FakePostfixCommands { RunsAsRoot = false, Status = new(true, 1, "", ""), Probe = new(null, "/var/spool/postfix/public/showq: Permission denied") };

        var result = await new PostfixRunningCheck(commands).RunAsync(CancellationToken.None);

        Assert.Equal(HealthStatus.Unhealthy, result.Status);
        Assert.Contains("Permission denied", result.Reason, StringComparison.Ordinal);
        Assert.Contains("postdrop", result.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task PostfixRunning_RootStatusFails_NoShowqProbe()
    {
        var commands = new FakePostfixCommands { Status = new(true, 1, "", "postfix/postfix-script: the Postfix mail system is not running") };

        var result = await new PostfixRunningCheck(commands).RunAsync(CancellationToken.None);

        Assert.Equal(HealthStatus.Unhealthy, result.Status);
        Assert.Equal(0, commands.Probes);
    }

    [Fact]
    public async Task LogFreshness_NewLines_HealthyThenStaleDegradedThenUnhealthy()
    {
        var stats = new LogStats();
        var tail = new FakeTailStatus { LastLoopUtc = _time.GetUtcNow() };
        var options = new HealthOptions { LogStaleDegraded = TimeSpan.FromMinutes(30), LogStaleUnhealthy = TimeSpan.FromHours(2) };
        var check = new LogFreshnessCheck(tail, stats, options, _time);
        await check.RunAsync(CancellationToken.None);
        stats.Lines.Values[0] += 5;
        Assert.Equal(HealthStatus.Healthy, (await check.RunAsync(CancellationToken.None)).Status);

        _time.Advance(TimeSpan.FromMinutes(31));
        tail.LastLoopUtc = _time.GetUtcNow();
        var degraded = await check.RunAsync(CancellationToken.None);
        _time.Advance(TimeSpan.FromMinutes(90));
        tail.LastLoopUtc = _time.GetUtcNow();
        var unhealthy = await check.RunAsync(CancellationToken.None);

        Assert.Equal(HealthStatus.Degraded, degraded.Status);
        Assert.Contains("no new log line for 31 min", degraded.Reason, StringComparison.Ordinal);
        Assert.Equal(HealthStatus.Unhealthy, unhealthy.Status);
    }

    [Fact]
    public async Task LogFreshness_TailLoopStalledOrNotPositioned_Unhealthy()
    {
        var tail = new FakeTailStatus { LastLoopUtc = _time.GetUtcNow() };
        var check = new LogFreshnessCheck(tail, new LogStats(), new HealthOptions { LoopStallTimeout = TimeSpan.FromSeconds(30) }, _time);
        _time.Advance(TimeSpan.FromSeconds(31));
        Assert.Equal(HealthStatus.Unhealthy, (await check.RunAsync(CancellationToken.None)).Status);

        tail.Positioned = false;
        Assert.Contains("not positioned", (await check.RunAsync(CancellationToken.None)).Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task LogFreshness_LogPermissionDenied_UnhealthyNamingPathPermissionAndFix()
    {
        var tail = new FakeTailStatus
        {
            LastLoopUtc = _time.GetUtcNow(),
            OpenProblem = new("/var/log/mail.log", TailOpenFailure.PermissionDenied, "Access to the path is denied.", _time.GetUtcNow()),
        };
        var check = new LogFreshnessCheck(tail, new LogStats(), new HealthOptions(), _time);

        var result = await check.RunAsync(CancellationToken.None);

        Assert.Equal(HealthStatus.Unhealthy, result.Status);
        Assert.Contains("/var/log/mail.log", result.Reason, StringComparison.Ordinal);
        Assert.Contains("permission denied", result.Reason, StringComparison.Ordinal);
        Assert.Contains("adm", result.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task LogFreshness_LogMissing_DegradedThenUnhealthyAfterGrace()
    {
        var tail = new FakeTailStatus
        {
            LastLoopUtc = _time.GetUtcNow(),
            OpenProblem = new("/var/log/mial.log", TailOpenFailure.Missing, "Could not find file", _time.GetUtcNow()),
        };
        var check = new LogFreshnessCheck(tail, new LogStats(), new HealthOptions { LogMissingUnhealthy = TimeSpan.FromMinutes(5) }, _time);

        var first = await check.RunAsync(CancellationToken.None);
        _time.Advance(TimeSpan.FromMinutes(5));
        tail.LastLoopUtc = _time.GetUtcNow();
        var later = await check.RunAsync(CancellationToken.None);
        tail.OpenProblem = null;
        var recovered = await check.RunAsync(CancellationToken.None);

        Assert.Equal(HealthStatus.Degraded, first.Status);
        Assert.Contains("/var/log/mial.log does not exist", first.Reason, StringComparison.Ordinal);
        Assert.Equal(HealthStatus.Unhealthy, later.Status);
        Assert.Equal(HealthStatus.Healthy, recovered.Status);
    }

    [Fact]
    public async Task LogFreshness_Lag_DegradedThenUnhealthy()
    {
        var tail = new FakeTailStatus { LastLoopUtc = _time.GetUtcNow(), LagBytes = 2000 };
        var check = new LogFreshnessCheck(tail, new LogStats(), new HealthOptions { LogLagDegradedBytes = 1000, LogLagUnhealthyBytes = 5000 }, _time);

        Assert.Equal(HealthStatus.Degraded, (await check.RunAsync(CancellationToken.None)).Status);
        tail.LagBytes = 6000;
        Assert.Equal(HealthStatus.Unhealthy, (await check.RunAsync(CancellationToken.None)).Status);
    }

    [Fact]
    public async Task DeliveryOutcome_ServerCausedFailuresOverWindow_ByThreshold()
    {
        var stats = new LogStats();
        var options = new HealthOptions { OutcomeWindow = TimeSpan.FromMinutes(10), DeliveryMinAttempts = 10 };
        var check = new DeliveryOutcomeCheck(stats, options, _time);
        await check.RunAsync(CancellationToken.None);

        _time.Advance(TimeSpan.FromMinutes(1));
        stats.SmtpProcessed.Values[0] += 90;
        stats.ConnectionFailures.Values[1] += 10;
        var healthy = await check.RunAsync(CancellationToken.None);

        _time.Advance(TimeSpan.FromMinutes(1));
        stats.DeferredByDsn.Values[Array.IndexOf(LabelSets.DsnClasses, "4.7")] += 30;
        stats.BouncedByDsn.Values[Array.IndexOf(LabelSets.DsnClasses, "5.1")] += 500; // unknown users: not the server's doing
        var degraded = await check.RunAsync(CancellationToken.None);

        _time.Advance(TimeSpan.FromMinutes(1));
        stats.BouncedByDsn.Values[Array.IndexOf(LabelSets.DsnClasses, "5.7")] += 100;
        var unhealthy = await check.RunAsync(CancellationToken.None);

        Assert.Equal(HealthStatus.Healthy, healthy.Status);
        Assert.Equal(HealthStatus.Degraded, degraded.Status);
        Assert.Equal(HealthStatus.Unhealthy, unhealthy.Status);
        Assert.Contains("100 5.7.x bounces", unhealthy.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task DeliveryOutcome_FailuresOlderThanWindow_Forgotten()
    {
        var stats = new LogStats();
        var check = new DeliveryOutcomeCheck(stats, new HealthOptions { OutcomeWindow = TimeSpan.FromMinutes(5), DeliveryMinAttempts = 10 }, _time);
        await check.RunAsync(CancellationToken.None);
        _time.Advance(TimeSpan.FromMinutes(1));
        stats.ConnectionFailures.Values[1] += 100;
        Assert.Equal(HealthStatus.Unhealthy, (await check.RunAsync(CancellationToken.None)).Status);

        for (int i = 0; i < 6; i++)
        {
            _time.Advance(TimeSpan.FromMinutes(1));
            stats.SmtpProcessed.Values[0] += 20;
            await check.RunAsync(CancellationToken.None);
        }

        Assert.Equal(HealthStatus.Healthy, (await check.RunAsync(CancellationToken.None)).Status);
    }

    [Theory]
    [InlineData(50, 100, (int)HealthStatus.Healthy)]
    [InlineData(8, 100, (int)HealthStatus.Degraded)]
    [InlineData(3, 100, (int)HealthStatus.Unhealthy)]
    public void DiskSpace_ByPercentFree(long free, long total, int expected) =>
        Assert.Equal((HealthStatus)expected, DiskSpaceCheck.Evaluate("/q", free, total, new HealthOptions()).Status);

    [Fact]
    public void DiskSpace_Evaluate_CarriesFreePercentAsValue()
    {
        Assert.Equal(12.5, DiskSpaceCheck.Evaluate("/q", 125, 1000, new HealthOptions()).Value);
    }

    [Fact]
    public async Task DiskSpace_MissingDirectory_Unhealthy()
    {
        var result = await new DiskSpaceCheck(new HealthOptions { QueueDirectory = "/nonexistent/queue" }).RunAsync(CancellationToken.None);

        Assert.Equal(HealthStatus.Unhealthy, result.Status);
    }

    [Theory]
    [InlineData("2000000", null, 1000)]
    [InlineData("2000000", "77", 77)]
    public void WatchdogSettings_UsecSet_HalfTheTimeout(string usec, string? pid, int own) =>
        Assert.Equal(TimeSpan.FromSeconds(1), WatchdogSettings.FromEnvironment(usec, pid, own).Interval);

    [Theory]
    [InlineData(null, null)]
    [InlineData("0", null)]
    [InlineData("2000000", "12")]
    public void WatchdogSettings_UnsetOrOtherPid_Off(string? usec, string? pid) =>
        Assert.Null(WatchdogSettings.FromEnvironment(usec, pid, 1000).Interval);

    [Theory]
    [InlineData("Health:Checks", "postfix;dnss", "Health:Checks has 'dnss'")]
    [InlineData("Health:Interval", "00:00:00", "Health:Interval = 00:00:00 is not valid")]
    [InlineData("Health:DeliveryFailureDegraded", "1.5", "Health:DeliveryFailureDegraded = 1.5 is not valid")]
    [InlineData("Health:SmtpEndpoints", "localhost", "Health:SmtpEndpoints has 'localhost'")]
    [InlineData("Health:MilterAddress", "nowhere:99999", "Health:MilterAddress = 'nowhere:99999' is not valid")]
    [InlineData("Health:Bogus", "1", "'Bogus': Health takes")]
    public void ValidateHealth_BadValue_NamesKey(string key, string value, string expected)
    {
        var config = new ConfigurationBuilder().AddInMemoryCollection([new(key, value)]).Build();

        var errors = AgentConfiguration.ValidateHealth(config, out _);

        Assert.Contains(errors, e => e.Contains(expected, StringComparison.Ordinal));
    }

    [Fact]
    public void ValidateHealth_Defaults_NoErrors() =>
        Assert.Empty(AgentConfiguration.ValidateHealth(new ConfigurationBuilder().Build(), out _));
}
