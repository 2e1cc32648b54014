using System.Data.Common;
using System.Globalization;
using MailControlPlane.Scoring;

namespace MailControlPlane.Routing;

/// <summary>
/// The control plane's own table <c>mailagent_scorer_state</c> (docs/control-plane-state.sql), beside the platform's: one row
/// per provider with the scorer's memory and who deactivated it. Created by the control plane; written by the leader
/// in the same session as the routing rows; read by a starting leader before its first write and by standbys.
/// </summary>
internal static class ScorerStateTable
{
    public const string Name = "mailagent_scorer_state";

    public const string ControlPlane = "control-plane";

    private const string CreatePostgres =
        """
        CREATE TABLE IF NOT EXISTS mailagent_scorer_state (
          provider_name VARCHAR(100) PRIMARY KEY,
          state VARCHAR(20) NOT NULL,
          score INTEGER NOT NULL,
          is_active BOOLEAN NOT NULL,
          deactivated_by VARCHAR(40),
          ejections TEXT NOT NULL DEFAULT '',
          failed_at TIMESTAMPTZ,
          out_until TIMESTAMPTZ,
          failed_evaluations INTEGER NOT NULL DEFAULT 0,
          probation_progress INTEGER NOT NULL DEFAULT 0,
          updated_at TIMESTAMPTZ NOT NULL DEFAULT NOW()
        )
        """;

    private const string CreateSqlite =
        """
        CREATE TABLE IF NOT EXISTS mailagent_scorer_state (
          provider_name TEXT PRIMARY KEY,
          state TEXT NOT NULL,
          score INTEGER NOT NULL,
          is_active INTEGER NOT NULL,
          deactivated_by TEXT,
          ejections TEXT NOT NULL DEFAULT '',
          failed_at TEXT,
          out_until TEXT,
          failed_evaluations INTEGER NOT NULL DEFAULT 0,
          probation_progress INTEGER NOT NULL DEFAULT 0,
          updated_at TEXT NOT NULL
        )
        """;

    private const string Select =
        "SELECT provider_name, state, score, is_active, deactivated_by, ejections, failed_at, out_until, failed_evaluations, probation_progress, updated_at FROM mailagent_scorer_state";

    private const string Upsert =
        """
        INSERT INTO mailagent_scorer_state (provider_name, state, score, is_active, deactivated_by, ejections, failed_at, out_until, failed_evaluations, probation_progress, updated_at)
        VALUES (@name, @state, @score, @active, @by, @ejections, @failed_at, @out_until, @failed_evaluations, @progress, @updated_at)
        ON CONFLICT (provider_name) DO UPDATE SET
          state = excluded.state, score = excluded.score, is_active = excluded.is_active, deactivated_by = excluded.deactivated_by,
          ejections = excluded.ejections, failed_at = excluded.failed_at, out_until = excluded.out_until,
          failed_evaluations = excluded.failed_evaluations, probation_progress = excluded.probation_progress, updated_at = excluded.updated_at
        """;

    /// <summary>
    /// Every provider's saved memory. <paramref name="create"/>: create the table first when missing (the leader, which
    /// writes it next); a standby only reads, and finds nothing until a leader has created it.
    /// </summary>
    public static async Task<IReadOnlyList<ScorerState>> ReadAsync(DbConnection connection, DbTransaction? transaction, bool postgres, CancellationToken cancellationToken, bool create = true)
    {
        if (create)
        {
            await ExecuteAsync(connection, transaction, postgres ? CreatePostgres : CreateSqlite, cancellationToken);
        }
        else if (!await ExistsAsync(connection, transaction, postgres, cancellationToken))
        {
            return [];
        }

        await using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = Select;
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var states = new List<ScorerState>();
        while (await reader.ReadAsync(cancellationToken))
        {
            if (!Enum.TryParse<ProviderState>(reader.GetString(1), ignoreCase: true, out var state))
                continue;
            states.Add(new ScorerState(
                reader.GetString(0),
                state,
                reader.GetInt32(2),
                postgres ? reader.GetBoolean(3) : reader.GetInt64(3) != 0,
                [.. reader.GetString(5).Split(',', StringSplitOptions.RemoveEmptyEntries).Select(Parse)],
                reader.IsDBNull(6) ? null : Time(reader, 6, postgres),
                reader.IsDBNull(7) ? null : Time(reader, 7, postgres),
                reader.GetInt32(8),
                reader.GetInt32(9),
                !reader.IsDBNull(4) && reader.GetString(4) == ControlPlane,
                Time(reader, 10, postgres)));
        }

        return states;
    }

    private static async Task<bool> ExistsAsync(DbConnection connection, DbTransaction? transaction, bool postgres, CancellationToken cancellationToken)
    {
        await using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = postgres
            ? $"SELECT count(*) FROM pg_catalog.pg_tables WHERE tablename = '{Name}' AND schemaname = ANY (current_schemas(false))"
            : $"SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = '{Name}'";
        return Convert.ToInt64(await command.ExecuteScalarAsync(cancellationToken), CultureInfo.InvariantCulture) > 0;
    }

    public static async Task WriteAsync(DbConnection connection, DbTransaction? transaction, bool postgres, IReadOnlyList<ScorerState> states, CancellationToken cancellationToken)
    {
        foreach (var s in states)
        {
            await using var command = connection.CreateCommand();
            command.Transaction = transaction;
            command.CommandText = Upsert;
            Add(command, "name", s.ProviderName);
            Add(command, "state", s.State.ToString().ToLowerInvariant());
            Add(command, "score", s.Score);
            Add(command, "active", postgres ? s.IsActive : s.IsActive ? 1 : 0);
            Add(command, "by", s.DeactivatedByControlPlane ? ControlPlane : null);
            Add(command, "ejections", string.Join(',', s.Ejections.Select(Format)));
            Add(command, "failed_at", TimeValue(s.FailedAt, postgres));
            Add(command, "out_until", TimeValue(s.OutUntil, postgres));
            Add(command, "failed_evaluations", s.FailedEvaluations);
            Add(command, "progress", s.ProbationProgress);
            Add(command, "updated_at", TimeValue(s.SavedAt, postgres));
            await command.ExecuteNonQueryAsync(cancellationToken);
        }
    }

    private static async Task ExecuteAsync(DbConnection connection, DbTransaction? transaction, string sql, CancellationToken cancellationToken)
    {
        await using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    private static void Add(DbCommand command, string name, object? value)
    {
        var p = command.CreateParameter();
        p.ParameterName = "@" + name;
        p.Value = value ?? DBNull.Value;
        command.Parameters.Add(p);
    }

    private static object? TimeValue(DateTimeOffset? value, bool postgres) =>
        value is not { } v ? null : postgres ? v.UtcDateTime : Format(v);

    private static DateTimeOffset Time(DbDataReader reader, int ordinal, bool postgres) =>
        postgres ? new DateTimeOffset(DateTime.SpecifyKind(reader.GetDateTime(ordinal), DateTimeKind.Utc)) : Parse(reader.GetString(ordinal));

    private static string Format(DateTimeOffset value) => value.ToUniversalTime().ToString("O", CultureInfo.InvariantCulture);

    private static DateTimeOffset Parse(string value) => DateTimeOffset.Parse(value, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal);
}
