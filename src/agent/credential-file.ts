import { chmodSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { z } from 'zod';
import { AGENT_NAME } from '../relay/protocol';
import { AppError } from '../shared/errors';

/** What `syncshift-agent enroll` writes and `syncshift-agent run` reads. The bot keeps only a digest of `secret`. */
export const agentCredential = z.object({
  agentId: z.string().regex(AGENT_NAME),
  secret: z.string().min(32).max(256),
  relayUrl: z.string().url(),
  enrolledAt: z.string(),
});
export type AgentCredential = z.infer<typeof agentCredential>;

/**
 * Owner read/write only (0600). Written to a temporary file and renamed, so a rotation never leaves
 * a half-written credential behind. On Windows the mode is ignored: protect the folder's ACL instead.
 */
export function writeCredentialFile(path: string, credential: AgentCredential): void {
  const temporary = `${path}.${process.pid}.tmp`;
  try {
    // 'wx': never reuse or follow something already at the temporary path (a planted symlink would
    // otherwise receive the secret).
    writeFileSync(temporary, `${JSON.stringify(credential, null, 2)}\n`, { mode: 0o600, flag: 'wx' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    throw new AppError('CONFIG.INVALID', `Cannot write the agent credential: ${temporary} already exists.`, {
      hint: 'Make sure no other syncshift-agent enroll is running, check what that file is (it may have been planted), remove it, and enroll again.',
    });
  }
  chmodSync(temporary, 0o600);
  renameSync(temporary, path);
}

export function readCredentialFile(path: string): AgentCredential {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new AppError(
      'CONFIG.INVALID',
      `SYNCSHIFT_AGENT_CREDENTIAL_FILE ${path} cannot be read: ${(err as Error).message}.`,
      {
        hint: "Check the path and that the agent's account may read it; syncshift-agent enroll writes it.",
      },
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = null;
  }
  const parsed = agentCredential.safeParse(json);
  if (!parsed.success) {
    throw new AppError('CONFIG.INVALID', `${path} is not an agent credential written by syncshift-agent enroll.`, {
      hint: 'Enroll again with a new code from /agent enroll <name>.',
    });
  }
  return parsed.data;
}
