import type { Directory } from '../../directory/types';
import type { ScannedUser } from '../../relay/protocol';
import type { LineStream } from '../line-stream';
import { toScannedUser, type ProgressFn } from './scan-ou';

/** Users per line: big enough that lines are few, small enough that one line is about 120 KB. */
export const USERS_PER_LINE = 1000;

/**
 * The scan of a resolved OU written straight into the result's body as it is read
 * (SCAN_STREAM_CONTENT_TYPE): the head, a line per USERS_PER_LINE users, and the end line with the
 * totals. Only the page being read and one line are held, whatever the OU's size. A directory
 * failure is thrown after the body was ended with an error, so the bot sees no end line and keeps
 * the job; the caller then reports the failure.
 */
export async function streamScan(
  directory: Directory,
  target: { baseDn: string; defaultNamingContext: string; pageSize?: number },
  out: LineStream,
  onProgress: ProgressFn,
): Promise<void> {
  const { baseDn, defaultNamingContext } = target;
  try {
    await out.write(
      `${JSON.stringify({ outcome: 'succeeded', result: { action: 'directory.scanOu', baseDn, defaultNamingContext } })}\n`,
    );
    let batch: ScannedUser[] = [];
    let sent = 0;
    const totals = await directory.scanUsers(baseDn, {
      ...(target.pageSize ? { pageSize: target.pageSize } : {}),
      objectTypes: 'all',
      onPage: async (page, scannedSoFar) => {
        for (const u of page) batch.push(toScannedUser(u));
        while (batch.length >= USERS_PER_LINE) {
          const line = batch.slice(0, USERS_PER_LINE);
          batch = batch.slice(USERS_PER_LINE);
          sent += line.length;
          await out.write(`${JSON.stringify(line)}\n`);
        }
        await onProgress(scannedSoFar);
      },
    });
    if (batch.length > 0) {
      sent += batch.length;
      await out.write(`${JSON.stringify(batch)}\n`);
    }
    await out.write(`${JSON.stringify({ end: true, users: sent, totals })}\n`);
    out.close();
  } catch (err) {
    out.fail(err);
    throw err;
  }
}
