import type { JobPurpose } from '../store/job-purpose';
import type { JobRecord } from '../store/types';

/**
 * Does whatever a finished job's result means (moves a step, records a count, finishes a verify
 * card). Throwing means "not applied": the result is offered again later, so a consumer must be
 * safe to run twice for one job.
 */
export type JobConsumer = (job: JobRecord) => Promise<void>;

/** One consumer per purpose: the compiler refuses a purpose nobody consumes. */
export type JobConsumers = Record<JobPurpose, JobConsumer>;

/** Hands a finished job to the consumer of its purpose. */
export function dispatchByPurpose(consumers: JobConsumers): JobConsumer {
  return (job) => consumers[job.purpose](job);
}
