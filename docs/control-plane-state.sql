-- The control plane's own table, beside the platform's routing table (routing-table.sql).
-- Created by the control plane (CREATE TABLE IF NOT EXISTS) the first time a replica reads it; one row per
-- agent-backed provider. Written by the leader in its advisory-lock session, after each write cycle in which a
-- provider's memory changed; read by a starting leader before its first write, and by standbys every
-- Routing:LeaderRetryInterval so that a takeover goes on where the leader stopped.
-- (SQLite: the same columns with TEXT timestamps in ISO 8601 and INTEGER 0/1 for is_active.)

CREATE TABLE IF NOT EXISTS mailagent_scorer_state (
  provider_name      VARCHAR(100) PRIMARY KEY,     -- messaging_providers.provider_name
  state              VARCHAR(20) NOT NULL,         -- healthy | degraded | failed | probation
  score              INTEGER NOT NULL,             -- the last score the scorer produced (0..100)
  is_active          BOOLEAN NOT NULL,             -- the is_active the scorer wants
  deactivated_by     VARCHAR(40),                  -- 'control-plane' when the control plane wrote is_active = false;
                                                   -- NULL otherwise: a false it did not write is a person's and is never raised
  ejections          TEXT NOT NULL DEFAULT '',     -- ejection times in the last Scoring:EjectionHistory (24 h), ISO 8601, comma-separated
  failed_at          TIMESTAMPTZ,                  -- when the provider last failed (failed / probation)
  out_until          TIMESTAMPTZ,                  -- end of the ejection time (failed): the earliest it may return, on fresh evidence only
  failed_evaluations INTEGER NOT NULL DEFAULT 0,   -- consecutive failed evaluations (is_active = false after Scoring:DeactivateAfterFailedEvaluations)
  probation_progress INTEGER NOT NULL DEFAULT 0,   -- evaluations in a row at or above Scoring:RecoverAtOrAbove
  updated_at         TIMESTAMPTZ NOT NULL DEFAULT NOW()
);
