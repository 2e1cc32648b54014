using MailAgent.Tests.Integration;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using Api = MailAgent.Protos.ControlPlane.V1;
using MailControlPlane.Hosting;
using MailControlPlane.Registry;
using MailControlPlane.Routing;
using MailControlPlane.Scoring;
using MailControlPlane.Tests.Integration.Postgres;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Npgsql;
using Xunit.Abstractions;

namespace MailControlPlane.Tests.Integration.EndToEnd;

/// <summary>
/// The whole system on loopback: a private PostgreSQL with the platform's tables, two real agent
/// processes over mutual TLS each tailing a log this test writes, and the control plane (in
/// process, the same WebApplication `run` builds). Checks the routing table with the platform's
/// own query, verbatim.
/// </summary>
[Trait("Category", "Integration")]
public sealed class ControlPlaneEndToEndTests(ITestOutputHelper output) : IAsyncLifetime
{
    private static readonly TimeSpan FallBehind = TimeSpan.FromSeconds(10);
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "cp-e2e-" + Guid.NewGuid().ToString("N")[..8]);
    private readonly Dictionary<string, AgentDaemon> _agents = [];
    private readonly Dictionary<string, LogFeeder> _logs = [];
    private readonly Dictionary<string, int> _ports = [];
    private PrivatePostgres? _postgres;
    private WebApplication? _app;
    private RecordingSink? _sink;

    /// <summary>Every health-log row the control plane handed to the writer, in order.</summary>
    private sealed class RecordingSink(IRoutingTableSink inner) : IRoutingTableSink
    {
        public ConcurrentQueue<HealthLogEntry> Rows { get; } = new();

        public int ActiveProvidersWithoutAgent => inner.ActiveProvidersWithoutAgent;

        public void Publish(ProviderAssessment assessment) => inner.Publish(assessment);

        public void Enqueue(HealthLogEntry entry)
        {
            Rows.Enqueue(entry);
            inner.Enqueue(entry);
        }
    }

    private sealed record Row(string Name, bool IsActive, int? Score, string Config);

    private sealed record LogRow(string Name, string Status, string State, string Reason);

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(_dir);
        _postgres = await PrivatePostgres.StartNewAsync();
        await RoutingTableDatabase.ApplySchemaAsync(_postgres.ConnectionString);
        await RoutingTableDatabase.SeedStandardRowsAsync(_postgres.ConnectionString);
        await AgentDaemon.PkiInitAsync(Path.Combine(_dir, "pki"));
    }

    private string Pki(string file) => Path.Combine(_dir, "pki", file);

    private async Task StartAgentAsync(string name)
    {
        string state = Path.Combine(_dir, name, "state");
        Directory.CreateDirectory(state);
        if (!_ports.ContainsKey(name))
            _ports[name] = AgentDaemon.FreePort();
        if (_agents.Remove(name, out var previous))
            await previous.DisposeAsync();
        // One feeder per agent for the whole test: a restarted agent follows the log its predecessor followed.
        // (TryAdd with a new feeder as its argument started a second, never disposed one on every restart: it
        // emptied the log and kept writing into the directory while DisposeAsync deleted it.)
        if (!_logs.ContainsKey(name))
            _logs[name] = new LogFeeder(Path.Combine(_dir, name, "mail.log"), name.Replace("postfix-", "mail-", StringComparison.Ordinal));
        _agents[name] = await AgentDaemon.StartAsync(
            $"LogTailing:Path={_logs[name].Path}", $"LogTailing:StateDirectory={state}", "LogTailing:StartAt=Beginning",
            $"Grpc:Listen=127.0.0.1:{_ports[name]}", $"Grpc:CaFile={Pki("ca.crt")}", $"Grpc:CertificateFile={Pki("agent.crt")}", $"Grpc:KeyFile={Pki("agent.key")}",
            "Grpc:ReadClients=control-plane", "Grpc:WriteClients=control-plane", "Health:Checks=log", "Queue:Enabled=false");
    }

    private async Task StartControlPlaneAsync()
    {
        string[] args =
        [
            "Agents:0:Name=postfix-oregon", $"Agents:0:Address=https://localhost:{_ports["postfix-oregon"]}", "Agents:0:Region=us-west-2", "Agents:0:ProviderName=postfix-oregon",
            "Agents:1:Name=postfix-virginia", $"Agents:1:Address=https://localhost:{_ports["postfix-virginia"]}", "Agents:1:Region=us-east-1", "Agents:1:ProviderName=postfix-virginia",
            $"Tls:CaFile={Pki("ca.crt")}", $"Tls:CertificateFile={Pki("client.crt")}", $"Tls:KeyFile={Pki("client.key")}",
            "Connections:StatusInterval=00:00:00.5", "Connections:HeartbeatTimeout=00:00:30", "Connections:BackoffMin=00:00:00.1",
            "Connections:BackoffMax=00:00:01", "Connections:CallTimeout=00:00:10",
            "Http:Urls=http://127.0.0.1:0", "Grpc:Listen=127.0.0.1:0", $"Grpc:CertificateFile={Pki("agent.crt")}", $"Grpc:KeyFile={Pki("agent.key")}", "Grpc:ReadClients=control-plane",
            // Fast versions of docs/health-score.md's numbers (FailedBelow is the default, 50: delivery and
            // reputation together take at most 55 points, so a server refusing everything bottoms out at 45).
            // The ejection outlasts the delivery window, so that probation starts once the failures aged out.
            "Scoring:EvaluationInterval=00:00:00.5", "Scoring:DeliveryWindow=00:01:00", "Scoring:DeliveryBucket=00:00:01",
            "Scoring:FailedEvaluations=2", "Scoring:DeactivateAfterFailedEvaluations=4",
            "Scoring:EjectionBase=00:01:05", "Scoring:EjectionMax=00:01:05", "Scoring:EjectionJitter=0", "Scoring:HeartbeatFreezeAfter=00:00:03", "Scoring:HeartbeatZeroAfter=00:00:06",
            $"Routing:ConnectionString={_postgres!.ConnectionString}", "Routing:WriteInterval=00:00:00.2", "Routing:HealthLogInterval=01:00:00",
            "Routing:RetryMinDelay=00:00:00.2", "Routing:RetryMaxDelay=00:00:02",
            "Log:FilePath=",
        ];
        var config = ControlPlaneConfiguration.Build(args, out _, out var errors);
        errors.AddRange(ControlPlaneConfiguration.Validate(config, out var settings));
        Assert.Empty(errors);
        _app = ControlPlaneHost.Build(settings, TimeProvider.System, builder =>
        {
            builder.Logging.ClearProviders();
            builder.Logging.AddProvider(new XunitLoggerProvider(output));
            builder.Services.AddSingleton<IRoutingTableSink>(sp => _sink = new RecordingSink(sp.GetRequiredService<RoutingTableWriter>()));
        });
        await ControlPlaneHost.StartAsync(_app, settings);
    }

    private async Task<List<Row>> EmailRowsAsync()
    {
        await using var connection = new NpgsqlConnection(_postgres!.ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(
            "SELECT provider_name, is_active, (config->>'health_score')::integer, config::text FROM messaging_providers WHERE provider_type = 'email' AND deleted_at IS NULL ORDER BY id", connection);
        await using var reader = await command.ExecuteReaderAsync();
        var rows = new List<Row>();
        while (await reader.ReadAsync())
            rows.Add(new Row(reader.GetString(0), reader.GetBoolean(1), reader.IsDBNull(2) ? null : reader.GetInt32(2), reader.GetString(3)));
        return rows;
    }

    private async Task<List<LogRow>> HealthLogAsync()
    {
        await using var connection = new NpgsqlConnection(_postgres!.ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(
            """
            SELECT p.provider_name, l.status, l.metadata->>'state', COALESCE(l.error_message, '')
              FROM messaging_provider_health_logs l JOIN messaging_providers p ON p.id = l.provider_id
             WHERE l.check_type = 'agent_health' ORDER BY l.id
            """, connection);
        await using var reader = await command.ExecuteReaderAsync();
        var rows = new List<LogRow>();
        while (await reader.ReadAsync())
            rows.Add(new LogRow(reader.GetString(0), reader.GetString(1), reader.GetString(2), reader.GetString(3)));
        return rows;
    }

    private static async Task<IReadOnlyList<string>> OrderAsync(string connectionString)
    {
        try
        {
            return await RoutingTableDatabase.RoutingOrderAsync(connectionString);
        }
        catch (NpgsqlException)
        {
            return [];
        }
    }

    private Task<IReadOnlyList<string>> UntilOrderAsync(Func<IReadOnlyList<string>, bool> done, TimeSpan timeout, string what) =>
        Eventually.UntilAsync(_ => OrderAsync(_postgres!.ConnectionString), done, timeout, o => $"{what}; routing order [{string.Join(", ", o)}]; board {Board()}");

    private static bool Behind(IReadOnlyList<string> order, string provider, string other) =>
        order.Contains(other) && (!order.Contains(provider) || order.ToList().IndexOf(provider) > order.ToList().IndexOf(other));

    private string Board() => string.Join("; ", _app!.Services.GetRequiredService<ProviderBoard>().Latest()
        .Select(a => $"{a.ProviderName} {a.State} {a.Score} active={a.IsActive} ({a.Reason})"));

    private ProviderAssessment? Latest(string provider) =>
        _app!.Services.GetRequiredService<ProviderBoard>().Latest().FirstOrDefault(a => a.ProviderName == provider);

    [ServerFact("postgres")]
    public async Task ControlPlane_FailuresKillAndDatabaseOutage_RoutingFollowsAndRecovers()
    {
        var before = await EmailRowsAsync();
        await StartAgentAsync("postfix-oregon");
        await StartAgentAsync("postfix-virginia");
        await StartControlPlaneAsync();

        // Both healthy: the order is the operators' (priority), the paid provider (score 90) last.
        await UntilOrderAsync(o => o.SequenceEqual(["postfix-oregon", "postfix-virginia", "elastic-email"])
            && Latest("postfix-oregon")?.State == ProviderState.Healthy && Latest("postfix-virginia")?.State == ProviderState.Healthy
            && _app!.Services.GetRequiredService<MailControlPlane.Connections.AgentConnections>().ConnectedCount == 2,
            TimeSpan.FromSeconds(60), "both connected and healthy");
        await CheckApiAsync();

        // Oregon's deliveries turn to connection refusals and 451 4.7.1: it falls behind virginia within 10 s ...
        _logs["postfix-oregon"].Bad = true;
        var failing = Stopwatch.StartNew();
        await UntilOrderAsync(o => Behind(o, "postfix-oregon", "postfix-virginia"), FallBehind, "oregon behind virginia after its failures");
        output.WriteLine($"oregon fell behind after {failing.Elapsed.TotalSeconds:0.0} s");
        // ... and is deactivated after the configured consecutive failed evaluations.
        await Eventually.UntilAsync(_ => EmailRowsAsync(), rows => rows.Single(r => r.Name == "postfix-oregon") is { IsActive: false },
            TimeSpan.FromSeconds(60), rows => $"oregon still active: {string.Join(", ", rows)}; board {Board()}");

        // It recovers: back through probation to healthy and first place, without flapping.
        _logs["postfix-oregon"].Bad = false;
        await Eventually.UntilAsync(() => Latest("postfix-oregon"), a => a?.State == ProviderState.Probation,
            TimeSpan.FromSeconds(120), a => $"oregon not on probation: {Board()}");
        await UntilOrderAsync(o => o.Contains("postfix-oregon"), TimeSpan.FromSeconds(10), "oregon active again on probation");
        await UntilOrderAsync(o => o.Count == 3 && o[0] == "postfix-oregon" && Latest("postfix-oregon")?.State == ProviderState.Healthy,
            TimeSpan.FromSeconds(60), "oregon healthy and first again");
        // One row per state change and per is_active flip: the flip to inactive repeats "failed", so the story is the states in turn.
        var states = (await HealthLogAsync()).Where(r => r.Name == "postfix-oregon").Select(r => r.State).ToList();
        var story = states.Where((s, i) => i == 0 || states[i - 1] != s).ToList();
        output.WriteLine("oregon's health log: " + string.Join(" -> ", story));
        int failed = story.IndexOf("failed");
        Assert.True(failed > 0, "no failed row: " + string.Join(", ", story));
        Assert.Equal(["failed", "probation", "healthy"], story.Skip(failed));
        Assert.Equal("healthy", story[0]);
        Assert.All((await HealthLogAsync()).Where(r => r.Name == "postfix-virginia"), r => Assert.Equal("healthy", r.State));

        // Oregon's agent is killed: it falls behind within 10 s.
        await _agents["postfix-oregon"].KillAsync();
        var killed = Stopwatch.StartNew();
        await UntilOrderAsync(o => Behind(o, "postfix-oregon", "postfix-virginia"), FallBehind, "oregon behind virginia after its agent died");
        output.WriteLine($"oregon fell behind {killed.Elapsed.TotalSeconds:0.0} s after its agent was killed");

        // PostgreSQL goes away for 60 s while oregon fails, its agent comes back and it recovers.
        await _postgres!.StopAsync();
        var down = Stopwatch.StartNew();
        await Eventually.UntilAsync(() => Latest("postfix-oregon"), a => a is { State: ProviderState.Failed, IsActive: false },
            TimeSpan.FromSeconds(30), a => $"oregon not failed and inactive: {Board()}");
        await StartAgentAsync("postfix-oregon");
        var remaining = TimeSpan.FromSeconds(60) - down.Elapsed;
        if (remaining > TimeSpan.Zero)
            await Task.Delay(remaining);
        Assert.True(_app!.Services.GetRequiredService<EvaluationLoop>().LastRun > DateTimeOffset.UtcNow.AddSeconds(-5), "the evaluation loop stopped while the database was down");
        var (status, body) = await HealthAsync();
        Assert.True(status == 503 && body.Contains("\"routingWriterOk\":false", StringComparison.Ordinal), $"/health during the outage: {status} {body}");
        await _postgres.StartAgainAsync();

        // After it returns: the right final state, and every health-log row handed to the writer is there.
        await UntilOrderAsync(o => o.Count == 3 && o[0] == "postfix-oregon" && Latest("postfix-oregon")?.State == ProviderState.Healthy,
            TimeSpan.FromSeconds(150), "oregon healthy and first after the outage");
        var expected = _sink!.Rows.Select(r => (r.ProviderName, r.Status, r.Reason)).ToList();
        var written = await Eventually.UntilAsync(_ => HealthLogAsync(), rows => rows.Count >= expected.Count,
            TimeSpan.FromSeconds(30), rows => $"{rows.Count} health-log rows, {expected.Count} enqueued");
        Assert.Equal(expected, written.Select(r => (r.Name, r.Status, r.Reason)));
        Assert.Contains(written.Skip(story.Count), r => r.Name == "postfix-oregon" && r.State == "failed");

        var final = await Eventually.UntilAsync(_ => EmailRowsAsync(), rows => rows.Where(r => r.Name.StartsWith("postfix-", StringComparison.Ordinal))
            .All(r => Latest(r.Name) is { } a && a.Score == r.Score && a.IsActive == r.IsActive), TimeSpan.FromSeconds(30),
            rows => $"table {string.Join(", ", rows)} vs board {Board()}");

        (status, body) = await Eventually.UntilAsync(_ => HealthAsync(), h => h.Status == 200, TimeSpan.FromSeconds(30), h => $"/health: {h.Status} {h.Body}");
        Assert.Contains("\"agentsConnected\":2", body, StringComparison.Ordinal);

        // Other rows and other keys untouched.
        await AssertUntouchedAsync(before, final);
    }

    private async Task AssertUntouchedAsync(List<Row> before, List<Row> after)
    {
        foreach (var (old, now) in before.Zip(after))
        {
            Assert.Equal(old.Name, now.Name);
            using var o = JsonDocument.Parse(old.Config);
            using var n = JsonDocument.Parse(now.Config);
            var keysBefore = o.RootElement.EnumerateObject().Where(p => p.Name != "health_score").Select(p => (p.Name, p.Value.GetRawText())).ToList();
            var keysAfter = n.RootElement.EnumerateObject().Where(p => p.Name != "health_score").Select(p => (p.Name, p.Value.GetRawText())).ToList();
            Assert.Equal(keysBefore, keysAfter);
            Assert.Equal(JsonValueKind.Number, n.RootElement.GetProperty("health_score").ValueKind);
        }

        Assert.Equal(before.Single(r => r.Name == "elastic-email"), after.Single(r => r.Name == "elastic-email"));
        await using var connection = new NpgsqlConnection(_postgres!.ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(
            "SELECT count(*) FROM messaging_providers WHERE (provider_type <> 'email' OR deleted_at IS NOT NULL) AND updated_at <> TIMESTAMP '2026-01-01 00:00:00'", connection);
        Assert.Equal(0L, (long)(await command.ExecuteScalarAsync())!);
        await using var sms = new NpgsqlCommand("SELECT config::text FROM messaging_providers WHERE provider_type = 'sms'", connection);
        using var smsConfig = JsonDocument.Parse((string)(await sms.ExecuteScalarAsync())!);
        Assert.Equal(77, smsConfig.RootElement.GetProperty("health_score").GetInt32());
    }

    private async Task<(int Status, string Body)> HealthAsync()
    {
        string address = _app!.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single(a => a.StartsWith("http://", StringComparison.Ordinal));
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        using var response = await http.GetAsync(new Uri(new Uri(address), "/health"));
        return ((int)response.StatusCode, await response.Content.ReadAsStringAsync());
    }

    /// <summary>The API over mutual TLS: both agents connected, the providers scored.</summary>
    private async Task CheckApiAsync()
    {
        string address = _app!.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single(a => a.StartsWith("https://", StringComparison.Ordinal));
        var ca = new X509Certificate2Collection();
        ca.ImportFromPemFile(Pki("ca.crt"));
        using var client = X509Certificate2.CreateFromPemFile(Pki("client.crt"), Pki("client.key"));
        using var channel = MailControlPlane.Connections.AgentConnections.CreateChannel(new Uri(address.Replace("127.0.0.1", "localhost", StringComparison.Ordinal)), client, ca, TimeProvider.System, new ConnectionOptions());
        var api = new Api.ControlPlaneService.ControlPlaneServiceClient(channel);
        var agents = await api.ListAgentsAsync(new Api.ListAgentsRequest());
        Assert.Equal(["postfix-oregon", "postfix-virginia"], agents.Agents.Select(a => a.Name));
        Assert.All(agents.Agents, a => Assert.Equal(Api.ConnectionState.Connected, a.ConnectionState));
        Assert.All(agents.Agents, a => Assert.Contains(a.Checks, c => c.Name == "log"));
        var providers = await api.ListProvidersAsync(new Api.ListProvidersRequest());
        Assert.Equal(["postfix-oregon", "postfix-virginia"], providers.Providers.Select(p => p.ProviderName));
        Assert.All(providers.Providers, p => Assert.Equal(Api.ProviderState.Healthy, p.State));
    }

    public async Task DisposeAsync()
    {
        if (_app != null)
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
        }

        foreach (var log in _logs.Values)
            await log.DisposeAsync();
        foreach (var agent in _agents.Values)
            await agent.DisposeAsync();
        if (_postgres != null)
            await _postgres.DisposeAsync();
        Directory.Delete(_dir, recursive: true);
    }
}
