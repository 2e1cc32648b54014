using System.Collections.Concurrent;

namespace MailControlPlane.Scoring;

/// <summary>
/// Scores each provider 0..100 from its agent's signals and keeps its routing state with hysteresis
/// (docs/health-score.md). Pure code on a <see cref="TimeProvider"/>: the evaluation loop calls
/// <see cref="Evaluate"/> every <see cref="ScoringOptions.EvaluationInterval"/>; the watch streams call
/// <see cref="RecordDelivery"/> from any thread.
/// </summary>
internal sealed class HealthScorer : IScorerMemory
{
    private readonly ScoringOptions _options;
    private readonly TimeProvider _time;
    private readonly SignalReader _signals;
    private readonly ConcurrentDictionary<string, DeliveryWindow> _deliveries = new(StringComparer.Ordinal);
    private readonly Dictionary<string, ProviderTrack> _tracks = new(StringComparer.Ordinal);
    private readonly Lock _evaluating = new();
    private readonly Random _random;

    public HealthScorer(ScoringOptions options, TimeProvider time)
    {
        var errors = options.Validate();
        if (errors.Count > 0)
            throw new ArgumentException($"invalid scoring options: {string.Join("; ", errors)}", nameof(options));
        _options = options;
        _time = time;
        _signals = new SignalReader(options);
#pragma warning disable CA5394 // jitter, not security: a seed makes tests deterministic
        _random = options.JitterSeed is { } seed ? new Random(seed) : new Random();
#pragma warning restore CA5394
    }

    /// <summary>Counts a delivery attempt of <paramref name="providerName"/>'s host; thread-safe.</summary>
    public void RecordDelivery(string providerName, DateTimeOffset at, DeliveryOutcomeKind outcome, string dsn)
    {
        ArgumentNullException.ThrowIfNull(providerName);
        var window = _deliveries.GetOrAdd(providerName, _ => new DeliveryWindow(_options.DeliveryWindow, _options.DeliveryBucket));
        window.Record(at, _time.GetUtcNow(), DeliveryClassifier.Classify(outcome, dsn));
    }

    /// <summary>The memory of every provider scored since start (or restored), for the state table; ownership is the writer's.</summary>
    public IReadOnlyList<ScorerState> Export()
    {
        lock (_evaluating)
        {
            var now = _time.GetUtcNow();
            return [.. _tracks.Where(t => t.Value.State != ProviderState.Unknown).OrderBy(t => t.Key, StringComparer.Ordinal).Select(t => new ScorerState(
                t.Key, t.Value.State, t.Value.Score, t.Value.IsActive, [.. t.Value.Ejections],
                t.Value.State is ProviderState.Failed or ProviderState.Probation ? t.Value.FailedAt : null,
                t.Value.State == ProviderState.Failed ? t.Value.ProbationAt : null,
                t.Value.FailedEvaluations, t.Value.AtOrAboveRecover, false, now))];
        }
    }

    /// <summary>
    /// Takes over the memory the last writer left (a starting leader before its first write; a standby to stay current).
    /// A restored provider is not yet evaluated by this process: its score is not raised until it is.
    /// </summary>
    public void Import(IEnumerable<ScorerState> states)
    {
        ArgumentNullException.ThrowIfNull(states);
        lock (_evaluating)
        {
            var now = _time.GetUtcNow();
            foreach (var s in states)
            {
                if (s.State == ProviderState.Unknown)
                    continue;
                if (!_tracks.TryGetValue(s.ProviderName, out var track))
                    _tracks[s.ProviderName] = track = new ProviderTrack(now);
                track.State = s.State;
                track.ReportedState = s.State;
                track.StateReason = "restored from the control plane's state table";
                track.Score = s.Score;
                track.Ewma = Math.Min(track.HasEwma ? track.Ewma : 100, s.Score);
                track.HasEwma = true;
                track.IsActive = s.IsActive;
                track.ReportedActive = s.IsActive;
                track.Ejections.Clear();
                foreach (var e in s.Ejections.Where(e => now - e < _options.EjectionHistory).Order())
                    track.Ejections.Enqueue(e);
                track.FailedAt = s.FailedAt ?? track.FailedAt;
                track.ProbationAt = s.OutUntil ?? track.ProbationAt;
                track.FailedEvaluations = s.FailedEvaluations;
                track.AtOrAboveRecover = s.ProbationProgress;
                track.BelowFailed = s.State == ProviderState.Failed ? _options.FailedEvaluations : 0;
                if (s.State == ProviderState.Failed)
                {
                    // Evidence counts from the restore on: the deliveries this process sees, or a probe after the failure.
                    track.LastFailureAtEjection = null;
                    track.SuccessesAtEjection = 0;
                }
            }
        }
    }

    /// <summary>The delivery counts of a provider over the window now.</summary>
    public DeliveryTotals Deliveries(string providerName) =>
        _deliveries.TryGetValue(providerName, out var window) ? window.Totals(_time.GetUtcNow()) : default;

    /// <summary>
    /// Scores every provider in <paramref name="byProvider"/> and advances its state.
    /// <paramref name="activeProvidersWithoutAgent"/>: active email providers no agent backs, for the panic guard.
    /// </summary>
    public IReadOnlyList<ProviderAssessment> Evaluate(IReadOnlyDictionary<string, AgentObservation> byProvider, int activeProvidersWithoutAgent)
    {
        ArgumentNullException.ThrowIfNull(byProvider);
        lock (_evaluating)
        {
            var now = _time.GetUtcNow();
            var steps = new List<Step>(byProvider.Count);
            foreach (var name in byProvider.Keys.Order(StringComparer.Ordinal))
            {
                if (!_tracks.TryGetValue(name, out var track))
                    _tracks[name] = track = new ProviderTrack(now);
                steps.Add(ScoreOne(name, track, byProvider[name], now));
            }

            ApplyDeactivations(steps, activeProvidersWithoutAgent);

            var result = new ProviderAssessment[steps.Count];
            for (int i = 0; i < steps.Count; i++)
            {
                var s = steps[i];
                bool changed = s.State != s.Track.ReportedState;
                bool activeChanged = s.Track.IsActive != s.Track.ReportedActive;
                s.Track.ReportedState = s.State;
                s.Track.ReportedActive = s.Track.IsActive;
                result[i] = new ProviderAssessment(s.Name, s.Track.Score, s.State, s.Track.IsActive, changed, string.Join("; ", s.Reason), s.Track.Components, now)
                {
                    ResponseTimeMs = s.ResponseTimeMs,
                    ActiveChanged = activeChanged,
                    Evaluated = s.Track.Evaluated,
                };
            }

            return result;
        }
    }

    private Step ScoreOne(string name, ProviderTrack track, AgentObservation observation, DateTimeOffset now)
    {
        var step = ScoreOneCore(name, track, observation, now);
        return observation.Probe is { } probe ? step with { ResponseTimeMs = (int)Math.Min(int.MaxValue, Math.Round(probe.ResponseTime.TotalMilliseconds)) } : step;
    }

    private Step ScoreOneCore(string name, ProviderTrack track, AgentObservation observation, DateTimeOffset now)
    {
        var heard = observation.LastHeartbeat ?? track.FirstSeen;
        var silent = now - heard;
        var probe = observation.Probe;
        bool gone = observation.AgentGone || (observation.LastHeartbeat != null && silent >= _options.HeartbeatFreezeAfter);
        var probeFails = gone && probe is { Ok: false } ? probe : null;
        if (probeFails == null)
        {
            if (observation.LastHeartbeat == null && silent < _options.HeartbeatZeroAfter)
            {
                return new Step(name, track, ProviderState.Unknown, false,
                    [$"unknown: no heartbeat from the agent yet (for {ScoreMath.Human(silent)}; score 0 after {ScoreMath.Human(_options.HeartbeatZeroAfter)} without one)"]);
            }

            if (gone && probe is { Ok: true })
            {
                // The agent cannot tell, but the host answers SMTP: nothing proves it broken, so nothing moves.
                return new Step(name, track, ProviderState.Unknown, false,
                    [$"unknown: the agent is unreachable (silent for {ScoreMath.Human(silent)}) but the SMTP probe passes ({probe.Reason}); score frozen at {track.Score}"
                        + (track.State is ProviderState.Unknown ? "" : $"; was {Word(track.State)}")]);
            }

            if (gone && silent < _options.HeartbeatZeroAfter)
            {
                // Frozen: nothing new is known, so neither the score nor the state moves.
                return new Step(name, track, ProviderState.Unknown, false,
                    [$"unknown: {(observation.AgentGone ? "the agent's connection is down" : "no heartbeat from the agent")} for {ScoreMath.Human(silent)}, score frozen at {track.Score} (0 after {ScoreMath.Human(_options.HeartbeatZeroAfter)} without one)"
                        + (track.State is ProviderState.Unknown ? "" : $"; was {Word(track.State)}")]);
            }
        }

        track.Evaluated = true;
        var caps = _signals.Caps(observation, now);
        if (probeFails != null)
            caps.Insert(0, new ScoreCap(0, $"the agent is unreachable and the SMTP probe fails ({probeFails.Reason})"));
        else if (silent >= _options.HeartbeatZeroAfter)
            caps.Insert(0, new ScoreCap(0, $"no heartbeat from the agent for {ScoreMath.Human(silent)}"));
        int cap = caps.Count == 0 ? 100 : caps.Min(c => c.Limit);

        _deliveries.TryGetValue(name, out var window);
        var evidence = window?.Evidence() ?? default;
        string? fresh = track.State == ProviderState.Failed ? FreshEvidence(track, evidence, probe) : null;
        if (fresh != null)
            track.DeliveryAfter = evidence.LastFailureAt; // the outage is over by fresh evidence: score the time since
        if (track.DeliveryAfter is { } after && now - after >= _options.DeliveryWindow)
            track.DeliveryAfter = null;
        var totals = window?.Totals(now, track.DeliveryAfter) ?? default;
        long growth = track.DeferredGrowth(observation.Queue, now, _options.DeferredGrowthWindow);
        var checks = probe is { Ok: false } && !gone
            ? [.. observation.Checks, new AgentCheck("probe", CheckStatus.Unhealthy, $"the control plane's SMTP probe fails: {probe.Reason}")]
            : observation.Checks;
        var parts = _signals.Components(observation with { Checks = checks }, totals, growth);
        double soft = _options.DeliveryWeight * parts.Delivery + _options.ReputationWeight * parts.Reputation + _options.QueueWeight * parts.Queue
            + _options.ChecksWeight * parts.Checks + _options.HostWeight * parts.Host;

        // Smooth the soft score, but let a cap pull the average down at once: fast down, slow up.
        track.Ewma = track.HasEwma ? _options.EwmaAlpha * soft + (1 - _options.EwmaAlpha) * track.Ewma : soft;
        track.HasEwma = true;
        track.Ewma = Math.Min(track.Ewma, cap);
        track.Score = (int)Math.Round(Math.Clamp(track.Ewma, 0, 100), MidpointRounding.AwayFromZero);
        track.Components = new Dictionary<string, double>(StringComparer.Ordinal)
        {
            ["delivery"] = parts.Delivery,
            ["reputation"] = parts.Reputation,
            ["queue"] = parts.Queue,
            ["checks"] = parts.Checks,
            ["host"] = parts.Host,
            ["soft"] = track.Ewma / 100,
        };

        bool zeroCap = cap == 0;
        string capText = caps.Count == 0 ? "" : $"capped at {cap}: {string.Join("; ", caps.Where(c => c.Limit == cap).Select(c => c.Reason))}";
        Advance(track, zeroCap, capText, fresh, evidence, now);

        var reason = new List<string> { track.StateReason is { } why ? $"{Word(track.State)} ({why})" : Word(track.State) };
        string scoreText = $"score {track.Score}";
        if (capText.Length > 0)
            scoreText += $", {capText}";
        reason.Add(scoreText);
        if (track.State == ProviderState.Failed)
        {
            reason.Add($"failed for {track.FailedEvaluations} evaluations, out at least until {track.ProbationAt:HH:mm:ss} UTC; "
                + (fresh == null
                    ? $"back on fresh evidence only ({_options.RecoverDeliveries} deliveries after the last failure, or a passing SMTP probe)"
                    : $"fresh evidence: {fresh}")
                + $" and a score of {_options.FailedBelow} or above");
        }

        if (track.State == ProviderState.Probation)
            reason.Add($"{track.AtOrAboveRecover} of {_options.RecoverEvaluations} evaluations at {_options.RecoverAtOrAbove} or above");
        reason.AddRange(parts.Weak);
        bool wantsInactive = track.State == ProviderState.Failed && track.FailedEvaluations >= _options.DeactivateAfterFailedEvaluations;
        return new Step(name, track, track.State, wantsInactive, reason) { ZeroCap = zeroCap };
    }

    /// <summary>
    /// What says a failed host works again, or null: deliveries that went well after its last server failure (and after it
    /// failed), or an active probe that passed after it failed. Time alone is not evidence.
    /// </summary>
    private string? FreshEvidence(ProviderTrack track, DeliveryEvidence evidence, ProbeObservation? probe)
    {
        long successes = evidence.LastFailureAt == track.LastFailureAtEjection
            ? evidence.SuccessesSinceLastFailure - track.SuccessesAtEjection
            : evidence.SuccessesSinceLastFailure;
        if (successes >= _options.RecoverDeliveries)
            return $"{successes} deliveries without a server failure since {(evidence.LastFailureAt is { } f ? $"{f:HH:mm:ss} UTC" : "the ejection")}";
        if (probe is { Ok: true } && probe.At > track.FailedAt)
            return $"the SMTP probe passed at {probe.At:HH:mm:ss} UTC ({probe.Reason})";
        return null;
    }

    /// <summary>
    /// The state machine: healthy ⇄ degraded → failed → (ejection time over, fresh evidence, score at or above the failed
    /// threshold) → probation → healthy, or failed again.
    /// </summary>
    private void Advance(ProviderTrack track, bool zeroCap, string capText, string? fresh, DeliveryEvidence evidence, DateTimeOffset now)
    {
        if (track.State == ProviderState.Unknown)
            track.State = ProviderState.Healthy;
        track.BelowDegraded = track.Score < _options.DegradedBelow ? track.BelowDegraded + 1 : 0;
        track.BelowFailed = track.Score < _options.FailedBelow ? track.BelowFailed + 1 : 0;
        track.AtOrAboveRecover = track.Score >= _options.RecoverAtOrAbove ? track.AtOrAboveRecover + 1 : 0;

        switch (track.State)
        {
            case ProviderState.Healthy or ProviderState.Degraded:
                if (zeroCap)
                    Fail(track, capText, evidence, now);
                else if (track.BelowFailed >= _options.FailedEvaluations)
                    Fail(track, $"score below {_options.FailedBelow} for {track.BelowFailed} evaluations", evidence, now);
                else if (track.State == ProviderState.Healthy && track.BelowDegraded >= _options.DegradedEvaluations)
                    Enter(track, ProviderState.Degraded, $"score below {_options.DegradedBelow} for {track.BelowDegraded} evaluations");
                else if (track.State == ProviderState.Degraded && track.AtOrAboveRecover >= _options.RecoverEvaluations)
                    Enter(track, ProviderState.Healthy, $"score {_options.RecoverAtOrAbove} or above for {track.AtOrAboveRecover} evaluations");
                break;
            case ProviderState.Failed:
                track.FailedEvaluations++;
                if (now >= track.ProbationAt && !zeroCap && fresh != null && track.Score >= _options.FailedBelow)
                {
                    Enter(track, ProviderState.Probation, $"fresh evidence after {ScoreMath.Human(now - track.FailedAt)} out: {fresh}; score {track.Score}");
                    track.IsActive = true;
                    track.BelowDegraded = track.BelowFailed = track.AtOrAboveRecover = 0;
                }

                break;
            case ProviderState.Probation:
                if (zeroCap)
                    Fail(track, $"on probation, {capText}", evidence, now);
                else if (track.BelowFailed >= _options.ProbationFailedEvaluations)
                    Fail(track, $"on probation, score below {_options.FailedBelow} for {track.BelowFailed} evaluations", evidence, now);
                else if (track.AtOrAboveRecover >= _options.RecoverEvaluations)
                    Enter(track, ProviderState.Healthy, $"recovered: score {_options.RecoverAtOrAbove} or above for {track.AtOrAboveRecover} evaluations on probation");
                break;
        }
    }

    private static void Enter(ProviderTrack track, ProviderState state, string why)
    {
        track.State = state;
        track.StateReason = why;
    }

    private void Fail(ProviderTrack track, string why, DeliveryEvidence evidence, DateTimeOffset now)
    {
        track.FailedAt = now;
        track.DeliveryAfter = null;
        track.LastFailureAtEjection = evidence.LastFailureAt;
        track.SuccessesAtEjection = evidence.SuccessesSinceLastFailure;
        while (track.Ejections.Count > 0 && now - track.Ejections.Peek() >= _options.EjectionHistory)
            track.Ejections.Dequeue();
        track.Ejections.Enqueue(now);
        var ejection = TimeSpan.FromTicks(Math.Min(_options.EjectionBase.Ticks * track.Ejections.Count, _options.EjectionMax.Ticks));
        double jitter = 1 + _options.EjectionJitter * (2 * _random.NextDouble() - 1);
        track.EjectionTime = TimeSpan.FromTicks((long)(ejection.Ticks * jitter));
        track.ProbationAt = now + track.EjectionTime;
        track.FailedEvaluations = 1;
        Enter(track, ProviderState.Failed, $"{why}; ejection {track.Ejections.Count} in {ScoreMath.Human(_options.EjectionHistory)}: out for {ScoreMath.Human(track.EjectionTime)}");
    }

    /// <summary>
    /// is_active = false for failed providers past the limit, except the last active one on soft signals alone
    /// (panic guard): better a weak provider than none. Providers on a cap of 0 go first, then the lowest scores.
    /// </summary>
    private void ApplyDeactivations(List<Step> steps, int activeProvidersWithoutAgent)
    {
        int active = activeProvidersWithoutAgent + steps.Count(s => s.Track.IsActive);
        foreach (var s in steps.Where(s => s.WantsInactive).OrderByDescending(s => s.ZeroCap).ThenBy(s => s.Track.Score).ThenBy(s => s.Name, StringComparer.Ordinal))
        {
            if (!s.Track.IsActive)
            {
                s.Reason.Add($"inactive after {_options.DeactivateAfterFailedEvaluations} failed evaluations");
                continue;
            }

            if (s.ZeroCap || !_options.PanicGuard || active > 1)
            {
                s.Track.IsActive = false;
                active--;
                s.Reason.Add($"is_active set false after {_options.DeactivateAfterFailedEvaluations} failed evaluations");
            }
            else
            {
                s.Reason.Add($"panic guard: kept active as the last active email provider ({activeProvidersWithoutAgent} without an agent); only soft signals are against it");
            }
        }
    }

    private static string Word(ProviderState state) => state.ToString().ToLowerInvariant();

    private sealed record Step(string Name, ProviderTrack Track, ProviderState State, bool WantsInactive, List<string> Reason)
    {
        public bool ZeroCap { get; init; }

        public int? ResponseTimeMs { get; init; }
    }

    /// <summary>One provider's memory between evaluations.</summary>
    private sealed class ProviderTrack(DateTimeOffset firstSeen)
    {
        private const int MaxQueueSamples = 4096;
        private readonly Queue<(DateTimeOffset At, long Deferred)> _deferred = new();
        private (DateTimeOffset At, long Deferred) _latest;

        public DateTimeOffset FirstSeen { get; } = firstSeen;
        public ProviderState State { get; set; } = ProviderState.Unknown;
        public ProviderState ReportedState { get; set; } = ProviderState.Unknown;
        public string? StateReason { get; set; }
        public bool HasEwma { get; set; }
        public double Ewma { get; set; } = 100;
        public int Score { get; set; } = 100;
        public bool IsActive { get; set; } = true;
        public bool ReportedActive { get; set; } = true;
        public bool Evaluated { get; set; }
        public DateTimeOffset FailedAt { get; set; }
        public DateTimeOffset? DeliveryAfter { get; set; }
        public DateTimeOffset? LastFailureAtEjection { get; set; }
        public long SuccessesAtEjection { get; set; }
        public IReadOnlyDictionary<string, double> Components { get; set; } = new Dictionary<string, double>(StringComparer.Ordinal)
        {
            ["delivery"] = 1, ["reputation"] = 1, ["queue"] = 1, ["checks"] = 1, ["host"] = 1, ["soft"] = 1,
        };
        public int BelowDegraded { get; set; }
        public int BelowFailed { get; set; }
        public int AtOrAboveRecover { get; set; }
        public int FailedEvaluations { get; set; }
        public DateTimeOffset ProbationAt { get; set; }
        public TimeSpan EjectionTime { get; set; }
        public Queue<DateTimeOffset> Ejections { get; } = new();

        /// <summary>Growth of the deferred queue since the oldest snapshot inside the growth window (kept as the baseline).</summary>
        public long DeferredGrowth(QueueObservation? queue, DateTimeOffset now, TimeSpan window)
        {
            if (queue != null && (_deferred.Count == 0 || queue.TakenAt > _latest.At))
            {
                _latest = (queue.TakenAt, queue.DeferredMessages);
                _deferred.Enqueue(_latest);
                if (_deferred.Count > MaxQueueSamples)
                    _deferred.Dequeue();
            }

            // Keep one snapshot at or before the window's start as the baseline.
            while (_deferred.Count >= 2 && _deferred.ElementAt(1).At <= now - window)
                _deferred.Dequeue();
            return _deferred.Count < 2 ? 0 : _latest.Deferred - _deferred.Peek().Deferred;
        }
    }
}
