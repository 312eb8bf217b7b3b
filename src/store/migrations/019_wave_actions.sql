-- Issue 16, "One OU, one engine" for waves: each wave's no-flow rules, its Cloud Sync scope add and
-- the full Connect Sync cycle of its rollback are approved actions of their own, one row per wave and
-- kind, with the evidence they left (rule ids created, scope read back) for the ledger and the undo.
CREATE TABLE wave_actions (
  id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  migration_id uuid NOT NULL REFERENCES migrations (id),
  wave_id      uuid NOT NULL REFERENCES waves (id),
  kind         text NOT NULL CHECK (kind IN ('rules', 'scope', 'cycle')),
  status       text NOT NULL CHECK (status IN ('reading', 'waiting_approval', 'in_progress', 'done', 'failed', 'undoing', 'undone')),
  reason       text,
  evidence     jsonb,
  updated_by   text,
  updated_at   timestamptz,
  card_activity_id text,
  -- Optimistic concurrency, as runbook_steps: two writers that read the same version cannot both write.
  version      integer NOT NULL DEFAULT 0,
  UNIQUE (wave_id, kind)
);

-- A wave action's approvals live with the steps' (same votes, four-eyes, void-on-change); step 0
-- and the action's id tell them apart, and each wave action has at most one live request.
ALTER TABLE approvals ADD COLUMN wave_action_id uuid REFERENCES wave_actions (id);
DROP INDEX approvals_one_live_per_step;
CREATE UNIQUE INDEX approvals_one_live_per_step ON approvals (migration_id, step)
  WHERE wave_action_id IS NULL AND status IN ('pending', 'approved', 'executing');
CREATE UNIQUE INDEX approvals_one_live_per_wave_action ON approvals (wave_action_id)
  WHERE wave_action_id IS NOT NULL AND status IN ('pending', 'approved', 'executing');

-- Which agent job belongs to which wave action: read (before a request), precheck (after approval,
-- the re-read that decides whether it still holds), action, undo.
CREATE TABLE wave_action_jobs (
  job_id         uuid PRIMARY KEY REFERENCES jobs (id),
  wave_action_id uuid NOT NULL REFERENCES wave_actions (id),
  purpose        text NOT NULL CHECK (purpose IN ('read', 'precheck', 'action', 'undo')),
  approval_id    uuid REFERENCES approvals (id)
);

ALTER TABLE jobs DROP CONSTRAINT jobs_purpose_check;
ALTER TABLE jobs ADD CONSTRAINT jobs_purpose_check
  CHECK (purpose IN ('verify', 'step.check', 'step.precheck', 'step.action', 'step.undo', 'wave.count', 'summary.count', 'canary', 'wave.action'));
