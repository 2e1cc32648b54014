using MailAgent.Health;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Prometheus;

namespace MailAgent.Tests.Health;

public sealed class HealthMonitorTests
{
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 11, 28, 3, 0, 0, TimeSpan.Zero));
    private readonly HealthOptions _options = new() { Interval = TimeSpan.FromSeconds(5), SlowInterval = TimeSpan.FromSeconds(60), CheckTimeout = TimeSpan.FromSeconds(2) };

    private HealthMonitor Monitor(CollectorRegistry? registry, params IHealthCheck[] checks) =>
        new(checks, Microsoft.Extensions.Options.Options.Create(_options), _time, NullLogger<HealthMonitor>.Instance, registry);

    [Fact]
    public void Current_BeforeFirstRun_UnhealthyAndNotComplete()
    {
        var monitor = Monitor(null, new FakeCheck("a"));

        var report = monitor.Current;

        Assert.Equal(HealthStatus.Unhealthy, report.Status);
        Assert.False(report.FirstRunComplete);
        Assert.Null(report.Checks[0].LastRunUtc);
        Assert.False(monitor.FirstRun.IsCompleted);
    }

    [Fact]
    public async Task Start_TailNotPositionedYet_FirstRoundWaitsForIt()
    {
        var positioned = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var check = new FakeCheck("log");
        using var monitor = new HealthMonitor([check], Microsoft.Extensions.Options.Options.Create(_options), _time,
            NullLogger<HealthMonitor>.Instance, null, positioned.Task);

        await monitor.StartAsync(CancellationToken.None);
        // The fake clock never reaches the start-up timeout, so only the tail can let the round run.
        int before = check.Runs;
        positioned.SetResult();
        await monitor.FirstRun.WaitAsync(TimeSpan.FromSeconds(30));
        await monitor.StopAsync(CancellationToken.None);

        Assert.Equal(0, before);
        Assert.Equal(1, check.Runs);
    }

    [Fact]
    public async Task RunDueChecksAsync_AllHealthy_HealthyAndFirstRunComplete()
    {
        var monitor = Monitor(null, new FakeCheck("a"), new FakeCheck("b", slow: true));

        await monitor.RunDueChecksAsync(CancellationToken.None);

        Assert.Equal(HealthStatus.Healthy, monitor.Current.Status);
        Assert.True(monitor.Current.FirstRunComplete);
        Assert.True(monitor.FirstRun.IsCompletedSuccessfully);
        Assert.All(monitor.Current.Checks, c => Assert.Equal(_time.GetUtcNow(), c.LastRunUtc));
    }

    [Theory]
    [InlineData((int)HealthStatus.Healthy, (int)HealthStatus.Healthy, (int)HealthStatus.Healthy)]
    [InlineData((int)HealthStatus.Healthy, (int)HealthStatus.Degraded, (int)HealthStatus.Degraded)]
    [InlineData((int)HealthStatus.Degraded, (int)HealthStatus.Unhealthy, (int)HealthStatus.Unhealthy)]
    [InlineData((int)HealthStatus.Unhealthy, (int)HealthStatus.Healthy, (int)HealthStatus.Unhealthy)]
    public async Task RunDueChecksAsync_MixedResults_OverallIsWorst(int aValue, int bValue, int expectedValue)
    {
        var (a, b, expected) = ((HealthStatus)aValue, (HealthStatus)bValue, (HealthStatus)expectedValue);
        var monitor = Monitor(null, new FakeCheck("a") { Next = new(a, "x") }, new FakeCheck("b") { Next = new(b, "y") });

        await monitor.RunDueChecksAsync(CancellationToken.None);

        Assert.Equal(expected, monitor.Current.Status);
    }

    [Fact]
    public async Task RunDueChecksAsync_SlowCheck_RunsOnlyOnItsInterval()
    {
        var fast = new FakeCheck("fast");
        var slow = new FakeCheck("slow", slow: true);
        var monitor = Monitor(null, fast, slow);

        for (int i = 0; i < 12; i++)
        {
            await monitor.RunDueChecksAsync(CancellationToken.None);
            _time.Advance(TimeSpan.FromSeconds(5));
        }

        await monitor.RunDueChecksAsync(CancellationToken.None);
        Assert.Equal(13, fast.Runs);
        Assert.Equal(2, slow.Runs);
    }

    [Fact]
    public async Task Current_ReadManyTimes_NeverRunsACheck()
    {
        var check = new FakeCheck("a");
        var monitor = Monitor(null, check);
        await monitor.RunDueChecksAsync(CancellationToken.None);

        for (int i = 0; i < 10; i++)
            _ = monitor.Current;

        Assert.Equal(1, check.Runs);
    }

    [Fact]
    public async Task StatusChanged_OnlyWhenStatusChanges_ReportsPreviousAndCurrent()
    {
        var check = new FakeCheck("a");
        var monitor = Monitor(null, check);
        var changes = new List<HealthStatusChange>();
        monitor.StatusChanged += changes.Add;

        await monitor.RunDueChecksAsync(CancellationToken.None);
        _time.Advance(TimeSpan.FromSeconds(5));
        check.Next = HealthCheckResult.Healthy("still fine, other words");
        await monitor.RunDueChecksAsync(CancellationToken.None);
        _time.Advance(TimeSpan.FromSeconds(5));
        check.Next = HealthCheckResult.Unhealthy("broken");
        await monitor.RunDueChecksAsync(CancellationToken.None);

        Assert.Equal(2, changes.Count);
        Assert.Null(changes[0].Previous);
        Assert.Equal(HealthStatus.Healthy, changes[1].Previous);
        Assert.Equal(HealthStatus.Unhealthy, changes[1].Current.Status);
        Assert.Equal("broken", changes[1].Current.Reason);
    }

    [Fact]
    public async Task RunDueChecksAsync_SubscriberThrows_ReportStillPublished()
    {
        var monitor = Monitor(null, new FakeCheck("a"));
        monitor.StatusChanged += _ => throw new InvalidOperationException("subscriber bug");

        await monitor.RunDueChecksAsync(CancellationToken.None);

        Assert.True(monitor.Current.FirstRunComplete);
    }

    [Fact]
    public async Task RunDueChecksAsync_CheckThrows_UnhealthyWithReason()
    {
        var monitor = Monitor(null, new FakeCheck("a") { Throw = new InvalidOperationException("boom") });

        await monitor.RunDueChecksAsync(CancellationToken.None);

        var entry = Assert.Single(monitor.Current.Checks);
        Assert.Equal(HealthStatus.Unhealthy, entry.Status);
        Assert.Contains("boom", entry.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RunDueChecksAsync_CheckHangs_UnhealthyAfterTimeout()
    {
        var hanging = new FakeCheck("a") { Hang = new TaskCompletionSource<HealthCheckResult>() };
        var monitor = Monitor(null, hanging, new FakeCheck("b"));

        var run = monitor.RunDueChecksAsync(CancellationToken.None);
        while (!run.IsCompleted)
        {
            _time.Advance(TimeSpan.FromMilliseconds(500));
            await Task.Yield();
            await Task.Delay(1);
        }

        await run;
        var entry = monitor.Current.Checks[0];
        Assert.Equal(HealthStatus.Unhealthy, entry.Status);
        Assert.Contains("no answer within 2 s", entry.Reason, StringComparison.Ordinal);
        Assert.Equal(HealthStatus.Healthy, monitor.Current.Checks[1].Status);
    }

    [Fact]
    public async Task Gauge_ZeroFilledThenOneHalfZero()
    {
        var registry = Prometheus.Metrics.NewCustomRegistry();
        var monitor = Monitor(registry, new FakeCheck("h"), new FakeCheck("d") { Next = HealthCheckResult.Degraded("meh") }, new FakeCheck("u") { Next = HealthCheckResult.Unhealthy("no") });
        string before = await Export(registry);
        Assert.Contains("mailagent_health_check_status{check=\"h\"} 0", before, StringComparison.Ordinal);
        Assert.Contains("mailagent_health_check_status{check=\"d\"} 0", before, StringComparison.Ordinal);

        await monitor.RunDueChecksAsync(CancellationToken.None);

        string after = await Export(registry);
        Assert.Contains("mailagent_health_check_status{check=\"h\"} 1", after, StringComparison.Ordinal);
        Assert.Contains("mailagent_health_check_status{check=\"d\"} 0.5", after, StringComparison.Ordinal);
        Assert.Contains("mailagent_health_check_status{check=\"u\"} 0", after, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData((int)HealthStatus.Healthy, 200)]
    [InlineData((int)HealthStatus.Degraded, 429)]
    [InlineData((int)HealthStatus.Unhealthy, 503)]
    public void StatusCode_ByStatus(int status, int expected) =>
        Assert.Equal(expected, HealthEndpoints.StatusCode((HealthStatus)status));

    private static async Task<string> Export(CollectorRegistry registry)
    {
        using var stream = new MemoryStream();
        await registry.CollectAndExportAsTextAsync(stream);
        return System.Text.Encoding.UTF8.GetString(stream.ToArray());
    }
}
