-- Initial SyncShift schema. Runs on PostgreSQL 13+ and PGlite; unqualified names land in the
-- first schema on the search_path, which lets tests isolate themselves in a schema of their own.

CREATE TABLE migrations (
  id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  name            text NOT NULL,
  conversation_id text NOT NULL,
  created_by      text NOT NULL,
  -- Archiving (rather than deleting) a finished migration frees the conversation for a new one.
  status          text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'archived')),
  created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX migrations_one_active_per_conversation ON migrations (conversation_id) WHERE status = 'active';

CREATE TABLE conversation_refs (
  conversation_id text PRIMARY KEY,
  reference       jsonb NOT NULL,
  updated_at      timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE jobs (
  id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  -- created_at can tie within a transaction; seq gives a strict first-in, first-out order.
  seq              bigint GENERATED ALWAYS AS IDENTITY,
  kind             text NOT NULL,
  payload          jsonb,
  state            text NOT NULL DEFAULT 'queued' CHECK (state IN ('queued', 'leased', 'succeeded', 'failed')),
  conversation_id  text NOT NULL,
  migration_id     uuid REFERENCES migrations (id),
  requested_by     text NOT NULL,
  agent_id         text,
  lease_expires_at timestamptz,
  attempts         integer NOT NULL DEFAULT 0,
  progress         jsonb,
  result           jsonb,
  error            jsonb,
  created_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now(),
  finished_at      timestamptz,
  CONSTRAINT jobs_leased_has_holder CHECK (state <> 'leased' OR (agent_id IS NOT NULL AND lease_expires_at IS NOT NULL)),
  CONSTRAINT jobs_finished_has_time CHECK ((state IN ('succeeded', 'failed')) = (finished_at IS NOT NULL))
);
-- Leasing scans queued jobs oldest first, plus leases that ran out.
CREATE INDEX jobs_queued_by_seq ON jobs (seq) WHERE state = 'queued';
CREATE INDEX jobs_leased_by_expiry ON jobs (lease_expires_at) WHERE state = 'leased';
CREATE INDEX jobs_by_conversation ON jobs (conversation_id, seq);

CREATE TABLE verifications (
  id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  seq              bigint GENERATED ALWAYS AS IDENTITY,
  job_id           uuid NOT NULL UNIQUE REFERENCES jobs (id),
  conversation_id  text NOT NULL,
  migration_id     uuid REFERENCES migrations (id),
  ou_input         text NOT NULL,
  base_dn          text,
  card_activity_id text,
  status           text NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'reported', 'failed')),
  summary          jsonb,
  report           jsonb,
  created_at       timestamptz NOT NULL DEFAULT now(),
  reported_at      timestamptz
);
CREATE INDEX verifications_by_conversation ON verifications (conversation_id, seq DESC);
CREATE INDEX verifications_running ON verifications (job_id) WHERE status = 'running';

CREATE TABLE audit_log (
  seq             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  at              timestamptz NOT NULL DEFAULT now(),
  actor           text NOT NULL,
  action          text NOT NULL,
  target          text,
  outcome         text NOT NULL,
  details         jsonb,
  conversation_id text
);
CREATE INDEX audit_log_by_time ON audit_log (at DESC, seq DESC);

-- The audit trail must hold even against a bug or a hand-typed statement, so the database itself refuses changes.
CREATE FUNCTION audit_log_reject_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'audit_log is append-only: % is not allowed', TG_OP
    USING ERRCODE = 'insufficient_privilege',
          HINT = 'Insert a new entry that records the correction instead of changing or removing old ones.';
END
$$;
CREATE TRIGGER audit_log_no_update_delete BEFORE UPDATE OR DELETE ON audit_log
  FOR EACH ROW EXECUTE FUNCTION audit_log_reject_change();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
  FOR EACH STATEMENT EXECUTE FUNCTION audit_log_reject_change();
