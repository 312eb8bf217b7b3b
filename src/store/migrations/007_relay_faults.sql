-- A result the relay accepted is applied by its consumer (runbook step, wave count, verify card)
-- after the UPDATE that stored it. applied_at records that the consumer finished; a finished job
-- without it is handed to its consumer again (at start and by the lease sweep), so a crash between
-- the two loses nothing.
ALTER TABLE jobs ADD COLUMN applied_at timestamptz;
-- Which instance is applying a result right now: a short claim, renewed while the consumer works,
-- so two bot instances never apply one result at once, and a crashed instance's claim runs out.
ALTER TABLE jobs ADD COLUMN apply_claimed_until timestamptz;
-- Consumers that failed on this result; after a few the bot stops retrying it (and logs why).
ALTER TABLE jobs ADD COLUMN apply_failures integer NOT NULL DEFAULT 0;
-- Jobs that finished before this column existed were applied then.
UPDATE jobs SET applied_at = finished_at WHERE finished_at IS NOT NULL;
CREATE INDEX jobs_unapplied_by_seq ON jobs (seq) WHERE applied_at IS NULL AND state IN ('succeeded', 'failed');

-- What an agent says, in each lease request, it can run: a JSON array of action names, and whether
-- it is read-only. NULL for an agent that never said (an older version): it is offered every job.
ALTER TABLE agents ADD COLUMN actions jsonb;
ALTER TABLE agents ADD COLUMN read_only boolean;
