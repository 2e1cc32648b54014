using Grpc.Core;
using MailAgent.Protos.V1;
using MailControlPlane.Registry;
using MailControlPlane.Scoring;

namespace MailControlPlane.Connections;

/// <summary>Where a connection to an agent stands.</summary>
internal enum ConnectionState
{
    Connecting,
    Connected,
    Unreachable,
}

/// <summary>Receives the deliveries the agents report (the health scorer).</summary>
internal interface IDeliveryRecorder
{
    void RecordDelivery(string providerName, DateTimeOffset at, DeliveryOutcomeKind outcome, string dsn);
}

/// <summary>What the control plane knows about one agent right now.</summary>
internal sealed record AgentSnapshot(
    RegisteredAgent Agent, ConnectionState State, DateTimeOffset? LastHeartbeat, IReadOnlyList<AgentCheck> Checks,
    QueueObservation? Queue, string LastError, DateTimeOffset? ChangeStartedAt);

/// <summary>
/// One agent: a WatchEvents stream resumed from the last sequence seen that also carries the
/// agent's heartbeat (status and queue every StatusInterval), so nothing is polled. GetStatus and
/// GetQueue run only when the stream has been silent for longer than a heartbeat (connect, resume,
/// an agent too old to send heartbeats) or when an operator asks (<see cref="RefreshAsync"/>).
/// A heartbeat deadline, and jittered exponential backoff between attempts.
/// </summary>
internal sealed class AgentConnection
{
    private readonly AgentService.AgentServiceClient _client;
    private readonly ConnectionOptions _options;
    private readonly IDeliveryRecorder _deliveries;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly Lock _lock = new();
    private ConnectionState _state = ConnectionState.Connecting;
    private DateTimeOffset? _lastHeartbeat;
    private IReadOnlyList<AgentCheck> _checks = [];
    private QueueObservation? _queue;
    private string _lastError = "";
    private DateTimeOffset? _changeStartedAt;
    private ulong _lastSequence;
    private string _runId = "";
    private readonly DeliveryEvents.IDeliveryEventSink? _events;
    private CancellationTokenSource? _watchCall;
    private long _heartbeats;
    private readonly Action? _changed;
    private TimeSpan? _responseTime;
    private long _statusCalls;
    private readonly TaskCompletionSource _firstAnswer = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public AgentConnection(RegisteredAgent agent, AgentService.AgentServiceClient client, ConnectionOptions options,
        IDeliveryRecorder deliveries, TimeProvider time, ILogger logger, Action? changed = null, DeliveryEvents.IDeliveryEventSink? events = null)
    {
        _changed = changed;
        _events = events;
        Agent = agent;
        _client = client;
        _options = options;
        _deliveries = deliveries;
        _time = time;
        _logger = logger;
    }

    public RegisteredAgent Agent { get; }

    public AgentService.AgentServiceClient Client => _client;

    /// <summary>Completes when the agent first answered.</summary>
    public Task FirstAnswer => _firstAnswer.Task;

    public AgentSnapshot Snapshot()
    {
        lock (_lock)
            return new AgentSnapshot(Agent, _state, _lastHeartbeat, _checks, _queue, _lastError, _changeStartedAt);
    }

    public AgentObservation Observation()
    {
        lock (_lock)
            return new AgentObservation(_lastHeartbeat, _checks, _queue, _changeStartedAt, AgentGone: _lastHeartbeat != null && _state != ConnectionState.Connected);
    }

    /// <summary>Marks a config apply in progress (the scorer caps the score meanwhile); null ends it.</summary>
    public void SetChangeInProgress(DateTimeOffset? startedAt)
    {
        lock (_lock)
            _changeStartedAt = startedAt;
    }

    /// <summary>
    /// How long the agent takes to answer: a GetStatus round trip, or a heartbeat's transit (its
    /// arrival less the agent's own timestamp). Null before the first.
    /// </summary>
    public TimeSpan? ResponseTime
    {
        get
        {
            lock (_lock)
                return _responseTime;
        }
    }

    /// <summary>Heartbeats received on the stream.</summary>
    public long Heartbeats => Interlocked.Read(ref _heartbeats);

    /// <summary>GetStatus calls made (silence fallback and operator refreshes).</summary>
    public long StatusCalls => Interlocked.Read(ref _statusCalls);

    public Task RunAsync(CancellationToken cancellationToken) =>
        Task.WhenAll(WatchLoopAsync(cancellationToken), WatchdogLoopAsync(cancellationToken));

    private async Task WatchLoopAsync(CancellationToken cancellationToken)
    {
        var backoff = new Backoff(_options.BackoffMin, _options.BackoffMax, Random.Shared);
        try
        {
            // Spread the first dials: a thousand TLS handshakes at once only make each of them late.
            await Task.Delay(InitialSpread(), _time, cancellationToken);
        }
        catch (OperationCanceledException)
        {
            return;
        }

        if (_events != null)
        {
            // Resume where the events table stands, so a control-plane restart neither loses nor repeats.
            try
            {
                var cursor = await _events.CursorAsync(Agent.Name, cancellationToken);
                lock (_lock)
                {
                    _lastSequence = (ulong)cursor.Sequence;
                    _runId = cursor.AgentRun ?? "";
                }
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }

        while (!cancellationToken.IsCancellationRequested)
        {
            using var call = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            lock (_lock)
                _watchCall = call;
            try
            {
                ulong resumeAfter;
                string runId;
                lock (_lock)
                    (resumeAfter, runId) = (_lastSequence, _runId);
                using var stream = _client.WatchEvents(
                    new WatchEventsRequest { ResumeAfter = resumeAfter, RunId = runId, HeartbeatInterval = Google.Protobuf.WellKnownTypes.Duration.FromTimeSpan(_options.StatusInterval) },
                    cancellationToken: call.Token);
                await foreach (var message in stream.ResponseStream.ReadAllAsync(call.Token))
                {
                    Heard();
                    backoff.Reset();
                    Handle(message);
                    if (_events != null)
                        await StoreAsync(message, call.Token);
                }

                Failed("the agent ended the event stream");
            }
            catch (RpcException e) when (!cancellationToken.IsCancellationRequested)
            {
                if (!call.IsCancellationRequested)
                    Failed(Describe(e));
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                // The heartbeat deadline cancelled the call: dial again.
            }
            catch (Exception e) when (e is OperationCanceledException or RpcException)
            {
                return;
            }

            try
            {
                await Task.Delay(backoff.Next(), _time, cancellationToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    private void Handle(WatchEventsResponse message)
    {
        if (message.KindCase == WatchEventsResponse.KindOneofCase.EventsLost)
        {
            var lost = message.EventsLost;
            if (lost.FirstMissed > lost.FirstAvailable)
                Log.AgentRestarted(_logger, Agent.Name, lost.FirstAvailable, lost.FirstMissed - 1);
            else
                Log.EventsLost(_logger, Agent.Name, lost.FirstMissed, lost.FirstAvailable - 1, lost.FirstAvailable);
            return;
        }

        if (message.KindCase == WatchEventsResponse.KindOneofCase.Heartbeat)
        {
            Interlocked.Increment(ref _heartbeats);
            var heartbeat = message.Heartbeat;
            var checks = heartbeat.Status?.Checks.Select(AgentMapping.Check).ToList();
            var queue = heartbeat.Queue is { } q ? AgentMapping.Queue(q) : null;
            var transit = heartbeat.At is { } sent ? _time.GetUtcNow() - sent.ToDateTimeOffset() : (TimeSpan?)null;
            lock (_lock)
            {
                if (transit != null)
                    _responseTime = transit < TimeSpan.Zero ? TimeSpan.Zero : transit;
                if (checks != null)
                    _checks = checks;
                if (queue != null)
                    _queue = queue;
            }

            return;
        }

        if (message.KindCase != WatchEventsResponse.KindOneofCase.Event)
            return;
        var e = message.Event;
        lock (_lock)
            _lastSequence = e.Sequence;
        var at = e.ObservedAt?.ToDateTimeOffset() ?? _time.GetUtcNow();
        if (e.KindCase == AgentEvent.KindOneofCase.Delivery && AgentMapping.Outcome(e.Delivery.Outcome) is { } outcome)
            _deliveries.RecordDelivery(Agent.ProviderName, at, outcome, e.Delivery.Dsn);
        else if (e.KindCase == AgentEvent.KindOneofCase.HealthChange)
        {
            lock (_lock)
                _checks = AgentMapping.WithChange(_checks, e.HealthChange);
            _changed?.Invoke();
        }
    }

    /// <summary>Hands delivery events to the sink (waiting while its buffer is full) and remembers the run.</summary>
    private async Task StoreAsync(WatchEventsResponse message, CancellationToken cancellationToken)
    {
        if (message.KindCase == WatchEventsResponse.KindOneofCase.EventsLost)
        {
            _events!.Lost(Agent.Name, message.EventsLost.FirstMissed, message.EventsLost.FirstAvailable);
            return;
        }

        if (message.KindCase != WatchEventsResponse.KindOneofCase.Event)
            return;
        lock (_lock)
            _runId = message.Event.RunId;
        if (message.Event.KindCase == AgentEvent.KindOneofCase.Delivery)
            await _events!.WriteAsync(Agent.Name, Agent.ProviderName, message.Event, cancellationToken);
    }

    /// <summary>
    /// Every StatusInterval (jittered): when the stream has been silent for longer than a heartbeat
    /// (just connected, resuming, or an agent that sends no heartbeats), asks GetStatus and GetQueue
    /// once; then checks the heartbeat deadline. An agent whose heartbeats flow is never polled.
    /// </summary>
    private async Task WatchdogLoopAsync(CancellationToken cancellationToken)
    {
        var backoff = new Backoff(_options.BackoffMin, _options.BackoffMax, Random.Shared);
        try
        {
            // The stream's first heartbeat normally arrives before this: poll only if it did not.
            await Task.Delay(InitialSpread() + Jitter(_options.StatusInterval), _time, cancellationToken);
        }
        catch (OperationCanceledException)
        {
            return;
        }

        while (!cancellationToken.IsCancellationRequested)
        {
            var wait = Jitter(_options.StatusInterval);
            DateTimeOffset? last;
            lock (_lock)
                last = _lastHeartbeat;
            if (last == null || _time.GetUtcNow() - last.Value > _options.StatusInterval * 1.5)
            {
                try
                {
                    await PollAsync(cancellationToken);
                    backoff.Reset();
                }
                catch (RpcException e) when (!cancellationToken.IsCancellationRequested)
                {
                    Failed(Describe(e));
                    wait = Min(backoff.Next(), _options.StatusInterval);
                }
                catch (Exception e) when (e is OperationCanceledException or RpcException)
                {
                    return;
                }
            }

            CheckHeartbeat();
            try
            {
                await Task.Delay(wait, _time, cancellationToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    /// <summary>GetStatus and GetQueue now (an operator asked); failures are reported and thrown.</summary>
    public async Task RefreshAsync(CancellationToken cancellationToken)
    {
        try
        {
            await PollAsync(cancellationToken);
        }
        catch (RpcException e) when (!cancellationToken.IsCancellationRequested)
        {
            Failed(Describe(e));
            throw;
        }
    }

    private async Task PollAsync(CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _statusCalls);
        var started = _time.GetTimestamp();
        var status = await _client.GetStatusAsync(new GetStatusRequest(), deadline: Deadline(), cancellationToken: cancellationToken);
        var took = _time.GetElapsedTime(started);
        var checks = status.Checks.Select(AgentMapping.Check).ToList();
        lock (_lock)
        {
            _checks = checks;
            _responseTime = took;
        }
        Heard();
        try
        {
            var queue = await _client.GetQueueAsync(new GetQueueRequest(), deadline: Deadline(), cancellationToken: cancellationToken);
            lock (_lock)
                _queue = AgentMapping.Queue(queue);
            Heard();
        }
        catch (RpcException e) when (e.StatusCode == StatusCode.Unavailable && !cancellationToken.IsCancellationRequested)
        {
            // No queue inspector on that agent (Queue:Enabled=false): the score goes without the queue.
        }
    }

    /// <summary>A random delay of up to two seconds (at most BackoffMax) before the first dial.</summary>
    private TimeSpan InitialSpread() =>
        TimeSpan.FromMilliseconds(Random.Shared.NextDouble() * Math.Min(2000, _options.BackoffMax.TotalMilliseconds));

    /// <summary>0.8 to 1.2 times <paramref name="interval"/>, so that a thousand agents' timers do not fire together.</summary>
    private static TimeSpan Jitter(TimeSpan interval) => interval * (0.8 + (Random.Shared.NextDouble() * 0.4));

    /// <summary>No answer within HeartbeatTimeout: the agent is unreachable, and a silent watch stream is dialled again.</summary>
    private void CheckHeartbeat()
    {
        var now = _time.GetUtcNow();
        CancellationTokenSource? stale = null;
        TimeSpan silence;
        lock (_lock)
        {
            silence = now - (_lastHeartbeat ?? DateTimeOffset.MinValue);
            if (_lastHeartbeat == null || silence <= _options.HeartbeatTimeout)
                return;
            if (_state == ConnectionState.Connected)
                stale = _watchCall;
        }

        SetState(ConnectionState.Unreachable, $": no answer for {silence:g}");
        if (stale != null)
        {
            Log.HeartbeatMissed(_logger, Agent.Name, silence);
            try
            {
                stale.Cancel();
            }
            catch (ObjectDisposedException)
            {
                // That call already ended.
            }
        }
    }

    private void Heard()
    {
        lock (_lock)
        {
            _lastHeartbeat = _time.GetUtcNow();
            _lastError = "";
        }

        _firstAnswer.TrySetResult();

        SetState(ConnectionState.Connected, "");
    }

    private void Failed(string error)
    {
        bool silent;
        bool repeated;
        lock (_lock)
        {
            repeated = _lastError == error;
            _lastError = error;
            silent = _lastHeartbeat == null || _time.GetUtcNow() - _lastHeartbeat.Value > _options.HeartbeatTimeout;
        }

        // Logged once per distinct error: a down agent does not fill the log at every retry.
        if (!repeated)
            Log.CallFailed(_logger, Agent.Name, error);
        SetState(silent && _lastHeartbeat != null ? ConnectionState.Unreachable : ConnectionState.Connecting, ": " + error);
    }

    private void SetState(ConnectionState state, string detail)
    {
        ConnectionState from;
        lock (_lock)
        {
            from = _state;
            if (from == state)
                return;
            _state = state;
        }

        Log.StateChanged(_logger, Agent.Name, Agent.Address, from, state, detail);
        _changed?.Invoke();
    }

    private DateTime Deadline() => _time.GetUtcNow().UtcDateTime + _options.CallTimeout;

    private static TimeSpan Min(TimeSpan a, TimeSpan b) => a < b ? a : b;

    private static string Describe(RpcException e) => $"{e.StatusCode}: {e.Status.Detail}";
}
