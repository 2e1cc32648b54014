
namespace MailControlPlane.Registry;

/// <summary>One agent the control plane dials (<c>Agents:N:…</c>).</summary>
internal sealed class AgentOptions
{
    /// <summary>A unique name for people and for roll-outs, e.g. postfix-oregon.</summary>
    public string Name { get; set; } = "";

    /// <summary>The agent's gRPC API, https://host:port.</summary>
    public string Address { get; set; } = "";

    public string Region { get; set; } = "";

    /// <summary>The routing table's provider_name this agent's Postfix backs.</summary>
    public string ProviderName { get; set; } = "";

    /// <summary>The SMTP host the control plane probes for this provider; empty: config.smtp_host of its routing row.</summary>
    public string ProbeHost { get; set; } = "";

    /// <summary>The SMTP port probed; empty: config.smtp_port of the routing row (with ProbeHost: 25).</summary>
    public int? ProbePort { get; set; }
}

/// <summary>The control plane's client certificate for the agents and the CA their certificates chain to.</summary>
internal sealed class TlsOptions
{
    public const string SectionName = "Tls";

    public string CaFile { get; set; } = "/etc/mailagent/pki/ca.crt";

    public string CertificateFile { get; set; } = "/etc/mailagent/pki/client.crt";

    public string KeyFile { get; set; } = "/etc/mailagent/pki/client.key";
}

/// <summary>How the connections to the agents behave.</summary>
internal sealed class ConnectionOptions
{
    public const string SectionName = "Connections";

    /// <summary>The heartbeat (status and queue) the agents push on the event stream this often; GetStatus and GetQueue only when the stream is silent longer.</summary>
    public TimeSpan StatusInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>No answer for this long: the agent is unreachable and its channel is dialled again.</summary>
    public TimeSpan HeartbeatTimeout { get; set; } = TimeSpan.FromSeconds(15);

    public TimeSpan BackoffMin { get; set; } = TimeSpan.FromMilliseconds(500);

    public TimeSpan BackoffMax { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>A single call (GetStatus, GetQueue) taking longer fails.</summary>
    public TimeSpan CallTimeout { get; set; } = TimeSpan.FromSeconds(5);
}

/// <summary>The read-only HTTP listener: /metrics and /health.</summary>
internal sealed class HttpOptions
{
    public const string SectionName = "Http";

    public string Urls { get; set; } = "http://127.0.0.1:9170";
}

/// <summary>The control plane's own gRPC API (TLS with client certificates).</summary>
internal sealed class GrpcApiOptions
{
    public const string SectionName = "Grpc";

    /// <summary>ADDRESS:PORT; empty turns the API off.</summary>
    public string Listen { get; set; } = "";

    /// <summary>The API's server certificate (PEM) and key; client certificates must chain to Tls:CaFile.</summary>
    public string CertificateFile { get; set; } = "";

    public string KeyFile { get; set; } = "";

    /// <summary>Client certificate CNs allowed to read (ListAgents, ListProviders, WatchProviders), comma-separated.</summary>
    public string ReadClients { get; set; } = "";

    /// <summary>Client certificate CNs allowed to write (RollOutConfig, which the control plane applies to every agent), comma-separated.</summary>
    public string WriteClients { get; set; } = "";

    /// <summary>The old single list: still read, as an alias of <see cref="ReadClients"/> only (it never grants RollOutConfig).</summary>
    public string Clients { get; set; } = "";

    /// <summary>Optional SHA-256 hashes (base64) of allowed client keys' SubjectPublicKeyInfo, comma-separated.</summary>
    public string ClientSpkiPins { get; set; } = "";

    public bool Enabled => !string.IsNullOrWhiteSpace(Listen);

    /// <summary>The lists in force: Grpc:Clients adds to the read list.</summary>
    public GrpcClientLists ClientLists() => new(
        GrpcClientLists.Parse(ReadClients + "," + Clients), GrpcClientLists.Parse(WriteClients), GrpcClientLists.Parse(ClientSpkiPins),
        "Grpc:ReadClients", "Grpc:WriteClients", "Grpc:ClientSpkiPins");
}

/// <summary>The control plane's own log.</summary>
internal sealed class LogOptions
{
    public const string SectionName = "Log";

    /// <summary>Rolling log file; empty: console only.</summary>
    public string FilePath { get; set; } = "/var/log/mailagent-control-plane/control-plane.log";

    public string Level { get; set; } = "Information";

    public int RetainedDays { get; set; } = 14;
}
