using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using MailAgent.Doctor;

namespace MailAgent.Tests.Doctor;

/// <summary>The Platform items judged on /api/status documents as the control plane writes them.</summary>
public sealed class PlatformDoctorTests
{
    private const string Url = "http://cp.test:9170/api/status";

    private static readonly PlatformIdentity ByProvider = PlatformIdentity.From("postfix-oregon", "mail.example.test", ["192.0.2.10"], "0.0.0.0:9161");
    private static readonly PlatformIdentity ByAddress = PlatformIdentity.From("", "mail.example.test", ["192.0.2.10"], "0.0.0.0:9161");

    private static string Provider(string name, string row, int? position = null) =>
        $$"""{"name": "{{name}}", "position": {{(position is { } p ? p.ToString(System.Globalization.CultureInfo.InvariantCulture) : "null")}}, "row": "{{row}}", "score": 100, "state": "healthy", "isActive": true, "reason": "all good"}""";

    private static string Agent(string name, string provider, string address, string state, string lastError = "", double? age = 1.5) =>
        $$"""{"name": "{{name}}", "provider": "{{provider}}", "address": "{{address}}", "region": "", "state": "{{state}}"{{(age is { } a ? $", \"lastSeenAgeSeconds\": {a.ToString(System.Globalization.CultureInfo.InvariantCulture)}" : "")}}{{(lastError.Length > 0 ? $", \"lastError\": \"{lastError}\"" : "")}}, "checks": [{"name": "postfix", "status": "Healthy", "reason": "running"}]}""";

    private static string Status(string providers, string agents, string extra = "") =>
        $$"""{"generatedAt": "2026-12-06T05:00:00Z", "routingDatabase": "sqlite"{{extra}}, "providers": [{{providers}}], "agents": [{{agents}}]}""";

    private static (DoctorItem Row, DoctorItem Agent) Judge(string json, PlatformIdentity identity)
    {
        using var document = JsonDocument.Parse(json);
        var items = PlatformDoctor.Judge(document.RootElement, identity, Url);
        Assert.Equal([PlatformDoctor.RowId, PlatformDoctor.AgentId], items.Select(i => i.Id));
        Assert.All(items, i => Assert.Equal(DoctorGroup.Platform, i.Group));
        return (items[0], items[1]);
    }

    [Fact]
    public void Judge_RowActiveAgentConnected_BothPass()
    {
        var (row, agent) = Judge(Status(Provider("postfix-oregon", "active", 1), Agent("oregon", "postfix-oregon", "https://mail.example.test:9161/", "Connected")), ByProvider);

        Assert.Equal(DoctorStatus.Pass, row.Status);
        Assert.Contains("position 1", row.Why, StringComparison.Ordinal);
        Assert.Equal(DoctorStatus.Pass, agent.Status);
        Assert.Contains("last heartbeat 1.5 s ago", agent.Why, StringComparison.Ordinal);
    }

    [Fact]
    public void Judge_RowInactive_Warns()
    {
        var (row, _) = Judge(Status(Provider("postfix-oregon", "inactive"), Agent("oregon", "postfix-oregon", "https://mail.example.test:9161/", "Connected")), ByProvider);

        Assert.Equal(DoctorStatus.Warn, row.Status);
        Assert.Contains("is_active is false", row.Why, StringComparison.Ordinal);
        Assert.Contains("UPDATE messaging_providers SET is_active = true WHERE provider_type = 'email' AND provider_name = 'postfix-oregon'", row.Fix, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Judge_RowMissingOrProviderNotListed_FailsWithInsertAndCreateMissing(bool listed)
    {
        string providers = listed ? Provider("postfix-oregon", "missing") : Provider("elastic-email", "active", 1);

        var (row, _) = Judge(Status(providers, Agent("oregon", "postfix-oregon", "https://mail.example.test:9161/", "Connected")), ByProvider);

        Assert.Equal(DoctorStatus.Fail, row.Status);
        Assert.Contains("no live email row for provider_name 'postfix-oregon'", row.Why, StringComparison.Ordinal);
        Assert.Contains("INSERT INTO messaging_providers", row.Fix, StringComparison.Ordinal);
        Assert.Contains("Routing:CreateMissingProviders=true", row.Fix, StringComparison.Ordinal);
    }

    [Fact]
    public void Judge_RoutingError_FailsWithTheError()
    {
        var (row, _) = Judge(Status(Provider("postfix-oregon", "unknown"), "", ", \"routingError\": \"SQLite Error 1: 'no such table: messaging_providers'.\""), ByProvider);

        Assert.Equal(DoctorStatus.Fail, row.Status);
        Assert.Contains("cannot read its routing table (sqlite): SQLite Error 1: 'no such table: messaging_providers'.", row.Why, StringComparison.Ordinal);
        Assert.Contains("Routing:ConnectionString", row.Fix, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("https://mail.example.test:9161/")]
    [InlineData("https://MAIL.example.test:9161")]
    [InlineData("https://192.0.2.10:9161/")]
    public void Judge_AgentMatchedByHostAndPort_ProviderFromTheEntry(string address)
    {
        var (row, agent) = Judge(Status(Provider("postfix-oregon", "active", 1), Agent("oregon", "postfix-oregon", address, "Connected") + "," + Agent("virginia", "postfix-virginia", "https://mx2.example.test:9161/", "Connected")), ByAddress);

        Assert.Equal(DoctorStatus.Pass, row.Status);
        Assert.Contains("'postfix-oregon'", row.Why, StringComparison.Ordinal);
        Assert.Equal(DoctorStatus.Pass, agent.Status);
        Assert.Contains("'oregon'", agent.Why, StringComparison.Ordinal);
    }

    [Fact]
    public void Judge_AgentOnAnotherPort_NoMatchBothFail()
    {
        var (row, agent) = Judge(Status(Provider("postfix-oregon", "active", 1), Agent("oregon", "postfix-oregon", "https://mail.example.test:9999/", "Connected")), ByAddress);

        Assert.Equal(DoctorStatus.Fail, agent.Status);
        Assert.Contains("none of the control plane's 1 agent(s) is this host (mail.example.test, 192.0.2.10, gRPC port 9161)", agent.Why, StringComparison.Ordinal);
        Assert.Contains("Agents:N:Address=https://mail.example.test:9161", agent.Fix, StringComparison.Ordinal);
        Assert.Contains(agent.Evidence, e => e.Contains("control plane agent oregon: provider postfix-oregon, https://mail.example.test:9999/", StringComparison.Ordinal));
        Assert.Equal(DoctorStatus.Fail, row.Status);
        Assert.Contains("Doctor:ProviderName", row.Fix, StringComparison.Ordinal);
    }

    [Fact]
    public void Judge_NoAgentForProvider_FailsNamingTheProvider()
    {
        var (_, agent) = Judge(Status(Provider("postfix-oregon", "active", 1), Agent("virginia", "postfix-virginia", "https://mx2.example.test:9161/", "Connected")), ByProvider);

        Assert.Equal(DoctorStatus.Fail, agent.Status);
        Assert.Contains("is provider 'postfix-oregon' (matched by Agents:N:ProviderName)", agent.Why, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("Connecting", "Unavailable: Error connecting to subchannel.", "Fail")]
    [InlineData("Unreachable", "no answer for 0:00:15", "Fail")]
    [InlineData("Connecting", "", "Warn")]
    public void Judge_AgentNotConnected_FailsWithTheControlPlanesError(string state, string lastError, string expected)
    {
        var (_, agent) = Judge(Status(Provider("postfix-oregon", "active", 1), Agent("oregon", "postfix-oregon", "https://mail.example.test:9161/", state, lastError, age: null)), ByProvider);

        Assert.Equal(Enum.Parse<DoctorStatus>(expected), agent.Status);
        Assert.Contains(lastError, agent.Why, StringComparison.Ordinal);
        Assert.Contains("Grpc:ReadClients must list the control plane's client certificate CN", agent.Fix, StringComparison.Ordinal);
        Assert.Contains(agent.Evidence, e => e.Contains("never heard from", StringComparison.Ordinal));
    }

    [Fact]
    public async Task RunAsync_NoControlPlaneUrl_BothSkipWithTheKey()
    {
        var items = await new PlatformDoctor(new DoctorOptions(), ByProvider).RunAsync(CancellationToken.None);

        Assert.Equal([DoctorStatus.Skip, DoctorStatus.Skip], items.Select(i => i.Status));
        Assert.All(items, i => Assert.Contains("Doctor:ControlPlaneUrl", i.Fix, StringComparison.Ordinal));
    }

    [Fact]
    public async Task RunAsync_ControlPlaneNotListening_BothFailNamingTheUrl()
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        int port = ((IPEndPoint)socket.LocalEndPoint!).Port;
        var options = new DoctorOptions { ControlPlaneUrl = $"http://127.0.0.1:{port}/", Timeout = TimeSpan.FromSeconds(5) };

        var items = await new PlatformDoctor(options, ByProvider).RunAsync(CancellationToken.None);

        Assert.Equal([DoctorStatus.Fail, DoctorStatus.Fail], items.Select(i => i.Status));
        Assert.All(items, i => Assert.Contains($"http://127.0.0.1:{port}/api/status cannot be fetched", i.Why, StringComparison.Ordinal));
        Assert.All(items, i => Assert.Contains("Http:Urls", i.Fix, StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("cp.internal:9170")]
    [InlineData("ftp://cp.internal/")]
    [InlineData("http://cp.internal:9170/?x=1")]
    public void Validate_BadControlPlaneUrl_NamesKey(string url)
    {
        var errors = new List<string>();

        new DoctorOptions { ControlPlaneUrl = url }.Validate(errors);

        Assert.Contains($"Doctor:ControlPlaneUrl = '{url}' is not valid: use the control plane's HTTP address, e.g. http://cp.internal:9170, or leave it empty", errors);
    }

    [Fact]
    public void Identity_WildcardListener_KeepsPortOnly()
    {
        var identity = PlatformIdentity.From("", "mail.example.test.", ["2001:db8::10"], "[::]:9161");

        Assert.Equal(["mail.example.test", "2001:db8::10"], identity.HostNames);
        Assert.Equal(9161, identity.GrpcPort);
        Assert.True(identity.IsMe("https://[2001:db8::10]:9161"));
        Assert.False(identity.IsMe("https://mail.example.test:9162"));
    }
}
