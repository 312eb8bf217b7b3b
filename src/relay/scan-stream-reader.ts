import type { z } from 'zod';
import type { OnPremUser } from '../runbook/ou-comparison';
import type { NdjsonLimits } from './ndjson-lines';
import { scanStreamEnd, scanStreamHead, scannedObjects, scannedUsersProblem, type ScanOuHead } from './protocol';

/**
 * A scan streamed as lines (SCAN_STREAM_CONTENT_TYPE) carries every user of an OU, about 120 bytes
 * each: 256 MB is two million users, and only one line of it is held at a time.
 */
export const SCAN_STREAM_LIMITS: NdjsonLimits = { maxLineBytes: 8 * 1024 * 1024, maxTotalBytes: 256 * 1024 * 1024 };

/** Sees a streamed scan's users as they arrive, after each line is stored. */
export interface ScanLineSink {
  users(users: OnPremUser[]): void;
  /** `complete`: the end line came and the job is being finished; otherwise the upload was refused or cut. */
  end(complete: boolean): void;
}

export type ScanStreamHead = z.infer<typeof scanStreamHead>;

/** What the reader hands on as a scan arrives; the reader itself keeps nothing but counts. */
export interface ScanStreamPieces {
  /** The head line arrived and is valid. */
  head(head: ScanStreamHead): Promise<void>;
  /**
   * A checked line of users, before it is stored. Synchronous on purpose: the parsed users are
   * dropped before the store is awaited, so they die young instead of being promoted while the
   * insert runs (100,000 of them in the old generation cost the cloud side's paging a major collection later).
   */
  users?(users: OnPremUser[]): void;
  /** Stores one line of users as sent, as piece `seq`; false when the job is no longer leased to this agent. */
  storePiece(line: string, seq: number): Promise<boolean>;
}

export type ScanStreamRefusal = {
  ok: false;
  status: 400 | 409 | 413;
  code: 'RELAY.BAD_REQUEST' | 'RELAY.NOT_LEASED' | 'RELAY.TOO_LARGE';
  message: string;
};

/** Refused: any piece already stored is the caller's to drop. */
export type ScanStreamOutcome =
  { ok: true; head: ScanStreamHead; users: number; totals: ScanOuHead['totals'] } | ScanStreamRefusal;

export const NOT_LEASED = {
  code: 'RELAY.NOT_LEASED',
  message: 'This job is not leased by this agent, or its result was already recorded.',
} as const;

/**
 * Reads a scan sent as lines: the head, then arrays of users, then the end line. Each user line is
 * checked and handed to `pieces.storePiece` as it arrives, so no more than one line is held; the
 * scan is complete only after the end line, whose count proves nothing was cut off. Returns a
 * refusal for a body that breaks the protocol or a limit (RELAY.TOO_LARGE from `lines`); any other
 * failure of `lines` or `pieces` (the connection broke, the store failed) is thrown.
 */
export async function readScanStream(
  lines: AsyncIterable<string>,
  pieces: ScanStreamPieces,
): Promise<ScanStreamOutcome> {
  let head: ScanStreamHead | null = null;
  let seq = 0;
  let users = 0;
  let totals: ScanOuHead['totals'] | null = null;
  let lineNo = 0;
  const invalid = (message: string): ScanStreamOutcome => ({
    ok: false,
    status: 400,
    code: 'RELAY.BAD_REQUEST',
    message: `Invalid scan stream: ${message}.`,
  });
  try {
    for await (const line of lines) {
      lineNo++;
      if (totals !== null) return invalid(`line ${lineNo} comes after the end line`);
      let value: unknown;
      try {
        value = JSON.parse(line);
      } catch {
        return invalid(`line ${lineNo} is not JSON`);
      }
      if (head === null) {
        const parsed = scanStreamHead.safeParse(value);
        if (!parsed.success) return invalid(`the first line must be the scan's head (${describeIssue(parsed.error)})`);
        head = parsed.data;
        await pieces.head(head);
        continue;
      }
      if (Array.isArray(value)) {
        const problem = scannedUsersProblem(value);
        if (problem) return invalid(`line ${lineNo}: ${problem}`);
        pieces.users?.(value as OnPremUser[]);
        users += value.length;
        value = undefined;
        if (!(await pieces.storePiece(line, seq))) return { ok: false, status: 409, ...NOT_LEASED };
        seq++;
        continue;
      }
      const end = scanStreamEnd.safeParse(value);
      if (!end.success) return invalid(`line ${lineNo} is neither users nor the end line`);
      if (end.data.users !== users) return invalid(`the end line counts ${end.data.users} users but ${users} arrived`);
      if (scannedObjects(end.data.totals) !== users)
        return invalid(`the totals count ${scannedObjects(end.data.totals)} users but ${users} arrived`);
      totals = end.data.totals;
    }
  } catch (err) {
    if ((err as { code?: unknown }).code === 'RELAY.TOO_LARGE')
      return { ok: false, status: 413, code: 'RELAY.TOO_LARGE', message: (err as Error).message };
    throw err;
  }
  if (head === null) return invalid('the body is empty');
  if (totals === null) return invalid('the body ended before its end line, so it was cut short');
  return { ok: true, head, users, totals };
}

function describeIssue(error: z.ZodError): string {
  const issue = error.issues[0];
  return issue ? `${issue.path.join('.') || 'line'}: ${issue.message}` : 'invalid';
}
