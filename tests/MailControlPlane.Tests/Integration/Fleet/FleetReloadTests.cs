using System.Text.Json;
using MailControlPlane.Connections;
using MailControlPlane.Hosting;
using MailControlPlane.Registry;
using MailControlPlane.Scoring;
using MailControlPlane.Tests.Integration.EndToEnd;
using Microsoft.AspNetCore.Builder;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Xunit.Abstractions;

namespace MailControlPlane.Tests.Integration.Fleet;

/// <summary>
/// A running control plane (SQLite routing table) whose agents change by editing its configuration
/// file: a host whose certificate <c>mailagent pki issue</c> made is added, then removed, and a broken
/// file is refused; no other provider's row changes meanwhile.
/// </summary>
public sealed class FleetReloadTests(ITestOutputHelper output) : IAsyncLifetime
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "cp-fleet-" + Guid.NewGuid().ToString("N")[..8]);
    private readonly List<AgentDaemon> _agents = [];
    private readonly Dictionary<string, int> _ports = [];
    private WebApplication? _app;

    private string Pki(string file) => Path.Combine(_dir, "pki", file);

    private string ConfigFile => Path.Combine(_dir, "control-plane.json");

    private string Database => Path.Combine(_dir, "routing.db");

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(_dir);
        await AgentDaemon.PkiInitAsync(Path.Combine(_dir, "pki"));
    }

    public async Task DisposeAsync()
    {
        if (_app != null)
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
        }

        foreach (var agent in _agents)
            await agent.DisposeAsync();
        SqliteConnection.ClearAllPools();
        Directory.Delete(_dir, recursive: true);
    }

    private async Task StartAgentAsync(string name, string certificate, string key)
    {
        string state = Path.Combine(_dir, name);
        Directory.CreateDirectory(state);
        await File.WriteAllTextAsync(Path.Combine(state, "mail.log"), "");
        _ports[name] = AgentDaemon.FreePort();
        _agents.Add(await AgentDaemon.StartAsync(
            $"LogTailing:Path={Path.Combine(state, "mail.log")}", $"LogTailing:StateDirectory={state}", "LogTailing:StartAt=Beginning",
            $"Grpc:Listen=127.0.0.1:{_ports[name]}", $"Grpc:CaFile={Pki("ca.crt")}", $"Grpc:CertificateFile={certificate}", $"Grpc:KeyFile={key}",
            "Grpc:ReadClients=control-plane", "Grpc:WriteClients=control-plane", "Health:Checks=log", "Queue:Enabled=false"));
    }

    /// <summary>The control plane's configuration file with these agents (name = provider name).</summary>
    private async Task WriteConfigAsync(params string[] agents)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
        {
            json.WriteStartObject();
            json.WriteStartArray("Agents");
            foreach (var name in agents)
            {
                json.WriteStartObject();
                json.WriteString("Name", name);
                json.WriteString("Address", $"https://localhost:{_ports[name]}");
                json.WriteString("Region", "test");
                json.WriteString("ProviderName", name);
                json.WriteEndObject();
            }

            json.WriteEndArray();
            json.WriteStartObject("Tls");
            json.WriteString("CaFile", Pki("ca.crt"));
            json.WriteString("CertificateFile", Pki("client.crt"));
            json.WriteString("KeyFile", Pki("client.key"));
            json.WriteEndObject();
            json.WriteStartObject("Connections");
            json.WriteString("StatusInterval", "00:00:01");
            json.WriteString("HeartbeatTimeout", "00:00:30");
            json.WriteString("BackoffMin", "00:00:00.1");
            json.WriteString("BackoffMax", "00:00:01");
            json.WriteEndObject();
            json.WriteStartObject("Http");
            json.WriteString("Urls", "http://127.0.0.1:0");
            json.WriteEndObject();
            json.WriteStartObject("Scoring");
            json.WriteString("EvaluationInterval", "00:00:00.5");
            json.WriteEndObject();
            json.WriteStartObject("Routing");
            json.WriteString("SqlitePath", Database);
            json.WriteBoolean("CreateMissingProviders", true);
            json.WriteString("WriteInterval", "00:00:00.2");
            json.WriteEndObject();
            json.WriteStartObject("Log");
            json.WriteString("FilePath", "");
            json.WriteEndObject();
            json.WriteEndObject();
        }

        // Written beside and renamed, as an editor saves: the watcher never reads half a file.
        await File.WriteAllBytesAsync(ConfigFile + ".tmp", buffer.ToArray());
        File.Move(ConfigFile + ".tmp", ConfigFile, overwrite: true);
    }

    private async Task StartControlPlaneAsync()
    {
        string[] args = ["--config", ConfigFile];
        var config = ControlPlaneConfiguration.Build(args, out _, out var errors);
        errors.AddRange(ControlPlaneConfiguration.Validate(config, out var settings));
        Assert.Empty(errors);
        _app = ControlPlaneHost.Build(settings, TimeProvider.System, builder =>
        {
            builder.Logging.ClearProviders();
            builder.Logging.AddProvider(new XunitLoggerProvider(output));
        }, reloadArgs: args);
        await ControlPlaneHost.StartAsync(_app, settings);
    }

    private T Service<T>()
        where T : notnull => _app!.Services.GetRequiredService<T>();

    private SqliteConnection Open()
    {
        var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = Database, Pooling = false }.ConnectionString);
        connection.Open();
        return connection;
    }

    private List<string> Query(string sql)
    {
        using var connection = Open();
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        using var reader = command.ExecuteReader();
        var rows = new List<string>();
        while (reader.Read())
            rows.Add(string.Join("|", Enumerable.Range(0, reader.FieldCount).Select(i => reader.IsDBNull(i) ? "null" : reader.GetValue(i).ToString())));
        return rows;
    }

    /// <summary>The query's rows, or none while the control plane has not created the file yet.</summary>
    private List<string> TryQuery(string sql)
    {
        try
        {
            return Query(sql);
        }
        catch (SqliteException)
        {
            return [];
        }
    }

    private string Board() => string.Join("; ", Service<ProviderBoard>().Latest().Select(a => $"{a.ProviderName} {a.State} {a.Score} active={a.IsActive}"));

    [Fact]
    public async Task Reload_AgentAddedWithIssuedCertificateThenRemoved_NoRestartAndNoOtherRowChanges()
    {
        // The new host's certificate comes from the existing CA, as an operator adds a host.
        await AgentDaemon.PkiIssueAsync(Path.Combine(_dir, "pki"), "postfix-frankfurt");
        Assert.True(File.Exists(Pki("postfix-frankfurt.crt")) && File.Exists(Pki("postfix-frankfurt.key")));
        await StartAgentAsync("postfix-oregon", Pki("agent.crt"), Pki("agent.key"));
        await StartAgentAsync("postfix-frankfurt", Pki("postfix-frankfurt.crt"), Pki("postfix-frankfurt.key"));
        await WriteConfigAsync("postfix-oregon");
        await StartControlPlaneAsync();

        // Oregon connected, scored and written; its score is steady (no mail at all).
        await Eventually.UntilAsync(() => TryQuery("SELECT json_extract(config, '$.health_score') FROM messaging_providers WHERE provider_name = 'postfix-oregon'"),
            rows => Service<ProviderBoard>().Latest().FirstOrDefault(a => a.ProviderName == "postfix-oregon") is { State: ProviderState.Healthy } o
                && rows.SequenceEqual([o.Score.ToString(System.Globalization.CultureInfo.InvariantCulture)]),
            Timeout, rows => $"oregon row {string.Join(",", rows)}; board {Board()}");
        // The seed already says 100: let the writer run a few cycles so that its first write of oregon is behind us.
        var settled = Service<MailControlPlane.Routing.RoutingTableWriter>().LoopTurns;
        await Eventually.UntilAsync(() => Service<MailControlPlane.Routing.RoutingTableWriter>().LoopTurns, t => t >= settled + 3, Timeout, t => $"{t} turns");
        Assert.Empty(Query("SELECT id FROM messaging_providers WHERE provider_name = 'postfix-frankfurt'"));
        var rowsBefore = Query("SELECT id, provider_name, config, is_active, updated_at FROM messaging_providers WHERE provider_name <> 'postfix-frankfurt' ORDER BY id");
        using (var connection = Open())
        using (var command = connection.CreateCommand())
        {
            command.CommandText = """
                CREATE TABLE row_changes (provider_name TEXT, kind TEXT);
                CREATE TRIGGER note_update AFTER UPDATE ON messaging_providers BEGIN INSERT INTO row_changes VALUES (NEW.provider_name, 'update'); END;
                CREATE TRIGGER note_insert AFTER INSERT ON messaging_providers BEGIN INSERT INTO row_changes VALUES (NEW.provider_name, 'insert'); END;
                """;
            command.ExecuteNonQuery();
        }

        var connections = Service<AgentConnections>();
        var reloader = Service<FleetReloader>();
        // Push, not poll: from here on oregon's state comes from heartbeats on its stream, not GetStatus.
        var oregon = connections.Find("postfix-oregon")!;
        long statusCalls = oregon.StatusCalls, heartbeats = oregon.Heartbeats;

        // Added by editing the file: connected over its issued certificate, its row created and scored.
        await WriteConfigAsync("postfix-oregon", "postfix-frankfurt");
        await Eventually.UntilAsync(() => connections.Find("postfix-frankfurt")?.Snapshot(), s => s is { State: ConnectionState.Connected },
            Timeout, s => $"frankfurt {s?.State} {s?.LastError}; reloads {reloader.Applied} applied, {reloader.Rejected} rejected");
        await Eventually.UntilAsync(() => Query("SELECT is_active, json_extract(config, '$.health_score'), json_extract(config, '$.weight') FROM messaging_providers WHERE provider_name = 'postfix-frankfurt' AND provider_type = 'email'"),
            rows => Service<ProviderBoard>().Latest().FirstOrDefault(a => a.ProviderName == "postfix-frankfurt") is { State: ProviderState.Healthy } f
                && rows.SequenceEqual([$"1|{f.Score}|50"]),
            Timeout, rows => $"frankfurt row {string.Join(",", rows)}; board {Board()}");
        Assert.Equal(["postfix-frankfurt", "postfix-oregon"], connections.All.Select(c => c.Agent.Name).Order());

        // A broken file is refused: the running fleet stays.
        await File.WriteAllTextAsync(ConfigFile, "{ \"Agents\": [ { \"Name\": \"x\", \"Address\": \"not a url\" ");
        await Eventually.UntilAsync(() => reloader.Rejected, n => n >= 1, Timeout, n => $"{n} rejected");
        Assert.Equal(2, connections.All.Count);

        // Removed by editing the file again: disconnected and forgotten; its row is left as it was.
        await WriteConfigAsync("postfix-oregon");
        await Eventually.UntilAsync(() => connections.All.Select(c => c.Agent.Name).ToList(), names => names.SequenceEqual(["postfix-oregon"]),
            Timeout, names => $"agents {string.Join(", ", names)}");
        var frankfurtRow = Query("SELECT config, is_active, updated_at FROM messaging_providers WHERE provider_name = 'postfix-frankfurt'");
        await Eventually.UntilAsync(() => Service<ProviderBoard>().Latest().Select(a => a.ProviderName).ToList(),
            names => names.SequenceEqual(["postfix-oregon"]), Timeout, names => $"board {string.Join(", ", names)}");
        var turns = Service<MailControlPlane.Routing.RoutingTableWriter>().LoopTurns;
        await Eventually.UntilAsync(() => Service<MailControlPlane.Routing.RoutingTableWriter>().LoopTurns, t => t >= turns + 5, Timeout, t => $"{t} turns");
        Assert.Equal(frankfurtRow, Query("SELECT config, is_active, updated_at FROM messaging_providers WHERE provider_name = 'postfix-frankfurt'"));

        // No restart, and no other provider's row changed at any point.
        Assert.Equal(rowsBefore, Query("SELECT id, provider_name, config, is_active, updated_at FROM messaging_providers WHERE provider_name <> 'postfix-frankfurt' ORDER BY id"));
        Assert.All(Query("SELECT provider_name FROM row_changes"), name => Assert.Equal("postfix-frankfurt", name));
        Assert.Contains("postfix-frankfurt|insert", Query("SELECT provider_name, kind FROM row_changes"));
        Assert.Equal(2, reloader.Applied);
        Assert.True(oregon.Heartbeats >= heartbeats + 3, $"{oregon.Heartbeats - heartbeats} heartbeats meanwhile");
        Assert.True(oregon.StatusCalls <= statusCalls + 1, $"{oregon.StatusCalls - statusCalls} GetStatus calls meanwhile (heartbeats flowed)");
        Assert.True(connections.Find("postfix-oregon")!.Snapshot().State == ConnectionState.Connected);
    }
}
