/**
 * What a job is for, stored with it (jobs.purpose): a finished job goes to the one consumer of its
 * purpose. The step purposes mirror step_jobs.purpose; `canary` creates or deletes step 12's canary;
 * `wave.action` reads or changes Connect Sync for a wave's rules or cycle (wave_action_jobs says which).
 * Keep in step with the CHECK constraint (migrations/010_job_purpose.sql, 014_canary.sql, 019_wave_actions.sql).
 */
export const JOB_PURPOSES = [
  'verify',
  'step.check',
  'step.precheck',
  'step.action',
  'step.undo',
  'wave.count',
  'summary.count',
  'canary',
  'wave.action',
] as const;
export type JobPurpose = (typeof JOB_PURPOSES)[number];
