using System.Diagnostics;
using MailAgent.Health;
using MailAgent.Tests.Hosting;
using Microsoft.Extensions.Hosting.Systemd;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace MailAgent.Tests.Health;

public sealed class WatchdogServiceTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(10);
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 11, 28, 3, 0, 0, TimeSpan.Zero));

    [Fact]
    public async Task ExecuteAsync_LoopStalls_StopsPingingUntilItRunsAgain()
    {
        var options = Microsoft.Extensions.Options.Options.Create(new HealthOptions { LoopStallTimeout = TimeSpan.FromSeconds(30) });
        var tail = new FakeTailStatus { LastLoopUtc = _time.GetUtcNow() };
        var monitor = new HealthMonitor([new FakeCheck("a")], options, _time, NullLogger<HealthMonitor>.Instance);
        await monitor.RunDueChecksAsync(CancellationToken.None);
        var notifier = new FakeNotifier();
        var lifetime = new FakeLifetime();
        var logger = new EventLogger();
        using var watchdog = new WatchdogService(notifier, new WatchdogSettings(TimeSpan.FromSeconds(1)), new LoopLiveness(tail, monitor, options, _time), lifetime, _time, logger);

        await watchdog.StartAsync(CancellationToken.None);
        Assert.Empty(notifier.States);
        lifetime.Start();
        await Until(() => logger.Events.Contains(3020));
        Assert.Empty(notifier.States);

        _time.Advance(TimeSpan.FromSeconds(1));
        await Until(() => notifier.States.Length == 1);
        tail.LastLoopUtc = _time.GetUtcNow();
        _time.Advance(TimeSpan.FromSeconds(1));
        await Until(() => notifier.States.Length == 2);

        _time.Advance(TimeSpan.FromSeconds(31));
        await Until(() => logger.Events.Contains(3021));
        Assert.Equal(2, notifier.States.Length);

        tail.LastLoopUtc = _time.GetUtcNow();
        await monitor.RunDueChecksAsync(CancellationToken.None);
        _time.Advance(TimeSpan.FromSeconds(1));
        await Until(() => notifier.States.Length == 3 && logger.Events.Contains(3022));
        Assert.All(notifier.States, s => Assert.Equal("WATCHDOG=1", s));

        await watchdog.StopAsync(CancellationToken.None);
    }

    [Fact]
    public async Task ExecuteAsync_NoWatchdogUsec_NeverPings()
    {
        var options = Microsoft.Extensions.Options.Options.Create(new HealthOptions());
        var monitor = new HealthMonitor([], options, _time, NullLogger<HealthMonitor>.Instance);
        var notifier = new FakeNotifier();
        var lifetime = new FakeLifetime();
        using var watchdog = new WatchdogService(notifier, new WatchdogSettings((TimeSpan?)null), new LoopLiveness(new FakeTailStatus(), monitor, options, _time), lifetime, _time, new EventLogger());

        await watchdog.StartAsync(CancellationToken.None);
        lifetime.Start();
        await watchdog.ExecuteTask!;

        Assert.Empty(notifier.States);
    }

    private static async Task Until(Func<bool> condition)
    {
        var started = Stopwatch.GetTimestamp();
        while (!condition())
        {
            Assert.True(Stopwatch.GetElapsedTime(started) < Deadline, "condition not met in time");
            await Task.Delay(10);
        }
    }

    private sealed class FakeNotifier : ISystemdNotifier
    {
        private readonly List<string> _states = [];
        public bool IsEnabled => true;

        public string[] States
        {
            get
            {
                lock (_states)
                    return _states.ToArray();
            }
        }

        public void Notify(ServiceState state)
        {
            lock (_states)
                _states.Add(state.ToString());
        }
    }

    private sealed class EventLogger : ILogger<WatchdogService>
    {
        private readonly List<int> _events = [];

        public int[] Events
        {
            get
            {
                lock (_events)
                    return _events.ToArray();
            }
        }

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            lock (_events)
                _events.Add(eventId.Id);
        }
    }
}
