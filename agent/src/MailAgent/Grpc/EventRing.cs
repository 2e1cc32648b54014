using System.Runtime.CompilerServices;

namespace MailAgent.Grpc;

/// <summary>What a reader gets after a sequence: the events, and whether some it asked for are gone.</summary>
internal readonly record struct RingRead(IReadOnlyList<SequencedEvent> Events, ulong FirstMissed, ulong FirstAvailable)
{
    public bool Lost => FirstMissed != 0;
}

/// <summary>
/// The most recent events, bounded, each with a sequence number. Watchers read everything after the
/// last sequence they saw, so a reconnecting client gets exactly the events it missed, or is told
/// which ones fell out. Writers (the pipeline thread, the health loop) and readers share one lock.
/// </summary>
internal sealed class EventRing
{
    private readonly SequencedEvent?[] _items;
    private readonly TimeProvider _time;
    private readonly Lock _lock = new();
    private ulong _last;
    private TaskCompletionSource _appended = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public EventRing(int capacity, TimeProvider time, EventJournal? journal = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        _items = new SequencedEvent?[capacity];
        _time = time;
        if (journal == null)
            return;
        // Continue the journal's run: the events it holds keep their sequences, so a client's resume point stays valid.
        RunId = journal.RunId;
        foreach (var e in journal.Restored.TakeLast(capacity))
        {
            _items[(int)(e.Sequence % (ulong)_items.Length)] = e;
            _last = e.Sequence;
        }

        _last = Math.Max(_last, journal.LastSequence);
    }

    public int Capacity => _items.Length;

    /// <summary>New at every start: sequences count from 1 per run, so a resume point names its run.</summary>
    public string RunId { get; } = Guid.NewGuid().ToString("N");

    /// <summary>Appends and returns the event as stored (with its sequence and time).</summary>
    public SequencedEvent AppendEvent(AgentEventBody body)
    {
        ulong sequence = Append(body);
        lock (_lock)
        {
            var e = _items[(int)(sequence % (ulong)_items.Length)]!;
            return e.Sequence == sequence ? e : new SequencedEvent(sequence, _time.GetUtcNow(), body);
        }
    }

    public ulong LastSequence
    {
        get
        {
            lock (_lock)
                return _last;
        }
    }

    /// <summary>Oldest sequence still held (1 while nothing has fallen out; LastSequence + 1 when empty).</summary>
    public ulong OldestSequence
    {
        get
        {
            lock (_lock)
                return Oldest();
        }
    }

    public ulong Append(AgentEventBody body)
    {
        TaskCompletionSource wake;
        ulong sequence;
        lock (_lock)
        {
            sequence = ++_last;
            _items[(int)(sequence % (ulong)_items.Length)] = new SequencedEvent(sequence, _time.GetUtcNow(), body);
            wake = _appended;
            _appended = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }

        wake.SetResult();
        return sequence;
    }

    /// <summary>
    /// Up to <paramref name="max"/> events with sequence greater than <paramref name="after"/>, oldest first.
    /// When <paramref name="after"/> is beyond the last sequence (a client from an earlier agent run),
    /// the reader is told everything after it is lost and starts from the oldest held event.
    /// </summary>
    public RingRead ReadAfter(ulong after, int max)
    {
        lock (_lock)
        {
            ulong oldest = Oldest();
            ulong firstMissed = 0;
            if (after > _last)
            {
                firstMissed = after + 1;
                after = oldest - 1;
            }
            else if (after + 1 < oldest)
            {
                firstMissed = after + 1;
                after = oldest - 1;
            }

            int count = (int)Math.Min((ulong)max, _last - after);
            var events = new SequencedEvent[count];
            for (int i = 0; i < count; i++)
                events[i] = _items[(int)((after + 1 + (ulong)i) % (ulong)_items.Length)]!;
            return new RingRead(events, firstMissed, firstMissed == 0 ? 0 : oldest);
        }
    }

    /// <summary>Completes once an event after <paramref name="after"/> exists.</summary>
    public Task WaitAsync(ulong after, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            if (_last > after)
                return Task.CompletedTask;
            return _appended.Task.WaitAsync(cancellationToken);
        }
    }

    /// <summary>
    /// Batches after <paramref name="after"/>, oldest first, then new ones as they arrive, until cancelled.
    /// A batch that follows a gap says so (<see cref="RingRead.Lost"/>); each event is yielded once.
    /// </summary>
    public async IAsyncEnumerable<RingRead> WatchAsync(ulong after, int batchSize, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var read = ReadAfter(after, batchSize);
            if (read.Lost)
                after = read.FirstAvailable - 1;
            if (read.Events.Count > 0)
                after = read.Events[^1].Sequence;
            if (read.Lost || read.Events.Count > 0)
                yield return read;
            else
                await WaitAsync(after, cancellationToken);
        }
    }

    private ulong Oldest() => _last < (ulong)_items.Length ? 1 : _last - (ulong)_items.Length + 1;
}
