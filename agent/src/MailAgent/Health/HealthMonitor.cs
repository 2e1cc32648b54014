using Microsoft.Extensions.Options;
using Prometheus;

namespace MailAgent.Health;

/// <summary>
/// The health loop: runs the fast checks every <see cref="HealthOptions.Interval"/> and the slow
/// ones every <see cref="HealthOptions.SlowInterval"/>, and keeps the latest results. Readers get
/// the cached report; no request ever waits for a check.
/// </summary>
internal sealed partial class HealthMonitor : BackgroundService, IHealthReportSource
{
    private readonly IHealthCheck[] _checks;
    private readonly HealthOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger<HealthMonitor> _logger;
    private readonly Gauge? _gauge;
    private readonly DateTimeOffset[] _nextRun;
    private readonly TaskCompletionSource _firstRun = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private volatile HealthReport _current;
    private long _lastLoopTicks;
    private readonly Task _startAfter;

    /// <param name="startAfter">
    /// The first round waits for it (at most <see cref="HealthOptions.StartupTimeout"/>): the tail's
    /// positioning, so that the first verdicts, which readiness waits for, are not "not positioned yet".
    /// </param>
    public HealthMonitor(IEnumerable<IHealthCheck> checks, IOptions<HealthOptions> options, TimeProvider time, ILogger<HealthMonitor> logger, CollectorRegistry? registry = null, Task? startAfter = null)
    {
        _startAfter = startAfter ?? Task.CompletedTask;
        _checks = checks.ToArray();
        _options = options.Value;
        _time = time;
        _logger = logger;
        _nextRun = new DateTimeOffset[_checks.Length];
        _current = new HealthReport(
            HealthStatus.Unhealthy,
            _checks.Select(c => new HealthCheckEntry(c.Name, HealthStatus.Unhealthy, "not run yet", null, TimeSpan.Zero)).ToArray(),
            FirstRunComplete: false);
        if (registry != null)
        {
            _gauge = Prometheus.Metrics.WithCustomRegistry(registry).CreateGauge(
                "mailagent_health_check_status", "Latest result of each health check: 1 healthy, 0.5 degraded, 0 unhealthy (or not run yet).",
                new GaugeConfiguration { LabelNames = ["check"] });
            foreach (var check in _checks)
                _gauge.WithLabels(check.Name).Set(0);
        }
    }

    public HealthReport Current => _current;

    public event Action<HealthStatusChange>? StatusChanged;

    /// <summary>Completes once every check has run once.</summary>
    public Task FirstRun => _firstRun.Task;

    /// <summary>When the loop last went round (null before the first round).</summary>
    public DateTimeOffset? LastLoopUtc
    {
        get
        {
            long ticks = Interlocked.Read(ref _lastLoopTicks);
            return ticks == 0 ? null : new DateTimeOffset(ticks, TimeSpan.Zero);
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await Task.Yield();
        try
        {
            // Past the timeout, or if the tail failed, check anyway: the log check then says so.
            await Task.WhenAny(_startAfter, Task.Delay(_options.StartupTimeout, _time, stoppingToken));
            stoppingToken.ThrowIfCancellationRequested();

            while (!stoppingToken.IsCancellationRequested)
            {
                await RunDueChecksAsync(stoppingToken);
                await Task.Delay(_options.Interval, _time, stoppingToken);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    /// <summary>Runs the checks that are due now, together, and publishes the new report.</summary>
    internal async Task RunDueChecksAsync(CancellationToken cancellationToken)
    {
        var now = _time.GetUtcNow();
        Interlocked.Exchange(ref _lastLoopTicks, now.UtcTicks);
        var due = new List<int>();
        for (int i = 0; i < _checks.Length; i++)
        {
            if (now >= _nextRun[i])
            {
                due.Add(i);
                _nextRun[i] = now + (_checks[i].IsSlow ? _options.SlowInterval : _options.Interval);
            }
        }

        if (due.Count == 0)
            return;
        var results = await Task.WhenAll(due.Select(i => RunOneAsync(_checks[i], cancellationToken)));

        var previous = _current;
        var entries = previous.Checks.ToArray();
        var changes = new List<HealthStatusChange>();
        for (int k = 0; k < due.Count; k++)
        {
            int i = due[k];
            var old = entries[i];
            var entry = results[k];
            entries[i] = entry;
            _gauge?.WithLabels(entry.Name).Set(entry.Status switch { HealthStatus.Healthy => 1, HealthStatus.Degraded => 0.5, _ => 0 });
            if (old.LastRunUtc == null || old.Status != entry.Status)
            {
                changes.Add(new HealthStatusChange(entry.Name, old.LastRunUtc == null ? null : old.Status, entry));
                if (old.LastRunUtc != null)
                    LogStatusChanged(_logger, entry.Name, old.Status, entry.Status, entry.Reason);
            }
        }

        bool complete = entries.All(e => e.LastRunUtc != null);
        _current = new HealthReport(HealthReport.Worst(entries), entries, complete);
        if (complete)
            _firstRun.TrySetResult();
        foreach (var change in changes)
        {
            try
            {
                StatusChanged?.Invoke(change);
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                // A subscriber's bug must not stop the checks everyone else relies on.
                LogSubscriberFailed(_logger, change.Name, e);
            }
        }
    }

    private async Task<HealthCheckEntry> RunOneAsync(IHealthCheck check, CancellationToken cancellationToken)
    {
        var started = _time.GetUtcNow();
        long start = _time.GetTimestamp();
        HealthCheckResult result;
        using var timeout = new CancellationTokenSource(_options.CheckTimeout, _time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);
        try
        {
            // WaitAsync as well: a check that ignores its token still cannot hold up the loop.
            result = await check.RunAsync(linked.Token).WaitAsync(_options.CheckTimeout, _time, cancellationToken);
        }
        catch (Exception e) when (e is OperationCanceledException or TimeoutException && !cancellationToken.IsCancellationRequested)
        {
            result = HealthCheckResult.Unhealthy($"no answer within {_options.CheckTimeout.TotalSeconds:0.#} s");
        }
        catch (Exception e) when (!cancellationToken.IsCancellationRequested && e is not OutOfMemoryException)
        {
            LogCheckFailed(_logger, check.Name, e);
            result = HealthCheckResult.Unhealthy($"the check failed: {e.Message}");
        }

        return new HealthCheckEntry(check.Name, result.Status, result.Reason, started, _time.GetElapsedTime(start), result.Value);
    }

    [LoggerMessage(EventId = 3000, Level = LogLevel.Warning, Message = "Health check {Check}: {Previous} -> {Current} ({Reason})")]
    private static partial void LogStatusChanged(ILogger logger, string check, HealthStatus previous, HealthStatus current, string reason);

    [LoggerMessage(EventId = 3002, Level = LogLevel.Error, Message = "A health status change subscriber failed for {Check}")]
    private static partial void LogSubscriberFailed(ILogger logger, string check, Exception exception);

    [LoggerMessage(EventId = 3001, Level = LogLevel.Error, Message = "Health check {Check} threw")]
    private static partial void LogCheckFailed(ILogger logger, string check, Exception exception);
}
