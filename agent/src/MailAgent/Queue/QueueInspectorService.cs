using MailAgent.Postfix;
using Microsoft.Extensions.Options;
using Prometheus;

namespace MailAgent.Queue;

/// <summary>
/// The queue loop: a snapshot at start, then one every <see cref="QueueOptions.Interval"/>, each swapped
/// into the <see cref="QueueSnapshotStore"/> whole. A failed or timed-out run keeps the last good numbers,
/// is logged once per failure episode and retried at the next interval.
/// </summary>
internal sealed class QueueInspectorService : BackgroundService
{
    private readonly QueueOptions _options;
    private readonly QueueInspector _inspector;
    private readonly QueueSnapshotStore _store;
    private readonly QueueMetrics _metrics;
    private readonly ILogger<QueueInspectorService> _logger;
    private readonly TimeProvider _time;
    private readonly string _commandLine;
    private bool _malformedReported;

    public QueueInspectorService(
        IOptions<QueueOptions> options,
        PostfixOptions postfix,
        IPostfixCommands commands,
        QueueSnapshotStore store,
        CollectorRegistry registry,
        ILogger<QueueInspectorService> logger,
        TimeProvider time)
    {
        _options = options.Value;
        _inspector = new QueueInspector(commands, _options, time);
        _store = store;
        _logger = logger;
        _time = time;
        _metrics = new QueueMetrics(registry, store, _options.AgeBucketBounds(), time);
        _commandLine = PostfixCommands.CommandLine(postfix.PostqueuePath, postfix, PostfixCommandsExtensions.ListQueueArguments);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        Log.InspectorStarted(_logger, _options.Interval, _commandLine, _options.Timeout);
        using var timer = new PeriodicTimer(_options.Interval, _time);
        try
        {
            do
            {
                await InspectOnceAsync(stoppingToken);
            }
            while (await timer.WaitForNextTickAsync(stoppingToken));
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    private async Task InspectOnceAsync(CancellationToken stoppingToken)
    {
        var previous = _store.Current;
        var snapshot = (await _inspector.InspectAsync(stoppingToken)).After(previous);
        _store.Publish(snapshot);
        _metrics.Record(snapshot);

        if (!snapshot.Succeeded)
        {
            if (snapshot.ConsecutiveFailures == 1)
                Log.InspectionFailed(_logger, snapshot.Error ?? "unknown error", _options.Interval);
            return;
        }

        var summary = snapshot.Summary!;
        if (previous is { Succeeded: false })
            Log.InspectionRecovered(_logger, previous.ConsecutiveFailures, summary.Messages);
        Log.SnapshotTaken(_logger, summary.Messages, summary.Bytes, (long)snapshot.Duration.TotalMilliseconds);
        if (summary.MalformedLines > 0 && !_malformedReported)
            Log.MalformedLines(_logger, summary.MalformedLines);
        _malformedReported = summary.MalformedLines > 0;
    }
}
