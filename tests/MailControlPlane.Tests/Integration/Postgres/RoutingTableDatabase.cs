using System.Text;
using Npgsql;

namespace MailControlPlane.Tests.Integration.Postgres;

/// <summary>
/// The platform's tables in a test PostgreSQL: applies docs/routing-table.sql (a copy of the
/// platform's file) and seeds provider rows; also gives the platform's routing query exactly as the
/// file writes it, so tests run it verbatim.
/// </summary>
internal static class RoutingTableDatabase
{
    /// <summary>The copy of docs/routing-table.sql next to the test assembly.</summary>
    public static string SqlPath => Path.Combine(AppContext.BaseDirectory, "data", "routing-table.sql");

    /// <summary>The platform's query: the commented block after "How the email service picks providers", comment markers removed.</summary>
    public static string PlatformQuery { get; } = ExtractPlatformQuery(File.ReadAllLines(SqlPath));

    /// <summary>The oregon row's config as an operator wrote it: keys in a non-sorted order, a float, a nested object.</summary>
    public const string OregonConfig =
        """{"priority": 1, "weight": 50, "health_score": 100, "email_rate_per_1000": 0.00, "smtp_host": "mail-oregon.tazzi.com", "smtp_port": 587, "region": "us-west-2", "limits": {"per_minute": 600, "burst": [1, 2.5, "x"]}}""";

    public const string VirginiaConfig =
        """{"priority": 2, "weight": 50, "health_score": 100, "email_rate_per_1000": 0.00, "smtp_host": "mail-virginia.tazzi.com", "smtp_port": 587, "region": "us-east-1"}""";

    public const string PaidConfig =
        """{"priority": 5, "weight": 10, "health_score": 90, "email_rate_per_1000": 0.85, "api_url": "https://api.elasticemail.com/v2"}""";

    public const string SmsConfig = """{"priority": 1, "health_score": 77, "sender_id": "TAZZI"}""";

    public const string DeletedConfig = """{"priority": 9, "health_score": 55, "smtp_host": "old-virginia.tazzi.com"}""";

    /// <summary>Creates the tables from docs/routing-table.sql.</summary>
    public static async Task ApplySchemaAsync(string connectionString, CancellationToken cancellationToken = default)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync(cancellationToken);
        await using var command = new NpgsqlCommand(await File.ReadAllTextAsync(SqlPath, cancellationToken), connection);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>
    /// Seeds the standard rows: postfix-oregon and postfix-virginia (agent-backed), elastic-email (paid),
    /// an sms row named postfix-oregon and a deleted email row named postfix-virginia (both must never be touched).
    /// </summary>
    public static async Task SeedStandardRowsAsync(string connectionString, CancellationToken cancellationToken = default)
    {
        await InsertAsync(connectionString, "email", "postfix-oregon", OregonConfig, isActive: true, deleted: false, cancellationToken);
        await InsertAsync(connectionString, "email", "postfix-virginia", VirginiaConfig, isActive: true, deleted: false, cancellationToken);
        await InsertAsync(connectionString, "email", "elastic-email", PaidConfig, isActive: true, deleted: false, cancellationToken);
        await InsertAsync(connectionString, "sms", "postfix-oregon", SmsConfig, isActive: true, deleted: false, cancellationToken);
        await InsertAsync(connectionString, "email", "postfix-virginia", DeletedConfig, isActive: false, deleted: true, cancellationToken);
    }

    /// <summary>Inserts one provider row the way an operator does; returns its id.</summary>
    public static async Task<int> InsertAsync(
        string connectionString,
        string providerType,
        string providerName,
        string configJson,
        bool isActive,
        bool deleted,
        CancellationToken cancellationToken = default)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync(cancellationToken);
        await using var command = new NpgsqlCommand(
            """
            INSERT INTO messaging_providers (provider_type, provider_name, credentials_encrypted, credentials_iv, config, is_active, created_at, updated_at, deleted_at)
            VALUES (@type, @name, 'opaque', 'iv', @config::jsonb, @active, TIMESTAMP '2026-01-01 00:00:00', TIMESTAMP '2026-01-01 00:00:00',
                    CASE WHEN @deleted THEN TIMESTAMP '2026-02-01 00:00:00' END)
            RETURNING id
            """,
            connection);
        command.Parameters.AddWithValue("type", providerType);
        command.Parameters.AddWithValue("name", providerName);
        command.Parameters.AddWithValue("config", configJson);
        command.Parameters.AddWithValue("active", isActive);
        command.Parameters.AddWithValue("deleted", deleted);
        return (int)(await command.ExecuteScalarAsync(cancellationToken))!;
    }

    /// <summary>Runs the platform's query verbatim and returns the provider names in routing order.</summary>
    public static async Task<IReadOnlyList<string>> RoutingOrderAsync(string connectionString, CancellationToken cancellationToken = default)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync(cancellationToken);
        await using var command = new NpgsqlCommand(PlatformQuery, connection);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var names = new List<string>();
        while (await reader.ReadAsync(cancellationToken))
        {
            names.Add(reader.GetString(1));
        }

        return names;
    }

    private static string ExtractPlatformQuery(string[] lines)
    {
        var start = Array.FindIndex(lines, l => l.Contains("How the email service picks providers", StringComparison.Ordinal));
        if (start < 0)
        {
            throw new InvalidOperationException($"{SqlPath} has no 'How the email service picks providers' block");
        }

        var query = new StringBuilder();
        foreach (var line in lines.Skip(start + 1).SkipWhile(l => !l.TrimStart('-', ' ').StartsWith("SELECT", StringComparison.Ordinal)))
        {
            var text = line.StartsWith("-- ", StringComparison.Ordinal) ? line[3..] : line.TrimStart('-');
            query.AppendLine(text);
            if (text.TrimEnd().EndsWith(';'))
            {
                return query.ToString();
            }
        }

        throw new InvalidOperationException($"{SqlPath}: the platform query does not end with ';'");
    }
}
