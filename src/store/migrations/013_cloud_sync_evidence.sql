-- Per-object proof that Cloud Sync provisioned an object: each successful entry of the migration's
-- Cloud Sync job in the provisioning logs, by the AD object (sourceIdentity.id) and the Entra object
-- (targetIdentity.id) it names. Connect Sync writes no provisioning logs, so a row here is never
-- Connect Sync's doing. cloud_sync_confirmed (004) kept only the Entra id and no job; it stays for an
-- instance still running the previous version.
CREATE TABLE cloud_sync_evidence (
  migration_id uuid NOT NULL REFERENCES migrations (id),
  job_id       text NOT NULL,
  target_id    text NOT NULL,
  source_id    text NOT NULL,
  action       text NOT NULL,
  log_id       text NOT NULL,
  activity_at  timestamptz NOT NULL,
  first_seen   timestamptz NOT NULL,
  PRIMARY KEY (migration_id, job_id, target_id, source_id)
);

-- A person's acknowledgement of the pre-flight findings of a verify step (users missing in Entra or
-- with a different anchor predict a failed hard match). It covers exactly the findings it was given
-- for (findings_hash): a new count with other findings needs a new acknowledgement.
CREATE TABLE preflight_acknowledgements (
  id            uuid PRIMARY KEY,
  migration_id  uuid NOT NULL REFERENCES migrations (id),
  step          integer NOT NULL,
  findings_hash text NOT NULL,
  findings      jsonb NOT NULL,
  reason        text NOT NULL,
  by_id         text NOT NULL,
  by_name       text NOT NULL,
  at            timestamptz NOT NULL
);
CREATE INDEX preflight_acknowledgements_step ON preflight_acknowledgements (migration_id, step, at DESC);
