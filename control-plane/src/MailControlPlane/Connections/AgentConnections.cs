using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using Grpc.Net.Client;
using MailAgent.Protos.V1;
using MailControlPlane.Registry;
using MailControlPlane.Scoring;

namespace MailControlPlane.Connections;

/// <summary>
/// Every agent's connection, run for the host's lifetime; the evaluation loop and the API read them.
/// Agents may be added and removed while running (<see cref="ApplyAsync"/>, from a configuration reload).
/// </summary>
internal sealed class AgentConnections : BackgroundService, IObservationSource
{
    private sealed record Running(long Order, AgentConnection Connection, GrpcChannel Channel, CancellationTokenSource Stop, Task Task);

    private readonly Lock _lock = new();
    private readonly Dictionary<string, Running> _running = new(StringComparer.Ordinal);
    private readonly TlsOptions _tls;
    private readonly ConnectionOptions _options;
    private readonly IDeliveryRecorder _deliveries;
    private readonly DeliveryEvents.IDeliveryEventSink? _events;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly TimeSpan _readyTimeout;
    private readonly List<RegisteredAgent> _initial;
    private IReadOnlyList<AgentConnection> _all = [];
    private SocketsHttpHandler? _handler;
    private CancellationToken _stopping = CancellationToken.None;
    private bool _started;
    private long _created;

    public AgentConnections(AgentRegistry registry, TlsOptions tls, ConnectionOptions options, IDeliveryRecorder deliveries,
        TimeProvider time, ILoggerFactory loggers, DeliveryEvents.IDeliveryEventSink? events = null)
    {
        _logger = loggers.CreateLogger<AgentConnections>();
        _tls = tls;
        _options = options;
        _deliveries = deliveries;
        _time = time;
        _readyTimeout = options.HeartbeatTimeout;
        _events = events;
        _initial = [.. registry.Agents];
        foreach (var agent in _initial)
            Create(agent);
    }

    public IReadOnlyList<AgentConnection> All => Volatile.Read(ref _all);

    /// <summary>Called when an agent's checks change or its connection comes or goes (the evaluation loop's nudge).</summary>
    public Action? Changed { get; set; }

    public AgentConnection? Find(string name) => All.FirstOrDefault(c => c.Agent.Name == name);

    public int ConnectedCount => All.Count(c => c.Snapshot().State == ConnectionState.Connected);

    /// <summary>
    /// Waits until every agent answered once, at most HeartbeatTimeout, so that the first evaluation
    /// does not take a connection still being set up (TLS, a cold start) for a silent agent.
    /// </summary>
    public async Task ReadyAsync(CancellationToken cancellationToken)
    {
        try
        {
            await Task.WhenAll(All.Select(c => c.FirstAnswer)).WaitAsync(_readyTimeout, _time, cancellationToken);
        }
        catch (TimeoutException)
        {
            // A silent agent: the scorer's heartbeat rule takes it from here.
        }
    }

    /// <summary>The scorer's input: each provider's agent observation.</summary>
    public IReadOnlyDictionary<string, AgentObservation> Observations() =>
        All.ToDictionary(c => c.Agent.ProviderName, c => c.Observation(), StringComparer.Ordinal);

    /// <summary>
    /// Makes the running set match <paramref name="agents"/>: stops the connections of agents no longer
    /// listed (or whose address or provider changed) and starts the new ones; the others are untouched.
    /// Returns the names added and removed.
    /// </summary>
    public async Task<(IReadOnlyList<string> Added, IReadOnlyList<string> Removed)> ApplyAsync(IReadOnlyList<RegisteredAgent> agents)
    {
        var wanted = agents.ToDictionary(a => a.Name, StringComparer.Ordinal);
        List<Running> stopped = [];
        List<string> added = [];
        lock (_lock)
        {
            foreach (var (name, running) in _running.ToList())
            {
                if (!wanted.TryGetValue(name, out var agent) || agent != running.Connection.Agent)
                {
                    _running.Remove(name);
                    stopped.Add(running);
                }
            }

            foreach (var agent in agents.Where(a => !_running.ContainsKey(a.Name)))
            {
                Create(agent);
                added.Add(agent.Name);
            }

            Publish();
        }

        foreach (var running in stopped)
        {
            await running.Stop.CancelAsync();
            try
            {
                await running.Task;
            }
            catch (OperationCanceledException)
            {
                // Stopped, as asked.
            }

            running.Channel.Dispose();
            running.Stop.Dispose();
        }

        return (added, stopped.Select(r => r.Connection.Agent.Name).ToList());
    }

    /// <summary>
    /// A channel over mutual TLS: our client certificate, and the agent's server certificate checked
    /// against the configured CA only (not the system store) and against the address's host name.
    /// </summary>
    public static GrpcChannel CreateChannel(Uri address, X509Certificate2 clientCertificate, X509Certificate2Collection ca, TimeProvider time, ConnectionOptions options) =>
        GrpcChannel.ForAddress(address, new GrpcChannelOptions { HttpHandler = CreateHandler(clientCertificate, ca, time, options), DisposeHttpClient = true });

    /// <summary>
    /// The one handler every agent's channel shares: a connection pool per agent address inside one
    /// handler, rather than a handler (timers, pools, TLS state) per agent; a thousand agents cost
    /// a thousand connections and nothing more.
    /// </summary>
    public static SocketsHttpHandler CreateHandler(X509Certificate2 clientCertificate, X509Certificate2Collection ca, TimeProvider time, ConnectionOptions options) => new()
    {
        ConnectTimeout = options.CallTimeout,
        EnableMultipleHttp2Connections = true,
        // Pings find a dead peer on an otherwise silent watch stream.
        KeepAlivePingDelay = options.HeartbeatTimeout,
        KeepAlivePingTimeout = options.CallTimeout,
        KeepAlivePingPolicy = HttpKeepAlivePingPolicy.Always,
        // A removed agent's connection closes soon after its stream was cancelled.
        PooledConnectionIdleTimeout = TimeSpan.FromSeconds(30),
        SslOptions = new SslClientAuthenticationOptions
        {
            ClientCertificates = [clientCertificate],
            RemoteCertificateValidationCallback = CertificateChains.ServerTrustedBy(ca, time),
        },
    };

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        lock (_lock)
        {
            _stopping = stoppingToken;
            _started = true;
            foreach (var name in _running.Keys.ToList())
                _running[name] = Start(_running[name]);
        }

        try
        {
            await Task.Delay(Timeout.InfiniteTimeSpan, _time, stoppingToken);
        }
        catch (OperationCanceledException)
        {
            // Stopping.
        }

        Task[] tasks;
        lock (_lock)
            tasks = [.. _running.Values.Select(r => r.Task)];
        await Task.WhenAll(tasks.Select(t => t.ContinueWith(_ => { }, TaskScheduler.Default)));
    }

    /// <summary>A connection for <paramref name="agent"/> (under the lock or in the constructor); started at once when the host runs.</summary>
    private void Create(RegisteredAgent agent)
    {
        if (_handler == null)
        {
            var ca = CertificateChains.LoadCa(_tls.CaFile);
            var client = X509Certificate2.CreateFromPemFile(_tls.CertificateFile, _tls.KeyFile);
            _handler = CreateHandler(client, ca, _time, _options);
        }

        var channel = GrpcChannel.ForAddress(agent.Address, new GrpcChannelOptions { HttpHandler = _handler, DisposeHttpClient = false });
        var connection = new AgentConnection(agent, new AgentService.AgentServiceClient(channel), _options, _deliveries, _time, _logger, () => Changed?.Invoke(), _events);
        var running = new Running(++_created, connection, channel, new CancellationTokenSource(), Task.CompletedTask);
        _running[agent.Name] = _started ? Start(running) : running;
        Publish();
    }

    private Running Start(Running running)
    {
        var token = CancellationTokenSource.CreateLinkedTokenSource(_stopping, running.Stop.Token).Token;
        return running with { Task = Task.Run(() => running.Connection.RunAsync(token), CancellationToken.None) };
    }

    private void Publish() =>
        Volatile.Write(ref _all, _running.Values.OrderBy(r => r.Order).Select(r => r.Connection).ToList());

    public override void Dispose()
    {
        lock (_lock)
        {
            foreach (var running in _running.Values)
            {
                running.Channel.Dispose();
                running.Stop.Dispose();
            }
        }

        _handler?.Dispose();
        base.Dispose();
    }
}
