using Microsoft.Extensions.Hosting.Systemd;

namespace MailAgent.Health;

/// <summary>
/// From start-up on, sends systemd WATCHDOG=1 at half of WATCHDOG_USEC while the tail and health loops are alive;
/// when one stalls it stops pinging, so systemd restarts the agent. Idle when not under systemd.
/// </summary>
internal sealed partial class WatchdogService(ISystemdNotifier? notifier, WatchdogSettings settings, LoopLiveness liveness, IHostApplicationLifetime lifetime, TimeProvider time, ILogger<WatchdogService> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (notifier is not { IsEnabled: true } || settings.Interval is not { } interval)
            return;
        bool pinging = true;
        try
        {
            // Pings start one period after start-up completes: READY=1 is sent from an ApplicationStarted
            // callback too, and callbacks run in no order we control, so pinging at once could precede it.
            var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            using (lifetime.ApplicationStarted.Register(() => started.TrySetResult()))
                await started.Task.WaitAsync(stoppingToken);
            using var timer = new PeriodicTimer(interval, time);
            LogWatchdog(logger, interval);
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                if (liveness.AllAlive(out var stalled))
                {
                    notifier.Notify(new ServiceState("WATCHDOG=1"));
                    if (!pinging)
                        LogResumed(logger);
                    pinging = true;
                }
                else if (pinging)
                {
                    LogStalled(logger, stalled);
                    pinging = false;
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    [LoggerMessage(EventId = 3020, Level = LogLevel.Information, Message = "systemd watchdog: pinging every {Interval}")]
    private static partial void LogWatchdog(ILogger logger, TimeSpan interval);

    [LoggerMessage(EventId = 3021, Level = LogLevel.Error, Message = "systemd watchdog: not pinging, loop(s) stalled: {Stalled}")]
    private static partial void LogStalled(ILogger logger, string stalled);

    [LoggerMessage(EventId = 3022, Level = LogLevel.Information, Message = "systemd watchdog: loops alive again, pinging")]
    private static partial void LogResumed(ILogger logger);
}

/// <summary>The watchdog period from systemd's WATCHDOG_USEC / WATCHDOG_PID: half the timeout, or null when off.</summary>
internal sealed record WatchdogSettings(TimeSpan? Interval)
{
    public static WatchdogSettings FromEnvironment(string? usec, string? pid, int ownPid)
    {
        if (!long.TryParse(usec, System.Globalization.CultureInfo.InvariantCulture, out long micros) || micros <= 0)
            return new WatchdogSettings((TimeSpan?)null);
        if (!string.IsNullOrEmpty(pid) && (!int.TryParse(pid, System.Globalization.CultureInfo.InvariantCulture, out int p) || p != ownPid))
            return new WatchdogSettings((TimeSpan?)null);
        return new WatchdogSettings(TimeSpan.FromTicks(micros * 10 / 2));
    }
}
