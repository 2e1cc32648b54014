-- Delivery events: what the control plane writes into the platform's PostgreSQL (section
-- DeliveryEvents; the same database as the routing table, routing-table.sql). The control plane
-- creates these objects itself at start (CREATE … IF NOT EXISTS); this file is the reference,
-- kept equal to DeliveryEventsSchema.Postgres by a test.
--
-- Keys and guarantees
--   * (agent, event_key) is unique. event_key is the agent's SHA-256 of the log line, so a line
--     read twice (the agent re-reads after its checkpoint when restarted; the control plane
--     resumes from its cursor) is skipped: a replay never duplicates.
--   * messaging_delivery_cursors holds each agent's run and last stored sequence, written in the
--     same transaction as the rows: a control-plane restart resumes exactly after them.
--   * message_id is the Message-ID header without brackets: join it with what the platform got
--     back from SMTP submission. recipient is set only with the agent's Events:IncludeRecipients;
--     otherwise recipient_hash = hex(HMAC-SHA256(Events:RecipientHashKey, lower(address))) when the
--     agent has a key, else empty (only recipient_domain leaves the host).
--   * status: delivered | deferred (one row per attempt) | bounced | expired (one row per message,
--     recipient fields empty: Postfix logs expiry per message).
--   * severity: none | soft | hard (RFC 3463 class 4 / 5; expired is soft);
--     reason: none | unknown_user | mailbox_full | policy | dns | tls | connection | message | expired | other.
--   * Retention: rows with logged_at older than DeliveryEvents:RetentionDays are deleted hourly.
--   * SQLite (no Routing:ConnectionString): the same tables and views, times as ISO-8601 UTC
--     text, and no percentiles in the view (GetProviderStats computes them).

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
