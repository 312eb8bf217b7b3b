-- Delivery states for the daily summary, so a summary is posted at most once.
--
-- 'sending' is written before the card goes to Teams. A row in 'sending' or 'outcome_unknown' is
-- never claimed again: Teams may have the card (a 502/504, a timeout, a reset connection, or a
-- crash between the post and the bookkeeping), and a second copy is worse than a missing one.
-- Only a failure that proves the card was not taken goes back to 'failed' and is retried, a
-- bounded number of times ('gave_up' after the last).
ALTER TABLE summaries DROP CONSTRAINT summaries_status_check;
ALTER TABLE summaries ADD CONSTRAINT summaries_status_check
  CHECK (status IN ('claimed', 'sending', 'posted', 'failed', 'outcome_unknown', 'gave_up'));

-- Claims counted per row: a scheduled summary is tried a few times, not every 15 minutes forever.
ALTER TABLE summaries ADD COLUMN attempts integer NOT NULL DEFAULT 1;
-- When a failed attempt may be taken up again. Separate from claim_expires_at, which is a lease in
-- database time; the retry follows the schedule's clock like the daily slot does.
ALTER TABLE summaries ADD COLUMN retry_at timestamptz;
-- The error of the attempt before this one, kept when a retry claims the row, for the "late" note.
ALTER TABLE summaries ADD COLUMN last_error text;
ALTER TABLE summaries ADD COLUMN sending_at timestamptz;
-- Set by the one instance that posts the follow-up for this row (the "may be missing" note or the
-- day's failure card): at most one per row.
ALTER TABLE summaries ADD COLUMN notice_at timestamptz;

UPDATE summaries SET retry_at = claim_expires_at WHERE status = 'failed';

-- Provisioning log entries a posted daily summary already counted, kept only as long as the next
-- read can return them again (its window overlaps the previous one), so nothing is counted twice.
CREATE TABLE provisioning_log_seen (
  migration_id uuid NOT NULL REFERENCES migrations (id),
  entry_id     text NOT NULL,
  activity_at  timestamptz NOT NULL,
  PRIMARY KEY (migration_id, entry_id)
);
