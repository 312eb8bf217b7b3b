-- One actor shape everywhere: an id that identifies the person (their Entra object id) and the name
-- people read, so the audit trail and the jobs can be filtered by person.

-- Jobs stored the requester as "id|name" (runbook steps) or as one plain value (verify and wave
-- requests, the summary's own jobs). The old column stays for an instance still running the
-- previous version; nothing reads it any more.
ALTER TABLE jobs ADD COLUMN requested_by_id text, ADD COLUMN requested_by_name text;
UPDATE jobs SET
  requested_by_id   = CASE WHEN strpos(requested_by, '|') > 0 THEN substr(requested_by, 1, strpos(requested_by, '|') - 1) ELSE requested_by END,
  requested_by_name = CASE WHEN strpos(requested_by, '|') > 0 THEN substr(requested_by, strpos(requested_by, '|') + 1)
                           WHEN requested_by = 'syncshift:summary' THEN 'SyncShift daily summary'
                           ELSE requested_by END;
ALTER TABLE jobs ALTER COLUMN requested_by_id SET NOT NULL, ALTER COLUMN requested_by_name SET NOT NULL,
  ALTER COLUMN requested_by DROP NOT NULL;

-- The audit log is append-only (the database refuses UPDATE), so rows written before this column
-- keep actor_name NULL and the view below derives it: from details.by where the row carried one,
-- otherwise from the actor itself (old verify, wave and summary rows stored the display name there).
ALTER TABLE audit_log ADD COLUMN actor_name text;
CREATE VIEW audit_entries AS
  SELECT seq, at, actor,
         COALESCE(actor_name,
                  CASE WHEN jsonb_typeof(details) = 'object' THEN details->>'by' END,
                  CASE WHEN actor = 'syncshift' THEN 'SyncShift'
                       WHEN actor LIKE 'agent:%' THEN substr(actor, 7)
                       ELSE actor END) AS actor_name,
         action, target, outcome, details, conversation_id
    FROM audit_log;
