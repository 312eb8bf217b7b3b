-- The runbook: one row per step per migration, approvals with their votes, and which job belongs to which step.

CREATE TABLE runbook_steps (
  migration_id     uuid NOT NULL REFERENCES migrations (id),
  n                integer NOT NULL CHECK (n BETWEEN 1 AND 18),
  status           text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'in_progress', 'waiting_approval', 'done', 'skipped', 'failed')),
  reason           text,
  evidence         jsonb,
  updated_by       text,
  updated_at       timestamptz,
  card_activity_id text,
  -- Optimistic concurrency: two clicks that read the same version cannot both write.
  version          integer NOT NULL DEFAULT 0,
  PRIMARY KEY (migration_id, n)
);

CREATE TABLE approvals (
  id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  migration_id      uuid NOT NULL REFERENCES migrations (id),
  step              integer NOT NULL,
  action            text NOT NULL,
  requested_by      text NOT NULL,
  requested_by_name text NOT NULL,
  requested_at      timestamptz NOT NULL,
  expires_at        timestamptz NOT NULL,
  required          integer NOT NULL CHECK (required >= 1),
  evidence_hash     text NOT NULL,
  evidence          jsonb,
  status            text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'approved', 'rejected', 'expired', 'void', 'executing', 'executed')),
  job_id            uuid REFERENCES jobs (id)
);
-- At most one live request per step: a second "request approval" click finds the first.
CREATE UNIQUE INDEX approvals_one_live_per_step ON approvals (migration_id, step) WHERE status IN ('pending', 'approved', 'executing');

CREATE TABLE approval_votes (
  approval_id uuid NOT NULL REFERENCES approvals (id),
  voter       text NOT NULL,
  voter_name  text NOT NULL,
  decision    text NOT NULL CHECK (decision IN ('approve', 'reject')),
  at          timestamptz NOT NULL,
  PRIMARY KEY (approval_id, voter)
);

CREATE TABLE step_jobs (
  job_id       uuid PRIMARY KEY REFERENCES jobs (id),
  migration_id uuid NOT NULL REFERENCES migrations (id),
  step         integer NOT NULL,
  -- check: a read the step needs; precheck: the re-read that decides whether an approval still
  -- holds; action: the approved change; undo: its rollback.
  purpose      text NOT NULL CHECK (purpose IN ('check', 'precheck', 'action', 'undo')),
  approval_id  uuid REFERENCES approvals (id)
);
CREATE INDEX step_jobs_by_step ON step_jobs (migration_id, step);
