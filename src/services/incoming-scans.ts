import type { ScanLineSink } from '../relay/scan-stream-reader';
import { OuComparison } from '../runbook/ou-comparison';

/** How long an index of an arrived scan waits to be taken (its job applied on this instance). */
const KEEP_MS = 10 * 60_000;

interface Entry {
  comparison: OuComparison;
  complete: boolean;
  broken: boolean;
  startedAt: number;
}

/**
 * Comparisons built from a verify's scan while the agent is still sending it, so the cloud side
 * starts with the on-premises half ready instead of reading 100,000 users back from the store.
 * Only a help: the stored pieces stay the record, and a verify finished without an index here (on
 * another instance, after a restart, after a refused upload) reads them as before.
 */
export class IncomingScans {
  private readonly entries = new Map<string, Entry>();

  constructor(private readonly now: () => number = () => Date.now()) {}

  /** Starts indexing a scan of `baseDn` for `jobId`; a new upload of the same job starts over. */
  sink(jobId: string, baseDn: string): ScanLineSink {
    this.forgetStale();
    const entry: Entry = {
      comparison: new OuComparison(baseDn),
      complete: false,
      broken: false,
      startedAt: this.now(),
    };
    this.entries.set(jobId, entry);
    return {
      users: (users) => {
        if (entry.broken) return;
        try {
          for (const user of users) entry.comparison.addOnPrem(user);
        } catch {
          // A DN the comparison cannot take: the store path reads the scan again and reports why.
          entry.broken = true;
        }
      },
      end: (complete) => {
        if (complete && !entry.broken) entry.complete = true;
        else if (this.entries.get(jobId) === entry) this.entries.delete(jobId);
      },
    };
  }

  /** The index of a scan that arrived whole, once; null when there is none. */
  take(jobId: string): OuComparison | null {
    // Also here, not only when a scan starts: an instance that stops receiving scans must not keep
    // the indexes of jobs applied elsewhere (another instance claimed them) for ever.
    this.forgetStale();
    const entry = this.entries.get(jobId);
    this.entries.delete(jobId);
    return entry?.complete ? entry.comparison : null;
  }

  /** Scans indexed and not yet taken (for tests and leak checks). */
  get size(): number {
    return this.entries.size;
  }

  private forgetStale(): void {
    const cutoff = this.now() - KEEP_MS;
    for (const [jobId, entry] of this.entries) if (entry.startedAt < cutoff) this.entries.delete(jobId);
  }
}
