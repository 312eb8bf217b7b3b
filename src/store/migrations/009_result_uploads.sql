-- Each upload of a scan writes its pieces under its own id, and the job records which upload it
-- finished with. Pieces keyed by (job, seq) alone let two uploads of one job (an agent retrying
-- while the bot had not yet noticed that the first connection broke) overwrite and delete each
-- other's pieces, so a finished scan could read back with users missing.
ALTER TABLE job_result_pieces ADD COLUMN upload uuid NOT NULL DEFAULT '00000000-0000-0000-0000-000000000000';
ALTER TABLE job_result_pieces ALTER COLUMN upload DROP DEFAULT;
ALTER TABLE job_result_pieces DROP CONSTRAINT job_result_pieces_pkey;
ALTER TABLE job_result_pieces ADD PRIMARY KEY (job_id, upload, seq);
ALTER TABLE jobs ADD COLUMN result_upload uuid;
-- Scans stored before this migration are the zero upload.
UPDATE jobs SET result_upload = '00000000-0000-0000-0000-000000000000'
 WHERE EXISTS (SELECT 1 FROM job_result_pieces p WHERE p.job_id = jobs.id);
