namespace MailAgent.LogTailing;

/// <summary>Counts the tailer reports to the metrics layer.</summary>
internal interface ITailObserver
{
    void Rotated(string kind);
    void Gap(string reason, long bytes);
    void Lag(long bytes);

    /// <summary>The followed log could not be opened (missing, permission denied, ...); called on every failed attempt.</summary>
    void OpenFailed(string path, Exception error)
    {
    }

    /// <summary>The followed log was opened.</summary>
    void Opened(string path)
    {
    }
}

/// <summary>
/// Follows one log file by path through rename-and-create rotation, copytruncate and restarts.
/// <see cref="Poll"/> does one round of work; the hosting loop calls it on every file-system
/// notification and on a slow timer. Not thread-safe: one loop owns it.
/// </summary>
internal sealed partial class LogTailer : IDisposable
{
    private const int PrefixBytes = 1024;
    private readonly TailOptions _options;
    private readonly ILineSink _sink;
    private readonly Func<Checkpoint> _captureStats;
    private readonly Action<Checkpoint> _restoreStats;
    private readonly ITailObserver _observer;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly string _checkpointFile;
    private readonly CheckpointWriter _writer;
    private readonly List<(OpenLog Log, long LastGrowth)> _draining = new();
    private OpenLog? _current;
    private bool _started;
    private long _lastCheckpoint;
    private bool _dirty;
    private bool _awaitingNewFile;

    public LogTailer(TailOptions options, ILineSink sink, Func<Checkpoint> captureStats, Action<Checkpoint> restoreStats, ITailObserver observer, ILogger logger, TimeProvider time)
    {
        _restoreStats = restoreStats;
        _options = options;
        _sink = sink;
        _captureStats = captureStats;
        _observer = observer;
        _logger = logger;
        _time = time;
        _checkpointFile = System.IO.Path.Combine(options.StateDirectory, "log-checkpoint.json");
        _writer = new CheckpointWriter(_checkpointFile, logger);
    }

    public string CheckpointFile => _checkpointFile;

    /// <summary>Reads the checkpoint and positions the tail; finishes a log rotated while the agent was down.</summary>
    public Checkpoint? Start()
    {
        _started = true;
        Directory.CreateDirectory(_options.StateDirectory);
        Checkpoint? checkpoint = null;
        try
        {
            checkpoint = Checkpoint.Load(_checkpointFile);
        }
        catch (Exception e) when (e is IOException or System.Text.Json.JsonException or UnauthorizedAccessException)
        {
            LogCheckpointUnreadable(_logger, _checkpointFile, e.Message);
        }

        if (checkpoint != null && checkpoint.Path != _options.Path)
        {
            LogCheckpointOtherPath(_logger, checkpoint.Path, _options.Path);
            checkpoint = null;
        }

        if (checkpoint != null)
        {
            // Counts first, so lines read below (a rotated file's tail) add to them.
            _restoreStats(checkpoint);
        }
        else
        {
            _current = OpenFollowed();
            if (_current != null && _options.StartAt == TailStart.End)
                _current.SeekToEnd();
            _dirty = true; // a first checkpoint at once, so a rotation before the next one is not missed
            return null;
        }

        if (checkpoint.Files.Count == 0)
        {
            _current = OpenFollowed();
            return checkpoint;
        }

        // Renamed logs that were still being read: finish them, oldest first.
        foreach (var position in checkpoint.Files.Take(checkpoint.Files.Count - 1))
            FinishElsewhere(position, "rename");

        var last = checkpoint.Files[^1];
        var identity = FileIdentity.OfPath(_options.Path);
        bool sameFile = identity is { } id && id.Inode == last.Inode && id.Device == last.Device;
        if (sameFile)
        {
            var log = OpenFollowed();
            if (log != null && log.Length >= last.Offset && log.PrefixHash(last.PrefixLength) == last.PrefixHash)
            {
                log.SeekTo(last.Offset);
                _current = log;
                return checkpoint;
            }

            // Truncated (copytruncate) while we were down: finish the copy, then read the new content.
            log?.Dispose();
            FinishElsewhere(last, "truncate");
        }
        else
        {
            FinishElsewhere(last, "rename");
        }

        _current = OpenFollowed();
        _dirty = true;
        return checkpoint;
    }

    /// <summary>One round: read what is new, notice rotation, checkpoint when due. Returns true when lines were read.</summary>
    public bool Poll()
    {
        if (!_started)
            Start();
        bool read = false;

        // Renamed logs first: their lines are older.
        for (int i = _draining.Count - 1; i >= 0; i--)
        {
            var (log, lastGrowth) = _draining[i];
            long n = Read(log);
            read |= n > 0;
            long now = _time.GetTimestamp();
            if (n > 0)
                _draining[i] = (log, now);
            else if (_time.GetElapsedTime(lastGrowth, now) >= _options.RotatedFileGrace)
            {
                log.FlushPartial(_sink);
                log.Dispose();
                _draining.RemoveAt(i);
                _dirty = true;
            }
        }

        if (_current == null)
        {
            _current = OpenFollowed();
            if (_current == null)
                return read;
            _dirty = true;
            if (_awaitingNewFile)
            {
                // The rename is handled once its successor is open.
                _awaitingNewFile = false;
                read |= Read(_current) > 0;
                Rotated("rename");
            }
        }

        read |= Read(_current) > 0;

        var identity = FileIdentity.OfPath(_options.Path);
        if (identity == null || (identity.Value.IsKnown && identity.Value != _current.Identity))
        {
            // Renamed away (logrotate, postfix logrotate) or deleted: keep reading it for a grace period.
            read |= Read(_current) > 0;
            _draining.Add((_current, _time.GetTimestamp()));
            _current = OpenFollowed();
            if (_current != null)
            {
                read |= Read(_current) > 0;
                Rotated("rename");
            }
            else
            {
                _awaitingNewFile = true;
                _dirty = true;
            }
        }
        else if (_current.WasTruncated())
        {
            RecoverTruncatedTail(_current);
            _current.Restart();
            read |= Read(_current) > 0;
            Rotated("truncate");
        }

        if (read)
            _dirty = true;
        if (_current != null)
            _observer.Lag(Math.Max(0, _current.Length - _current.Consumed));
        MaybeCheckpoint(force: false);
        return read;
    }

    // Every open of the followed path reports its outcome, so an unreadable or missing log is visible to health and metrics.
    private OpenLog? OpenFollowed()
    {
        var log = OpenLog.TryOpen(_options.Path, out var error);
        if (log != null)
            _observer.Opened(_options.Path);
        else if (error != null)
            _observer.OpenFailed(_options.Path, error);
        return log;
    }

    private long Read(OpenLog log)
    {
        long from = log.Consumed;
        long n = log.ReadAvailable(_sink);
        if (n > 0)
            LogRead(_logger, log.Path, log.Identity.Inode, from, log.Consumed);
        return n;
    }

    // A rotation is checkpointed at once: a restart must know every file still to be finished.
    private void Rotated(string kind)
    {
        _dirty = true;
        MaybeCheckpoint(force: true);
        _writer.Flush();
        _observer.Rotated(kind);
        LogRotated(_logger, kind, _options.Path);
    }

    /// <summary>Writes the checkpoint now (on shutdown).</summary>
    public void SaveCheckpoint()
    {
        MaybeCheckpoint(force: true);
        _writer.Flush();
    }

    private void MaybeCheckpoint(bool force)
    {
        if (!_dirty || _current == null)
            return;
        long now = _time.GetTimestamp();
        if (!force && _time.GetElapsedTime(_lastCheckpoint, now) < _options.CheckpointInterval)
            return;
        var checkpoint = _captureStats();
        checkpoint.Path = _options.Path;
        checkpoint.Files = _draining.Select(d => Position(d.Log)).Append(Position(_current)).ToList();
        _writer.Submit(checkpoint);
        _lastCheckpoint = now;
        _dirty = false;
    }

    private static FilePosition Position(OpenLog log)
    {
        int prefix = (int)Math.Min(PrefixBytes, log.Consumed);
        return new FilePosition
        {
            Device = log.Identity.Device,
            Inode = log.Identity.Inode,
            Offset = log.Consumed,
            PrefixLength = prefix,
            PrefixHash = log.RememberedPrefixHash(prefix),
        };
    }

    // A checkpointed file is no longer at the path: find it (or its copy) next to the path and read it to the end.
    private void FinishElsewhere(FilePosition position, string kind)
    {
        var old = FindSibling(candidate =>
            ((kind == "rename" && candidate.Identity.Inode == position.Inode && candidate.Identity.Device == position.Device)
             || (kind == "truncate" && candidate.Identity.Inode != position.Inode))
            && candidate.Length >= position.Offset && candidate.PrefixHash(position.PrefixLength) == position.PrefixHash);
        if (old != null)
        {
            old.SeekTo(position.Offset);
            Read(old);
            old.FlushPartial(_sink);
            old.Dispose();
            _observer.Rotated(kind);
            LogResumedRotated(_logger, kind, old.Path);
            return;
        }

        old?.Dispose();
        _observer.Gap("rotated_file_missing", 0);
        LogRotatedFileMissing(_logger, _options.Path);
    }

    // copytruncate copies the log before truncating it: the lines we had not read yet are in the copy.
    private void RecoverTruncatedTail(OpenLog truncated)
    {
        long consumed = truncated.Consumed;
        int prefix = (int)Math.Min(PrefixBytes, consumed);
        ulong hash = truncated.RememberedPrefixHash(prefix);
        var copy = FindSibling(c => c.Identity != truncated.Identity && c.Length > consumed && c.PrefixHash(prefix) == hash);
        if (copy == null)
            return;
        copy.SeekTo(consumed);
        Read(copy);
        copy.FlushPartial(_sink);
        copy.Dispose();
    }

    private OpenLog? FindSibling(Func<OpenLog, bool> match)
    {
        string? dir = System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(_options.Path));
        string name = System.IO.Path.GetFileName(_options.Path);
        if (dir == null || !Directory.Exists(dir))
            return null;
        foreach (var file in Directory.EnumerateFiles(dir, name + "*").OrderBy(f => f, StringComparer.Ordinal))
        {
            if (file == System.IO.Path.GetFullPath(_options.Path) || file.EndsWith(".gz", StringComparison.Ordinal) || file.EndsWith(".xz", StringComparison.Ordinal))
                continue;
            var log = OpenLog.TryOpen(file);
            if (log == null)
                continue;
            if (match(log))
                return log;
            log.Dispose();
        }

        return null;
    }

    public void Dispose()
    {
        _writer.Dispose();
        _current?.Dispose();
        foreach (var (log, _) in _draining)
            log.Dispose();
        _draining.Clear();
    }

    [LoggerMessage(EventId = 1008, Level = LogLevel.Debug, Message = "Read {Path} (inode {Inode}) from byte {From} to {To}")]
    private static partial void LogRead(ILogger logger, string path, ulong inode, long from, long to);

    [LoggerMessage(EventId = 1001, Level = LogLevel.Information, Message = "Log {Path} was rotated ({Kind}); following the new file")]
    private static partial void LogRotated(ILogger logger, string kind, string path);

    [LoggerMessage(EventId = 1002, Level = LogLevel.Warning, Message = "Checkpoint {File} is unreadable ({Reason}); starting as if there were none")]
    private static partial void LogCheckpointUnreadable(ILogger logger, string file, string reason);

    [LoggerMessage(EventId = 1003, Level = LogLevel.Information, Message = "Checkpoint was for {OldPath}, now following {NewPath}: starting afresh")]
    private static partial void LogCheckpointOtherPath(ILogger logger, string oldPath, string newPath);

    [LoggerMessage(EventId = 1004, Level = LogLevel.Information, Message = "Log was rotated ({Kind}) while the agent was stopped; finished {Path} first")]
    private static partial void LogResumedRotated(ILogger logger, string kind, string path);

    [LoggerMessage(EventId = 1005, Level = LogLevel.Warning, Message = "Log {Path} was rotated while the agent was stopped and the old file is gone (compressed or deleted): lines written after the checkpoint are lost")]
    private static partial void LogRotatedFileMissing(ILogger logger, string path);

}
