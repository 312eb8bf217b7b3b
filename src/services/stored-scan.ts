import { storedScanOu, type ScanOuResult, type StoredScanOu } from '../relay/protocol';
import type { OnPremUser } from '../runbook/ou-comparison';
import type { JobRecord, Store } from '../store/types';

/** A finished scan as the relay stored it: the head from the job, the users read piece by piece. */
export interface StoredScan {
  head: StoredScanOu;
  /** A fresh pass over the users each call, in the order the agent sent them. */
  users(): AsyncIterable<OnPremUser[]>;
}

/** The scan behind a succeeded directory.scanOu job, or null when its result is not a stored scan. */
export function readStoredScan(store: Store, job: JobRecord): StoredScan | null {
  const parsed = storedScanOu.safeParse(job.result);
  if (!parsed.success) return null;
  return { head: parsed.data, users: () => store.jobs.resultUsers(job.id) };
}

/** A scan held in memory (the agent's own result, a test's) in the shape readers of stored scans take. */
export function scanInMemory(result: ScanOuResult): StoredScan {
  const { users, ...head } = result;
  return {
    head: { ...head, storedUsers: users.length },
    async *users() {
      yield users;
    },
  };
}
