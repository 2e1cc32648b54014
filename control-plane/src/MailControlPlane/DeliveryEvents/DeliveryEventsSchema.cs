namespace MailControlPlane.DeliveryEvents;

/// <summary>The tables and views of the delivery events; docs/delivery-events.sql holds the PostgreSQL text verbatim.</summary>
internal static class DeliveryEventsSchema
{
    public const string Postgres =
        """
        -- One row per recipient outcome reported by an agent (expired: one per message).
        -- (agent, event_key) is unique: a replayed event (either side restarted) is skipped.
        CREATE TABLE IF NOT EXISTS messaging_delivery_events (
            id                          bigserial PRIMARY KEY,
            agent                       text NOT NULL,
            event_key                   text NOT NULL,
            agent_run                   text NOT NULL,
            agent_sequence              bigint NOT NULL,
            provider_name               text NOT NULL,
            host                        text NOT NULL,
            message_id                  text NOT NULL,
            queue_id                    text NOT NULL,
            status                      text NOT NULL CHECK (status IN ('delivered', 'deferred', 'bounced', 'expired')),
            recipient_domain            text NOT NULL,
            recipient                   text NOT NULL,
            recipient_hash              text NOT NULL,
            dsn                         text NOT NULL,
            severity                    text NOT NULL CHECK (severity IN ('none', 'soft', 'hard')),
            reason                      text NOT NULL,
            reply                       text NOT NULL,
            relay                       text NOT NULL,
            delay_seconds               double precision NOT NULL,
            delay_before_queue_manager  double precision NOT NULL,
            delay_in_queue_manager      double precision NOT NULL,
            delay_connection_setup      double precision NOT NULL,
            delay_transmission          double precision NOT NULL,
            attempt                     integer NOT NULL,
            logged_at                   timestamptz NOT NULL,
            stored_at                   timestamptz NOT NULL DEFAULT now(),
            UNIQUE (agent, event_key)
        );
        CREATE INDEX IF NOT EXISTS messaging_delivery_events_provider_time ON messaging_delivery_events (provider_name, logged_at);
        CREATE INDEX IF NOT EXISTS messaging_delivery_events_message_id ON messaging_delivery_events (message_id);
        CREATE INDEX IF NOT EXISTS messaging_delivery_events_logged_at ON messaging_delivery_events (logged_at);

        -- Where each agent's stream stands: written in the same transaction as the rows.
        CREATE TABLE IF NOT EXISTS messaging_delivery_cursors (
            agent           text PRIMARY KEY,
            agent_run       text NOT NULL,
            last_sequence   bigint NOT NULL,
            updated_at      timestamptz NOT NULL DEFAULT now()
        );

        -- How far the webhook has sent each agent's rows (messaging_delivery_events.id), moved
        -- after the receiver answered 2xx: a restart sends from here again (at least once).
        CREATE TABLE IF NOT EXISTS messaging_delivery_webhook_cursors (
            agent           text PRIMARY KEY,
            last_id         bigint NOT NULL,
            updated_at      timestamptz NOT NULL DEFAULT now()
        );

        -- Per provider and hour. sent = final outcomes (delivered + bounced + expired).
        CREATE OR REPLACE VIEW messaging_provider_stats_hourly AS
        SELECT provider_name,
               date_trunc('hour', logged_at) AS hour,
               count(*) FILTER (WHERE status IN ('delivered', 'bounced', 'expired')) AS sent,
               count(*) FILTER (WHERE status = 'delivered') AS delivered,
               count(*) FILTER (WHERE status = 'deferred') AS deferred,
               count(*) FILTER (WHERE status = 'bounced' AND severity = 'hard') AS bounced_hard,
               count(*) FILTER (WHERE status = 'bounced' AND severity <> 'hard') AS bounced_soft,
               count(*) FILTER (WHERE status = 'expired') AS expired,
               percentile_disc(0.5) WITHIN GROUP (ORDER BY delay_seconds) FILTER (WHERE status = 'delivered') AS delay_median_seconds,
               percentile_disc(0.95) WITHIN GROUP (ORDER BY delay_seconds) FILTER (WHERE status = 'delivered') AS delay_p95_seconds
          FROM messaging_delivery_events
         GROUP BY provider_name, date_trunc('hour', logged_at);

        -- Hard bounces that say the address or its domain cannot receive mail. Candidates only:
        -- the platform decides; nothing here stops mail.
        CREATE OR REPLACE VIEW messaging_suppression_candidates AS
        SELECT recipient_domain, recipient, recipient_hash,
               max(reason) AS reason, max(dsn) AS dsn, max(reply) AS reply,
               count(*) AS bounces, min(logged_at) AS first_seen, max(logged_at) AS last_seen,
               max(message_id) AS last_message_id, max(provider_name) AS provider_name
          FROM messaging_delivery_events
         WHERE status = 'bounced' AND severity = 'hard' AND reason IN ('unknown_user', 'dns')
         GROUP BY recipient_domain, recipient, recipient_hash,
                  CASE WHEN recipient = '' AND recipient_hash = '' THEN message_id ELSE '' END;
        """;

    public const string Sqlite =
        """
        CREATE TABLE IF NOT EXISTS messaging_delivery_events (
            id                          INTEGER PRIMARY KEY AUTOINCREMENT,
            agent                       TEXT NOT NULL,
            event_key                   TEXT NOT NULL,
            agent_run                   TEXT NOT NULL,
            agent_sequence              INTEGER NOT NULL,
            provider_name               TEXT NOT NULL,
            host                        TEXT NOT NULL,
            message_id                  TEXT NOT NULL,
            queue_id                    TEXT NOT NULL,
            status                      TEXT NOT NULL CHECK (status IN ('delivered', 'deferred', 'bounced', 'expired')),
            recipient_domain            TEXT NOT NULL,
            recipient                   TEXT NOT NULL,
            recipient_hash              TEXT NOT NULL,
            dsn                         TEXT NOT NULL,
            severity                    TEXT NOT NULL CHECK (severity IN ('none', 'soft', 'hard')),
            reason                      TEXT NOT NULL,
            reply                       TEXT NOT NULL,
            relay                       TEXT NOT NULL,
            delay_seconds               REAL NOT NULL,
            delay_before_queue_manager  REAL NOT NULL,
            delay_in_queue_manager      REAL NOT NULL,
            delay_connection_setup      REAL NOT NULL,
            delay_transmission          REAL NOT NULL,
            attempt                     INTEGER NOT NULL,
            logged_at                   TEXT NOT NULL,
            stored_at                   TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
            UNIQUE (agent, event_key)
        );
        CREATE INDEX IF NOT EXISTS messaging_delivery_events_provider_time ON messaging_delivery_events (provider_name, logged_at);
        CREATE INDEX IF NOT EXISTS messaging_delivery_events_message_id ON messaging_delivery_events (message_id);
        CREATE INDEX IF NOT EXISTS messaging_delivery_events_logged_at ON messaging_delivery_events (logged_at);
        CREATE TABLE IF NOT EXISTS messaging_delivery_cursors (
            agent           TEXT PRIMARY KEY,
            agent_run       TEXT NOT NULL,
            last_sequence   INTEGER NOT NULL,
            updated_at      TEXT NOT NULL
        );
        CREATE TABLE IF NOT EXISTS messaging_delivery_webhook_cursors (
            agent           TEXT PRIMARY KEY,
            last_id         INTEGER NOT NULL,
            updated_at      TEXT NOT NULL
        );
        -- SQLite has no percentiles: GetProviderStats computes median and p95 itself.
        CREATE VIEW IF NOT EXISTS messaging_provider_stats_hourly AS
        SELECT provider_name,
               substr(logged_at, 1, 13) || ':00:00Z' AS hour,
               sum(status IN ('delivered', 'bounced', 'expired')) AS sent,
               sum(status = 'delivered') AS delivered,
               sum(status = 'deferred') AS deferred,
               sum(status = 'bounced' AND severity = 'hard') AS bounced_hard,
               sum(status = 'bounced' AND severity <> 'hard') AS bounced_soft,
               sum(status = 'expired') AS expired
          FROM messaging_delivery_events
         GROUP BY provider_name, substr(logged_at, 1, 13);
        CREATE VIEW IF NOT EXISTS messaging_suppression_candidates AS
        SELECT recipient_domain, recipient, recipient_hash,
               max(reason) AS reason, max(dsn) AS dsn, max(reply) AS reply,
               count(*) AS bounces, min(logged_at) AS first_seen, max(logged_at) AS last_seen,
               max(message_id) AS last_message_id, max(provider_name) AS provider_name
          FROM messaging_delivery_events
         WHERE status = 'bounced' AND severity = 'hard' AND reason IN ('unknown_user', 'dns')
         GROUP BY recipient_domain, recipient, recipient_hash,
                  CASE WHEN recipient = '' AND recipient_hash = '' THEN message_id ELSE '' END;
        """;

    public const string Columns =
        "agent, event_key, agent_run, agent_sequence, provider_name, host, message_id, queue_id, status, recipient_domain, recipient, recipient_hash, "
        + "dsn, severity, reason, reply, relay, delay_seconds, delay_before_queue_manager, delay_in_queue_manager, delay_connection_setup, delay_transmission, attempt, logged_at";

    public const string SuppressionQuery =
        "SELECT recipient_domain, recipient, recipient_hash, reason, dsn, reply, bounces, first_seen, last_seen, last_message_id, provider_name "
        + "FROM messaging_suppression_candidates WHERE last_seen >= @since ORDER BY last_seen DESC, recipient_domain";
}
