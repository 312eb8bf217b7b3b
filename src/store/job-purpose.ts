/**
 * What a job is for, stored with it (jobs.purpose): a finished job goes to the one consumer of its
 * purpose. The step purposes mirror step_jobs.purpose; `canary` creates or deletes step 12's canary.
 * Keep in step with the CHECK constraint (migrations/010_job_purpose.sql, 014_canary.sql).
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
] as const;
export type JobPurpose = (typeof JOB_PURPOSES)[number];
