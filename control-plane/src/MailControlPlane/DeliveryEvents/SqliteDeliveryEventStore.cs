using System.Globalization;
using Microsoft.Data.Sqlite;

namespace MailControlPlane.DeliveryEvents;

/// <summary>The events in the control plane's SQLite file (Routing:SqlitePath); times as ISO-8601 UTC text, which sorts.</summary>
internal sealed class SqliteDeliveryEventStore(string path, TimeProvider time) : IDeliveryEventStore
{
    private readonly string _connectionString = new SqliteConnectionStringBuilder { DataSource = path, Pooling = true, DefaultTimeout = 30 }.ToString();

    public static string Text(DateTimeOffset t) => t.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);

    private static DateTimeOffset Time(string s) => DateTimeOffset.Parse(s, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal);

    private async Task<SqliteConnection> OpenAsync(CancellationToken cancellationToken)
    {
        var connection = new SqliteConnection(_connectionString);
        await connection.OpenAsync(cancellationToken);
        await using var pragma = connection.CreateCommand();
        pragma.CommandText = "PRAGMA busy_timeout=30000;";
        await pragma.ExecuteNonQueryAsync(cancellationToken);
        return connection;
    }

    public async Task EnsureSchemaAsync(CancellationToken cancellationToken)
    {
        if (Path.GetDirectoryName(Path.GetFullPath(path)) is { } dir)
            Directory.CreateDirectory(dir);
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = DeliveryEventsSchema.Sqlite;
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    public async Task<IReadOnlyDictionary<string, DeliveryCursor>> CursorsAsync(CancellationToken cancellationToken)
    {
        var result = new Dictionary<string, DeliveryCursor>(StringComparer.Ordinal);
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT agent, agent_run, last_sequence FROM messaging_delivery_cursors";
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
            result[reader.GetString(0)] = new DeliveryCursor(reader.GetString(1), reader.GetInt64(2));
        return result;
    }

    public async Task<int> WriteAsync(IReadOnlyList<DeliveryEventRow> rows, IReadOnlyDictionary<string, DeliveryCursor> cursors, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var tx = (SqliteTransaction)await connection.BeginTransactionAsync(cancellationToken);
        int inserted = 0;
        if (rows.Count > 0)
        {
            await using var insert = connection.CreateCommand();
            insert.Transaction = tx;
            string[] names = DeliveryEventsSchema.Columns.Split(", ");
            insert.CommandText = $"INSERT INTO messaging_delivery_events ({DeliveryEventsSchema.Columns}) VALUES ({string.Join(", ", names.Select(n => "@" + n))}) "
                + "ON CONFLICT (agent, event_key) DO NOTHING";
            var p = names.ToDictionary(n => n, n => insert.Parameters.Add("@" + n, SqliteType.Text));
            insert.Prepare();
            foreach (var r in rows)
            {
                p["agent"].Value = r.Agent;
                p["event_key"].Value = r.EventKey;
                p["agent_run"].Value = r.AgentRun;
                p["agent_sequence"].Value = r.AgentSequence;
                p["provider_name"].Value = r.ProviderName;
                p["host"].Value = r.Host;
                p["message_id"].Value = r.MessageId;
                p["queue_id"].Value = r.QueueId;
                p["status"].Value = r.Status;
                p["recipient_domain"].Value = r.RecipientDomain;
                p["recipient"].Value = r.Recipient;
                p["recipient_hash"].Value = r.RecipientHash;
                p["dsn"].Value = r.Dsn;
                p["severity"].Value = r.Severity;
                p["reason"].Value = r.Reason;
                p["reply"].Value = r.Reply;
                p["relay"].Value = r.Relay;
                p["delay_seconds"].Value = r.Delay;
                p["delay_before_queue_manager"].Value = r.DelayBeforeQueueManager;
                p["delay_in_queue_manager"].Value = r.DelayInQueueManager;
                p["delay_connection_setup"].Value = r.DelayConnectionSetup;
                p["delay_transmission"].Value = r.DelayTransmission;
                p["attempt"].Value = r.Attempt;
                p["logged_at"].Value = Text(r.LoggedAt);
                inserted += await insert.ExecuteNonQueryAsync(cancellationToken);
            }
        }

        foreach (var (agent, cursor) in cursors)
        {
            await using var upsert = connection.CreateCommand();
            upsert.Transaction = tx;
            upsert.CommandText = "INSERT INTO messaging_delivery_cursors (agent, agent_run, last_sequence, updated_at) VALUES (@agent, @run, @seq, @now) "
                + "ON CONFLICT (agent) DO UPDATE SET agent_run = excluded.agent_run, last_sequence = excluded.last_sequence, updated_at = excluded.updated_at";
            upsert.Parameters.AddWithValue("@agent", agent);
            upsert.Parameters.AddWithValue("@run", cursor.AgentRun);
            upsert.Parameters.AddWithValue("@seq", cursor.Sequence);
            upsert.Parameters.AddWithValue("@now", Text(time.GetUtcNow()));
            await upsert.ExecuteNonQueryAsync(cancellationToken);
        }

        await tx.CommitAsync(cancellationToken);
        return inserted;
    }

    public async Task<int> DeleteOlderThanAsync(DateTimeOffset cutoff, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = "DELETE FROM messaging_delivery_events WHERE logged_at < @cutoff";
        command.Parameters.AddWithValue("@cutoff", Text(cutoff));
        return await command.ExecuteNonQueryAsync(cancellationToken);
    }

    public async Task<IReadOnlyList<(string Status, string Severity, double Delay, DateTimeOffset LoggedAt)>> OutcomesAsync(
        string? providerName, DateTimeOffset from, DateTimeOffset to, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT status, severity, delay_seconds, logged_at FROM messaging_delivery_events "
            + "WHERE provider_name = @provider AND logged_at >= @from AND logged_at < @to";
        command.Parameters.AddWithValue("@provider", providerName ?? "");
        command.Parameters.AddWithValue("@from", Text(from));
        command.Parameters.AddWithValue("@to", Text(to));
        var result = new List<(string, string, double, DateTimeOffset)>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
            result.Add((reader.GetString(0), reader.GetString(1), reader.GetDouble(2), Time(reader.GetString(3))));
        return result;
    }

    public async Task<IReadOnlyList<SuppressionCandidate>> SuppressionCandidatesAsync(DateTimeOffset since, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = DeliveryEventsSchema.SuppressionQuery;
        command.Parameters.AddWithValue("@since", Text(since));
        var result = new List<SuppressionCandidate>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            result.Add(new SuppressionCandidate(reader.GetString(0), reader.GetString(1), reader.GetString(2), reader.GetString(3), reader.GetString(4),
                reader.GetString(5), reader.GetInt64(6), Time(reader.GetString(7)), Time(reader.GetString(8)), reader.GetString(9), reader.GetString(10)));
        }

        return result;
    }

    public async Task<IReadOnlyDictionary<string, long>> CountsByStatusAsync(CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT status, count(*) FROM messaging_delivery_events GROUP BY status";
        var result = new Dictionary<string, long>(StringComparer.Ordinal);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
            result[reader.GetString(0)] = reader.GetInt64(1);
        return result;
    }

    public ValueTask DisposeAsync()
    {
        SqliteConnection.ClearAllPools();
        return ValueTask.CompletedTask;
    }

    public async Task<IReadOnlyDictionary<string, long>> WebhookCursorsAsync(CancellationToken cancellationToken)
    {
        var result = new Dictionary<string, long>(StringComparer.Ordinal);
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT c.agent, coalesce(w.last_id, 0) FROM messaging_delivery_cursors c LEFT JOIN messaging_delivery_webhook_cursors w ON w.agent = c.agent";
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
            result[reader.GetString(0)] = reader.GetInt64(1);
        return result;
    }

    public async Task<IReadOnlyList<(long Id, string Json)>> EventsAfterAsync(string agent, long afterId, int limit, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT id, " + DeliveryEventsSchema.Columns + " FROM messaging_delivery_events WHERE agent = @agent AND id > @after ORDER BY id LIMIT @limit";
        command.Parameters.AddWithValue("@agent", agent);
        command.Parameters.AddWithValue("@after", afterId);
        command.Parameters.AddWithValue("@limit", limit);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await WebhookJson.RowsAsync(reader, cancellationToken);
    }

    public async Task SetWebhookCursorAsync(string agent, long lastId, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = "INSERT INTO messaging_delivery_webhook_cursors (agent, last_id, updated_at) VALUES (@agent, @id, @now) "
            + "ON CONFLICT (agent) DO UPDATE SET last_id = excluded.last_id, updated_at = excluded.updated_at";
        command.Parameters.AddWithValue("@agent", agent);
        command.Parameters.AddWithValue("@id", lastId);
        command.Parameters.AddWithValue("@now", Text(time.GetUtcNow()));
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    public async Task<long> WebhookUnsentOlderThanAsync(DateTimeOffset cutoff, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT count(*) FROM messaging_delivery_events e LEFT JOIN messaging_delivery_webhook_cursors w ON w.agent = e.agent WHERE e.logged_at < @cutoff AND e.id > coalesce(w.last_id, 0)";
        command.Parameters.AddWithValue("@cutoff", Text(cutoff));
        return (long)(await command.ExecuteScalarAsync(cancellationToken))!;
    }
}
