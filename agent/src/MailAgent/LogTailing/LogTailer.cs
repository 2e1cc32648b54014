namespace MailAgent.LogTailing;

/// <summary>Counts the tailer reports to the metrics layer.</summary>
internal interface ITailObserver
{
    void Rotated(string kind);
    void Gap(string reason, long bytes);
    void Lag(long bytes);

    /// <summary>The counts saved in the checkpoint, put back once at start (before any new rotation is counted).</summary>
    void Restored(IReadOnlyDictionary<string, long> rotations, IReadOnlyDictionary<string, long> gaps);

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
    // The file the live one came after, read to its end: listed in a checkpoint taken while nothing has been read
    // from the live file, so that a restart finds the unread file by its place in the chain (it has no first bytes
    // to match, and its inode may be reused once it is compressed). Set whenever the live file changes: a rename
    // (once the renamed file is finished), files read from the chain in between, a copytruncate (the copy); null
    // when there is none to name.
    private FilePosition? _predecessor;

    // The renamed file that becomes the predecessor when its grace ends (it is listed while it drains).
    private OpenLog? _renamedPredecessor;

    // The newest rotated file seen when the chain was last searched for copies of the unread live file,
    // and the predecessor that search was for: while both stand, nothing was rotated since.
    private (FilePosition? For, FileIdentity Newest) _unreadChecked;

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
    private readonly Dictionary<string, long> _rotations = new();
    private readonly Dictionary<string, long> _gaps = new();

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
            // Counts first, so lines read below (rotated files' tails) add to them.
            _restoreStats(checkpoint);
            foreach (var (rotation, n) in checkpoint.Rotations)
                _rotations[rotation] = n;
            foreach (var (reason, n) in checkpoint.Gaps)
                _gaps[reason] = n;
            _observer.Restored(_rotations, _gaps);
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

        var chain = RotatedChain.List(_options.Path);

        // Renamed logs that were still being read (their rotation is counted already): finish them, oldest first.
        int previous = -1;
        long previousEnd = -1;
        foreach (var position in checkpoint.Files.Take(checkpoint.Files.Count - 1))
        {
            int at = RotatedChain.Find(chain, position);
            if (at >= 0)
                previousEnd = FinishRotated(chain[at], position.Offset);
            else if (!position.Finished)
                Missing();
            previous = at;
        }

        var last = checkpoint.Files[^1];

        // Nothing read from the live file yet (checkpointed at the rename that opened it): no first bytes
        // to match, and its inode may have been freed and reused since (compressed while we were down). The
        // file renamed just before it anchors it: the unread file is the next one in the chain, or the live
        // one when nothing was rotated since.
        if (last.PrefixLength == 0 && previous >= 0)
        {
            string unreadKind = previous + 1 < chain.Count ? GuessKind(chain[previous + 1], last) : "rename";
            _predecessor = previous + 1 < chain.Count
                ? FollowChainFrom(chain, previous + 1, 0, unreadKind)
                : previousEnd < 0 ? null : RotatedChain.EndOf(chain[previous], previousEnd);
            _current = OpenFollowed();
            _dirty = true;
            return checkpoint;
        }

        var live = OpenLog.TryOpen(_options.Path);
        bool sameFile = live != null && live.Identity.Inode == last.Inode && live.Identity.Device == last.Device;
        if (live != null && sameFile && live.Length >= last.Offset && live.PrefixHash(last.PrefixLength) == last.PrefixHash)
        {
            live.SeekTo(last.Offset);
            _current = live;
            return checkpoint;
        }

        live?.Dispose();

        // Rotated while we were down, perhaps more than once: follow the chain from the checkpointed
        // file through every newer rotated file, then read the live file from its start.
        int origin = RotatedChain.Find(chain, last);
        if (origin < 0)
            Missing();
        else
            _predecessor = FollowChainFrom(chain, origin, last.Offset, GuessKind(chain[origin], last));

        _current = OpenFollowed();
        _dirty = true;
        return checkpoint;
    }

    // How the file at position left the path, for the rotation counter's label, from the rotated file that holds
    // its lines now: a rename keeps its inode, a copy gets a new one while the path keeps the old. A compressed
    // file tells nothing by its inode, and the path's may be a freed inode reused, so there it is a guess.
    private string GuessKind(RotatedFile next, FilePosition position)
    {
        if (!next.Compressed)
            return next.Identity.Inode == position.Inode && next.Identity.Device == position.Device ? "rename" : "truncate";
        return FileIdentity.OfPath(_options.Path) is { IsKnown: true } now && now.Inode == position.Inode && now.Device == position.Device ? "truncate" : "rename";
    }

    // The checkpointed file (from byte offset) and every newer rotated file after it, oldest first.
    // Returns the newest, read to its end: the file the live one came after.
    private FilePosition? FollowChainFrom(List<RotatedFile> chain, int origin, long offset, string kind)
    {
        long end = FinishRotated(chain[origin], offset);
        CountRotation(kind);
        LogResumedRotated(_logger, kind, chain[origin].Path);
        for (int i = origin + 1; i < chain.Count; i++)
        {
            end = FinishRotated(chain[i], 0);
            CountRotation(kind);
            LogResumedRotated(_logger, kind, chain[i].Path);
        }

        return end < 0 ? null : RotatedChain.EndOf(chain[^1], end);
    }

    /// <summary>One round: read what is new, notice rotation, checkpoint when due. Returns true when lines were read.</summary>
    public bool Poll()
    {
        if (!_started)
            Start();
        bool read = false;

        // Renamed logs first, oldest first: their lines are older.
        for (int i = 0; i < _draining.Count; i++)
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
                if (ReferenceEquals(log, _renamedPredecessor))
                {
                    _predecessor = Position(log);
                    _predecessor.Finished = true;
                    _renamedPredecessor = null;
                }

                log.Dispose();
                _draining.RemoveAt(i--);
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
            var renamed = _current;
            _draining.Add((renamed, _time.GetTimestamp()));
            _renamedPredecessor = renamed;
            _predecessor = null;
            _current = OpenFollowed();
            read |= ReadSkippedRotations(renamed);
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
            _renamedPredecessor = null;
            _predecessor = null;
            read |= RecoverTruncatedTail(_current);
            _current.Restart();
            read |= Read(_current) > 0;
            Rotated("truncate");
        }
        else if (_current.Consumed == 0 && _predecessor != null && ReadCopiesOfUnreadFile())
        {
            read = true;
            read |= Read(_current) > 0;
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
    // The counter is published after the checkpoint is on disk: whoever sees it move may rely on it.
    private void Rotated(string kind)
    {
        _rotations[kind] = _rotations.GetValueOrDefault(kind) + 1;
        _dirty = true;
        MaybeCheckpoint(force: true);
        _writer.Flush();
        _observer.Rotated(kind);
        LogRotated(_logger, kind, _options.Path);
    }

    private void CountRotation(string kind)
    {
        _rotations[kind] = _rotations.GetValueOrDefault(kind) + 1;
        _observer.Rotated(kind);
    }

    private void Missing()
    {
        _gaps["rotated_file_missing"] = _gaps.GetValueOrDefault("rotated_file_missing") + 1;
        _observer.Gap("rotated_file_missing", 0);
        LogRotatedFileMissing(_logger, _options.Path);
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
        var files = _draining.Select(d => Position(d.Log)).ToList();
        // Nothing read from the live file yet: list the file it came after, read to its end, last before it
        // (unless it is still draining, so listed already): a restart finds the unread file after it in the chain.
        if (_current.Consumed == 0 && _predecessor is { } predecessor && !_draining.Exists(d => d.Log.Identity.Inode == predecessor.Inode && d.Log.Identity.Device == predecessor.Device))
            files.Add(predecessor);
        checkpoint.Files = [.. files, Position(_current)];
        checkpoint.Rotations = new Dictionary<string, long>(_rotations);
        checkpoint.Gaps = new Dictionary<string, long>(_gaps);
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

    // A rotated file, to its end; a plain one by path (its writer is done with it by now).
    // Returns the end reached (-1: gone or damaged).
    private long FinishRotated(RotatedFile file, long offset)
    {
        try
        {
            return RotatedChain.ReadFrom(file, offset, _sink);
        }
        catch (InvalidDataException e)
        {
            LogRotatedUnreadable(_logger, file.Path, e.Message);
            _gaps["rotated_file_unreadable"] = _gaps.GetValueOrDefault("rotated_file_unreadable") + 1;
            _observer.Gap("rotated_file_unreadable", 0);
            return -1;
        }
    }

    // Every rotated file after chain[at] that is not open already, from its start, each counted as a rotation of
    // kind. Returns the newest one read, at the end the read reached (what the live file now comes after; null when
    // it could not be read), or false when there was none.
    private bool ReadNewerRotated(List<RotatedFile> chain, int at, string kind, out FilePosition? newest)
    {
        newest = null;
        bool read = false;
        for (int i = at + 1; i < chain.Count; i++)
        {
            if (IsOpen(chain[i].Identity))
                continue;
            long end = FinishRotated(chain[i], 0);
            CountRotation(kind);
            newest = end < 0 ? null : RotatedChain.EndOf(chain[i], end);
            read = true;
        }

        return read;
    }

    // Two renames between two rounds: the file renamed first is being drained and the live one is
    // open; any rotated file between them in the chain was written and renamed in between.
    private bool ReadSkippedRotations(OpenLog renamed)
    {
        var chain = RotatedChain.List(_options.Path);
        int at = chain.FindIndex(f => !f.Compressed && f.Identity == renamed.Identity);
        if (at < 0 || !ReadNewerRotated(chain, at, "rename", out var newest))
            return false;
        // The newest file read here, not the one draining, is what the live file came after.
        _renamedPredecessor = null;
        _predecessor = newest;
        return true;
    }

    // Nothing read from the live file since it was emptied or created, so a copytruncate leaves it looking
    // just as it did (empty) and only its copy shows that lines went by: any file newer than the predecessor
    // in the chain is such a copy. Looked for only while the live file is unread, and only when the newest
    // rotated file changed since the last look.
    private bool ReadCopiesOfUnreadFile()
    {
        var chain = RotatedChain.List(_options.Path);
        if (chain.Count == 0 || (ReferenceEquals(_unreadChecked.For, _predecessor) && chain[^1].Identity == _unreadChecked.Newest))
            return false;
        _unreadChecked = (_predecessor, chain[^1].Identity);
        int at = RotatedChain.Find(chain, _predecessor!);
        if (at < 0 || at == chain.Count - 1)
            return false;
        if (!ReadNewerRotated(chain, at, "truncate", out var newest))
            return false;
        LogRotated(_logger, "truncate", _options.Path);
        _predecessor = newest;
        // copytruncate copies, then truncates: caught in between, the live file still holds what the copy does.
        if (_predecessor is { } copy && _current!.Length >= copy.Offset && _current.PrefixHash(copy.PrefixLength) == copy.PrefixHash)
            _current.SeekTo(copy.Offset);
        else
            _current!.Restart();
        _dirty = true;
        MaybeCheckpoint(force: true);
        _writer.Flush();
        return true;
    }

    private bool IsOpen(FileIdentity identity) =>
        (_current != null && _current.Identity == identity) || _draining.Exists(d => d.Log.Identity == identity);

    // copytruncate copies the log before truncating it: the lines we had not read yet are in the copy,
    // and when it truncated again before this round, the lines of the round in between are in the next copy.
    private bool RecoverTruncatedTail(OpenLog truncated)
    {
        long consumed = truncated.Consumed;
        int prefix = (int)Math.Min(PrefixBytes, consumed);
        var position = new FilePosition
        {
            Device = truncated.Identity.Device,
            Inode = truncated.Identity.Inode,
            Offset = consumed,
            PrefixLength = prefix,
            PrefixHash = truncated.RememberedPrefixHash(prefix),
        };
        var chain = RotatedChain.List(_options.Path);
        // The truncated file itself is the live one and not in the chain; a copy never has its inode.
        int at = prefix == 0 ? -1 : RotatedChain.Find(chain, position);
        if (at < 0)
            return false;
        long end = FinishRotated(chain[at], consumed);
        // The emptied live file's lines so far are in the newest copy: an unread live file comes after it.
        if (!ReadNewerRotated(chain, at, "truncate", out _predecessor))
            _predecessor = end < 0 ? null : RotatedChain.EndOf(chain[at], end);
        return true;
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

    [LoggerMessage(EventId = 7400, Level = LogLevel.Warning, Message = "Rotated log {Path} is damaged ({Reason}); read what could be read")]
    private static partial void LogRotatedUnreadable(ILogger logger, string path, string reason);

    [LoggerMessage(EventId = 1004, Level = LogLevel.Information, Message = "Log was rotated ({Kind}) while the agent was stopped; finished {Path} first")]
    private static partial void LogResumedRotated(ILogger logger, string kind, string path);

    [LoggerMessage(EventId = 1005, Level = LogLevel.Warning, Message = "Log {Path} was rotated while the agent was stopped and the old file is gone (compressed or deleted): lines written after the checkpoint are lost")]
    private static partial void LogRotatedFileMissing(ILogger logger, string path);

}
