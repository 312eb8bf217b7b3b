-- Waves (runbook step 14) and the daily wave summary.

CREATE TABLE waves (
  id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  migration_id  uuid NOT NULL REFERENCES migrations (id),
  name          text NOT NULL,
  scheduled_for date,
  created_by    text NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now(),
  -- Removing a wave keeps the row: the audit log and old summaries still name it.
  removed_at    timestamptz
);
CREATE UNIQUE INDEX waves_one_live_name ON waves (migration_id, lower(name)) WHERE removed_at IS NULL;

CREATE TABLE wave_ous (
  wave_id    uuid NOT NULL REFERENCES waves (id),
  position   integer NOT NULL,
  ou_input   text NOT NULL,
  base_dn    text,
  users      integer,
  disabled   integer,
  error      text,
  -- The agent job that counts this OU; its result fills the columns above.
  count_job_id uuid REFERENCES jobs (id),
  counted_at timestamptz,
  PRIMARY KEY (wave_id, position)
);
CREATE INDEX wave_ous_by_job ON wave_ous (count_job_id);

-- Per migration: when the daily summary is posted (both NULL: not scheduled) and which Cloud Sync
-- job's provisioning logs it reads.
CREATE TABLE summary_settings (
  migration_id        uuid PRIMARY KEY REFERENCES migrations (id),
  local_time          text CHECK (local_time ~ '^([01][0-9]|2[0-3]):[0-5][0-9]$'),
  time_zone           text,
  provisioning_job_id text,
  -- Provisioning logs are read incrementally from here.
  logs_read_until     timestamptz,
  set_by              text NOT NULL,
  set_at              timestamptz NOT NULL,
  CONSTRAINT summary_settings_time_and_zone CHECK ((local_time IS NULL) = (time_zone IS NULL))
);

-- One row per posted (or being posted) summary. The unique index on (migration, local date) for
-- scheduled summaries is what makes the daily post exactly-once across restarts and bot instances:
-- whoever inserts the row posts; everyone else sees the conflict.
CREATE TABLE summaries (
  id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  migration_id uuid NOT NULL REFERENCES migrations (id),
  kind         text NOT NULL CHECK (kind IN ('scheduled', 'on_demand')),
  local_date   date NOT NULL,
  status       text NOT NULL CHECK (status IN ('claimed', 'posted', 'failed')),
  claimed_by   text NOT NULL,
  claimed_at   timestamptz NOT NULL,
  claim_expires_at timestamptz NOT NULL,
  posted_at    timestamptz,
  activity_id  text,
  content      jsonb,
  error        text
);
CREATE UNIQUE INDEX summaries_once_per_day ON summaries (migration_id, local_date) WHERE kind = 'scheduled';
CREATE INDEX summaries_latest ON summaries (migration_id, posted_at DESC) WHERE status = 'posted';

-- What the bot last read of the tenant's synced users, kept up to date with Graph's users delta
-- query instead of a full read every day.
CREATE TABLE cloud_snapshots (
  migration_id uuid PRIMARY KEY REFERENCES migrations (id),
  delta_link   text NOT NULL,
  full_reads   integer NOT NULL DEFAULT 1,
  delta_reads  integer NOT NULL DEFAULT 0,
  refreshed_at timestamptz NOT NULL
);

CREATE TABLE cloud_users (
  migration_id uuid NOT NULL REFERENCES migrations (id),
  id           text NOT NULL,
  upn          text,
  dn           text,
  immutable_id text,
  synced       boolean NOT NULL,
  PRIMARY KEY (migration_id, id)
);

-- Users a Cloud Sync provisioning log entry shows as successfully provisioned by the migration's
-- job: Connect Sync writes no provisioning logs, so this is the proof Cloud Sync owns them.
CREATE TABLE cloud_sync_confirmed (
  migration_id uuid NOT NULL REFERENCES migrations (id),
  user_id      text NOT NULL,
  first_seen   timestamptz NOT NULL,
  PRIMARY KEY (migration_id, user_id)
);
