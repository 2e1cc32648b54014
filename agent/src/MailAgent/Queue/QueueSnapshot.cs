namespace MailAgent.Queue;

/// <summary>
/// The outcome of one queue inspection. Immutable. When the run failed, <see cref="Summary"/>
/// still holds the numbers of the last run that succeeded (null if none has yet), so readers keep
/// the last good numbers and can tell how old they are from <see cref="QueueSummary.TakenAt"/>.
/// </summary>
internal sealed record QueueSnapshot
{
    /// <summary>When this run started.</summary>
    public required DateTimeOffset TakenAt { get; init; }

    /// <summary>How long postqueue and the summary took, or how long until the run was given up.</summary>
    public required TimeSpan Duration { get; init; }

    public required bool Succeeded { get; init; }

    /// <summary>True when postqueue was killed for running past <see cref="QueueOptions.Timeout"/>.</summary>
    public bool TimedOut { get; init; }

    /// <summary>Why the run failed, for a person (null when it succeeded).</summary>
    public string? Error { get; init; }

    /// <summary>Runs that have failed in a row, this one included (0 after a success).</summary>
    public int ConsecutiveFailures { get; init; }

    /// <summary>This run's numbers, or the last good ones when it failed.</summary>
    public QueueSummary? Summary { get; init; }

    public static QueueSnapshot Success(DateTimeOffset takenAt, TimeSpan duration, QueueSummary summary) =>
        new() { TakenAt = takenAt, Duration = duration, Succeeded = true, Summary = summary };

    public static QueueSnapshot Failure(DateTimeOffset takenAt, TimeSpan duration, string error, bool timedOut) =>
        new() { TakenAt = takenAt, Duration = duration, Succeeded = false, Error = error, TimedOut = timedOut, ConsecutiveFailures = 1 };

    /// <summary>This run, with what it does not know taken from <paramref name="previous"/>: a failure keeps the last good numbers.</summary>
    public QueueSnapshot After(QueueSnapshot? previous) =>
        Succeeded || previous == null
            ? this
            : this with { Summary = previous.Summary, ConsecutiveFailures = previous.ConsecutiveFailures + 1 };
}

/// <summary>The latest queue snapshot, for metrics, health checks and the API. Never waits for postqueue.</summary>
internal interface IQueueSnapshotSource
{
    /// <summary>The latest snapshot; null until the first run has ended.</summary>
    QueueSnapshot? Current { get; }
}

/// <summary>Holds the latest snapshot; the inspector swaps a whole new one in, readers never see a half-made one.</summary>
internal sealed class QueueSnapshotStore : IQueueSnapshotSource
{
    private QueueSnapshot? _current;

    public QueueSnapshot? Current => Volatile.Read(ref _current);

    public void Publish(QueueSnapshot snapshot) => Volatile.Write(ref _current, snapshot);
}
