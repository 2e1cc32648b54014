namespace MailAgent.LogTailing;

/// <summary>
/// Writes checkpoints off the tail loop: serialising and fsync-ing took milliseconds, long
/// enough to show in line-to-metric latency. The newest submitted checkpoint wins; older ones
/// still waiting are dropped (each one is complete on its own).
/// </summary>
internal sealed partial class CheckpointWriter : IDisposable
{
    private readonly string _file;
    private readonly ILogger _logger;
    private readonly Lock _pendingGate = new();
    private readonly Lock _writeGate = new();
    private readonly SemaphoreSlim _signal = new(0, 1);
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;
    private Checkpoint? _pending;
    private bool _failing;

    public CheckpointWriter(string file, ILogger logger)
    {
        _file = file;
        _logger = logger;
        _loop = Task.Run(RunAsync);
    }

    public void Submit(Checkpoint checkpoint)
    {
        lock (_pendingGate)
            _pending = checkpoint;
        if (_signal.CurrentCount == 0)
        {
            try
            {
                _signal.Release();
            }
            catch (SemaphoreFullException)
            {
                // Already signalled: the loop will pick up the newest pending checkpoint.
            }
        }
    }

    /// <summary>Writes whatever is pending now, on the calling thread (rotation, shutdown).</summary>
    public bool Flush()
    {
        // Writes never overlap, and a newer checkpoint can be submitted while one is being written.
        lock (_writeGate)
        {
            Checkpoint? checkpoint;
            lock (_pendingGate)
            {
                checkpoint = _pending;
                _pending = null;
            }

            return checkpoint == null || Write(checkpoint);
        }
    }

    private async Task RunAsync()
    {
        try
        {
            while (true)
            {
                await _signal.WaitAsync(_stop.Token);
                Flush();
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    // Called under _writeGate, so a flush from the tail loop and the background write never overlap.
    private bool Write(Checkpoint checkpoint)
    {
        try
        {
            checkpoint.Save(_file);
            if (_failing)
                LogCheckpointWriteRecovered(_logger, _file);
            _failing = false;
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            if (!_failing)
                LogCheckpointWriteFailed(_logger, _file, e.Message);
            _failing = true;
            return false;
        }
    }

    public void Dispose()
    {
        _stop.Cancel();
        try
        {
            _loop.Wait(TimeSpan.FromSeconds(5));
        }
        catch (AggregateException)
        {
        }

        Flush();
        _stop.Dispose();
        _signal.Dispose();
    }

    [LoggerMessage(EventId = 1006, Level = LogLevel.Error, Message = "Cannot write checkpoint {File}: {Reason}; will retry")]
    private static partial void LogCheckpointWriteFailed(ILogger logger, string file, string reason);

    [LoggerMessage(EventId = 1007, Level = LogLevel.Information, Message = "Checkpoint {File} is written again")]
    private static partial void LogCheckpointWriteRecovered(ILogger logger, string file);
}
