-- What each job is for, so a finished job goes to exactly one consumer instead of each consumer
-- asking whether the job is its own. Jobs queued before this column existed get it from the row
-- that linked them to their consumer.
ALTER TABLE jobs ADD COLUMN purpose text;

UPDATE jobs j SET purpose = 'step.' || s.purpose FROM step_jobs s WHERE s.job_id = j.id;
UPDATE jobs j SET purpose = 'wave.count' FROM wave_ous o WHERE o.count_job_id = j.id AND j.purpose IS NULL;
UPDATE jobs j SET purpose = 'verify' FROM verifications v WHERE v.job_id = j.id AND j.purpose IS NULL;
UPDATE jobs SET purpose = 'summary.count' WHERE purpose IS NULL AND requested_by = 'syncshift:summary';
-- A job whose link was never written (the bot stopped between queuing and linking) had no consumer
-- before and finds none now: each consumer ignores a job it holds no row for.
UPDATE jobs SET purpose = CASE WHEN kind = 'directory.scanOu' THEN 'verify' ELSE 'step.check' END WHERE purpose IS NULL;

ALTER TABLE jobs ALTER COLUMN purpose SET NOT NULL;
ALTER TABLE jobs ADD CONSTRAINT jobs_purpose_check
  CHECK (purpose IN ('verify', 'step.check', 'step.precheck', 'step.action', 'step.undo', 'wave.count', 'summary.count'));
