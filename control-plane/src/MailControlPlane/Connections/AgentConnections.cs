using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using Grpc.Net.Client;
using MailAgent.Protos.V1;
using MailControlPlane.Registry;
using MailControlPlane.Scoring;

namespace MailControlPlane.Connections;

/// <summary>Every agent's connection, run for the host's lifetime; the evaluation loop and the API read them.</summary>
internal sealed class AgentConnections : BackgroundService, Hosting.IObservationSource
{
    private readonly List<AgentConnection> _connections = [];
    private readonly List<GrpcChannel> _channels = [];
    private readonly TimeProvider _time;
    private readonly TimeSpan _readyTimeout;

    public AgentConnections(AgentRegistry registry, TlsOptions tls, ConnectionOptions options, IDeliveryRecorder deliveries,
        TimeProvider time, ILoggerFactory loggers, DeliveryEvents.IDeliveryEventSink? events = null)
    {
        var logger = loggers.CreateLogger<AgentConnections>();
        _time = time;
        _readyTimeout = options.HeartbeatTimeout;
        if (registry.Agents.Count == 0)
            return;
        var ca = Certificates.LoadCa(tls.CaFile);
        var client = X509Certificate2.CreateFromPemFile(tls.CertificateFile, tls.KeyFile);
        foreach (var agent in registry.Agents)
        {
            var channel = CreateChannel(agent.Address, client, ca, time, options);
            _channels.Add(channel);
            _connections.Add(new AgentConnection(agent, new AgentService.AgentServiceClient(channel), options, deliveries, time, logger, events));
        }
    }

    public IReadOnlyList<AgentConnection> All => _connections;

    public AgentConnection? Find(string name) => _connections.FirstOrDefault(c => c.Agent.Name == name);

    public int ConnectedCount => _connections.Count(c => c.Snapshot().State == ConnectionState.Connected);

    /// <summary>
    /// Waits until every agent answered once, at most HeartbeatTimeout, so that the first evaluation
    /// does not take a connection still being set up (TLS, a cold start) for a silent agent.
    /// </summary>
    public async Task ReadyAsync(CancellationToken cancellationToken)
    {
        try
        {
            await Task.WhenAll(_connections.Select(c => c.FirstAnswer)).WaitAsync(_readyTimeout, _time, cancellationToken);
        }
        catch (TimeoutException)
        {
            // A silent agent: the scorer's heartbeat rule takes it from here.
        }
    }

    /// <summary>The scorer's input: each provider's agent observation.</summary>
    public IReadOnlyDictionary<string, AgentObservation> Observations() =>
        _connections.ToDictionary(c => c.Agent.ProviderName, c => c.Observation(), StringComparer.Ordinal);

    /// <summary>
    /// A channel over mutual TLS: our client certificate, and the agent's server certificate checked
    /// against the configured CA only (not the system store) and against the address's host name.
    /// </summary>
    public static GrpcChannel CreateChannel(Uri address, X509Certificate2 clientCertificate, X509Certificate2Collection ca, TimeProvider time, ConnectionOptions options)
    {
        var handler = new SocketsHttpHandler
        {
            ConnectTimeout = options.CallTimeout,
            EnableMultipleHttp2Connections = true,
            // Pings find a dead peer on an otherwise silent watch stream.
            KeepAlivePingDelay = options.HeartbeatTimeout,
            KeepAlivePingTimeout = options.CallTimeout,
            KeepAlivePingPolicy = HttpKeepAlivePingPolicy.Always,
            SslOptions = new SslClientAuthenticationOptions
            {
                ClientCertificates = [clientCertificate],
                RemoteCertificateValidationCallback = (_, certificate, _, errors) =>
                    (errors & (SslPolicyErrors.RemoteCertificateNameMismatch | SslPolicyErrors.RemoteCertificateNotAvailable)) == 0
                    && certificate is X509Certificate2 server
                    && Certificates.ChainsTo(server, ca, time.GetUtcNow(), Certificates.ServerAuth, out _),
            },
        };
        return GrpcChannel.ForAddress(address, new GrpcChannelOptions { HttpHandler = handler, DisposeHttpClient = true });
    }

    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        Task.WhenAll(_connections.Select(c => Task.Run(() => c.RunAsync(stoppingToken), stoppingToken)));

    public override void Dispose()
    {
        foreach (var channel in _channels)
            channel.Dispose();
        base.Dispose();
    }
}
