using Npgsql;
using NpgsqlTypes;

namespace MailControlPlane.Routing;

/// <summary>
/// The platform's PostgreSQL. One dedicated, unpooled connection holds the session advisory lock
/// and carries every write, so only the lock holder can write, and when this process dies the
/// server ends the session and releases the lock for a standby.
/// </summary>
internal sealed class PostgresRoutingStore(RoutingOptions options) : IRoutingStore, IHealthHistoryReader, IProviderRowReader
{
    /// <summary>Every changed provider in one statement: UPDATE … FROM the parameter arrays, unnested into rows.</summary>
    private const string UpdateProviders =
        """
        WITH v AS (
          SELECT * FROM unnest(@names::varchar[], @scores::integer[], @actives::boolean[], @reactivates::boolean[])
                   AS v(name, score, active, reactivate)),
        old AS (
          SELECT p.id, p.is_active, v.name, v.score, v.active, v.reactivate
            FROM messaging_providers p JOIN v ON p.provider_name = v.name
           WHERE p.provider_type = 'email' AND p.deleted_at IS NULL
             FOR UPDATE OF p)
        UPDATE messaging_providers p
           SET config = jsonb_set(COALESCE(p.config, '{}'), '{health_score}', to_jsonb(old.score)),
               is_active = CASE WHEN NOT old.active THEN false WHEN old.is_active THEN true ELSE old.reactivate END,
               updated_at = NOW()
          FROM old
         WHERE p.id = old.id
        RETURNING old.name, old.is_active
        """;

    /// <summary>A batch of health-log rows in one statement, in the order given.</summary>
    private const string InsertHealthLogs =
        """
        INSERT INTO messaging_provider_health_logs (provider_id, check_type, status, error_message, response_time_ms, metadata, checked_at)
        SELECT (SELECT id FROM messaging_providers
                 WHERE provider_type = 'email' AND provider_name = v.name AND deleted_at IS NULL
                 ORDER BY id LIMIT 1),
               'agent_health', v.status, v.reason, v.response_time_ms, v.metadata::jsonb, v.checked_at
          FROM unnest(@names::varchar[], @statuses::varchar[], @reasons::text[], @response_times::integer[], @metadata::text[], @checked_at::timestamptz[])
               WITH ORDINALITY AS v(name, status, reason, response_time_ms, metadata, checked_at, n)
         ORDER BY v.n
        """;

    private const string CreateMissing =
        """
        INSERT INTO messaging_providers (provider_type, provider_name, credentials_encrypted, credentials_iv, config)
        SELECT 'email', v.name, '', '',
               jsonb_build_object('priority', COALESCE((SELECT MAX((config->>'priority')::numeric) FROM messaging_providers
                                                         WHERE provider_type = 'email' AND deleted_at IS NULL), 0) + v.n,
                                  'weight', 50, 'health_score', 0, 'email_rate_per_1000', 0.00)
          FROM unnest(@names::varchar[]) WITH ORDINALITY AS v(name, n)
         WHERE NOT EXISTS (SELECT 1 FROM messaging_providers m
                            WHERE m.provider_type = 'email' AND m.provider_name = v.name AND m.deleted_at IS NULL)
        RETURNING provider_name
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
        var changed = updates.ToDictionary(u => u.ProviderName, _ => new ProviderRowsWritten(0, 0), StringComparer.Ordinal);
        await using var command = new NpgsqlCommand(UpdateProviders, session);
        command.Parameters.AddWithValue("names", NpgsqlDbType.Array | NpgsqlDbType.Varchar, updates.Select(u => u.ProviderName).ToArray());
        command.Parameters.AddWithValue("scores", NpgsqlDbType.Array | NpgsqlDbType.Integer, updates.Select(u => u.Score).ToArray());
        command.Parameters.AddWithValue("actives", NpgsqlDbType.Array | NpgsqlDbType.Boolean, updates.Select(u => u.IsActive).ToArray());
        command.Parameters.AddWithValue("reactivates", NpgsqlDbType.Array | NpgsqlDbType.Boolean, updates.Select(u => u.MayReactivate).ToArray());
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            var name = reader.GetString(0);
            var was = changed[name];
            changed[name] = new ProviderRowsWritten(was.Rows + 1, was.WereActive + (reader.GetBoolean(1) ? 1 : 0));
        }

        return changed;
    }

    public async Task WriteHealthLogsAsync(IReadOnlyList<HealthLogEntry> entries, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(InsertHealthLogs, Session());
        command.Parameters.AddWithValue("names", NpgsqlDbType.Array | NpgsqlDbType.Varchar, entries.Select(e => e.ProviderName).ToArray());
        command.Parameters.AddWithValue("statuses", NpgsqlDbType.Array | NpgsqlDbType.Varchar, entries.Select(e => e.Status).ToArray());
        command.Parameters.AddWithValue("reasons", NpgsqlDbType.Array | NpgsqlDbType.Text, entries.Select(e => e.Reason).ToArray());
        command.Parameters.AddWithValue("response_times", NpgsqlDbType.Array | NpgsqlDbType.Integer, entries.Select(e => e.ResponseTimeMs).ToArray());
        command.Parameters.AddWithValue("metadata", NpgsqlDbType.Array | NpgsqlDbType.Text, entries.Select(e => e.MetadataJson).ToArray());
        command.Parameters.AddWithValue("checked_at", NpgsqlDbType.Array | NpgsqlDbType.TimestampTz, entries.Select(e => e.CheckedAt.UtcDateTime).ToArray());
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    public async Task<IReadOnlyList<string>> CreateMissingProvidersAsync(IReadOnlyList<string> providerNames, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(CreateMissing, Session());
        command.Parameters.AddWithValue("names", NpgsqlDbType.Array | NpgsqlDbType.Varchar, providerNames.ToArray());
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var created = new List<string>();
        while (await reader.ReadAsync(cancellationToken))
            created.Add(reader.GetString(0));
        return created;
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

    public async Task<IReadOnlyList<ProviderRow>> ReadEmailRowsAsync(CancellationToken cancellationToken)
    {
        await using var command = _pooled.CreateCommand(RoutingTableSchema.EmailRowsQuery);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var rows = new List<ProviderRow>();
        while (await reader.ReadAsync(cancellationToken))
            rows.Add(new ProviderRow(reader.GetInt32(0), reader.GetString(1), reader.GetBoolean(2)));
        return rows;
    }

    public async Task<IReadOnlyList<HealthPoint>> ReadHistoryAsync(DateTimeOffset since, int limit, CancellationToken cancellationToken)
    {
        await using var command = _pooled.CreateCommand(
            """
            SELECT name, checked_at, score, state FROM (
              SELECT l.id, p.provider_name AS name, l.checked_at, COALESCE((l.metadata->>'score')::integer, 0) AS score,
                     COALESCE(l.metadata->>'state', l.status) AS state
                FROM messaging_provider_health_logs l JOIN messaging_providers p ON p.id = l.provider_id
               WHERE l.check_type = 'agent_health' AND l.checked_at >= @since
               ORDER BY l.id DESC LIMIT @limit) newest
             ORDER BY id
            """);
        command.Parameters.AddWithValue("since", NpgsqlDbType.TimestampTz, since.UtcDateTime);
        command.Parameters.AddWithValue("limit", limit);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var points = new List<HealthPoint>();
        while (await reader.ReadAsync(cancellationToken))
            points.Add(new HealthPoint(reader.GetString(0), new DateTimeOffset(reader.GetDateTime(1).ToUniversalTime()), reader.GetInt32(2), reader.GetString(3)));
        return points;
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

    /// <summary>
    /// The leader reads in its locked session and creates the table when missing; a standby reads what the leader saved
    /// (a read needs no lock) in its own session, and creates nothing.
    /// </summary>
    public Task<IReadOnlyList<Scoring.ScorerState>> ReadScorerStateAsync(CancellationToken cancellationToken) =>
        ScorerStateTable.ReadAsync(
            _session ?? throw new InvalidOperationException("reading the scorer's state before trying for the lock"), null, postgres: true, cancellationToken, create: _leader);

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
