import type { Store } from '../../src/store/types';

/** The head line of a streamed scan of OU=x, as the agent sends it. */
export const SCAN_HEAD = {
  outcome: 'succeeded',
  result: { action: 'directory.scanOu', baseDn: 'OU=x,DC=contoso,DC=com', defaultNamingContext: 'DC=contoso,DC=com' },
};

/** One line of a streamed scan. */
export const ndjsonLine = (value: unknown): string => `${JSON.stringify(value)}\n`;

/**
 * Queues a scan job and leases it to `agentId` for an hour, so an upload for it is accepted; the
 * agent is recorded as having declared scans, as the real agent does in its lease requests.
 */
export async function leasedScanJob(store: Store, agentId: string, label: string): Promise<string> {
  await store.agents.touch({ name: agentId, version: null, now: new Date() });
  await store.agents.declareCapabilities({ name: agentId, actions: ['directory.scanOu'], readOnly: false });
  const job = await store.jobs.enqueue({
    kind: 'directory.scanOu',
    purpose: 'verify',
    payload: { action: 'directory.scanOu', ou: 'OU=x' },
    conversationId: `19:${label}-${Date.now()}@thread.tacv2`,
    migrationId: null,
    requestedBy: { id: 'test', name: 'test' },
  });
  const leased = await store.jobs.lease({ agentId, leaseMs: 3_600_000, now: new Date() });
  if (leased?.id !== job.id)
    throw new Error(
      `job ${job.id} was queued, but the lease for ${agentId} got ${leased?.id ?? 'nothing'}; an earlier test left a job queued`,
    );
  return job.id;
}
