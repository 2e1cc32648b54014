using Microsoft.Data.Sqlite;

namespace MailControlPlane.Routing;

/// <summary>
/// The embedded SQLite routing table used when no PostgreSQL is configured: the same tables
/// (created in a fresh file, seeded when empty if asked) and the same statements, with json_set on
/// the TEXT config column. A single process owns the file, so it is always the leader.
/// </summary>
internal sealed class SqliteRoutingStore(RoutingOptions options, ILogger logger) : IRoutingStore
{
    private const string UpdateProvider =
        """
        UPDATE messaging_providers
           SET config = json_set(COALESCE(config, '{}'), '$.health_score', CAST(@score AS INTEGER)),
               is_active = CASE WHEN @active = 0 THEN 0 WHEN is_active = 1 THEN 1 ELSE @reactivate END,
               updated_at = strftime('%Y-%m-%d %H:%M:%f', 'now')
         WHERE provider_type = 'email' AND provider_name = @name AND deleted_at IS NULL
        """;

    private const string CountActive =
        "SELECT COUNT(*) FROM messaging_providers WHERE provider_type = 'email' AND provider_name = @name AND deleted_at IS NULL AND is_active = 1";

    private const string InsertHealthLog =
        """
        INSERT INTO messaging_provider_health_logs (provider_id, check_type, status, error_message, response_time_ms, metadata, checked_at)
        VALUES ((SELECT id FROM messaging_providers
                  WHERE provider_type = 'email' AND provider_name = @name AND deleted_at IS NULL
                  ORDER BY id LIMIT 1),
                'agent_health', @status, @reason, @response_time_ms, json(@metadata), @checked_at)
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
        var changed = new Dictionary<string, ProviderRowsWritten>(StringComparer.Ordinal);
        foreach (var update in updates)
        {
            long wereActive;
            await using (var count = connection.CreateCommand())
            {
                count.Transaction = transaction;
                count.CommandText = CountActive;
                count.Parameters.AddWithValue("@name", update.ProviderName);
                wereActive = (long)(await count.ExecuteScalarAsync(cancellationToken))!;
            }

            await using var command = connection.CreateCommand();
            command.Transaction = transaction;
            command.CommandText = UpdateProvider;
            command.Parameters.AddWithValue("@score", update.Score);
            command.Parameters.AddWithValue("@active", update.IsActive ? 1 : 0);
            command.Parameters.AddWithValue("@reactivate", update.MayReactivate ? 1 : 0);
            command.Parameters.AddWithValue("@name", update.ProviderName);
            changed[update.ProviderName] = new ProviderRowsWritten(await command.ExecuteNonQueryAsync(cancellationToken), (int)wereActive);
        }

        await transaction.CommitAsync(cancellationToken);
        return changed;
    }

    public async Task WriteHealthLogsAsync(IReadOnlyList<HealthLogEntry> entries, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var transaction = connection.BeginTransaction();
        foreach (var entry in entries)
        {
            await using var command = connection.CreateCommand();
            command.Transaction = transaction;
            command.CommandText = InsertHealthLog;
            command.Parameters.AddWithValue("@name", entry.ProviderName);
            command.Parameters.AddWithValue("@status", entry.Status);
            command.Parameters.AddWithValue("@reason", entry.Reason);
            command.Parameters.AddWithValue("@response_time_ms", entry.ResponseTimeMs is { } ms ? ms : DBNull.Value);
            command.Parameters.AddWithValue("@metadata", entry.MetadataJson);
            command.Parameters.AddWithValue("@checked_at", entry.CheckedAt.ToUniversalTime().ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", System.Globalization.CultureInfo.InvariantCulture));
            await command.ExecuteNonQueryAsync(cancellationToken);
        }

        await transaction.CommitAsync(cancellationToken);
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
