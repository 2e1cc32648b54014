using MailControlPlane.Routing;
using MailControlPlane.Scoring;
using MailControlPlane.Tests.Routing;
using MailControlPlane.Tests.Scoring;
using Npgsql;

namespace MailControlPlane.Tests.Integration.Postgres;

/// <summary>
/// The scorer's memory and the operator's word across restarts and takeovers, against a real PostgreSQL: each replica is a
/// real scorer feeding a real routing-table writer, as `run` wires them.
/// </summary>
public sealed class ScorerStatePostgresTests : IAsyncLifetime
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);
    private const string Virginia = "postfix-virginia";
    private const string Oregon = "postfix-oregon";
    private PrivatePostgres _server = null!;

    private string Db => _server.ConnectionString;

    public async Task InitializeAsync()
    {
        _server = await PrivatePostgres.StartNewAsync();
        await RoutingTableDatabase.ApplySchemaAsync(Db);
        await RoutingTableDatabase.SeedStandardRowsAsync(Db);
    }

    public async Task DisposeAsync() => await _server.DisposeAsync();

    /// <summary>A replica: its own scorer (on the fixture's clock) and its own writer on the shared database.</summary>
    private sealed class Replica(ScoringFixture scoring, WriterHarness writer) : IAsyncDisposable
    {
        public ScoringFixture Scoring => scoring;

        public WriterHarness Writer => writer;

        /// <summary>One evaluation round as EvaluationLoop runs it: every evaluated verdict to the writer.</summary>
        public IReadOnlyList<ProviderAssessment> Round(IReadOnlyDictionary<string, AgentObservation> observations)
        {
            scoring.Time.Advance(scoring.Options.EvaluationInterval);
            var assessments = scoring.Scorer.Evaluate(observations, activeProvidersWithoutAgent: 1);
            foreach (var a in assessments.Where(a => a.Evaluated))
                writer.Writer.Publish(a);
            return assessments;
        }

        public ValueTask DisposeAsync() => writer.DisposeAsync();
    }

    private async Task<Replica> StartReplicaAsync(DateTimeOffset? clock = null)
    {
        var scoring = new ScoringFixture();
        if (clock is { } c)
            scoring.Time.SetUtcNow(c);
        var writer = await WriterHarness.StartAsync(WriterHarness.FastOptions(Db), scoring.Scorer);
        // Past the first turn: a leader has restored the memory (verdicts published earlier are dropped), a standby follows it.
        await writer.WaitForCyclesOrStandbyAsync(2);
        return new Replica(scoring, writer);
    }

    private static AgentObservation PostfixDown(ScoringFixture f) =>
        new(f.Time.GetUtcNow(), [new("postfix", CheckStatus.Unhealthy, "the Postfix mail system is not running")], null);

    private async Task<(bool Active, int Score)> RowAsync(string provider)
    {
        await using var connection = new NpgsqlConnection(Db);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(
            "SELECT is_active, (config->>'health_score')::int FROM messaging_providers WHERE provider_type='email' AND provider_name=@n AND deleted_at IS NULL", connection);
        command.Parameters.AddWithValue("n", provider);
        await using var reader = await command.ExecuteReaderAsync();
        Assert.True(await reader.ReadAsync());
        return (reader.GetBoolean(0), reader.GetInt32(1));
    }

    private async Task ExecuteAsync(string sql)
    {
        await using var connection = new NpgsqlConnection(Db);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync();
    }

    /// <summary>Virginia fails (Postfix down) until the writer has written it inactive.</summary>
    private async Task FailVirginiaAsync(Replica replica)
    {
        var f = replica.Scoring;
        for (int i = 0; i < 12; i++)
            replica.Round(new Dictionary<string, AgentObservation> { [Virginia] = PostfixDown(f), [Oregon] = f.Healthy() });
        await Eventually.UntilAsync(_ => RowAsync(Virginia), r => r == (false, 0), Timeout, r => $"virginia {r}");
        await replica.Writer.WaitForCyclesAsync();
    }

    [Fact]
    public async Task Restart_DuringFailure_ProviderStaysOutAndUnevaluatedNeverRaised()
    {
        DateTimeOffset clock;
        await using (var first = await StartReplicaAsync())
        {
            await FailVirginiaAsync(first);
            clock = first.Scoring.Time.GetUtcNow();
        }

        // Someone (or an older version) left oregon low; the new process has not evaluated oregon yet.
        await ExecuteAsync("UPDATE messaging_providers SET config = jsonb_set(config, '{health_score}', '40') WHERE provider_name = 'postfix-oregon'");

        await using var second = await StartReplicaAsync(clock);
        var f = second.Scoring;
        // Only virginia is observed, healthy again but without fresh evidence; well past the ejection time.
        for (int i = 0; i < 100; i++)
        {
            var a = second.Round(new Dictionary<string, AgentObservation> { [Virginia] = f.Healthy() }).Single();
            Assert.Equal(ProviderState.Failed, a.State);
            Assert.False(a.IsActive);
        }

        await second.Writer.WaitForCyclesAsync();
        Assert.False((await RowAsync(Virginia)).Active);
        Assert.Equal(40, (await RowAsync(Oregon)).Score);
    }

    [Fact]
    public async Task Standby_FollowsTheLeadersMemory_WithoutAFailedTurn()
    {
        await using var leader = await StartReplicaAsync();
        await using var standby = await StartReplicaAsync();
        await FailVirginiaAsync(leader);
        await standby.Writer.WaitForCyclesOrStandbyAsync();

        // A standby only reads the state table: that needs no lock, so no turn of its loop fails or reconnects.
        Assert.Equal(0, standby.Writer.Metrics.Leader.Value);
        Assert.Equal(0, standby.Writer.Metrics.WriteFailures.Value);
        var followed = standby.Scoring.Scorer.Export().Single(s => s.ProviderName == Virginia);
        Assert.Equal(ProviderState.Failed, followed.State);
        Assert.False(followed.IsActive);
    }

    [Fact]
    public async Task Standby_BeforeAnyLeaderSaved_ReadsNothingAndCreatesNothing()
    {
        // Another replica holds the lock but has not created the state table yet.
        await using var holder = new NpgsqlConnection(Db);
        await holder.OpenAsync();
        await using (var take = new NpgsqlCommand($"SELECT pg_advisory_lock({RoutingOptions.DefaultLeaderLockKey})", holder))
            await take.ExecuteNonQueryAsync();

        await using var store = new PostgresRoutingStore(WriterHarness.FastOptions(Db));
        Assert.False(await store.TryLeadAsync(CancellationToken.None));
        Assert.Empty(await store.ReadScorerStateAsync(CancellationToken.None));

        await using var exists = new NpgsqlCommand("SELECT to_regclass('mailagent_scorer_state') IS NOT NULL", holder);
        Assert.False((bool)(await exists.ExecuteScalarAsync())!);
    }

    [Fact]
    public async Task Takeover_StandbyWithHealthyView_KeepsTheLeadersFailure()
    {
        await using var leader = await StartReplicaAsync();
        await using var standby = await StartReplicaAsync();
        await standby.Writer.WaitForCyclesOrStandbyAsync();
        Assert.Equal(0, standby.Writer.Metrics.Leader.Value);

        await FailVirginiaAsync(leader);
        // The standby follows the table: its own view of virginia was never bad.
        await standby.Writer.WaitForCyclesOrStandbyAsync();

        // The leader's session ends as in a kill -9 (the server drops it), and the leader is gone.
        await ExecuteAsync("SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND granted");
        await leader.Writer.StopAsync();
        await Eventually.UntilAsync(() => standby.Writer.Metrics.Leader.Value, v => v == 1, Timeout, v => $"standby leader={v}");

        var f = standby.Scoring;
        for (int i = 0; i < 30; i++)
        {
            var a = standby.Round(new Dictionary<string, AgentObservation> { [Virginia] = f.Healthy(), [Oregon] = f.Healthy() });
            Assert.Equal(ProviderState.Failed, a.Single(x => x.ProviderName == Virginia).State);
        }

        await standby.Writer.WaitForCyclesAsync();
        Assert.False((await RowAsync(Virginia)).Active);
        Assert.True((await RowAsync(Oregon)).Active);
    }

    [Fact]
    public async Task OperatorDeactivation_SurvivesRestartAndHealthyVerdicts()
    {
        DateTimeOffset clock;
        await using (var first = await StartReplicaAsync())
        {
            var f = first.Scoring;
            first.Round(new Dictionary<string, AgentObservation> { [Oregon] = f.Healthy() });
            await Eventually.UntilAsync(_ => RowAsync(Oregon), r => r == (true, 100), Timeout, r => $"oregon {r}");

            // A person takes oregon out; the running control plane does not put it back.
            await ExecuteAsync("UPDATE messaging_providers SET is_active = false WHERE provider_name = 'postfix-oregon'");
            for (int i = 0; i < 5; i++)
                first.Round(new Dictionary<string, AgentObservation> { [Oregon] = f.Healthy() });
            await first.Writer.WaitForCyclesAsync();
            Assert.False((await RowAsync(Oregon)).Active);
            clock = f.Time.GetUtcNow();
        }

        await using var second = await StartReplicaAsync(clock);
        for (int i = 0; i < 5; i++)
            second.Round(new Dictionary<string, AgentObservation> { [Oregon] = second.Scoring.Healthy() });
        await second.Writer.WaitForCyclesAsync(3);

        Assert.False((await RowAsync(Oregon)).Active);
    }

    [Fact]
    public async Task OwnDeactivation_ReactivatedOnEvidence()
    {
        await using var replica = await StartReplicaAsync();
        await FailVirginiaAsync(replica);
        var f = replica.Scoring;

        ProviderAssessment a;
        do
        {
            a = replica.Round(new Dictionary<string, AgentObservation> { [Virginia] = f.Serving(Virginia, 100) with { Checks = [new("postfix", CheckStatus.Healthy, "running")] } }).Single();
        }
        while (!a.IsActive);

        await Eventually.UntilAsync(_ => RowAsync(Virginia), r => r.Active, Timeout, r => $"virginia {r}");
    }
    [Fact]
    public async Task OperatorDeactivationFirst_ThenOwnDeactivation_NeverRaisedOnEvidenceOrRestart()
    {
        DateTimeOffset clock;
        await using (var first = await StartReplicaAsync())
        {
            var f = first.Scoring;
            first.Round(new Dictionary<string, AgentObservation> { [Virginia] = f.Healthy() });
            await Eventually.UntilAsync(_ => RowAsync(Virginia), r => r == (true, 100), Timeout, r => $"virginia {r}");

            // A person takes virginia out first; then the scorer fails it and writes is_active = false too.
            await ExecuteAsync("UPDATE messaging_providers SET is_active = false WHERE provider_name = 'postfix-virginia'");
            await FailVirginiaAsync(first);

            // Fresh evidence brings the scorer's verdict back to active, but the false was the person's.
            ProviderAssessment a;
            do
            {
                a = first.Round(new Dictionary<string, AgentObservation> { [Virginia] = f.Serving(Virginia, 100) with { Checks = [new("postfix", CheckStatus.Healthy, "running")] } }).Single();
            }
            while (!a.IsActive);

            await first.Writer.WaitForCyclesAsync(3);
            Assert.False((await RowAsync(Virginia)).Active);
            clock = f.Time.GetUtcNow();
        }

        await using var second = await StartReplicaAsync(clock);
        for (int i = 0; i < 5; i++)
            second.Round(new Dictionary<string, AgentObservation> { [Virginia] = second.Scoring.Serving(Virginia, 100) with { Checks = [new("postfix", CheckStatus.Healthy, "running")] } });
        await second.Writer.WaitForCyclesAsync(3);
        Assert.False((await RowAsync(Virginia)).Active);
    }
}
