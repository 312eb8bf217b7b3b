-- The canary of runbook step 12: a disabled user the agent creates in the pilot OU with approval,
-- that Cloud Sync must provision, and that the agent deletes again with approval. One row per
-- canary; its timings are what step 12's card shows. The password is never stored anywhere.
CREATE TABLE canaries (
  id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  migration_id      uuid NOT NULL REFERENCES migrations (id),
  name              text NOT NULL,
  ou_dn             text NOT NULL,
  dn                text,
  object_guid       text,
  anchor            text,
  status            text NOT NULL CHECK (status IN ('creating', 'createFailed', 'waiting', 'provisioned', 'timedOut',
                                                     'deleting', 'deleteFailed', 'deleteWaiting', 'gone', 'deleteTimedOut')),
  requested_by_name text NOT NULL,
  create_approval_id uuid REFERENCES approvals (id),
  create_job_id     uuid,
  delete_approval_id uuid REFERENCES approvals (id),
  delete_job_id     uuid,
  created_at        timestamptz,
  provisioned_at    timestamptz,
  cloud_id          text,
  create_log_at     timestamptz,
  deleted_at        timestamptz,
  gone_at           timestamptz,
  delete_log_at     timestamptz,
  scheduler_stopped boolean,
  problem           text,
  requested_at      timestamptz NOT NULL DEFAULT now(),
  version           integer NOT NULL DEFAULT 0
);
CREATE INDEX canaries_by_migration ON canaries (migration_id, requested_at DESC);
-- One approval runs one canary: a second claim of the same approval finds the row.
CREATE UNIQUE INDEX canaries_one_per_approval ON canaries (create_approval_id);

-- An approver may waive the canary for step 12 with a reason (also in the audit log).
CREATE TABLE canary_waivers (
  migration_id uuid PRIMARY KEY REFERENCES migrations (id),
  waived_by    text NOT NULL,
  waived_by_name text NOT NULL,
  reason       text NOT NULL,
  at           timestamptz NOT NULL
);

ALTER TABLE jobs DROP CONSTRAINT jobs_purpose_check;
ALTER TABLE jobs ADD CONSTRAINT jobs_purpose_check
  CHECK (purpose IN ('verify', 'step.check', 'step.precheck', 'step.action', 'step.undo', 'wave.count', 'summary.count', 'canary'));
