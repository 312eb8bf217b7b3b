-- The no-flow check the bot runs by itself after step 13 (pilot) or a wave's full cycle (issue 16):
-- one row per OU and cycle job, asked again every few minutes until a synchronization run that started
-- after the cycle job shows up, or until its deadline. Kept here so a restart resumes it; every
-- change is compare-and-set on `version`, so of two bot instances only one queues or posts.
CREATE TABLE no_flow_follow_ups (
  id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  migration_id    uuid NOT NULL REFERENCES migrations (id),
  conversation_id text NOT NULL,
  ou              text NOT NULL,
  label           text NOT NULL,
  -- The job that started the cycle (step 13's or the wave's); a result offered twice adds nothing.
  trigger_job_id  text NOT NULL,
  -- A synchronization run counts only if it started at or after this (when the cycle job was queued).
  cycle_after     timestamptz NOT NULL,
  status          text NOT NULL CHECK (status IN ('waiting', 'checking', 'posting', 'posted', 'timedOut')),
  final           text CHECK (final IN ('result', 'deadline')),
  check_job_id    text,
  checks          integer NOT NULL DEFAULT 0,
  last_outcome    text,
  next_at         timestamptz NOT NULL,
  deadline_at     timestamptz NOT NULL,
  claimed_at      timestamptz,
  created_at      timestamptz NOT NULL DEFAULT now(),
  version         integer NOT NULL DEFAULT 0,
  UNIQUE (trigger_job_id, ou)
);
CREATE INDEX no_flow_follow_ups_open ON no_flow_follow_ups (next_at) WHERE status IN ('waiting', 'checking', 'posting');
CREATE INDEX no_flow_follow_ups_check_job ON no_flow_follow_ups (check_job_id);
