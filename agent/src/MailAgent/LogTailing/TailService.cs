using Microsoft.Extensions.Options;
using Prometheus;

namespace MailAgent.LogTailing;

/// <summary>
/// The tail loop: wakes on inotify (FileSystemWatcher) or the poll timer, reads new lines into
/// the pipeline, and checkpoints. A failure that repeats is logged once per episode and retried
/// with backoff; the loop never dies silently.
/// </summary>
internal sealed partial class TailService : BackgroundService, ITailObserver, ITailStatus
{
    private long _lagBytes;
    private long _lastLoopTicks;
    private readonly TailOptions _options;
    private readonly ILineSink _sink;
    private readonly ICheckpointState _state;
    private readonly ILogger<TailService> _logger;
    private readonly TimeProvider _time;
    // Set by inotify events; the loop waits on it with the poll interval as timeout.
    private readonly AutoResetEvent _wake = new(initialState: false);
    private readonly Counter _rotations;
    private readonly Counter _gaps;
    private readonly Gauge _lag;
    private readonly Counter _errors;
    private LineDigest? _digest;
    private TailOpenProblem? _openProblem;

    public TailService(IOptions<TailOptions> options, ILineSink sink, ICheckpointState state, CollectorRegistry registry, ILogger<TailService> logger, TimeProvider time)
    {
        _options = options.Value;
        _sink = sink;
        _state = state;
        _logger = logger;
        _time = time;
        var factory = Prometheus.Metrics.WithCustomRegistry(registry);
        _rotations = factory.CreateCounter("mailagent_log_rotations_total", "Log rotations noticed, by kind.", new CounterConfiguration { LabelNames = ["kind"] });
        _rotations.WithLabels("rename");
        _rotations.WithLabels("truncate");
        _gaps = factory.CreateCounter("mailagent_log_gaps_total", "Times lines could not be recovered (a rotated file was gone).", new CounterConfiguration { LabelNames = ["reason"] });
        _lag = factory.CreateGauge("mailagent_log_lag_bytes", "Bytes written to the log that the agent has not read yet.");
        _errors = factory.CreateCounter("mailagent_log_read_errors_total", "Errors while reading the log (retried with backoff).");
    }

    /// <summary>Completes once the checkpoint is loaded and the tail positioned (used by readiness).</summary>
    public TaskCompletionSource Started { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public bool Positioned => Started.Task.IsCompletedSuccessfully;

    public long LagBytes => Interlocked.Read(ref _lagBytes);

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
        // The tail loop does blocking file I/O and must not wait for a thread-pool thread to wake
        // (a starved pool once stalled it for seconds): it keeps a thread of its own throughout.
        await Task.Factory.StartNew(() => Run(stoppingToken), stoppingToken, TaskCreationOptions.LongRunning, TaskScheduler.Default);
    }

    private void Run(CancellationToken stoppingToken)
    {
        using var digest = string.IsNullOrEmpty(_options.LineDigestFile) ? null : new LineDigest(_sink, _options.LineDigestFile);
        _digest = digest;
        using var tailer = new LogTailer(_options, digest ?? _sink, CaptureCheckpoint, RestoreCheckpoint, this, _logger, _time);
        using var watcher = CreateWatcher();
        var restored = tailer.Start();
        if (restored == null)
            digest?.Rewind(0);
        if (restored != null)
            LogResumed(_logger, _options.Path, restored.Files.Count > 0 ? restored.Files[^1].Offset : 0);
        else
            LogStarting(_logger, _options.Path, _options.StartAt);
        Started.TrySetResult();

        var backoff = new Backoff(TimeSpan.FromMilliseconds(100), TimeSpan.FromSeconds(30), Random.Shared);
        bool failing = false;
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                TestStallHook.WaitWhileStalled(stoppingToken); // test-only, env-gated (issue 13)
                Interlocked.Exchange(ref _lastLoopTicks, _time.GetUtcNow().UtcTicks);
                try
                {
                    while (tailer.Poll())
                    {
                        Interlocked.Exchange(ref _lastLoopTicks, _time.GetUtcNow().UtcTicks);
                        // Keep reading while there is more; yield to cancellation between rounds.
                        stoppingToken.ThrowIfCancellationRequested();
                    }

                    if (failing)
                    {
                        LogRecovered(_logger, _options.Path);
                        failing = false;
                        backoff.Reset();
                    }
                }
                catch (IOException e)
                {
                    _errors.Inc();
                    if (!failing)
                        LogReadFailed(_logger, _options.Path, e.Message);
                    failing = true;
                    stoppingToken.WaitHandle.WaitOne(backoff.Next());
                    continue;
                }

                // Wake on a notification, on stop, or after the poll interval (in case one was missed).
                WaitHandle.WaitAny([_wake, stoppingToken.WaitHandle], _options.PollInterval);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
        finally
        {
            tailer.SaveCheckpoint();
            LogCheckpointSaved(_logger, tailer.CheckpointFile);
        }
    }

    private Checkpoint CaptureCheckpoint()
    {
        var checkpoint = new Checkpoint();
        _state.Capture(checkpoint);
        checkpoint.LineDigestLength = _digest?.Mark() ?? 0;
        return checkpoint;
    }

    private void RestoreCheckpoint(Checkpoint checkpoint)
    {
        _state.Restore(checkpoint);
        _digest?.Rewind(checkpoint.LineDigestLength);
    }

    private FileSystemWatcher? CreateWatcher()
    {
        string? dir = Path.GetDirectoryName(Path.GetFullPath(_options.Path));
        if (dir == null || !Directory.Exists(dir))
            return null;
        try
        {
            var watcher = new FileSystemWatcher(dir, Path.GetFileName(_options.Path) + "*")
            {
                NotifyFilter = NotifyFilters.FileName | NotifyFilters.Size | NotifyFilters.LastWrite | NotifyFilters.CreationTime,
            };
            FileSystemEventHandler wake = (_, _) => _wake.Set();
            watcher.Changed += wake;
            watcher.Created += wake;
            watcher.Deleted += wake;
            watcher.Renamed += (_, _) => _wake.Set();
            watcher.EnableRaisingEvents = true;
            return watcher;
        }
        catch (Exception e) when (e is IOException or PlatformNotSupportedException or ArgumentException)
        {
            LogNoWatcher(_logger, dir, e.Message);
            return null;
        }
    }

    public override void Dispose()
    {
        _wake.Dispose();
        base.Dispose();
    }

    void ITailObserver.Rotated(string kind) => _rotations.WithLabels(kind).Inc();

    void ITailObserver.Gap(string reason, long bytes) => _gaps.WithLabels(reason).Inc();

    void ITailObserver.Restored(IReadOnlyDictionary<string, long> rotations, IReadOnlyDictionary<string, long> gaps)
    {
        foreach (var (kind, n) in rotations)
            _rotations.WithLabels(kind).IncTo(n);
        foreach (var (reason, n) in gaps)
            _gaps.WithLabels(reason).IncTo(n);
    }

    public TailOpenProblem? OpenProblem => Volatile.Read(ref _openProblem);

    // Counted on every failed attempt, logged once per episode (a new kind of failure starts a new one).
    void ITailObserver.OpenFailed(string path, Exception error)
    {
        _errors.Inc();
        var kind = TailOpenProblem.Classify(error);
        var current = Volatile.Read(ref _openProblem);
        if (current != null && current.Kind == kind)
            return;
        Volatile.Write(ref _openProblem, new TailOpenProblem(path, kind, error.Message, _time.GetUtcNow()));
        LogOpenFailed(_logger, path, kind, error.Message);
    }

    void ITailObserver.Opened(string path)
    {
        if (Interlocked.Exchange(ref _openProblem, null) != null)
            LogRecovered(_logger, path);
    }

    void ITailObserver.Lag(long bytes)
    {
        Interlocked.Exchange(ref _lagBytes, bytes);
        _lag.Set(bytes);
    }

    [LoggerMessage(EventId = 1010, Level = LogLevel.Information, Message = "Following {Path} from its {StartAt} (no checkpoint)")]
    private static partial void LogStarting(ILogger logger, string path, TailStart startAt);

    [LoggerMessage(EventId = 1011, Level = LogLevel.Information, Message = "Following {Path} from the checkpoint at byte {Offset}")]
    private static partial void LogResumed(ILogger logger, string path, long offset);

    [LoggerMessage(EventId = 1012, Level = LogLevel.Warning, Message = "Reading {Path} failed: {Reason}; retrying with backoff")]
    private static partial void LogReadFailed(ILogger logger, string path, string reason);

    [LoggerMessage(EventId = 1013, Level = LogLevel.Information, Message = "Reading {Path} works again")]
    private static partial void LogRecovered(ILogger logger, string path);

    [LoggerMessage(EventId = 7300, Level = LogLevel.Warning, Message = "Cannot open the log {Path} ({Kind}): {Reason}; retrying on every poll, see the 'log' health check for the fix")]
    private static partial void LogOpenFailed(ILogger logger, string path, TailOpenFailure kind, string reason);

    [LoggerMessage(EventId = 1014, Level = LogLevel.Warning, Message = "No file-system notifications for {Directory} ({Reason}); polling only")]
    private static partial void LogNoWatcher(ILogger logger, string directory, string reason);


    [LoggerMessage(EventId = 1015, Level = LogLevel.Information, Message = "Checkpoint saved to {File}")]
    private static partial void LogCheckpointSaved(ILogger logger, string file);
}
