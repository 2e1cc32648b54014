using System.Collections.Concurrent;
using System.Text.Json;
using MailControlPlane.Registry;
using MailControlPlane.Routing;
using MailControlPlane.Scoring;
using Prometheus;

namespace MailControlPlane.Probing;

/// <summary>The latest probe of each provider, for the scorer.</summary>
internal interface IProbeResults
{
    ProbeObservation? Latest(string providerName);
}

/// <summary>
/// Probes every agent-backed provider's SMTP endpoint on its own schedule (Probing:Interval, started at a spread offset)
/// and keeps the latest result. The endpoint is Agents:N:ProbeHost/ProbePort when set, otherwise config.smtp_host /
/// smtp_port of the provider's routing row (read with the platform's query while the row is active, then remembered).
/// </summary>
internal sealed class ProbeRunner : BackgroundService, IProbeResults
{
    private readonly ProbeOptions _options;
    private readonly IReadOnlyList<RegisteredAgent> _agents;
    private readonly ISmtpProber _prober;
    private readonly IRoutingOrderReader? _rows;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly ConcurrentDictionary<string, ProbeObservation> _latest = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, ProbeTarget> _fromRows = new(StringComparer.Ordinal);
    private readonly Gauge _ok;
    private readonly Gauge _seconds;

    public ProbeRunner(ProbeOptions options, IReadOnlyList<RegisteredAgent> agents, ISmtpProber prober, IRoutingOrderReader? rows,
        TimeProvider time, CollectorRegistry registry, ILogger<ProbeRunner> logger)
    {
        _options = options;
        _agents = agents;
        _prober = prober;
        _rows = rows;
        _time = time;
        _logger = logger;
        var metrics = Prometheus.Metrics.WithCustomRegistry(registry);
        _ok = metrics.CreateGauge("mailagent_cp_probe_ok", "1 when the latest active SMTP probe of the provider passed.", "provider");
        _seconds = metrics.CreateGauge("mailagent_cp_probe_duration_seconds", "How long the latest active SMTP probe of the provider took.", "provider");
    }

    public ProbeObservation? Latest(string providerName) => _latest.TryGetValue(providerName, out var o) ? o : null;

    /// <summary>One probe of <paramref name="agent"/>'s provider now; public for tests. Null when no endpoint is known.</summary>
    public async Task<ProbeObservation?> ProbeOnceAsync(RegisteredAgent agent, CancellationToken cancellationToken)
    {
        var target = await TargetAsync(agent, cancellationToken);
        if (target == null)
            return null;
        var result = await _prober.ProbeAsync(target.Value, cancellationToken);
        var now = _time.GetUtcNow();
        var previous = Latest(agent.ProviderName);
        var observation = new ProbeObservation(now, result.Ok, result.Reason, result.Elapsed, result.Ok ? now : previous?.LastSuccessAt);
        _latest[agent.ProviderName] = observation;
        _ok.WithLabels(agent.ProviderName).Set(result.Ok ? 1 : 0);
        _seconds.WithLabels(agent.ProviderName).Set(result.Elapsed.TotalSeconds);
        if (!result.Ok && (previous == null || previous.Ok))
            Log.ProbeFailing(_logger, agent.ProviderName, result.Reason);
        else if (result.Ok && previous is { Ok: false })
            Log.ProbePassing(_logger, agent.ProviderName, result.Reason, (long)result.Elapsed.TotalMilliseconds);
        return observation;
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!_options.Enabled || _agents.Count == 0)
            return;
        await Task.WhenAll(_agents.Select((a, i) => Task.Run(() => RunAsync(a, i, stoppingToken), stoppingToken)));
    }

    private async Task RunAsync(RegisteredAgent agent, int index, CancellationToken stoppingToken)
    {
        try
        {
            // Spread the providers over the interval, so the probes do not all leave at once.
            await Task.Delay(_options.Interval * index / _agents.Count, _time, stoppingToken);
            bool announced = false, missingLogged = false;
            using var timer = new PeriodicTimer(_options.Interval, _time);
            do
            {
                var target = await TargetAsync(agent, stoppingToken);
                if (target == null)
                {
                    if (!missingLogged)
                        Log.NoProbeTarget(_logger, agent.ProviderName);
                    missingLogged = true;
                    continue;
                }

                if (!announced)
                    Log.ProbeTarget(_logger, agent.ProviderName, target.Value.Host, target.Value.Port, _options.Interval);
                announced = true;
                await ProbeOnceAsync(agent, stoppingToken);
            }
            while (await timer.WaitForNextTickAsync(stoppingToken));
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    private async Task<ProbeTarget?> TargetAsync(RegisteredAgent agent, CancellationToken cancellationToken)
    {
        if (!string.IsNullOrWhiteSpace(agent.ProbeHost))
            return new ProbeTarget(agent.ProbeHost, agent.ProbePort ?? 25);
        if (_rows != null)
        {
            try
            {
                foreach (var row in await _rows.ReadOrderAsync(cancellationToken))
                {
                    if (TargetOf(row.ConfigJson) is { } t)
                        _fromRows[row.ProviderName] = t;
                }
            }
#pragma warning disable CA1031 // the database may be down: the remembered endpoint is used
            catch (Exception e) when (e is not OperationCanceledException)
#pragma warning restore CA1031
            {
            }
        }

        return _fromRows.TryGetValue(agent.ProviderName, out var target) ? target : null;
    }

    /// <summary>config.smtp_host and smtp_port (25 when absent) of a routing row; null without a host.</summary>
    internal static ProbeTarget? TargetOf(string configJson)
    {
        try
        {
            using var doc = JsonDocument.Parse(configJson);
            if (doc.RootElement.ValueKind != JsonValueKind.Object
                || !doc.RootElement.TryGetProperty("smtp_host", out var host) || host.ValueKind != JsonValueKind.String
                || string.IsNullOrWhiteSpace(host.GetString()))
                return null;
            int port = doc.RootElement.TryGetProperty("smtp_port", out var p) && p.ValueKind == JsonValueKind.Number && p.TryGetInt32(out int n) && n is > 0 and < 65536 ? n : 25;
            return new ProbeTarget(host.GetString()!, port);
        }
        catch (JsonException)
        {
            return null;
        }
    }
}

/// <summary>The agents' observations with each provider's latest probe added: what the evaluation loop reads.</summary>
internal sealed class ProbedObservationSource(Connections.IObservationSource inner, IProbeResults probes) : Connections.IObservationSource
{
    public IReadOnlyDictionary<string, AgentObservation> Observations() =>
        inner.Observations().ToDictionary(p => p.Key, p => probes.Latest(p.Key) is { } probe ? p.Value with { Probe = probe } : p.Value, StringComparer.Ordinal);

    public Task ReadyAsync(CancellationToken cancellationToken) => inner.ReadyAsync(cancellationToken);
}
