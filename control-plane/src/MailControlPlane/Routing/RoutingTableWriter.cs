using System.Threading.Channels;
using MailControlPlane.Scoring;

namespace MailControlPlane.Routing;

/// <summary>
/// Writes the scorer's verdicts into the routing table. Keeps the latest verdict per provider and
/// writes, each cycle, only what changed since the last successful write; health-log rows wait in
/// a bounded buffer (oldest dropped and counted when full). When the database is down it keeps
/// all of that and retries with exponential backoff and jitter; it never stops the host. With
/// PostgreSQL only the replica holding the advisory lock writes; the others retry the lock.
/// </summary>
internal sealed class RoutingTableWriter : BackgroundService, IRoutingTableSink
{
    private readonly RoutingOptions _options;
    private readonly IRoutingStore _store;
    private HashSet<string> _agentProviders;
    private readonly HashSet<string> _toCreate = new(StringComparer.Ordinal);
    private readonly RoutingMetrics _metrics;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly Lock _gate = new();
    private readonly Dictionary<string, ProviderAssessment> _latest = new(StringComparer.Ordinal);
    private readonly Dictionary<string, ProviderRowUpdate> _written = new(StringComparer.Ordinal);
    private readonly Dictionary<string, DateTimeOffset> _nextPeriodic = new(StringComparer.Ordinal);
    private readonly Queue<(long Sequence, HealthLogEntry Entry)> _buffer = new();
    private readonly HashSet<string> _missingRowsLogged = new(StringComparer.Ordinal);
    private readonly Channel<bool> _wake = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });
    private long _sequence;
    private long _loopTurns;
    private int _activeWithoutAgent;
    private bool _bufferFullLogged;
    private bool _keepRowsThroughOutage;
    private readonly IScorerMemory? _memory;
    private readonly Dictionary<string, bool> _deactivatedByUs = new(StringComparer.Ordinal);
    private readonly Dictionary<string, ScorerState> _saved = new(StringComparer.Ordinal);
    private bool _restored;

    public RoutingTableWriter(
        RoutingOptions options,
        IRoutingStore store,
        IReadOnlyCollection<string> agentProviderNames,
        RoutingMetrics metrics,
        TimeProvider time,
        ILogger<RoutingTableWriter> logger,
        IScorerMemory? memory = null)
    {
        _memory = memory;
        _options = options;
        _store = store;
        _agentProviders = new HashSet<string>(agentProviderNames, StringComparer.Ordinal);
        _toCreate.UnionWith(_agentProviders);
        _metrics = metrics;
        _time = time;
        _logger = logger;
    }

    /// <summary>True while this replica may write (always with SQLite once the file is open).</summary>
    public bool IsLeader { get; private set; }

    /// <summary>When the last write cycle succeeded; null before the first.</summary>
    public DateTimeOffset? LastSuccessfulWrite { get; private set; }

    /// <summary>Loop turns completed (write cycles, standby lock attempts and failures alike): lets callers wait for the loop to move.</summary>
    public long LoopTurns => Interlocked.Read(ref _loopTurns);

    public int ActiveProvidersWithoutAgent => Volatile.Read(ref _activeWithoutAgent);

    /// <summary>Health-log rows waiting to be written.</summary>
    public int BufferedRows
    {
        get
        {
            lock (_gate)
            {
                return _buffer.Count;
            }
        }
    }

    /// <summary>
    /// The providers the agents back changed (a configuration reload): a removed provider's latest verdict
    /// is forgotten (its row is left as it is and no longer written); a new one gets its row created
    /// when Routing:CreateMissingProviders is on.
    /// </summary>
    public void SetAgentProviders(IReadOnlyCollection<string> providerNames)
    {
        lock (_gate)
        {
            var next = new HashSet<string>(providerNames, StringComparer.Ordinal);
            foreach (var removed in _agentProviders.Where(p => !next.Contains(p)))
            {
                _latest.Remove(removed);
                _written.Remove(removed);
                _nextPeriodic.Remove(removed);
                _toCreate.Remove(removed);
                _missingRowsLogged.Remove(removed);
            }

            _toCreate.UnionWith(next.Where(p => !_agentProviders.Contains(p)));
            _agentProviders = next;
        }

        _wake.Writer.TryWrite(true);
    }

    public void Publish(ProviderAssessment assessment)
    {
        ArgumentNullException.ThrowIfNull(assessment);
        lock (_gate)
        {
            // A verdict for a provider just removed (a round still in flight) is dropped.
            if (_agentProviders.Contains(assessment.ProviderName))
                _latest[assessment.ProviderName] = assessment;
        }

        _wake.Writer.TryWrite(true);
    }

    public void Enqueue(HealthLogEntry entry)
    {
        ArgumentNullException.ThrowIfNull(entry);
        lock (_gate)
        {
            EnqueueLocked(entry);
        }

        _wake.Writer.TryWrite(true);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        _logger.RoutingStarted(
            _options.UsesPostgres ? "PostgreSQL (advisory lock " + _options.LeaderLockKey + ")" : "SQLite " + _options.SqlitePath,
            _agentProviders.Count);
        var failures = 0;
        while (!stoppingToken.IsCancellationRequested)
        {
            TimeSpan wait;
            try
            {
                var leader = await _store.TryLeadAsync(stoppingToken);
                SetLeader(leader, leader ? LeadChange.Took : LeadChange.AnotherReplica);
                if (leader)
                {
                    if (!_restored)
                    {
                        await RestoreAsync(stoppingToken);
                    }

                    await CycleAsync(stoppingToken);
                    if (failures > 0)
                    {
                        _logger.WriteRecovered(failures);
                    }

                    failures = 0;
                    Interlocked.Increment(ref _loopTurns);
                    await WaitForWorkAsync(_options.WriteInterval, stoppingToken);
                    continue;
                }

                DiscardStandbyRows();
                _keepRowsThroughOutage = false;
                // A standby keeps the leader's memory current, so that a takeover goes on where the leader stopped.
                await FollowAsync(stoppingToken);
                wait = _options.LeaderRetryInterval;
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                break;
            }
#pragma warning disable CA1031 // Any database failure is retried: the writer must never stop the host.
            catch (Exception e)
#pragma warning restore CA1031
            {
                failures++;
                _metrics.WriteFailures.Inc();
                // The replica that wrote keeps its periodic rows through the outage (within the buffer bound).
                _keepRowsThroughOutage |= IsLeader;
                if (_keepRowsThroughOutage)
                    AddPeriodicRows(_time.GetUtcNow());
                SetLeader(false, LeadChange.DatabaseFailed);
                await _store.ResetAsync();
                wait = Backoff.Delay(failures, _options.RetryMinDelay, _options.RetryMaxDelay, Random.Shared.NextDouble());
                if (failures == 1)
                {
                    _logger.WriteFailed(e.Message, wait, BufferedRows);
                }
                else
                {
                    _logger.WriteFailedAgain(failures, e.Message, wait);
                }
            }

            Interlocked.Increment(ref _loopTurns);
            try
            {
                await Task.Delay(wait, _time, stoppingToken);
            }
            catch (OperationCanceledException)
            {
                break;
            }
        }

        SetLeader(false, LeadChange.ShuttingDown);
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken);

        // Closing the session releases the advisory lock at once, so a standby takes over.
        await _store.ResetAsync();
    }

    private async Task CycleAsync(CancellationToken cancellationToken)
    {
        if (_options.CreateMissingProviders)
        {
            List<string> toCreate;
            lock (_gate)
                toCreate = [.. _toCreate.Order(StringComparer.Ordinal)];
            if (toCreate.Count > 0)
            {
                foreach (var name in await _store.CreateMissingProvidersAsync(toCreate, cancellationToken))
                    _logger.ProviderRowCreated(name);
                lock (_gate)
                {
                    _toCreate.ExceptWith(toCreate);
                    foreach (var name in toCreate)
                    {
                        _written.Remove(name);
                        _missingRowsLogged.Remove(name);
                    }
                }
            }
        }

        AddPeriodicRows(_time.GetUtcNow());
        List<ProviderRowUpdate> updates;
        lock (_gate)
        {
            updates = [.. _latest.Values
                .Select(a => new ProviderRowUpdate(a.ProviderName, Math.Clamp(a.Score, 0, 100), a.IsActive, _deactivatedByUs.GetValueOrDefault(a.ProviderName)))
                .Where(u => !_written.TryGetValue(u.ProviderName, out var last) || last with { MayReactivate = u.MayReactivate } != u)
                .OrderBy(u => u.ProviderName, StringComparer.Ordinal)];
        }

        if (updates.Count > 0)
        {
            var changed = await _store.WriteProvidersAsync(updates, cancellationToken);
            lock (_gate)
            {
                foreach (var update in updates)
                {
                    _written[update.ProviderName] = update;
                    bool before = _deactivatedByUs.GetValueOrDefault(update.ProviderName);
                    // Ours only where our false replaced a true; a false that was there first is a person's and stays.
                    _deactivatedByUs[update.ProviderName] = !update.IsActive
                        && (before || (changed.TryGetValue(update.ProviderName, out var result) && result.WereActive > 0));
                    if (update.IsActive && before)
                    {
                        _logger.Reactivated(update.ProviderName);
                    }
                }
            }

            _metrics.ProviderUpdates.Inc(changed.Values.Sum(r => r.Rows));
            foreach (var (name, result) in changed)
            {
                if (result.Rows == 0 && _missingRowsLogged.Add(name))
                {
                    _logger.NoProviderRow(name);
                }
            }
        }

        var written = 0;
        while (true)
        {
            List<(long Sequence, HealthLogEntry Entry)> batch;
            lock (_gate)
            {
                batch = [.. _buffer.Take(500)];
            }

            if (batch.Count == 0)
            {
                break;
            }

            await _store.WriteHealthLogsAsync([.. batch.Select(b => b.Entry)], cancellationToken);
            var last = batch[^1].Sequence;
            lock (_gate)
            {
                // Rows dropped meanwhile (buffer full) may already be gone; remove only what was written.
                while (_buffer.Count > 0 && _buffer.Peek().Sequence <= last)
                {
                    _buffer.Dequeue();
                }

                _metrics.HealthLogBufferDepth.Set(_buffer.Count);
                _bufferFullLogged = false;
            }

            _metrics.HealthLogRowsWritten.Inc(batch.Count);
            written += batch.Count;
        }

        await SaveStateAsync(cancellationToken);

        var active = await _store.ActiveEmailProvidersAsync(cancellationToken);
        int withoutAgent;
        lock (_gate)
            withoutAgent = active.Count(name => !_agentProviders.Contains(name));
        Volatile.Write(ref _activeWithoutAgent, withoutAgent);
        _metrics.ActiveWithoutAgent.Set(withoutAgent);

        var success = _time.GetUtcNow();
        LastSuccessfulWrite = success;
        _metrics.LastSuccess.Set(success.ToUnixTimeMilliseconds() / 1000.0);
        if (updates.Count > 0 || written > 0)
        {
            _logger.Written(updates.Count, written);
        }
    }

    /// <summary>
    /// Before its first write a leader takes over the scorer's memory from the state table; the verdicts published before
    /// that were computed without it and are dropped (the next evaluation publishes ones that know it).
    /// </summary>
    private async Task RestoreAsync(CancellationToken cancellationToken)
    {
        if (_memory != null)
        {
            var states = await _store.ReadScorerStateAsync(cancellationToken);
            _memory.Import(states);
            lock (_gate)
            {
                _latest.Clear();
                _saved.Clear();
                foreach (var s in states)
                {
                    _deactivatedByUs[s.ProviderName] = s.DeactivatedByControlPlane;
                    _saved[s.ProviderName] = s;
                }
            }

            if (_logger.IsEnabled(LogLevel.Information))
                _logger.StateRestored(states.Count, string.Join(", ", states.Select(s => $"{s.ProviderName} {s.State.ToString().ToLowerInvariant()} {s.Score}{(s.IsActive ? "" : " inactive")}")));
        }

        _restored = true;
    }

    private async Task FollowAsync(CancellationToken cancellationToken)
    {
        _restored = false;
        if (_memory == null)
        {
            return;
        }

        var states = await _store.ReadScorerStateAsync(cancellationToken);
        _memory.Import(states);
        lock (_gate)
        {
            foreach (var s in states)
            {
                _deactivatedByUs[s.ProviderName] = s.DeactivatedByControlPlane;
            }
        }
    }

    /// <summary>Saves the scorer's memory for the providers whose memory changed since the last save.</summary>
    private async Task SaveStateAsync(CancellationToken cancellationToken)
    {
        if (_memory == null)
        {
            return;
        }

        List<ScorerState> changed;
        lock (_gate)
        {
            changed = [.. _memory.Export()
                .Select(s => s with { DeactivatedByControlPlane = _deactivatedByUs.GetValueOrDefault(s.ProviderName) })
                .Where(s => !_saved.TryGetValue(s.ProviderName, out var last) || last with { SavedAt = s.SavedAt } != s)];
        }

        if (changed.Count == 0)
        {
            return;
        }

        await _store.WriteScorerStateAsync(changed, cancellationToken);
        lock (_gate)
        {
            foreach (var s in changed)
            {
                _saved[s.ProviderName] = s;
            }
        }
    }

    /// <summary>A periodic health-log row per provider every Routing:HealthLogInterval (also while the database is down).</summary>
    private void AddPeriodicRows(DateTimeOffset now)
    {
        lock (_gate)
        {
            foreach (var (name, assessment) in _latest)
            {
                if (!_nextPeriodic.TryGetValue(name, out var due))
                {
                    _nextPeriodic[name] = now + _options.HealthLogInterval;
                }
                else if (now >= due)
                {
                    EnqueueLocked(HealthLogEntries.From(assessment, HealthLogEntries.Periodic) with { CheckedAt = now });
                    _nextPeriodic[name] = now + _options.HealthLogInterval;
                }
            }
        }
    }

    private void EnqueueLocked(HealthLogEntry entry)
    {
        if (_buffer.Count >= _options.HealthLogBufferSize)
        {
            _buffer.Dequeue();
            _metrics.HealthLogDropped.Inc();
            if (!_bufferFullLogged)
            {
                _bufferFullLogged = true;
                _logger.BufferFull(_options.HealthLogBufferSize);
            }
        }

        _buffer.Enqueue((++_sequence, entry));
        _metrics.HealthLogBufferDepth.Set(_buffer.Count);
    }

    /// <summary>A standby does not keep rows: the leader writes its own, and a new leader must not write the old leader's again.</summary>
    private void DiscardStandbyRows()
    {
        lock (_gate)
        {
            _buffer.Clear();
            _metrics.HealthLogBufferDepth.Set(0);
        }
    }

    private enum LeadChange
    {
        Took,
        AnotherReplica,
        DatabaseFailed,
        ShuttingDown,
    }

    private void SetLeader(bool leader, LeadChange why)
    {
        if (leader == IsLeader)
        {
            return;
        }

        IsLeader = leader;
        _metrics.Leader.Set(leader ? 1 : 0);
        if (leader)
        {
            // Another replica, or an operator, may have written while this one could not: write every latest verdict once.
            lock (_gate)
            {
                _written.Clear();
            }
        }

        if (_options.UsesPostgres)
        {
            if (leader)
            {
                _logger.BecameLeader(_options.LeaderLockKey);
            }
            else if (why == LeadChange.AnotherReplica)
            {
                _logger.StandingBy(_options.LeaderLockKey, _options.LeaderRetryInterval);
            }
            else if (why == LeadChange.ShuttingDown)
            {
                _logger.LeadReleased(_options.LeaderLockKey);
            }

            // DatabaseFailed: WriteFailed already said so; leadership is retaken when the database answers.
        }
    }

    private async Task WaitForWorkAsync(TimeSpan timeout, CancellationToken stoppingToken)
    {
        using var timer = new CancellationTokenSource(timeout, _time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken, timer.Token);
        try
        {
            if (await _wake.Reader.WaitToReadAsync(linked.Token))
            {
                _wake.Reader.TryRead(out _);
            }
        }
        catch (OperationCanceledException) when (!stoppingToken.IsCancellationRequested)
        {
            // The interval passed with nothing new: a cycle still runs (periodic rows, the active count).
        }
    }
}
