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

/** The DNs at the given positions of a stored scan (a second pass), for OuComparison.report. */
export async function storedNamesAt(scan: StoredScan, positions: readonly number[]): Promise<Map<number, string>> {
  const names = new Map<number, string>();
  if (positions.length === 0) return names;
  const wanted = new Set(positions);
  let position = 0;
  for await (const piece of scan.users()) {
    for (const user of piece) {
      if (wanted.has(position)) names.set(position, user.dn);
      position++;
    }
    if (names.size === wanted.size) break;
  }
  return names;
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
