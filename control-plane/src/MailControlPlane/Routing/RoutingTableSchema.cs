namespace MailControlPlane.Routing;

/// <summary>
/// The platform's tables and routing query (a copy of docs/routing-table.sql, copied next to the tests).
/// The control plane creates tables only in a fresh database: always for its SQLite file, and for
/// PostgreSQL only when a caller asks (tests, a fresh stand-alone database); it never alters them.
/// </summary>
internal static class RoutingTableSchema
{
    /// <summary>The PostgreSQL tables, exactly as docs/routing-table.sql creates them.</summary>
    public const string PostgresTables = """
        CREATE TABLE IF NOT EXISTS messaging_providers (
          id                    SERIAL PRIMARY KEY,
          tenant_id             INTEGER,
          provider_type         VARCHAR(50) NOT NULL CHECK (provider_type IN ('email', 'sms', 'whatsapp', 'social')),
          provider_name         VARCHAR(50) NOT NULL,
          credentials_encrypted TEXT NOT NULL,
          credentials_iv        VARCHAR(255) NOT NULL,
          config                JSONB DEFAULT '{}'::jsonb,
          is_active             BOOLEAN DEFAULT true,
          created_at            TIMESTAMP DEFAULT NOW(),
          updated_at            TIMESTAMP DEFAULT NOW(),
          deleted_at            TIMESTAMP,
          last_used_at          TIMESTAMP
        );

        CREATE TABLE IF NOT EXISTS messaging_provider_health_logs (
          id               BIGSERIAL PRIMARY KEY,
          provider_id      BIGINT REFERENCES messaging_providers(id) ON DELETE CASCADE,
          check_type       VARCHAR(50) NOT NULL,
          status           VARCHAR(50) NOT NULL,
          response_time_ms INTEGER,
          error_message    TEXT,
          metadata         JSONB,
          checked_at       TIMESTAMPTZ DEFAULT NOW()
        );
        """;

    /// <summary>The same tables in SQLite: JSONB becomes TEXT holding JSON (edited with json_set), BOOLEAN 0/1, timestamps ISO-8601 text in UTC.</summary>
    public const string SqliteTables = """
        CREATE TABLE IF NOT EXISTS messaging_providers (
          id                    INTEGER PRIMARY KEY AUTOINCREMENT,
          tenant_id             INTEGER,
          provider_type         VARCHAR(50) NOT NULL CHECK (provider_type IN ('email', 'sms', 'whatsapp', 'social')),
          provider_name         VARCHAR(50) NOT NULL,
          credentials_encrypted TEXT NOT NULL,
          credentials_iv        VARCHAR(255) NOT NULL,
          config                TEXT DEFAULT '{}',
          is_active             BOOLEAN DEFAULT 1,
          created_at            TIMESTAMP DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now')),
          updated_at            TIMESTAMP DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now')),
          deleted_at            TIMESTAMP,
          last_used_at          TIMESTAMP
        );

        CREATE TABLE IF NOT EXISTS messaging_provider_health_logs (
          id               INTEGER PRIMARY KEY AUTOINCREMENT,
          provider_id      BIGINT REFERENCES messaging_providers(id) ON DELETE CASCADE,
          check_type       VARCHAR(50) NOT NULL,
          status           VARCHAR(50) NOT NULL,
          response_time_ms INTEGER,
          error_message    TEXT,
          metadata         TEXT,
          checked_at       TIMESTAMPTZ DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
        );
        """;

    /// <summary>How the email service picks providers: the query from docs/routing-table.sql, verbatim.</summary>
    public const string PostgresRoutingQuery = """
        SELECT id, provider_name, config
          FROM messaging_providers
         WHERE provider_type = 'email' AND is_active = true
         ORDER BY COALESCE((config->>'health_score')::integer, 100) DESC,
                  COALESCE((config->>'email_rate_per_1000')::numeric, 999) ASC,
                  COALESCE((config->>'priority')::integer, 999) ASC;
        """;

    /// <summary>
    /// The same ordering in SQLite: <c>config->>'k'</c> becomes <c>json_extract(config, '$.k')</c> and the
    /// casts become CAST(… AS INTEGER / REAL). One difference: PostgreSQL fails on a non-integer
    /// health_score where SQLite truncates it; the writer only ever writes integers.
    /// </summary>
    public const string SqliteRoutingQuery = """
        SELECT id, provider_name, config
          FROM messaging_providers
         WHERE provider_type = 'email' AND is_active = 1
         ORDER BY COALESCE(CAST(json_extract(config, '$.health_score') AS INTEGER), 100) DESC,
                  COALESCE(CAST(json_extract(config, '$.email_rate_per_1000') AS REAL), 999) ASC,
                  COALESCE(CAST(json_extract(config, '$.priority') AS INTEGER), 999) ASC;
        """;

    /// <summary>Every live email row, in rotation or not (the status page); the same text on both databases.</summary>
    public const string EmailRowsQuery = """
        SELECT id, provider_name, COALESCE(is_active, false)
          FROM messaging_providers
         WHERE provider_type = 'email' AND deleted_at IS NULL
         ORDER BY id;
        """;

    /// <summary>The seeded provider names, for the log line.</summary>
    public const string StandaloneSeedNames = "postfix-oregon, postfix-virginia, elastic-email";

    /// <summary>The stand-alone seed: two agent-backed providers and a paid one (configs as an operator writes them).</summary>
    public static readonly (string Name, string ConfigJson)[] StandaloneSeed =
    [
        ("postfix-oregon", """{"priority": 1, "weight": 50, "health_score": 100, "email_rate_per_1000": 0.00, "smtp_host": "mail-oregon.tazzi.com", "smtp_port": 587, "region": "us-west-2"}"""),
        ("postfix-virginia", """{"priority": 2, "weight": 50, "health_score": 100, "email_rate_per_1000": 0.00, "smtp_host": "mail-virginia.tazzi.com", "smtp_port": 587, "region": "us-east-1"}"""),
        ("elastic-email", """{"priority": 3, "weight": 0, "health_score": 100, "email_rate_per_1000": 0.85, "smtp_host": "smtp.elasticemail.com", "smtp_port": 2525}"""),
    ];
}
