using MailAgent.Tests.Integration;
using MailControlPlane.Routing;
using MailControlPlane.Scoring;
using Npgsql;
using static MailControlPlane.Tests.Routing.WriterHarness;

namespace MailControlPlane.Tests.Integration.Postgres;

/// <summary>The routing-table writer against a real, private PostgreSQL with the platform's tables.</summary>
[Trait("Category", "Integration")]
public sealed class PostgresRoutingTableWriterTests : IAsyncLifetime
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);
    private PrivatePostgres _server = null!;

    private string Db => _server.ConnectionString;

    public async Task InitializeAsync()
    {
        _server = await PrivatePostgres.StartNewAsync();
        await RoutingTableDatabase.ApplySchemaAsync(Db);
        await RoutingTableDatabase.SeedStandardRowsAsync(Db);
    }

    public async Task DisposeAsync() => await _server.DisposeAsync();

    [ServerFact("postgres")]
    public async Task ReadEmailRows_StandardRows_LiveEmailRowsWithIsActiveNullAsFalse()
    {
        await RoutingTableDatabase.InsertAsync(Db, "email", "postfix-paused", "{}", isActive: false, deleted: false);
        await using (var connection = new NpgsqlConnection(Db))
        {
            await connection.OpenAsync();
            await using var command = new NpgsqlCommand("INSERT INTO messaging_providers (provider_type, provider_name, credentials_encrypted, credentials_iv) VALUES ('email', 'postfix-null', '', '')", connection);
            await command.ExecuteNonQueryAsync();
            await using var nulled = new NpgsqlCommand("UPDATE messaging_providers SET is_active = NULL WHERE provider_name = 'postfix-null'", connection);
            await nulled.ExecuteNonQueryAsync();
        }

        await using var store = new PostgresRoutingStore(FastOptions(Db));

        var rows = await store.ReadEmailRowsAsync(CancellationToken.None);

        // The sms row and the deleted email row are not listed; a NULL is_active is out of rotation, as the routing query sees it.
        Assert.Equal(
            [("postfix-oregon", true), ("postfix-virginia", true), ("elastic-email", true), ("postfix-paused", false), ("postfix-null", false)],
            rows.Select(r => (r.ProviderName, r.IsActive)));
    }

    [ServerFact("postgres")]
    public async Task Publish_NewScores_OnlyHealthScoreIsActiveUpdatedAtChangeAndOtherRowsUntouched()
    {
        var before = await RowsAsync();
        await using var harness = await StartAsync(FastOptions(Db));

        harness.Writer.Publish(Assessment("postfix-oregon", 35, ProviderState.Degraded, active: true));
        harness.Writer.Publish(Assessment("postfix-virginia", 92, ProviderState.Healthy, active: true));
        await Eventually.UntilAsync(
            ct => ScalarAsync<string?>("SELECT config->>'health_score' FROM messaging_providers WHERE provider_type='email' AND provider_name='postfix-oregon' AND deleted_at IS NULL", ct),
            s => s == "35", Timeout, s => $"oregon health_score {s}");
        await Eventually.UntilAsync(_ => Task.FromResult(harness.Writer.ActiveProvidersWithoutAgent), n => n == 1, Timeout, n => $"{n} active providers without agent");

        var after = await RowsAsync();
        foreach (var (id, row) in before)
        {
            var now = after[id];
            if (row.Type == "email" && row.Deleted is null && row.Name is "postfix-oregon" or "postfix-virginia")
            {
                Assert.Equal(row.ConfigWithoutScore, now.ConfigWithoutScore);
                Assert.Equal(row.Created, now.Created);
                Assert.NotEqual(row.Updated, now.Updated);
                Assert.Equal("number", now.ScoreType);
                Assert.True(now.Active);
            }
            else
            {
                Assert.Equal(row.Whole, now.Whole);
            }
        }

        Assert.Equal("92", await ScalarAsync<string>("SELECT config->>'health_score' FROM messaging_providers WHERE provider_type='email' AND provider_name='postfix-virginia' AND deleted_at IS NULL"));
        Assert.Equal(["postfix-virginia", "elastic-email", "postfix-oregon"], await RoutingTableDatabase.RoutingOrderAsync(Db));
        Assert.Equal(["postfix-virginia", "elastic-email", "postfix-oregon"], (await harness.Store.ReadOrderAsync(CancellationToken.None)).Select(r => r.ProviderName));

        harness.Writer.Publish(Assessment("postfix-oregon", 0, ProviderState.Failed, active: false));
        await Eventually.UntilAsync(ct => RoutingTableDatabase.RoutingOrderAsync(Db, ct), o => o.Count == 2, Timeout, o => string.Join(",", o));
        Assert.Equal(["postfix-virginia", "elastic-email"], await RoutingTableDatabase.RoutingOrderAsync(Db));
        Assert.Equal("0", await ScalarAsync<string>("SELECT config->>'health_score' FROM messaging_providers WHERE provider_type='email' AND provider_name='postfix-oregon' AND deleted_at IS NULL"));
        Assert.Equal(1, harness.Metrics.Leader.Value);
        Assert.True(harness.Metrics.LastSuccess.Value > 0);
    }

    [ServerFact("postgres")]
    public async Task Publish_SameValuesAgain_NoUpdateStatement()
    {
        await ExecuteAsync("""
            CREATE TABLE provider_updates (id integer, at timestamptz DEFAULT clock_timestamp());
            CREATE FUNCTION note_update() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN INSERT INTO provider_updates (id) VALUES (NEW.id); RETURN NEW; END $$;
            CREATE TRIGGER note_update AFTER UPDATE ON messaging_providers FOR EACH ROW EXECUTE FUNCTION note_update();
            """);
        await using var harness = await StartAsync(FastOptions(Db));
        harness.Writer.Publish(Assessment("postfix-oregon", 70, ProviderState.Healthy, active: true));
        await Eventually.UntilAsync(ct => ScalarAsync<long>("SELECT COUNT(*) FROM provider_updates", ct), n => n == 1, Timeout, n => $"{n} updates");

        for (var i = 0; i < 5; i++)
        {
            harness.Writer.Publish(Assessment("postfix-oregon", 70, ProviderState.Healthy, active: true, reason: "same again " + i));
            await harness.WaitForCyclesAsync();
        }

        Assert.Equal(1, await ScalarAsync<long>("SELECT COUNT(*) FROM provider_updates"));
        Assert.Equal(1, harness.Metrics.ProviderUpdates.Value);

        harness.Writer.Publish(Assessment("postfix-oregon", 71, ProviderState.Healthy, active: true));
        await Eventually.UntilAsync(ct => ScalarAsync<long>("SELECT COUNT(*) FROM provider_updates", ct), n => n == 2, Timeout, n => $"{n} updates");
    }

    [ServerFact("postgres")]
    public async Task HealthLog_StateChangesAndInterval_RowsWrittenForTheLiveEmailRow()
    {
        var options = FastOptions(Db);
        options.HealthLogInterval = TimeSpan.FromSeconds(1);
        await using var harness = await StartAsync(options);
        var failed = Assessment("postfix-oregon", 0, ProviderState.Failed, active: false, reason: "connection refused");
        harness.Writer.Publish(failed);
        harness.Writer.Enqueue(HealthLogEntries.From(failed, HealthLogEntries.StateChange));
        harness.Writer.Publish(Assessment("postfix-virginia", 95, ProviderState.Healthy, active: true));

        await Eventually.UntilAsync(
            ct => ScalarAsync<long>("SELECT COUNT(*) FROM messaging_provider_health_logs WHERE metadata->>'kind' = 'periodic' AND metadata->>'state' = 'healthy'", ct),
            n => n >= 2, Timeout, n => $"{n} periodic virginia rows");

        var oregonId = await ScalarAsync<int>("SELECT id FROM messaging_providers WHERE provider_type='email' AND provider_name='postfix-oregon' AND deleted_at IS NULL");
        await using var connection = await _server.OpenAsync();
        await using var command = new NpgsqlCommand(
            "SELECT provider_id, check_type, status, error_message, metadata->>'kind', jsonb_typeof(metadata) FROM messaging_provider_health_logs ORDER BY id", connection);
        await using var reader = await command.ExecuteReaderAsync();
        var rows = new List<(long ProviderId, string CheckType, string Status, string Reason, string Kind, string MetadataType)>();
        while (await reader.ReadAsync())
        {
            rows.Add((reader.GetInt64(0), reader.GetString(1), reader.GetString(2), reader.GetString(3), reader.GetString(4), reader.GetString(5)));
        }

        Assert.All(rows, r => Assert.Equal("agent_health", r.CheckType));
        Assert.All(rows, r => Assert.Equal("object", r.MetadataType));
        Assert.Equal((oregonId, "failed", "connection refused", "state_change"), (rows[0].ProviderId, rows[0].Status, rows[0].Reason, rows[0].Kind));
        Assert.Contains(rows, r => r.ProviderId == oregonId && r.Kind == "periodic" && r.Status == "failed");
    }

    [ServerFact("postgres")]
    public async Task DatabaseStopped_AssessmentsAndRowsKeepComing_FinalStateAndEveryRowWrittenWhenBack()
    {
        await using var harness = await StartAsync(FastOptions(Db));
        harness.Writer.Publish(Assessment("postfix-oregon", 90, ProviderState.Healthy, active: true));
        await Eventually.UntilAsync(ct => ScalarAsync<string?>("SELECT config->>'health_score' FROM messaging_providers WHERE provider_type='email' AND provider_name='postfix-oregon' AND deleted_at IS NULL", ct),
            s => s == "90", Timeout, s => $"oregon {s}");

        await _server.StopAsync();
        for (var i = 0; i < 40; i++)
        {
            var score = 89 - i;
            var assessment = Assessment("postfix-oregon", score, score < 70 ? ProviderState.Degraded : ProviderState.Healthy, active: true, reason: "row " + i);
            harness.Writer.Publish(assessment);
            harness.Writer.Enqueue(HealthLogEntries.From(assessment, HealthLogEntries.StateChange));
            if (i % 10 == 0)
            {
                await Task.Delay(100);
            }
        }

        await Eventually.UntilAsync(_ => Task.FromResult(harness.Metrics.WriteFailures.Value), n => n >= 2, Timeout, n => $"{n} failures");
        Assert.Equal(0, harness.Metrics.Leader.Value);
        Assert.Equal(40, harness.Writer.BufferedRows);

        await _server.StartAgainAsync();

        await Eventually.UntilAsync(ct => ScalarAsync<long>("SELECT COUNT(*) FROM messaging_provider_health_logs", ct), n => n == 40, Timeout, n => $"{n} of 40 rows");
        Assert.Equal("50", await ScalarAsync<string>("SELECT config->>'health_score' FROM messaging_providers WHERE provider_type='email' AND provider_name='postfix-oregon' AND deleted_at IS NULL"));
        Assert.Equal(40, await ScalarAsync<long>("SELECT COUNT(DISTINCT error_message) FROM messaging_provider_health_logs"));
        Assert.Equal(0, harness.Metrics.HealthLogDropped.Value);
        Assert.Equal(0, harness.Writer.BufferedRows);
        Assert.Equal(1, harness.Metrics.Leader.Value);
    }

    [ServerFact("postgres")]
    public async Task DatabaseStopped_BufferOverflows_OldestDroppedAndCountedNewestWritten()
    {
        var options = FastOptions(Db);
        options.HealthLogBufferSize = 5;
        await using var harness = await StartAsync(options);
        await harness.WaitForCyclesAsync();
        await _server.StopAsync();

        for (var i = 0; i < 12; i++)
        {
            harness.Writer.Enqueue(HealthLogEntries.From(Assessment("postfix-virginia", 50, ProviderState.Degraded, active: true, reason: "row " + i), HealthLogEntries.StateChange));
        }

        Assert.Equal(7, harness.Metrics.HealthLogDropped.Value);
        Assert.Equal(5, harness.Metrics.HealthLogBufferDepth.Value);
        await _server.StartAgainAsync();

        await Eventually.UntilAsync(ct => ScalarAsync<long>("SELECT COUNT(*) FROM messaging_provider_health_logs", ct), n => n == 5, Timeout, n => $"{n} rows");
        Assert.Equal(
            "row 10,row 11,row 7,row 8,row 9",
            await ScalarAsync<string>("SELECT string_agg(error_message, ',' ORDER BY error_message) FROM messaging_provider_health_logs"));
    }

    [ServerFact("postgres")]
    public async Task TwoWriters_OnlyLeaderWrites_StandbyTakesOverWhenLeaderGoes()
    {
        var first = await StartAsync(FastOptions(Db));
        await using var second = await StartAsync(FastOptions(Db));
        try
        {
            await Eventually.UntilAsync(_ => Task.FromResult(first.Writer.IsLeader || second.Writer.IsLeader), l => l, Timeout, _ => "no leader");
            var (leader, standby) = first.Writer.IsLeader ? (first, second) : (second, first);

            standby.Writer.Publish(Assessment("postfix-oregon", 33, ProviderState.Failed, active: true));
            leader.Writer.Publish(Assessment("postfix-oregon", 77, ProviderState.Healthy, active: true));
            await Eventually.UntilAsync(_ => OregonScoreAsync(), s => s == "77", Timeout, s => $"oregon {s}");
            await standby.WaitForCyclesOrStandbyAsync();

            Assert.Equal("77", await OregonScoreAsync());
            Assert.False(standby.Writer.IsLeader);
            Assert.Equal(0, standby.Metrics.Leader.Value);
            Assert.Equal(0, standby.Metrics.ProviderUpdates.Value);
            Assert.Equal(1, await ScalarAsync<long>("SELECT COUNT(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"));

            // The leader goes: its session ends and the server releases the lock.
            await leader.DisposeAsync();
            await Eventually.UntilAsync(_ => OregonScoreAsync(), s => s == "33", TimeSpan.FromSeconds(10), s => $"oregon {s} after the leader went");
            Assert.True(standby.Writer.IsLeader);
        }
        finally
        {
            await first.DisposeAsync();
        }
    }

    private Task<string?> OregonScoreAsync() =>
        ScalarAsync<string?>("SELECT config->>'health_score' FROM messaging_providers WHERE provider_type='email' AND provider_name='postfix-oregon' AND deleted_at IS NULL");

    private async Task<T> ScalarAsync<T>(string sql, CancellationToken cancellationToken = default)
    {
        await using var connection = await _server.OpenAsync(cancellationToken);
        await using var command = new NpgsqlCommand(sql, connection);
        var value = await command.ExecuteScalarAsync(cancellationToken);
        return value is DBNull or null ? default! : (T)value;
    }

    private async Task ExecuteAsync(string sql)
    {
        await using var connection = await _server.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync();
    }

    private async Task<Dictionary<int, Row>> RowsAsync()
    {
        await using var connection = await _server.OpenAsync();
        await using var command = new NpgsqlCommand(
            """
            SELECT id, provider_type, provider_name, (config - 'health_score')::text, jsonb_typeof(config->'health_score'), is_active,
                   created_at, updated_at, deleted_at, row_to_json(p)::text
              FROM messaging_providers p
            """,
            connection);
        await using var reader = await command.ExecuteReaderAsync();
        var rows = new Dictionary<int, Row>();
        while (await reader.ReadAsync())
        {
            rows[reader.GetInt32(0)] = new Row(
                reader.GetString(1), reader.GetString(2), reader.GetString(3), reader.GetString(4), reader.GetBoolean(5),
                reader.GetDateTime(6), reader.GetDateTime(7), reader.IsDBNull(8) ? null : reader.GetDateTime(8), reader.GetString(9));
        }

        return rows;
    }

    private sealed record Row(string Type, string Name, string ConfigWithoutScore, string ScoreType, bool Active, DateTime Created, DateTime Updated, DateTime? Deleted, string Whole);
}
