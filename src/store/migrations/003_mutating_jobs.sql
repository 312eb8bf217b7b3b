-- A job that changes something must never be run twice: when its lease runs out it is not handed
-- to another agent but marked failed with an unknown outcome, for a person to check.
ALTER TABLE jobs ADD COLUMN mutating boolean NOT NULL DEFAULT false;
CREATE INDEX jobs_leased_mutating_by_expiry ON jobs (lease_expires_at) WHERE state = 'leased' AND mutating;
