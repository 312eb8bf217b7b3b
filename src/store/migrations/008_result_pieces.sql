-- A scan's users, in the pieces the agent sent them (about 1,000 a piece), beside the job whose
-- result holds the scan's head. A 100,000-user scan is then 100 rows of about 120 KB instead of
-- one 12 MB JSON value that every reader has to load, parse and hold whole.
CREATE TABLE job_result_pieces (
  job_id uuid NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
  seq integer NOT NULL CHECK (seq >= 0),
  users jsonb NOT NULL,
  PRIMARY KEY (job_id, seq)
);
