import { dispatchByPurpose, type JobConsumers } from '../../src/jobs/job-consumers';
import { JOB_PURPOSES, type JobPurpose } from '../../src/store/job-purpose';
import type { JobRecord } from '../../src/store/types';

const finishedJob = (purpose: JobPurpose): JobRecord => ({
  id: `job-${purpose}`,
  kind: 'directory.scanOu',
  purpose,
  payload: { action: 'directory.scanOu', ou: 'OU=Sales' },
  state: 'succeeded',
  conversationId: 'conv',
  migrationId: null,
  requestedBy: { id: 'alice', name: 'alice' },
  agentId: 'agent-1',
  pinnedAgent: null,
  leaseExpiresAt: null,
  attempts: 1,
  progress: null,
  result: null,
  error: null,
  createdAt: new Date(0),
  updatedAt: new Date(0),
  finishedAt: new Date(0),
  appliedAt: null,
});

/** A finished job goes to the one consumer of its purpose; no consumer sees another's jobs. */
describe('finished jobs dispatched by purpose', () => {
  it.each(JOB_PURPOSES)('a %s job reaches its consumer and no other', async (purpose) => {
    const calls: string[] = [];
    const consumers = Object.fromEntries(
      JOB_PURPOSES.map((p) => [p, async (job: JobRecord) => void calls.push(`${p}:${job.id}`)]),
    ) as JobConsumers;
    await dispatchByPurpose(consumers)(finishedJob(purpose));
    expect(calls).toEqual([`${purpose}:job-${purpose}`]);
  });

  it('a consumer that throws makes the dispatch throw, so the result stays unapplied', async () => {
    const consumers = Object.fromEntries(
      JOB_PURPOSES.map((p) => [p, async (_job: JobRecord): Promise<void> => undefined]),
    ) as JobConsumers;
    consumers['wave.count'] = async () => {
      throw new Error('the wave could not be read');
    };
    await expect(dispatchByPurpose(consumers)(finishedJob('wave.count'))).rejects.toThrow('the wave could not be read');
  });
});
