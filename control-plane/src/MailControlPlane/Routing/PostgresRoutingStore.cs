using Npgsql;
using NpgsqlTypes;

namespace MailControlPlane.Routing;

/// <summary>
/// The platform's PostgreSQL. One dedicated, unpooled connection holds the session advisory lock
/// and carries every write, so only the lock holder can write, and when this process dies the
/// server ends the session and releases the lock for a standby.
/// </summary>
internal sealed class PostgresRoutingStore(RoutingOptions options) : IRoutingStore
{
    private const string UpdateProvider =
        """
        WITH old AS (
          SELECT id, is_active FROM messaging_providers
           WHERE provider_type = 'email' AND provider_name = @name AND deleted_at IS NULL
           FOR UPDATE)
        UPDATE messaging_providers p
           SET config = jsonb_set(COALESCE(p.config, '{}'), '{health_score}', to_jsonb(@score::integer)),
               is_active = CASE WHEN NOT @active THEN false WHEN old.is_active THEN true ELSE @reactivate END,
               updated_at = NOW()
          FROM old
         WHERE p.id = old.id
        RETURNING old.is_active
        """;

    private const string InsertHealthLog =
        """
        INSERT INTO messaging_provider_health_logs (provider_id, check_type, status, error_message, response_time_ms, metadata, checked_at)
        VALUES ((SELECT id FROM messaging_providers
                  WHERE provider_type = 'email' AND provider_name = @name AND deleted_at IS NULL
                  ORDER BY id LIMIT 1),
                'agent_health', @status, @reason, @response_time_ms, @metadata::jsonb, @checked_at)
        """;

    private const string ActiveEmail =
        "SELECT provider_name FROM messaging_providers WHERE provider_type = 'email' AND is_active = true AND deleted_at IS NULL";

    private readonly NpgsqlDataSource _pooled = NpgsqlDataSource.Create(options.ConnectionString);
    private readonly string _sessionConnectionString = new NpgsqlConnectionStringBuilder(options.ConnectionString)
    {
        // Unpooled: closing the connection must end the session, releasing the lock.
        Pooling = false,
        KeepAlive = 5,
        CommandTimeout = (int)options.CommandTimeout.TotalSeconds,
    }.ConnectionString;

    private NpgsqlConnection? _session;
    private bool _leader;

    public async Task<bool> TryLeadAsync(CancellationToken cancellationToken)
    {
        if (_session is null)
        {
            var session = new NpgsqlConnection(_sessionConnectionString);
            try
            {
                await session.OpenAsync(cancellationToken);
            }
            catch
            {
                await session.DisposeAsync();
                throw;
            }

            _session = session;
            _leader = false;
        }

        if (_leader)
        {
            // Still our session (a broken connection throws here): the lock is still ours.
            await using var ping = new NpgsqlCommand("SELECT 1", _session);
            await ping.ExecuteScalarAsync(cancellationToken);
            return true;
        }

        await using var command = new NpgsqlCommand("SELECT pg_try_advisory_lock(@key)", _session);
        command.Parameters.AddWithValue("key", options.LeaderLockKey);
        _leader = (bool)(await command.ExecuteScalarAsync(cancellationToken))!;
        return _leader;
    }

    public async Task ResetAsync()
    {
        _leader = false;
        if (_session is not null)
        {
            await _session.DisposeAsync();
            _session = null;
        }
    }

    public async Task<IReadOnlyDictionary<string, ProviderRowsWritten>> WriteProvidersAsync(IReadOnlyList<ProviderRowUpdate> updates, CancellationToken cancellationToken)
    {
        var session = Session();
        var changed = new Dictionary<string, ProviderRowsWritten>(StringComparer.Ordinal);
        await using var transaction = await session.BeginTransactionAsync(cancellationToken);
        foreach (var update in updates)
        {
            await using var command = new NpgsqlCommand(UpdateProvider, session, transaction);
            command.Parameters.AddWithValue("score", NpgsqlDbType.Integer, update.Score);
            command.Parameters.AddWithValue("active", update.IsActive);
            command.Parameters.AddWithValue("reactivate", update.MayReactivate);
            command.Parameters.AddWithValue("name", NpgsqlDbType.Varchar, update.ProviderName);
            int rows = 0, wereActive = 0;
            await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
            {
                while (await reader.ReadAsync(cancellationToken))
                {
                    rows++;
                    wereActive += reader.GetBoolean(0) ? 1 : 0;
                }
            }

            changed[update.ProviderName] = new ProviderRowsWritten(rows, wereActive);
        }

        await transaction.CommitAsync(cancellationToken);
        return changed;
    }

    public async Task WriteHealthLogsAsync(IReadOnlyList<HealthLogEntry> entries, CancellationToken cancellationToken)
    {
        var session = Session();
        await using var transaction = await session.BeginTransactionAsync(cancellationToken);
        await using var batch = new NpgsqlBatch(session, transaction);
        foreach (var entry in entries)
        {
            var command = new NpgsqlBatchCommand(InsertHealthLog);
            command.Parameters.AddWithValue("name", NpgsqlDbType.Varchar, entry.ProviderName);
            command.Parameters.AddWithValue("status", NpgsqlDbType.Varchar, entry.Status);
            command.Parameters.AddWithValue("reason", NpgsqlDbType.Text, entry.Reason);
            command.Parameters.AddWithValue("response_time_ms", NpgsqlDbType.Integer, entry.ResponseTimeMs is { } ms ? ms : DBNull.Value);
            command.Parameters.AddWithValue("metadata", NpgsqlDbType.Text, entry.MetadataJson);
            command.Parameters.AddWithValue("checked_at", NpgsqlDbType.TimestampTz, entry.CheckedAt.ToUniversalTime());
            batch.BatchCommands.Add(command);
        }

        await batch.ExecuteNonQueryAsync(cancellationToken);
        await transaction.CommitAsync(cancellationToken);
    }

    public async Task<IReadOnlyList<string>> ActiveEmailProvidersAsync(CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(ActiveEmail, Session());
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
        await using var command = _pooled.CreateCommand(RoutingTableSchema.PostgresRoutingQuery);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var rows = new List<RoutedProvider>();
        while (await reader.ReadAsync(cancellationToken))
        {
            rows.Add(new RoutedProvider(
                reader.GetInt32(0),
                reader.GetString(1),
                await reader.IsDBNullAsync(2, cancellationToken) ? "{}" : reader.GetString(2)));
        }

        return rows;
    }

    /// <summary>Creates the platform's tables if they do not exist (tests, a fresh database).</summary>
    public async Task CreateTablesAsync(CancellationToken cancellationToken)
    {
        await using var command = _pooled.CreateCommand(RoutingTableSchema.PostgresTables);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    public async ValueTask DisposeAsync()
    {
        await ResetAsync();
        await _pooled.DisposeAsync();
    }

    public Task<IReadOnlyList<Scoring.ScorerState>> ReadScorerStateAsync(CancellationToken cancellationToken) =>
        ScorerStateTable.ReadAsync(Session(), null, postgres: true, cancellationToken);

    public async Task WriteScorerStateAsync(IReadOnlyList<Scoring.ScorerState> states, CancellationToken cancellationToken)
    {
        var session = Session();
        await using var transaction = await session.BeginTransactionAsync(cancellationToken);
        await ScorerStateTable.WriteAsync(session, transaction, postgres: true, states, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
    }

    private NpgsqlConnection Session() =>
        _leader && _session is not null ? _session : throw new InvalidOperationException("writing without holding the routing-table lock");
}
