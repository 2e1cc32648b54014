using System.Globalization;
using System.Net;
using System.Text.Json;

namespace MailAgent.Doctor;

/// <summary>
/// Who this host is to the control plane: the provider it backs (Doctor:ProviderName), else the names and addresses its
/// Agents entry may use (myhostname, the host addresses, the gRPC listener's host) and the gRPC port.
/// </summary>
internal sealed record PlatformIdentity(string ProviderName, IReadOnlyList<string> HostNames, int? GrpcPort)
{
    /// <summary>From Doctor:ProviderName, Health:Dns:HostName and HostAddresses, and Grpc:Listen (ADDRESS:PORT, may be empty).</summary>
    public static PlatformIdentity From(string providerName, string hostName, IReadOnlyList<string> hostAddresses, string grpcListen)
    {
        var names = new List<string>();
        if (hostName.Trim().TrimEnd('.') is { Length: > 0 } h)
            names.Add(h);
        names.AddRange(hostAddresses.Select(a => IPAddress.TryParse(a, out var ip) ? ip.ToString() : a));
        int? port = null;
        if (grpcListen.Trim() is { Length: > 0 } listen && IPEndPoint.TryParse(listen, out var endpoint))
        {
            port = endpoint.Port;
            // A wildcard listener says nothing about the name the control plane dials.
            if (!endpoint.Address.Equals(IPAddress.Any) && !endpoint.Address.Equals(IPAddress.IPv6Any))
                names.Add(endpoint.Address.ToString());
        }

        return new(providerName.Trim(), names.Distinct(StringComparer.OrdinalIgnoreCase).ToArray(), port);
    }

    /// <summary>Whether an Agents entry's address (https://HOST:PORT) is this host: its host one of <see cref="HostNames"/>, and its port the gRPC port when that is known.</summary>
    public bool IsMe(string address)
    {
        if (!Uri.TryCreate(address, UriKind.Absolute, out var uri))
            return false;
        string host = uri.IdnHost.Trim('[', ']');
        if (IPAddress.TryParse(host, out var ip))
            host = ip.ToString();
        return HostNames.Contains(host, StringComparer.OrdinalIgnoreCase) && (GrpcPort == null || uri.Port == GrpcPort);
    }

    public string Describe() =>
        $"{(HostNames.Count == 0 ? "no host name or address configured" : string.Join(", ", HostNames))}{(GrpcPort is { } p ? $", gRPC port {p}" : ", gRPC API off (Grpc:Listen empty)")}";
}

/// <summary>
/// The Platform items: the provider row in the routing table and the control plane's view of this agent, both read from the
/// control plane's <c>/api/status</c> (Doctor:ControlPlaneUrl), so the agent host needs no routing-database credentials.
/// </summary>
internal sealed class PlatformDoctor(DoctorOptions options, PlatformIdentity identity, HttpMessageHandler? handler = null) : IDoctorCheck
{
    public const string RowId = "platform.provider-row";
    public const string AgentId = "platform.control-plane";
    private const string RowTitle = "The provider row exists in the routing table";
    private const string AgentTitle = "The control plane sees this agent";
    private const int MaxStatusBytes = 4 * 1024 * 1024;

    public async Task<IReadOnlyList<DoctorItem>> RunAsync(CancellationToken cancellationToken)
    {
        string url = options.ControlPlaneUrl.Trim();
        if (url.Length == 0)
        {
            const string Why = "Doctor:ControlPlaneUrl is empty, so there is no control plane to ask";
            const string Fix = "set Doctor:ControlPlaneUrl to the control plane's HTTP address (its Http:Urls, e.g. http://cp.internal:9170; the control plane must listen on an address this host reaches)";
            return [DoctorItem.Skip(DoctorGroup.Platform, RowId, RowTitle, Why, Fix), DoctorItem.Skip(DoctorGroup.Platform, AgentId, AgentTitle, Why, Fix)];
        }

        var statusUrl = new Uri(url.TrimEnd('/') + "/api/status");
        string? failure = null;
        string body = "";
        try
        {
            using var client = handler == null ? new HttpClient() : new HttpClient(handler, disposeHandler: false);
            client.Timeout = options.Timeout;
            using var response = await client.GetAsync(statusUrl, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
            if (response.StatusCode != HttpStatusCode.OK)
                failure = $"{statusUrl} answered {(int)response.StatusCode} {response.ReasonPhrase}";
            else if (response.Content.Headers.ContentLength > MaxStatusBytes)
                failure = $"{statusUrl} is larger than {MaxStatusBytes} bytes";
            else
                body = await response.Content.ReadAsStringAsync(cancellationToken);
        }
        catch (HttpRequestException e)
        {
            failure = $"{statusUrl} cannot be fetched: {e.Message}{(e.InnerException == null ? "" : $" ({e.InnerException.Message})")}";
        }
        catch (TaskCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            failure = $"{statusUrl} did not answer within {options.Timeout.TotalSeconds.ToString("0.#", CultureInfo.InvariantCulture)} s";
        }

        if (failure == null)
        {
            try
            {
                using var json = JsonDocument.Parse(body);
                return Judge(json.RootElement, identity, statusUrl.ToString());
            }
            catch (Exception e) when (e is JsonException or InvalidOperationException or KeyNotFoundException)
            {
                failure = $"{statusUrl} did not answer the control plane's status document: {e.Message}";
            }
        }

        string unreachableFix = $"start mailagent-control-plane and let it listen where this host reaches it (its Http:Urls; the default http://127.0.0.1:9170 is local to its host), allow this host through the firewall to that port, or correct Doctor:ControlPlaneUrl (now {url})";
        return
        [
            new(DoctorGroup.Platform, RowId, RowTitle, DoctorStatus.Fail, $"the control plane was not reachable, so the routing table could not be read: {failure}", [], unreachableFix),
            new(DoctorGroup.Platform, AgentId, AgentTitle, DoctorStatus.Fail, $"the control plane was not reachable: {failure}", [], unreachableFix),
        ];
    }

    /// <summary>Both items from the control plane's /api/status document (pure; tested on fixture documents).</summary>
    internal static IReadOnlyList<DoctorItem> Judge(JsonElement status, PlatformIdentity identity, string statusUrl)
    {
        var agents = status.TryGetProperty("agents", out var a) && a.ValueKind == JsonValueKind.Array ? a.EnumerateArray().ToArray() : [];
        var mine = identity.ProviderName.Length > 0
            ? agents.Where(x => Text(x, "provider") == identity.ProviderName).ToArray()
            : agents.Where(x => identity.IsMe(Text(x, "address"))).ToArray();
        string provider = identity.ProviderName.Length > 0 ? identity.ProviderName
            : mine.Select(x => Text(x, "provider")).Distinct(StringComparer.Ordinal).ToArray() is [var only] ? only : "";
        var agentList = agents.Select(x => $"control plane agent {Text(x, "name")}: provider {Text(x, "provider")}, {Text(x, "address")}, {Text(x, "state")}").ToArray();
        return [Row(status, identity, provider, mine.Length, statusUrl), Agent(identity, mine, agentList, statusUrl)];
    }

    private static DoctorItem Row(JsonElement status, PlatformIdentity identity, string provider, int matched, string statusUrl)
    {
        string database = Text(status, "routingDatabase") is { Length: > 0 } d ? d : "routing table";
        if (provider.Length == 0)
        {
            return new(DoctorGroup.Platform, RowId, RowTitle, DoctorStatus.Fail,
                matched > 1
                    ? $"several of the control plane's agents point at this host ({identity.Describe()}) with different providers, so this host's messaging_providers row is ambiguous"
                    : $"no agent of the control plane points at this host ({identity.Describe()}), so this host's messaging_providers row is unknown",
                [$"asked {statusUrl}"],
                "set Doctor:ProviderName to this host's provider_name, or add this host to the control plane's Agents (see platform.control-plane)");
        }

        string insert = $"add the row: INSERT INTO messaging_providers (provider_type, provider_name, credentials_encrypted, credentials_iv, config) VALUES ('email', '{provider}', '', '', '{{\"priority\": 10, \"weight\": 50, \"health_score\": 0, \"email_rate_per_1000\": 0.00, \"smtp_host\": \"{(identity.HostNames.Count > 0 ? identity.HostNames[0] : "mail.example.com")}\", \"smtp_port\": 587}}'); or let the control plane insert it: Routing:CreateMissingProviders=true";
        var evidence = new List<string> { $"asked {statusUrl} ({database})" };
        if (Text(status, "routingError") is { Length: > 0 } error)
        {
            evidence.Add($"routingError: {error}");
            return new(DoctorGroup.Platform, RowId, RowTitle, DoctorStatus.Fail, $"the control plane cannot read its routing table ({database}): {error}", evidence,
                "on the control plane: check Routing:ConnectionString (PostgreSQL reachable, messaging_providers exists, the user may SELECT and UPDATE it) or Routing:SqlitePath, and its log");
        }

        var providers = status.TryGetProperty("providers", out var p) && p.ValueKind == JsonValueKind.Array ? p.EnumerateArray().ToArray() : [];
        var entry = providers.FirstOrDefault(x => Text(x, "name") == provider);
        if (entry.ValueKind != JsonValueKind.Object)
            return new(DoctorGroup.Platform, RowId, RowTitle, DoctorStatus.Fail, $"messaging_providers has no live email row for provider_name '{provider}': the platform never routes mail to this host", evidence, insert);

        string row = Text(entry, "row");
        bool positioned = entry.TryGetProperty("position", out var pos) && pos.ValueKind == JsonValueKind.Number;
        evidence.Add($"provider {provider}: row {(row.Length > 0 ? row : "(not reported)")}, position {(positioned ? pos.GetInt32().ToString(CultureInfo.InvariantCulture) : "none")}"
            + $"{(entry.TryGetProperty("score", out var score) && score.ValueKind == JsonValueKind.Number ? $", score {score.GetInt32()}" : "")}, state {Text(entry, "state")}"
            + $"{(Text(entry, "reason") is { Length: > 0 } reason ? $" ({reason})" : "")}");
        return row switch
        {
            "active" => new(DoctorGroup.Platform, RowId, RowTitle, DoctorStatus.Pass,
                $"the email row for '{provider}' exists with is_active true{(positioned ? $", position {pos.GetInt32()} in the routing order" : "")}", evidence, insert),
            "inactive" => new(DoctorGroup.Platform, RowId, RowTitle, DoctorStatus.Warn,
                $"the email row for '{provider}' exists but is_active is false: the platform sends it no mail", evidence,
                $"if the control plane deactivated it, fix what its reason says and it re-activates the row itself; if a person did: UPDATE messaging_providers SET is_active = true WHERE provider_type = 'email' AND provider_name = '{provider}' AND deleted_at IS NULL"),
            "missing" => new(DoctorGroup.Platform, RowId, RowTitle, DoctorStatus.Fail,
                positioned
                    ? $"messaging_providers has no live email row for provider_name '{provider}': only a deleted one (deleted_at set), which the platform's routing query still picks but the control plane never updates"
                    : $"messaging_providers has no live email row for provider_name '{provider}': the platform never routes mail to this host", evidence, insert),
            "" when positioned => new(DoctorGroup.Platform, RowId, RowTitle, DoctorStatus.Pass,
                $"'{provider}' is in the routing order at position {pos.GetInt32()}", evidence, insert),
            _ => new(DoctorGroup.Platform, RowId, RowTitle, DoctorStatus.Warn,
                $"the control plane does not say whether the table has a row for '{provider}' (row: '{row}')", evidence,
                "upgrade the control plane (its /api/status reports each provider's row), or check messaging_providers by hand"),
        };
    }

    private static DoctorItem Agent(PlatformIdentity identity, JsonElement[] mine, string[] agentList, string statusUrl)
    {
        string who = identity.ProviderName.Length > 0 ? $"provider '{identity.ProviderName}'" : $"this host ({identity.Describe()})";
        string address = $"https://{(identity.HostNames.Count > 0 ? identity.HostNames[0] : "HOST")}:{(identity.GrpcPort is { } gp ? gp.ToString(CultureInfo.InvariantCulture) : "PORT")}";
        var evidence = new List<string> { $"asked {statusUrl}" };
        evidence.AddRange(agentList);
        if (mine.Length == 0)
        {
            return new(DoctorGroup.Platform, AgentId, AgentTitle, DoctorStatus.Fail,
                $"none of the control plane's {agentList.Length} agent(s) is {who} (matched by {(identity.ProviderName.Length > 0 ? "Agents:N:ProviderName" : "the host and port of Agents:N:Address")})", evidence,
                $"in the control plane's configuration add Agents:N:Name, Agents:N:Address={address} (this agent's Grpc:Listen port, a name its certificate carries) and Agents:N:ProviderName, then reload it (SIGHUP){(identity.ProviderName.Length > 0 ? "" : "; or set Doctor:ProviderName")}");
        }

        var agent = mine.OrderBy(x => Text(x, "state") == "Connected" ? 0 : 1).First();
        string name = Text(agent, "name");
        string state = Text(agent, "state");
        string lastError = Text(agent, "lastError");
        double? age = agent.TryGetProperty("lastSeenAgeSeconds", out var ageValue) && ageValue.ValueKind == JsonValueKind.Number ? ageValue.GetDouble() : null;
        string seen = age is { } s ? $"last heartbeat {s.ToString("0.#", CultureInfo.InvariantCulture)} s ago" : "never heard from";
        var checks = agent.TryGetProperty("checks", out var c) && c.ValueKind == JsonValueKind.Array
            ? c.EnumerateArray().Select(x => $"{Text(x, "name")} {Text(x, "status")}").ToArray() : [];
        evidence.Add($"agent {name}: {state}, {seen}{(lastError.Length > 0 ? $", last error: {lastError}" : "")}{(checks.Length > 0 ? $"; checks: {string.Join(", ", checks)}" : "")}");
        string reachFix = $"make Agents:N:Address of '{name}' ({Text(agent, "address")}) this agent's gRPC address ({address}); the agent's certificate (Grpc:CertificateFile) must name that host and chain to the control plane's Tls:CaFile; Grpc:ReadClients must list the control plane's client certificate CN and Grpc:CaFile its CA; the firewall must let the control plane reach the gRPC port"
            + (identity.GrpcPort == null ? "; this agent's gRPC API is off: set Grpc:Listen" : "");
        return state switch
        {
            "Connected" => new(DoctorGroup.Platform, AgentId, AgentTitle, DoctorStatus.Pass, $"the control plane is connected to this agent as '{name}', {seen}", evidence, reachFix),
            "Connecting" when lastError.Length == 0 => new(DoctorGroup.Platform, AgentId, AgentTitle, DoctorStatus.Warn,
                $"the control plane is still connecting to '{name}' and has had no answer yet", evidence, "run the doctor again in a minute; if it stays so: " + reachFix),
            _ => new(DoctorGroup.Platform, AgentId, AgentTitle, DoctorStatus.Fail,
                $"the control plane does not reach this agent ('{name}' is {state}{(lastError.Length > 0 ? $": {lastError}" : "")})", evidence, reachFix),
        };
    }

    private static string Text(JsonElement element, string property) =>
        element.ValueKind == JsonValueKind.Object && element.TryGetProperty(property, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() ?? "" : "";
}
