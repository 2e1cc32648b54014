using MailAgent.Grpc;
using MailAgent.Health;
using MailAgent.Tests.Health;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace MailAgent.Tests.Grpc;

public sealed class HealthEventPublisherTests
{
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 11, 28, 3, 0, 0, TimeSpan.Zero));
    private readonly HealthOptions _options = new() { Interval = TimeSpan.FromSeconds(5), SlowInterval = TimeSpan.FromSeconds(60), CheckTimeout = TimeSpan.FromSeconds(2) };

    private static List<HealthChanged> Events(EventRing ring) =>
        ring.ReadAfter(0, 1000).Events.Select(e => Assert.IsType<HealthChanged>(e.Body)).ToList();

    [Fact]
    public async Task StatusChanged_ChecksAndOverall_PublishedOnChangeOnly()
    {
        var postfix = new FakeCheck("postfix");
        var disk = new FakeCheck("disk");
        var monitor = new HealthMonitor([postfix, disk], Microsoft.Extensions.Options.Options.Create(_options), _time, NullLogger<HealthMonitor>.Instance);
        var ring = new EventRing(100, _time);
        var publisher = new HealthEventPublisher(monitor, ring);
        await publisher.StartAsync(CancellationToken.None);

        // First verdicts: each check, then the overall status (named "").
        await monitor.RunDueChecksAsync(CancellationToken.None);
        Assert.Equal(
            [("postfix", AgentHealthStatus.Healthy), ("disk", AgentHealthStatus.Healthy), (HealthEventPublisher.OverallName, AgentHealthStatus.Healthy)],
            Events(ring).Select(e => (e.Name, e.Status)));
        Assert.Equal("every check is healthy", Events(ring)[2].Reason);

        // Same statuses again: nothing new, even with another reason.
        disk.Next = HealthCheckResult.Healthy("other words");
        _time.Advance(_options.Interval);
        await monitor.RunDueChecksAsync(CancellationToken.None);
        Assert.Equal(3, Events(ring).Count);

        // postfix stops: the check and the overall status change.
        postfix.Next = HealthCheckResult.Unhealthy("the Postfix mail system is not running");
        _time.Advance(_options.Interval);
        await monitor.RunDueChecksAsync(CancellationToken.None);
        var stopped = Events(ring).Skip(3).ToList();
        Assert.Equal([("postfix", AgentHealthStatus.Unhealthy), ("", AgentHealthStatus.Unhealthy)], stopped.Select(e => (e.Name, e.Status)));
        Assert.Equal("the Postfix mail system is not running", stopped[0].Reason);
        Assert.Equal("unhealthy: postfix", stopped[1].Reason);

        // After StopAsync nothing is published.
        await publisher.StopAsync(CancellationToken.None);
        postfix.Next = HealthCheckResult.Healthy("running");
        _time.Advance(_options.Interval);
        await monitor.RunDueChecksAsync(CancellationToken.None);
        Assert.Equal(5, Events(ring).Count);
    }

    [Fact]
    public async Task StartAsync_ChecksRanBefore_PublishesTheirVerdictsOnce()
    {
        // The start-up gate holds other services until the first checks ran: their verdicts must not be lost.
        var milter = new FakeCheck("milter") { Next = HealthCheckResult.Unhealthy("OpenDKIM milter refuses connections") };
        var monitor = new HealthMonitor([milter], Microsoft.Extensions.Options.Options.Create(_options), _time, NullLogger<HealthMonitor>.Instance);
        var ring = new EventRing(100, _time);
        await monitor.RunDueChecksAsync(CancellationToken.None);

        var publisher = new HealthEventPublisher(monitor, ring);
        await publisher.StartAsync(CancellationToken.None);
        publisher.Publish();

        Assert.Equal(
            [("milter", AgentHealthStatus.Unhealthy, "OpenDKIM milter refuses connections"), ("", AgentHealthStatus.Unhealthy, "unhealthy: milter")],
            Events(ring).Select(e => (e.Name, e.Status, e.Reason)));
    }
}
