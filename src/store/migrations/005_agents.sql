-- Enrolled relay agents. The bot keeps only a SHA-256 digest of each agent's credential: the
-- credential is 256 random bits, so a fast digest is enough (nothing to brute-force), and a leaked
-- table does not let anyone act as an agent.
CREATE TABLE agents (
  name          text PRIMARY KEY CHECK (name ~ '^[A-Za-z0-9._-]{1,64}$'),
  status        text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'revoked')),
  -- NULL for an agent configured through SYNCSHIFT_AGENT_SECRETS, which the bot only tracks for health.
  secret_sha256 text,
  enrolled_at   timestamptz,
  enrolled_by   text,
  revoked_at    timestamptz,
  revoked_by    text,
  last_seen_at  timestamptz,
  version       text,
  actions_run   integer NOT NULL DEFAULT 0,
  created_at    timestamptz NOT NULL DEFAULT now()
);

-- One-time enrollment codes, stored as digests. A code is spent by the UPDATE that sets used_at,
-- so two agents racing with the same code cannot both enroll.
CREATE TABLE agent_enrollment_codes (
  code_sha256 text PRIMARY KEY,
  agent_name  text NOT NULL,
  purpose     text NOT NULL CHECK (purpose IN ('enroll', 'rotate')),
  created_by  text NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  expires_at  timestamptz NOT NULL,
  used_at     timestamptz
);
CREATE INDEX agent_enrollment_codes_by_agent ON agent_enrollment_codes (agent_name);

-- Teams redelivers an activity when the bot answers slowly. The first instance to insert its key
-- handles it; every other delivery, on any instance, finds the key and is ignored.
CREATE TABLE seen_activities (
  activity_key text PRIMARY KEY,
  seen_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX seen_activities_by_time ON seen_activities (seen_at);

-- A mutating job counts as started only once its agent has said so, right before acting. A lease
-- whose agent never confirmed (the lease answer was lost, the agent died first) changed nothing, so
-- the job may go to another agent; a confirmed one never does (see jobs.expireMutating).
ALTER TABLE jobs ADD COLUMN started_at timestamptz;
