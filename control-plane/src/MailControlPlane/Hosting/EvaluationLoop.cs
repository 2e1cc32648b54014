using System.Globalization;
using System.Text.Json;
using MailControlPlane.Connections;
using MailControlPlane.Routing;
using MailControlPlane.Scoring;
using Prometheus;

namespace MailControlPlane.Hosting;

/// <summary>The scorer behind a seam: the loop and the connections need only these two calls.</summary>
internal interface IProviderEvaluator : IDeliveryRecorder
{
    IReadOnlyList<ProviderAssessment> Evaluate(IReadOnlyDictionary<string, AgentObservation> byProvider, int activeProvidersWithoutAgent);
}

/// <summary>
/// Every Scoring:EvaluationInterval: the agents' observations into the scorer, each verdict to the
/// routing-table writer, a health-log row on each state change, the verdicts to the API and metrics.
/// </summary>
internal sealed class EvaluationLoop : BackgroundService
{
    private readonly IObservationSource _source;
    private readonly IProviderEvaluator _evaluator;
    private readonly IRoutingTableSink _sink;
    private readonly ProviderBoard _board;
    private readonly TimeSpan _interval;
    private readonly TimeProvider _time;
    private readonly ILogger<EvaluationLoop> _logger;
    private readonly Gauge _score;
    private readonly Gauge _state;
    private readonly Gauge _active;
    private readonly Counter _evaluations;
    private readonly Counter _failures;
    private long _lastRunTicks;
    private readonly System.Threading.Channels.Channel<bool> _nudges =
        System.Threading.Channels.Channel.CreateBounded<bool>(new System.Threading.Channels.BoundedChannelOptions(1) { FullMode = System.Threading.Channels.BoundedChannelFullMode.DropWrite });

    /// <summary>
    /// Asks for a round now rather than at the next tick: an agent's health check changed or its
    /// connection came or went, so the routing row can follow within a fraction of a second.
    /// Deliveries do not nudge (they move the score through the window anyway).
    /// </summary>
    public void Nudge() => _nudges.Writer.TryWrite(true);

    public EvaluationLoop(IObservationSource source, IProviderEvaluator evaluator, IRoutingTableSink sink, ProviderBoard board,
        TimeSpan interval, TimeProvider time, CollectorRegistry registry, ILogger<EvaluationLoop> logger)
    {
        _source = source;
        _evaluator = evaluator;
        _sink = sink;
        _board = board;
        _interval = interval;
        _time = time;
        _logger = logger;
        var metrics = Prometheus.Metrics.WithCustomRegistry(registry);
        _score = metrics.CreateGauge("mailagent_cp_provider_health_score", "The provider's health score 0..100, as written to config.health_score.", "provider");
        _state = metrics.CreateGauge("mailagent_cp_provider_state", "1 for the provider's current state, 0 for the others.", "provider", "state");
        _active = metrics.CreateGauge("mailagent_cp_provider_active", "1 when the provider is written with is_active = true.", "provider");
        _evaluations = metrics.CreateCounter("mailagent_cp_evaluations_total", "Evaluation rounds run.");
        _failures = metrics.CreateCounter("mailagent_cp_evaluation_failures_total", "Evaluation rounds that threw.");
    }

    /// <summary>When the last round ended; null before the first.</summary>
    public DateTimeOffset? LastRun
    {
        get
        {
            long ticks = Interlocked.Read(ref _lastRunTicks);
            return ticks == 0 ? null : new DateTimeOffset(ticks, TimeSpan.Zero);
        }
    }

    public TimeSpan Interval => _interval;

    /// <summary>One round; public for tests.</summary>
    public IReadOnlyList<ProviderAssessment> EvaluateOnce()
    {
        var assessments = _evaluator.Evaluate(_source.Observations(), _sink.ActiveProvidersWithoutAgent);
        foreach (var a in assessments)
        {
            // Never raise (or write at all) a provider this process has not scored yet: the row keeps what it has.
            if (!a.Evaluated)
                continue;
            _sink.Publish(a);
            if (a.StateChanged || a.ActiveChanged)
            {
                _sink.Enqueue(ToLogEntry(a));
                Log.ProviderStateChanged(_logger, a.ProviderName, a.State, a.Score, a.IsActive, a.Reason);
            }

            _score.WithLabels(a.ProviderName).Set(a.Score);
            _active.WithLabels(a.ProviderName).Set(a.IsActive ? 1 : 0);
            foreach (var s in Enum.GetValues<ProviderState>())
                _state.WithLabels(a.ProviderName, StateName(s)).Set(s == a.State ? 1 : 0);
        }

        _board.Update(assessments);
        _evaluations.Inc();
        Interlocked.Exchange(ref _lastRunTicks, _time.GetUtcNow().UtcTicks);
        return assessments;
    }

    /// <summary>The health-log row for a state change: status in the table's vocabulary, components as JSON.</summary>
    public static HealthLogEntry ToLogEntry(ProviderAssessment a)
    {
        string status = a.State switch
        {
            ProviderState.Healthy => "healthy",
            ProviderState.Failed => "failed",
            _ => "degraded",
        };
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteString("kind", a.StateChanged ? HealthLogEntries.StateChange : HealthLogEntries.ActiveChange);
            json.WriteString("state", StateName(a.State));
            json.WriteNumber("score", a.Score);
            json.WriteBoolean("is_active", a.IsActive);
            json.WriteStartObject("components");
            foreach (var (name, value) in a.Components.OrderBy(c => c.Key, StringComparer.Ordinal))
                json.WriteNumber(name, Math.Round(value, 4));
            json.WriteEndObject();
            json.WriteEndObject();
        }

        return new HealthLogEntry(a.ProviderName, status, a.Reason, System.Text.Encoding.UTF8.GetString(buffer.ToArray()), a.EvaluatedAt, a.ResponseTimeMs);
    }

    public static string StateName(ProviderState state) => state.ToString().ToLower(CultureInfo.InvariantCulture);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            await _source.ReadyAsync(stoppingToken);
        }
        catch (OperationCanceledException)
        {
            return;
        }

        using var timer = new PeriodicTimer(_interval, _time);
        Task<bool>? tick = null;
        do
        {
            _nudges.Reader.TryRead(out _);
            try
            {
                EvaluateOnce();
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                // A bug in one round must not freeze the routing table silently: counted, logged, /health says so.
                _failures.Inc();
                Log.EvaluationFailed(_logger, e);
            }

            tick ??= WaitAsync(timer, stoppingToken);
            var nudge = _nudges.Reader.WaitToReadAsync(stoppingToken).AsTask();
            var first = await Task.WhenAny(tick, nudge);
            if (first == tick)
            {
                if (!await tick)
                    break;
                tick = null;
            }
            else if (stoppingToken.IsCancellationRequested)
                break;
        }
        while (true);
    }

    private static async Task<bool> WaitAsync(PeriodicTimer timer, CancellationToken cancellationToken)
    {
        try
        {
            return await timer.WaitForNextTickAsync(cancellationToken);
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }
}
