/**
 * What a job is for, stored with it (jobs.purpose): a finished job goes to the one consumer of its
 * purpose. The step purposes mirror step_jobs.purpose. Keep in step with the CHECK constraint in
 * migrations/010_job_purpose.sql.
 */
export const JOB_PURPOSES = [
  'verify',
  'step.check',
  'step.precheck',
  'step.action',
  'step.undo',
  'wave.count',
  'summary.count',
] as const;
export type JobPurpose = (typeof JOB_PURPOSES)[number];
