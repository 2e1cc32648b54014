using System.Globalization;
using Microsoft.Data.Sqlite;

namespace MailControlPlane.Routing;

/// <summary>
/// The embedded SQLite routing table used when no PostgreSQL is configured: the same tables
/// (created in a fresh file, seeded when empty if asked) and the same statements, with json_set on
/// the TEXT config column. A single process owns the file, so it is always the leader.
/// </summary>
internal sealed class SqliteRoutingStore(RoutingOptions options, ILogger logger) : IRoutingStore, IHealthHistoryReader, IProviderRowReader
{
    /// <summary>Rows per statement: well under SQLite's parameter limit.</summary>
    private const int RowsPerStatement = 1000;

    /// <summary>Every changed provider in one statement (UPDATE … FROM a VALUES list); @@rows is the list.</summary>
    private const string UpdateProviders =
        """
        WITH v(name, score, active, reactivate) AS (VALUES @@rows)
        UPDATE messaging_providers
           SET config = json_set(COALESCE(config, '{}'), '$.health_score', CAST(v.score AS INTEGER)),
               is_active = CASE WHEN v.active = 0 THEN 0 WHEN is_active = 1 THEN 1 ELSE v.reactivate END,
               updated_at = strftime('%Y-%m-%d %H:%M:%f', 'now')
          FROM v
         WHERE provider_type = 'email' AND provider_name = v.name AND deleted_at IS NULL
        RETURNING provider_name
        """;

    /// <summary>Active rows per provider among @@names, read before the update in the same transaction.</summary>
    private const string CountActive =
        """
        SELECT provider_name, COUNT(*) FROM messaging_providers
         WHERE provider_type = 'email' AND deleted_at IS NULL AND is_active = 1 AND provider_name IN (@@names)
         GROUP BY provider_name
        """;

    /// <summary>A batch of health-log rows in one statement, in the order given; @@rows is the VALUES list.</summary>
    private const string InsertHealthLogs =
        """
        WITH v(n, name, status, reason, response_time_ms, metadata, checked_at) AS (VALUES @@rows)
        INSERT INTO messaging_provider_health_logs (provider_id, check_type, status, error_message, response_time_ms, metadata, checked_at)
        SELECT (SELECT id FROM messaging_providers
                 WHERE provider_type = 'email' AND provider_name = v.name AND deleted_at IS NULL
                 ORDER BY id LIMIT 1),
               'agent_health', v.status, v.reason, v.response_time_ms, json(v.metadata), v.checked_at
          FROM v ORDER BY v.n
        """;

    private const string CreateMissing =
        """
        INSERT INTO messaging_providers (provider_type, provider_name, credentials_encrypted, credentials_iv, config)
        SELECT 'email', @name, '', '',
               json_object('priority', COALESCE((SELECT MAX(json_extract(config, '$.priority')) FROM messaging_providers
                                                  WHERE provider_type = 'email' AND deleted_at IS NULL), 0) + 1,
                           'weight', 50, 'health_score', 0, 'email_rate_per_1000', 0.00)
         WHERE NOT EXISTS (SELECT 1 FROM messaging_providers
                            WHERE provider_type = 'email' AND provider_name = @name AND deleted_at IS NULL)
        """;

    private const string ActiveEmail =
        "SELECT provider_name FROM messaging_providers WHERE provider_type = 'email' AND is_active = 1 AND deleted_at IS NULL";

    private readonly string _connectionString = new SqliteConnectionStringBuilder
    {
        DataSource = options.SqlitePath,
        Mode = SqliteOpenMode.ReadWriteCreate,
        Pooling = false,
        DefaultTimeout = (int)options.CommandTimeout.TotalSeconds,
    }.ConnectionString;

    private bool _ready;

    public async Task<bool> TryLeadAsync(CancellationToken cancellationToken)
    {
        if (!_ready)
        {
            await CreateAsync(cancellationToken);
            _ready = true;
        }

        return true;
    }

    public Task ResetAsync()
    {
        _ready = false;
        return Task.CompletedTask;
    }

    public async Task<IReadOnlyDictionary<string, ProviderRowsWritten>> WriteProvidersAsync(IReadOnlyList<ProviderRowUpdate> updates, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var transaction = connection.BeginTransaction();
        var changed = updates.ToDictionary(u => u.ProviderName, _ => new ProviderRowsWritten(0, 0), StringComparer.Ordinal);
        foreach (var chunk in updates.Chunk(RowsPerStatement))
        {
            var wereActive = new Dictionary<string, int>(StringComparer.Ordinal);
            await using (var count = connection.CreateCommand())
            {
                count.Transaction = transaction;
                count.CommandText = CountActive.Replace("@@names", string.Join(", ", chunk.Select((_, i) => $"@n{i}")), StringComparison.Ordinal);
                for (int i = 0; i < chunk.Length; i++)
                    count.Parameters.AddWithValue($"@n{i}", chunk[i].ProviderName);
                await using var counted = await count.ExecuteReaderAsync(cancellationToken);
                while (await counted.ReadAsync(cancellationToken))
                    wereActive[counted.GetString(0)] = counted.GetInt32(1);
            }

            await using var command = connection.CreateCommand();
            command.Transaction = transaction;
            command.CommandText = UpdateProviders.Replace("@@rows", string.Join(", ", chunk.Select((_, i) => $"(@n{i}, @s{i}, @a{i}, @re{i})")), StringComparison.Ordinal);
            for (int i = 0; i < chunk.Length; i++)
            {
                command.Parameters.AddWithValue($"@n{i}", chunk[i].ProviderName);
                command.Parameters.AddWithValue($"@s{i}", chunk[i].Score);
                command.Parameters.AddWithValue($"@a{i}", chunk[i].IsActive ? 1 : 0);
                command.Parameters.AddWithValue($"@re{i}", chunk[i].MayReactivate ? 1 : 0);
            }

            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                var name = reader.GetString(0);
                changed[name] = new ProviderRowsWritten(changed[name].Rows + 1, wereActive.GetValueOrDefault(name));
            }
        }

        await transaction.CommitAsync(cancellationToken);
        return changed;
    }

    public async Task WriteHealthLogsAsync(IReadOnlyList<HealthLogEntry> entries, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var transaction = connection.BeginTransaction();
        foreach (var chunk in entries.Chunk(RowsPerStatement / 2))
        {
            await using var command = connection.CreateCommand();
            command.Transaction = transaction;
            command.CommandText = InsertHealthLogs.Replace("@@rows", string.Join(", ", chunk.Select((_, i) => $"({i}, @n{i}, @s{i}, @r{i}, @t{i}, @m{i}, @c{i})")), StringComparison.Ordinal);
            for (int i = 0; i < chunk.Length; i++)
            {
                var entry = chunk[i];
                command.Parameters.AddWithValue($"@n{i}", entry.ProviderName);
                command.Parameters.AddWithValue($"@s{i}", entry.Status);
                command.Parameters.AddWithValue($"@r{i}", entry.Reason);
                command.Parameters.AddWithValue($"@t{i}", entry.ResponseTimeMs is { } ms ? ms : DBNull.Value);
                command.Parameters.AddWithValue($"@m{i}", entry.MetadataJson);
                command.Parameters.AddWithValue($"@c{i}", entry.CheckedAt.ToUniversalTime().ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture));
            }

            await command.ExecuteNonQueryAsync(cancellationToken);
        }

        await transaction.CommitAsync(cancellationToken);
    }

    public async Task<IReadOnlyList<string>> CreateMissingProvidersAsync(IReadOnlyList<string> providerNames, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var transaction = connection.BeginTransaction();
        var created = new List<string>();
        foreach (var name in providerNames)
        {
            await using var command = connection.CreateCommand();
            command.Transaction = transaction;
            command.CommandText = CreateMissing;
            command.Parameters.AddWithValue("@name", name);
            if (await command.ExecuteNonQueryAsync(cancellationToken) > 0)
                created.Add(name);
        }

        await transaction.CommitAsync(cancellationToken);
        return created;
    }

    public async Task<IReadOnlyList<string>> ActiveEmailProvidersAsync(CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = ActiveEmail;
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var names = new List<string>();
        while (await reader.ReadAsync(cancellationToken))
        {
            names.Add(reader.GetString(0));
        }

        return names;
    }

    public async Task<IReadOnlyList<RoutedProvider>> ReadOrderAsync(CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = RoutingTableSchema.SqliteRoutingQuery;
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var rows = new List<RoutedProvider>();
        while (await reader.ReadAsync(cancellationToken))
        {
            rows.Add(new RoutedProvider(reader.GetInt64(0), reader.GetString(1), reader.IsDBNull(2) ? "{}" : reader.GetString(2)));
        }

        return rows;
    }

    public async Task<IReadOnlyList<ProviderRow>> ReadEmailRowsAsync(CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = RoutingTableSchema.EmailRowsQuery;
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var rows = new List<ProviderRow>();
        while (await reader.ReadAsync(cancellationToken))
            rows.Add(new ProviderRow(reader.GetInt64(0), reader.GetString(1), reader.GetInt64(2) != 0));
        return rows;
    }

    public async Task<IReadOnlyList<HealthPoint>> ReadHistoryAsync(DateTimeOffset since, int limit, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText =
            """
            SELECT name, checked_at, score, state FROM (
              SELECT l.id, p.provider_name AS name, l.checked_at, COALESCE(json_extract(l.metadata, '$.score'), 0) AS score,
                     COALESCE(json_extract(l.metadata, '$.state'), l.status) AS state
                FROM messaging_provider_health_logs l JOIN messaging_providers p ON p.id = l.provider_id
               WHERE l.check_type = 'agent_health' AND l.checked_at >= @since
               ORDER BY l.id DESC LIMIT @limit)
             ORDER BY id
            """;
        command.Parameters.AddWithValue("@since", since.ToUniversalTime().ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture));
        command.Parameters.AddWithValue("@limit", limit);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var points = new List<HealthPoint>();
        while (await reader.ReadAsync(cancellationToken))
        {
            points.Add(new HealthPoint(reader.GetString(0),
                DateTimeOffset.Parse(reader.GetString(1), CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal),
                (int)reader.GetInt64(2), reader.GetString(3)));
        }

        return points;
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;

    private async Task CreateAsync(CancellationToken cancellationToken)
    {
        var directory = Path.GetDirectoryName(Path.GetFullPath(options.SqlitePath));
        if (!string.IsNullOrEmpty(directory))
        {
            Directory.CreateDirectory(directory);
        }

        await using var connection = await OpenAsync(cancellationToken);
        await using (var create = connection.CreateCommand())
        {
            create.CommandText = RoutingTableSchema.SqliteTables;
            await create.ExecuteNonQueryAsync(cancellationToken);
        }

        if (!options.SeedStandalone)
        {
            return;
        }

        await using var transaction = connection.BeginTransaction();
        await using (var count = connection.CreateCommand())
        {
            count.Transaction = transaction;
            count.CommandText = "SELECT COUNT(*) FROM messaging_providers";
            if ((long)(await count.ExecuteScalarAsync(cancellationToken))! > 0)
            {
                return;
            }
        }

        foreach (var (name, config) in RoutingTableSchema.StandaloneSeed)
        {
            await using var insert = connection.CreateCommand();
            insert.Transaction = transaction;
            insert.CommandText =
                "INSERT INTO messaging_providers (provider_type, provider_name, credentials_encrypted, credentials_iv, config) VALUES ('email', @name, '', '', json(@config))";
            insert.Parameters.AddWithValue("@name", name);
            insert.Parameters.AddWithValue("@config", config);
            await insert.ExecuteNonQueryAsync(cancellationToken);
        }

        await transaction.CommitAsync(cancellationToken);
        logger.Seeded(options.SqlitePath, RoutingTableSchema.StandaloneSeedNames);
    }

    public async Task<IReadOnlyList<Scoring.ScorerState>> ReadScorerStateAsync(CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        return await ScorerStateTable.ReadAsync(connection, null, postgres: false, cancellationToken);
    }

    public async Task WriteScorerStateAsync(IReadOnlyList<Scoring.ScorerState> states, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var transaction = connection.BeginTransaction();
        await ScorerStateTable.WriteAsync(connection, transaction, postgres: false, states, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
    }

    private async Task<SqliteConnection> OpenAsync(CancellationToken cancellationToken)
    {
        var connection = new SqliteConnection(_connectionString);
        try
        {
            await connection.OpenAsync(cancellationToken);
            return connection;
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
        }
    }
}
