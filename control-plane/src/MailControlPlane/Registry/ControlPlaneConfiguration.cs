using System.Security.Cryptography.X509Certificates;
using MailControlPlane.Routing;
using MailControlPlane.Scoring;
using static MailAgent.Common.ConfigChecks;

namespace MailControlPlane.Registry;

/// <summary>Every section of the control plane's configuration, bound and checked together.</summary>
internal sealed record ControlPlaneSettings(
    AgentRegistry Registry, TlsOptions Tls, ConnectionOptions Connections, HttpOptions Http, GrpcApiOptions Grpc,
    ScoringOptions Scoring, RoutingOptions Routing, LogOptions Log)
{
    /// <summary>The active SMTP probes (section Probing; off unless enabled).</summary>
    public ProbeOptions Probing { get; init; } = new();
    /// <summary>Section DeliveryEvents; not positional, so existing constructions stay as they are.</summary>
    public DeliveryEvents.DeliveryEventsOptions DeliveryEvents { get; init; } = new();
}

/// <summary>
/// Builds the control plane's configuration (JSON file, then MAILAGENT_CP__ environment variables,
/// then Section:Key=value arguments) and checks every key, naming the key, the value and what is valid.
/// </summary>
internal static class ControlPlaneConfiguration
{
    public const string DefaultFile = "/etc/mailagent/control-plane.json";
    public const string EnvironmentPrefix = "MAILAGENT_CP__";

    /// <summary>The sections of control-plane.json; Agents is a list of objects.</summary>
    public static readonly MailAgent.Common.ConfigurationShape Shape = new(
        "control plane", ["Tls", "Connections", "Http", "Grpc", "Scoring", "Routing", "Log", "Probing", "DeliveryEvents"], ["Agents", "DeliveryEvents:Webhook"]);

    public static IConfigurationRoot Build(IReadOnlyList<string> args, out string? configFile, out List<string> errors) =>
        MailAgent.Common.LayeredConfiguration.Build(args, DefaultFile, EnvironmentPrefix, out configFile, out errors, Shape);

    /// <summary>Reads and checks every section; returns the errors, one line each.</summary>
    public static List<string> Validate(IConfiguration config, out ControlPlaneSettings settings)
    {
        var errors = new List<string>();
        var tls = new TlsOptions();
        var connections = new ConnectionOptions();
        var http = new HttpOptions();
        var grpc = new GrpcApiOptions();
        var scoring = new ScoringOptions();
        var log = new LogOptions();
        var probing = new ProbeOptions();
        // One concrete Bind call per section: the binder's source generator (Native AOT) handles concrete types only.
        Bind(() => config.GetSection(TlsOptions.SectionName).Bind(tls, Strict), "Tls takes CaFile, CertificateFile and KeyFile (PEM paths)", errors);
        Bind(() => config.GetSection(ConnectionOptions.SectionName).Bind(connections, Strict), "Connections takes StatusInterval, HeartbeatTimeout, BackoffMin, BackoffMax and CallTimeout as hh:mm:ss", errors);
        Bind(() => config.GetSection(HttpOptions.SectionName).Bind(http, Strict), "Http takes Urls", errors);
        Bind(() => config.GetSection(GrpcApiOptions.SectionName).Bind(grpc, Strict), "Grpc takes Listen (ADDRESS:PORT), CertificateFile, KeyFile, ReadClients and WriteClients (comma-separated CNs), Clients (old name: read only) and ClientSpkiPins", errors);
        Bind(() => config.GetSection(ScoringOptions.SectionName).Bind(scoring, Strict), "Scoring takes the numbers of docs/health-score.md ('mailagent-control-plane help run' lists them)", errors);
        // The routing section checks itself (RoutingOptions.Load names key, value and what is valid).
        var routing = RoutingOptions.Load(config, errors);
        Bind(() => config.GetSection(LogOptions.SectionName).Bind(log, Strict), "Log takes FilePath, Level and RetainedDays", errors);
        Bind(() => config.GetSection(ProbeOptions.SectionName).Bind(probing, Strict), "Probing takes Enabled, Interval, Timeout, EhloName, RequireStartTls, CertificateName, AuthUser, AuthPassword and MessageRecipient", errors);

        var agents = ValidateAgents(config, errors);
        ValidateTls(tls, agents.Count > 0, errors);
        Range(errors, "Connections:StatusInterval", connections.StatusInterval, TimeSpan.FromMilliseconds(100), TimeSpan.FromMinutes(10));
        Range(errors, "Connections:HeartbeatTimeout", connections.HeartbeatTimeout, TimeSpan.FromMilliseconds(500), TimeSpan.FromMinutes(30));
        Range(errors, "Connections:BackoffMin", connections.BackoffMin, TimeSpan.FromMilliseconds(10), TimeSpan.FromMinutes(10));
        Range(errors, "Connections:BackoffMax", connections.BackoffMax, TimeSpan.FromMilliseconds(10), TimeSpan.FromHours(1));
        Range(errors, "Connections:CallTimeout", connections.CallTimeout, TimeSpan.FromMilliseconds(100), TimeSpan.FromMinutes(5));
        if (connections.BackoffMax < connections.BackoffMin)
            errors.Add($"Connections:BackoffMax = {connections.BackoffMax} is not valid: use at least Connections:BackoffMin ({connections.BackoffMin})");
        if (connections.HeartbeatTimeout <= connections.StatusInterval)
            errors.Add($"Connections:HeartbeatTimeout = {connections.HeartbeatTimeout} is not valid: use more than Connections:StatusInterval ({connections.StatusInterval}), which is what keeps the heartbeat going");

        if (string.IsNullOrWhiteSpace(http.Urls))
            errors.Add("Http:Urls is empty: set it to e.g. http://127.0.0.1:9170");
        foreach (var url in http.Urls.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || uri.Scheme != "http" || !string.IsNullOrEmpty(uri.PathAndQuery.Trim('/')))
                errors.Add($"Http:Urls has '{url}', which is not valid: use http://ADDRESS:PORT (port 0 picks a free port), several separated by ';'");
        }

        ValidateGrpc(grpc, tls, errors);
        errors.AddRange(scoring.Validate());
        errors.AddRange(probing.Validate());
        SerilogBootstrap.Validate("Log", log.Level, log.RetainedDays, errors);

        var deliveryEvents = DeliveryEvents.DeliveryEventsOptions.Load(config, errors);
        settings = new ControlPlaneSettings(new AgentRegistry(agents), tls, connections, http, grpc, scoring, routing, log) { Probing = probing, DeliveryEvents = deliveryEvents };
        return errors;
    }

    private static List<RegisteredAgent> ValidateAgents(IConfiguration config, List<string> errors)
    {
        var agents = new List<RegisteredAgent>();
        foreach (var section in config.GetSection("Agents").GetChildren())
        {
            var a = new AgentOptions();
            string key = $"Agents:{section.Key}";
            Bind(() => section.Bind(a, Strict), "each agent takes Name, Address (https://host:port), Region, ProviderName and optionally ProbeHost and ProbePort (the SMTP endpoint the control plane probes)", errors);
            if (string.IsNullOrWhiteSpace(a.Name))
                errors.Add($"{key}:Name is empty: give the agent a unique name, e.g. postfix-oregon");
            else if (agents.Any(x => x.Name == a.Name))
                errors.Add($"{key}:Name = '{a.Name}' is used twice: agent names must be unique");
            if (string.IsNullOrWhiteSpace(a.ProviderName))
                errors.Add($"{key}:ProviderName is empty: set the routing table's provider_name this agent backs, e.g. postfix-oregon");
            else if (agents.Any(x => x.ProviderName == a.ProviderName))
                errors.Add($"{key}:ProviderName = '{a.ProviderName}' is backed by another agent too: use one agent per provider");
            if (!Uri.TryCreate(a.Address, UriKind.Absolute, out var address) || address.Scheme != "https" || address.Port <= 0
                || !string.IsNullOrEmpty(address.PathAndQuery.Trim('/')))
            {
                errors.Add($"{key}:Address = '{a.Address}' is not valid: use https://HOST:PORT, the agent's Grpc:Listen");
                continue;
            }

            if (a.ProbePort is { } probePort)
                ConfigChecks.Port(errors, $"{key}:ProbePort", probePort);
            agents.Add(new RegisteredAgent(a.Name, address, a.Region, a.ProviderName, string.IsNullOrWhiteSpace(a.ProbeHost) ? null : a.ProbeHost.Trim(), a.ProbePort));
        }

        if (agents.Count == 0 && errors.Count == 0)
            errors.Add("Agents is empty: configure at least one agent as Agents:0:Name, Agents:0:Address, Agents:0:Region, Agents:0:ProviderName");
        return agents;
    }

    private static void ValidateTls(TlsOptions tls, bool needed, List<string> errors)
    {
        if (!needed)
            return;
        if (RequireFile(errors, "Tls:CaFile", tls.CaFile, "the PEM CA certificate the agents' certificates chain to"))
        {
            try
            {
                if (CertificateChains.LoadCa(tls.CaFile).Count == 0)
                    errors.Add($"Tls:CaFile = '{tls.CaFile}' holds no certificate: use a PEM file with the CA certificate(s)");
            }
            catch (Exception e) when (e is System.Security.Cryptography.CryptographicException or IOException)
            {
                errors.Add($"Tls:CaFile = '{tls.CaFile}' cannot be read as PEM certificates: {e.Message}");
            }
        }

        if (RequireFile(errors, "Tls:CertificateFile", tls.CertificateFile, "the control plane's PEM client certificate")
            & RequireFile(errors, "Tls:KeyFile", tls.KeyFile, "the client certificate's PEM private key"))
        {
            try
            {
                using var certificate = X509Certificate2.CreateFromPemFile(tls.CertificateFile, tls.KeyFile);
            }
            catch (Exception e) when (e is System.Security.Cryptography.CryptographicException or IOException or ArgumentException)
            {
                errors.Add($"Tls:CertificateFile = '{tls.CertificateFile}' and Tls:KeyFile = '{tls.KeyFile}' are not a matching PEM certificate and key: {e.Message}");
            }
        }
    }

    private static void ValidateGrpc(GrpcApiOptions grpc, TlsOptions tls, List<string> errors)
    {
        if (!grpc.Enabled)
            return;
        if (!Listeners.TryParseListen(grpc.Listen, out _))
            errors.Add($"Grpc:Listen = '{grpc.Listen}' is not valid: use ADDRESS:PORT, e.g. 127.0.0.1:9171 or [::1]:9171 (port 0 picks a free port), or leave it empty to turn the API off");
        if (grpc.ClientLists().ReadClients.Count == 0 && grpc.ClientLists().WriteClients.Count == 0)
            errors.Add("Grpc:ReadClients and Grpc:WriteClients are empty: name the client certificate CNs allowed to read (ListAgents, ListProviders, WatchProviders) and to roll out configuration (RollOutConfig), comma-separated, e.g. Grpc:ReadClients=operator");
        if (string.IsNullOrWhiteSpace(tls.CaFile) || !File.Exists(tls.CaFile))
            errors.Add($"Grpc:Listen is set but Tls:CaFile = '{tls.CaFile}' is missing: API clients' certificates are checked against it");
        if (RequireFile(errors, "Grpc:CertificateFile", grpc.CertificateFile, "the API's PEM server certificate")
            & RequireFile(errors, "Grpc:KeyFile", grpc.KeyFile, "the server certificate's PEM private key"))
        {
            try
            {
                using var certificate = X509Certificate2.CreateFromPemFile(grpc.CertificateFile, grpc.KeyFile);
            }
            catch (Exception e) when (e is System.Security.Cryptography.CryptographicException or IOException or ArgumentException)
            {
                errors.Add($"Grpc:CertificateFile = '{grpc.CertificateFile}' and Grpc:KeyFile = '{grpc.KeyFile}' are not a matching PEM certificate and key: {e.Message}");
            }
        }
    }

    private static bool RequireFile(List<string> errors, string key, string path, string what)
    {
        if (string.IsNullOrWhiteSpace(path))
        {
            errors.Add($"{key} is empty: set it to {what}");
            return false;
        }

        if (!File.Exists(path))
        {
            errors.Add($"{key} = '{path}': no such file; it should be {what} ('mailagent pki init' makes one)");
            return false;
        }

        return true;
    }
}
