using Npgsql;
using NpgsqlTypes;

namespace MailControlPlane.DeliveryEvents;

/// <summary>The events in the platform's PostgreSQL: one INSERT … SELECT FROM unnest(arrays) per batch, ON CONFLICT DO NOTHING.</summary>
internal sealed class PostgresDeliveryEventStore(string connectionString) : IDeliveryEventStore
{
    private readonly NpgsqlDataSource _source = NpgsqlDataSource.Create(connectionString);

    public async Task EnsureSchemaAsync(CancellationToken cancellationToken)
    {
        await using var connection = await _source.OpenConnectionAsync(cancellationToken);
        // Two replicas creating the schema at once would race on CREATE … IF NOT EXISTS: serialise them.
        await using var tx = await connection.BeginTransactionAsync(cancellationToken);
        await using (var lockCommand = new NpgsqlCommand("SELECT pg_advisory_xact_lock(7165735456565)", connection, tx))
            await lockCommand.ExecuteNonQueryAsync(cancellationToken);
        await using (var command = new NpgsqlCommand(DeliveryEventsSchema.Postgres, connection, tx))
            await command.ExecuteNonQueryAsync(cancellationToken);
        await tx.CommitAsync(cancellationToken);
    }

    public async Task<IReadOnlyDictionary<string, DeliveryCursor>> CursorsAsync(CancellationToken cancellationToken)
    {
        var result = new Dictionary<string, DeliveryCursor>(StringComparer.Ordinal);
        await using var command = _source.CreateCommand("SELECT agent, agent_run, last_sequence FROM messaging_delivery_cursors");
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
            result[reader.GetString(0)] = new DeliveryCursor(reader.GetString(1), reader.GetInt64(2));
        return result;
    }

    public async Task<int> WriteAsync(IReadOnlyList<DeliveryEventRow> rows, IReadOnlyDictionary<string, DeliveryCursor> cursors, CancellationToken cancellationToken)
    {
        await using var connection = await _source.OpenConnectionAsync(cancellationToken);
        await using var tx = await connection.BeginTransactionAsync(cancellationToken);
        int inserted = 0;
        if (rows.Count > 0)
        {
            await using var insert = new NpgsqlCommand(
                $"""
                INSERT INTO messaging_delivery_events ({DeliveryEventsSchema.Columns})
                SELECT * FROM unnest(@agent, @key, @run, @seq, @provider, @host, @mid, @qid, @status, @domain, @rcpt, @hash,
                                     @dsn, @severity, @reason, @reply, @relay, @delay, @d1, @d2, @d3, @d4, @attempt, @at)
                ON CONFLICT (agent, event_key) DO NOTHING
                """, connection, tx);
            void Add<T>(string name, NpgsqlDbType type, Func<DeliveryEventRow, T> value) =>
                insert.Parameters.Add(new NpgsqlParameter(name, NpgsqlDbType.Array | type) { Value = rows.Select(value).ToArray() });
            Add("agent", NpgsqlDbType.Text, r => r.Agent);
            Add("key", NpgsqlDbType.Text, r => r.EventKey);
            Add("run", NpgsqlDbType.Text, r => r.AgentRun);
            Add("seq", NpgsqlDbType.Bigint, r => r.AgentSequence);
            Add("provider", NpgsqlDbType.Text, r => r.ProviderName);
            Add("host", NpgsqlDbType.Text, r => r.Host);
            Add("mid", NpgsqlDbType.Text, r => r.MessageId);
            Add("qid", NpgsqlDbType.Text, r => r.QueueId);
            Add("status", NpgsqlDbType.Text, r => r.Status);
            Add("domain", NpgsqlDbType.Text, r => r.RecipientDomain);
            Add("rcpt", NpgsqlDbType.Text, r => r.Recipient);
            Add("hash", NpgsqlDbType.Text, r => r.RecipientHash);
            Add("dsn", NpgsqlDbType.Text, r => r.Dsn);
            Add("severity", NpgsqlDbType.Text, r => r.Severity);
            Add("reason", NpgsqlDbType.Text, r => r.Reason);
            Add("reply", NpgsqlDbType.Text, r => r.Reply);
            Add("relay", NpgsqlDbType.Text, r => r.Relay);
            Add("delay", NpgsqlDbType.Double, r => r.Delay);
            Add("d1", NpgsqlDbType.Double, r => r.DelayBeforeQueueManager);
            Add("d2", NpgsqlDbType.Double, r => r.DelayInQueueManager);
            Add("d3", NpgsqlDbType.Double, r => r.DelayConnectionSetup);
            Add("d4", NpgsqlDbType.Double, r => r.DelayTransmission);
            Add("attempt", NpgsqlDbType.Integer, r => r.Attempt);
            Add("at", NpgsqlDbType.TimestampTz, r => r.LoggedAt.UtcDateTime);
            inserted = await insert.ExecuteNonQueryAsync(cancellationToken);
        }

        foreach (var (agent, cursor) in cursors)
        {
            await using var upsert = new NpgsqlCommand(
                """
                INSERT INTO messaging_delivery_cursors (agent, agent_run, last_sequence, updated_at) VALUES (@agent, @run, @seq, now())
                ON CONFLICT (agent) DO UPDATE SET agent_run = excluded.agent_run, last_sequence = excluded.last_sequence, updated_at = now()
                """, connection, tx);
            upsert.Parameters.AddWithValue("agent", agent);
            upsert.Parameters.AddWithValue("run", cursor.AgentRun);
            upsert.Parameters.AddWithValue("seq", cursor.Sequence);
            await upsert.ExecuteNonQueryAsync(cancellationToken);
        }

        await tx.CommitAsync(cancellationToken);
        return inserted;
    }

    public async Task<int> DeleteOlderThanAsync(DateTimeOffset cutoff, CancellationToken cancellationToken)
    {
        await using var command = _source.CreateCommand("DELETE FROM messaging_delivery_events WHERE logged_at < @cutoff");
        command.Parameters.AddWithValue("cutoff", cutoff.UtcDateTime);
        return await command.ExecuteNonQueryAsync(cancellationToken);
    }

    public async Task<IReadOnlyList<(string Status, string Severity, double Delay, DateTimeOffset LoggedAt)>> OutcomesAsync(
        string? providerName, DateTimeOffset from, DateTimeOffset to, CancellationToken cancellationToken)
    {
        await using var command = _source.CreateCommand(
            "SELECT status, severity, delay_seconds, logged_at FROM messaging_delivery_events "
            + "WHERE provider_name = @provider AND logged_at >= @from AND logged_at < @to");
        command.Parameters.AddWithValue("provider", providerName ?? "");
        command.Parameters.AddWithValue("from", from.UtcDateTime);
        command.Parameters.AddWithValue("to", to.UtcDateTime);
        var result = new List<(string, string, double, DateTimeOffset)>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
            result.Add((reader.GetString(0), reader.GetString(1), reader.GetDouble(2), new DateTimeOffset(reader.GetDateTime(3), TimeSpan.Zero)));
        return result;
    }

    public async Task<IReadOnlyList<SuppressionCandidate>> SuppressionCandidatesAsync(DateTimeOffset since, CancellationToken cancellationToken)
    {
        await using var command = _source.CreateCommand(DeliveryEventsSchema.SuppressionQuery);
        command.Parameters.AddWithValue("since", since.UtcDateTime);
        var result = new List<SuppressionCandidate>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            result.Add(new SuppressionCandidate(reader.GetString(0), reader.GetString(1), reader.GetString(2), reader.GetString(3), reader.GetString(4),
                reader.GetString(5), reader.GetInt64(6), new DateTimeOffset(reader.GetDateTime(7), TimeSpan.Zero),
                new DateTimeOffset(reader.GetDateTime(8), TimeSpan.Zero), reader.GetString(9), reader.GetString(10)));
        }

        return result;
    }

    public async Task<IReadOnlyDictionary<string, long>> CountsByStatusAsync(CancellationToken cancellationToken)
    {
        await using var command = _source.CreateCommand("SELECT status, count(*) FROM messaging_delivery_events GROUP BY status");
        var result = new Dictionary<string, long>(StringComparer.Ordinal);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
            result[reader.GetString(0)] = reader.GetInt64(1);
        return result;
    }

    public ValueTask DisposeAsync() => _source.DisposeAsync();

    public async Task<IReadOnlyDictionary<string, long>> WebhookCursorsAsync(CancellationToken cancellationToken)
    {
        var result = new Dictionary<string, long>(StringComparer.Ordinal);
        await using var command = _source.CreateCommand("SELECT c.agent, coalesce(w.last_id, 0) FROM messaging_delivery_cursors c LEFT JOIN messaging_delivery_webhook_cursors w ON w.agent = c.agent");
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
            result[reader.GetString(0)] = reader.GetInt64(1);
        return result;
    }

    public async Task<IReadOnlyList<(long Id, string Json)>> EventsAfterAsync(string agent, long afterId, int limit, CancellationToken cancellationToken)
    {
        await using var command = _source.CreateCommand("SELECT id, " + DeliveryEventsSchema.Columns + " FROM messaging_delivery_events WHERE agent = @agent AND id > @after ORDER BY id LIMIT @limit");
        command.Parameters.AddWithValue("agent", agent);
        command.Parameters.AddWithValue("after", afterId);
        command.Parameters.AddWithValue("limit", limit);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await WebhookJson.RowsAsync(reader, cancellationToken);
    }

    public async Task SetWebhookCursorAsync(string agent, long lastId, CancellationToken cancellationToken)
    {
        await using var command = _source.CreateCommand("INSERT INTO messaging_delivery_webhook_cursors (agent, last_id, updated_at) VALUES (@agent, @id, now()) "
            + "ON CONFLICT (agent) DO UPDATE SET last_id = excluded.last_id, updated_at = excluded.updated_at");
        command.Parameters.AddWithValue("agent", agent);
        command.Parameters.AddWithValue("id", lastId);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    public async Task<long> WebhookUnsentOlderThanAsync(DateTimeOffset cutoff, CancellationToken cancellationToken)
    {
        await using var command = _source.CreateCommand("SELECT count(*) FROM messaging_delivery_events e LEFT JOIN messaging_delivery_webhook_cursors w ON w.agent = e.agent WHERE e.logged_at < @cutoff AND e.id > coalesce(w.last_id, 0)");
        command.Parameters.AddWithValue("cutoff", cutoff);
        return (long)(await command.ExecuteScalarAsync(cancellationToken))!;
    }
}
