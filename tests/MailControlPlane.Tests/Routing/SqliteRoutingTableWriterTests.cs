using MailControlPlane.Routing;
using MailControlPlane.Scoring;
using Microsoft.Data.Sqlite;
using static MailControlPlane.Tests.Routing.WriterHarness;

namespace MailControlPlane.Tests.Routing;

/// <summary>The routing-table writer on its embedded SQLite file (a temp file per test).</summary>
public sealed class SqliteRoutingTableWriterTests : IDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "cp-sqlite-" + Guid.NewGuid().ToString("N")[..12]);

    public SqliteRoutingTableWriterTests() => Directory.CreateDirectory(_directory);

    private string DbPath => Path.Combine(_directory, "state", "routing.db");

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        Directory.Delete(_directory, recursive: true);
    }

    [Fact]
    public async Task Start_FreshFile_CreatesTablesAndSeedsStandaloneProviders()
    {
        await using var harness = await StartAsync(FastOptions(sqlitePath: DbPath));
        await harness.WaitForCyclesAsync();

        var order = await harness.Store.ReadOrderAsync(CancellationToken.None);

        Assert.Equal(["postfix-oregon", "postfix-virginia", "elastic-email"], order.Select(r => r.ProviderName));
        Assert.Equal(1, harness.Writer.ActiveProvidersWithoutAgent);
        Assert.Equal(1, harness.Metrics.Leader.Value);
        Assert.Equal(0L, Scalar<long>("SELECT COUNT(*) FROM messaging_provider_health_logs"));
    }

    [Fact]
    public async Task Publish_NewScores_OnlyHealthScoreIsActiveUpdatedAtChangeAndOtherRowsUntouched()
    {
        CreateWithRows();
        var before = Rows();
        await using var harness = await StartAsync(FastOptions(sqlitePath: DbPath));

        harness.Writer.Publish(Assessment("postfix-oregon", 35, ProviderState.Degraded, active: true));
        harness.Writer.Publish(Assessment("postfix-virginia", 92, ProviderState.Healthy, active: true));
        await Eventually.UntilAsync(() => OregonScore(), s => s == 35, Timeout, s => $"oregon {s}");

        var after = Rows();
        Assert.Equal(5, after.Count);
        foreach (var (id, row) in before)
        {
            var now = after[id];
            if (row.Type == "email" && row.Deleted is null && row.Name is "postfix-oregon" or "postfix-virginia")
            {
                Assert.Equal(row.ConfigWithoutScore, now.ConfigWithoutScore);
                Assert.NotEqual(row.Updated, now.Updated);
                Assert.Equal("integer", now.ScoreType);
            }
            else
            {
                Assert.Equal(row.Whole, now.Whole);
            }
        }

        Assert.Equal(
            ["postfix-virginia", "elastic-email", "postfix-oregon"],
            (await harness.Store.ReadOrderAsync(CancellationToken.None)).Select(r => r.ProviderName));
        // The active count is read at the end of the cycle that wrote the scores.
        await Eventually.UntilAsync(() => harness.Writer.ActiveProvidersWithoutAgent, n => n == 1, Timeout, n => $"{n} active providers without agent");

        harness.Writer.Publish(Assessment("postfix-oregon", 0, ProviderState.Failed, active: false));
        await Eventually.UntilAsync(() => Scalar<long>("SELECT is_active FROM messaging_providers WHERE provider_type='email' AND provider_name='postfix-oregon' AND deleted_at IS NULL"), a => a == 0, Timeout, a => $"is_active {a}");
        Assert.Equal(["postfix-virginia", "elastic-email"], (await harness.Store.ReadOrderAsync(CancellationToken.None)).Select(r => r.ProviderName));
    }

    [Fact]
    public async Task Publish_SameValuesAgain_NoUpdateStatement()
    {
        CreateWithRows();
        Execute("""
            CREATE TABLE provider_updates (id INTEGER);
            CREATE TRIGGER note_update AFTER UPDATE ON messaging_providers BEGIN INSERT INTO provider_updates VALUES (NEW.id); END;
            """);
        await using var harness = await StartAsync(FastOptions(sqlitePath: DbPath));
        harness.Writer.Publish(Assessment("postfix-oregon", 70, ProviderState.Healthy, active: true));
        await Eventually.UntilAsync(() => Scalar<long>("SELECT COUNT(*) FROM provider_updates"), n => n == 1, Timeout, n => $"{n} updates");

        for (var i = 0; i < 3; i++)
        {
            harness.Writer.Publish(Assessment("postfix-oregon", 70, ProviderState.Healthy, active: true, reason: "again " + i));
            await harness.WaitForCyclesAsync();
        }

        Assert.Equal(1L, Scalar<long>("SELECT COUNT(*) FROM provider_updates"));
    }

    [Fact]
    public async Task HealthLog_StateChangesAndInterval_RowsWritten()
    {
        var options = FastOptions(sqlitePath: DbPath);
        options.HealthLogInterval = TimeSpan.FromSeconds(1);
        await using var harness = await StartAsync(options);
        var failed = Assessment("postfix-oregon", 0, ProviderState.Failed, active: false, reason: "connection refused");
        harness.Writer.Publish(failed);
        harness.Writer.Enqueue(HealthLogEntries.From(failed, HealthLogEntries.StateChange));
        await harness.WaitForCyclesAsync();

        await Eventually.UntilAsync(
            () => Scalar<long>("SELECT COUNT(*) FROM messaging_provider_health_logs WHERE json_extract(metadata, '$.kind') = 'periodic'"),
            n => n >= 2, Timeout, n => $"{n} periodic rows");

        Assert.Equal(
            "agent_health|failed|connection refused|state_change|1",
            Scalar<string>("SELECT check_type || '|' || status || '|' || error_message || '|' || json_extract(metadata, '$.kind') || '|' || provider_id FROM messaging_provider_health_logs ORDER BY id LIMIT 1"));
        Assert.Equal(0L, Scalar<long>("SELECT COUNT(*) FROM messaging_provider_health_logs WHERE provider_id IS NULL OR check_type <> 'agent_health' OR status <> 'failed'"));
    }

    [Fact]
    public async Task WriteProviders_TwelveHundredInOneCall_EachRowOnceUnknownNamesZeroHealthLogsInOrder()
    {
        Directory.CreateDirectory(Path.GetDirectoryName(DbPath)!);
        Execute(RoutingTableSchema.SqliteTables);
        Execute(string.Join("\n", Enumerable.Range(0, 1500).Select(i =>
            $"INSERT INTO messaging_providers (provider_type, provider_name, credentials_encrypted, credentials_iv, config, is_active) VALUES ('email', 'host-{i:0000}', '', '', '{{\"priority\": {i}}}', 1);")));
        Execute("INSERT INTO messaging_providers (provider_type, provider_name, credentials_encrypted, credentials_iv, config, is_active, deleted_at) VALUES ('email', 'host-0001', '', '', '{}', 1, '2026-01-01');");
        var options = FastOptions(sqlitePath: DbPath);
        options.SeedStandalone = false;
        var store = new SqliteRoutingStore(options, Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance);
        Assert.True(await store.TryLeadAsync(CancellationToken.None));

        var updates = Enumerable.Range(0, 1200).Select(i => new ProviderRowUpdate($"host-{i:0000}", i % 101, i % 2 == 0))
            .Append(new ProviderRowUpdate("nobody", 50, true)).ToList();
        var changed = await store.WriteProvidersAsync(updates, CancellationToken.None);

        Assert.Equal(1201, changed.Count);
        Assert.Equal(0, changed["nobody"].Rows);
        Assert.All(changed.Where(c => c.Key != "nobody"), c => Assert.Equal(1, c.Value.Rows));
        Assert.Equal(1200L, Scalar<long>("SELECT COUNT(*) FROM messaging_providers WHERE json_extract(config, '$.health_score') IS NOT NULL"));
        Assert.Equal(1199L % 101, Scalar<long>("SELECT json_extract(config, '$.health_score') FROM messaging_providers WHERE provider_name = 'host-1199'"));
        Assert.Equal(0L, Scalar<long>("SELECT is_active FROM messaging_providers WHERE provider_name = 'host-1199'"));
        Assert.Equal(1L, Scalar<long>("SELECT is_active FROM messaging_providers WHERE provider_name = 'host-1300'"));
        Assert.Equal(0L, Scalar<long>("SELECT COUNT(*) FROM messaging_providers WHERE deleted_at IS NOT NULL AND json_extract(config, '$.health_score') IS NOT NULL"));

        var at = DateTimeOffset.Parse("2026-12-06T01:00:00Z", System.Globalization.CultureInfo.InvariantCulture);
        var entries = Enumerable.Range(0, 1300).Select(i => new HealthLogEntry($"host-{i % 7:0000}", "healthy", $"row {i}", "{\"kind\":\"periodic\"}", at.AddSeconds(i))).ToList();
        await store.WriteHealthLogsAsync(entries, CancellationToken.None);

        Assert.Equal(1300L, Scalar<long>("SELECT COUNT(*) FROM messaging_provider_health_logs"));
        Assert.Equal(0L, Scalar<long>("SELECT COUNT(*) FROM messaging_provider_health_logs a JOIN messaging_provider_health_logs b ON b.id > a.id AND b.checked_at < a.checked_at"));
        Assert.Equal("row 1299", Scalar<string>("SELECT error_message FROM messaging_provider_health_logs ORDER BY id DESC LIMIT 1"));
        Assert.Equal(0L, Scalar<long>("SELECT COUNT(*) FROM messaging_provider_health_logs WHERE provider_id IS NULL"));
    }

    private void CreateWithRows()
    {
        Directory.CreateDirectory(Path.GetDirectoryName(DbPath)!);
        Execute(RoutingTableSchema.SqliteTables);
        Execute("""
            INSERT INTO messaging_providers (provider_type, provider_name, credentials_encrypted, credentials_iv, config, is_active, updated_at, deleted_at) VALUES
              ('email', 'postfix-oregon', 'c', 'iv', '{"priority": 1, "weight": 50, "health_score": 100, "email_rate_per_1000": 0.00, "region": "us-west-2", "limits": {"burst": [1, 2.5, "x"]}}', 1, '2026-01-01 00:00:00', NULL),
              ('email', 'postfix-virginia', 'c', 'iv', '{"priority": 2, "health_score": 100, "email_rate_per_1000": 0.00}', 1, '2026-01-01 00:00:00', NULL),
              ('email', 'elastic-email', 'c', 'iv', '{"priority": 5, "health_score": 90, "email_rate_per_1000": 0.85}', 1, '2026-01-01 00:00:00', NULL),
              ('sms', 'postfix-oregon', 'c', 'iv', '{"priority": 1, "health_score": 77}', 1, '2026-01-01 00:00:00', NULL),
              ('email', 'postfix-virginia', 'c', 'iv', '{"priority": 9, "health_score": 55}', 0, '2026-01-01 00:00:00', '2026-02-01 00:00:00');
            """);
    }

    private long? OregonScore() =>
        Scalar<long?>("SELECT json_extract(config, '$.health_score') FROM messaging_providers WHERE provider_type='email' AND provider_name='postfix-oregon' AND deleted_at IS NULL");

    private SqliteConnection Open()
    {
        var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = DbPath, Pooling = false }.ConnectionString);
        connection.Open();
        return connection;
    }

    private void Execute(string sql)
    {
        using var connection = Open();
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }

    private T Scalar<T>(string sql)
    {
        using var connection = Open();
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        var value = command.ExecuteScalar();
        return value is DBNull or null ? default! : (T)value;
    }

    private Dictionary<long, Row> Rows()
    {
        using var connection = Open();
        using var command = connection.CreateCommand();
        command.CommandText = """
            SELECT id, provider_type, provider_name, json_remove(config, '$.health_score'), json_type(config, '$.health_score'), updated_at, deleted_at,
                   json_array(id, tenant_id, provider_type, provider_name, credentials_encrypted, credentials_iv, config, is_active, created_at, updated_at, deleted_at, last_used_at)
              FROM messaging_providers
            """;
        using var reader = command.ExecuteReader();
        var rows = new Dictionary<long, Row>();
        while (reader.Read())
        {
            rows[reader.GetInt64(0)] = new Row(reader.GetString(1), reader.GetString(2), reader.GetString(3), reader.GetString(4), reader.GetString(5), reader.IsDBNull(6) ? null : reader.GetString(6), reader.GetString(7));
        }

        return rows;
    }

    private sealed record Row(string Type, string Name, string ConfigWithoutScore, string ScoreType, string Updated, string? Deleted, string Whole);
}
