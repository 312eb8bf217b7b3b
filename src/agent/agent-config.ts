import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { isLoopback } from '../config';
import { AppError } from '../shared/errors';

/**
 * Where the agent reads users from. `simulated` is the sandbox's in-memory forest (a JSON file the
 * sandbox writes); it exists so a rehearsal needs no domain controller, never for production.
 */
export type DirectorySelection =
  | { kind: 'ldap'; url: string; bindDn: string; password: string; caPath: string | undefined; pageSize: number }
  | { kind: 'simulated'; forestFile: string; pageSize: number };

export interface AgentConfig {
  relayUrl: string;
  agentId: string;
  secret: string;
  directory: DirectorySelection;
  /** Set only on an agent that runs on the Connect Sync server. */
  adsync: { exportDir: string; executable: string | undefined } | undefined;
}

const schema = z.object({
  SYNCSHIFT_RELAY_URL: z.string().url(),
  SYNCSHIFT_AGENT_ID: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/),
  SYNCSHIFT_AGENT_SECRET: z.string().min(24).optional(),
  SYNCSHIFT_AGENT_SECRET_FILE: z.string().optional(),
  SYNCSHIFT_DIRECTORY: z.enum(['ldap', 'simulated']).default('ldap'),
  SYNCSHIFT_SIMULATED_FOREST: z.string().optional(),
  LDAP_URL: z.string().regex(/^ldaps?:\/\//, 'must start with ldaps:// (or ldap:// for StartTLS-less test setups)').optional(),
  LDAP_BIND_DN: z.string().min(1).optional(),
  LDAP_PASSWORD: z.string().optional(),
  LDAP_PASSWORD_FILE: z.string().optional(),
  LDAP_CA_PATH: z.string().optional(),
  LDAP_PAGE_SIZE: z.coerce.number().int().min(1).max(1000).default(500),
  SYNCSHIFT_ADSYNC_EXPORT_DIR: z.string().optional(),
  SYNCSHIFT_POWERSHELL: z.string().optional(),
});

/** Secrets may come from files so they need not sit in the service's environment block. */
export function loadAgentConfig(env: NodeJS.ProcessEnv = process.env): AgentConfig {
  const parsed = schema.safeParse(Object.fromEntries(Object.entries(env).filter(([, v]) => v !== '')));
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new AppError('CONFIG.INVALID', `Agent setting ${issue.path.join('.')} is missing or invalid: ${issue.message}.`, {
      hint: 'See "Install the agent on-premises" in docs/deploy.md, and the agent table in the README, for every setting.',
    });
  }
  const e = parsed.data;
  const secret = e.SYNCSHIFT_AGENT_SECRET ?? readSecret(e.SYNCSHIFT_AGENT_SECRET_FILE, 'SYNCSHIFT_AGENT_SECRET');
  const relay = new URL(e.SYNCSHIFT_RELAY_URL);
  if (relay.protocol !== 'https:' && !isLoopback(relay.hostname.replace(/^\[|\]$/g, ''))) {
    throw new AppError('CONFIG.INVALID', `SYNCSHIFT_RELAY_URL ${e.SYNCSHIFT_RELAY_URL} is not HTTPS; the agent secret would cross the network in clear text.`, {
      hint: 'Use the bot\'s https:// address. Plain http is accepted only for loopback.',
    });
  }
  return {
    relayUrl: e.SYNCSHIFT_RELAY_URL,
    agentId: e.SYNCSHIFT_AGENT_ID,
    secret,
    directory: selectDirectory(e),
    adsync: e.SYNCSHIFT_ADSYNC_EXPORT_DIR ? { exportDir: e.SYNCSHIFT_ADSYNC_EXPORT_DIR, executable: e.SYNCSHIFT_POWERSHELL } : undefined,
  };
}

function selectDirectory(e: z.infer<typeof schema>): DirectorySelection {
  if (e.SYNCSHIFT_DIRECTORY === 'simulated') {
    if (!e.SYNCSHIFT_SIMULATED_FOREST) {
      throw new AppError('CONFIG.INVALID', 'SYNCSHIFT_DIRECTORY=simulated needs SYNCSHIFT_SIMULATED_FOREST, the forest file the sandbox writes.', {
        hint: 'The sandbox sets both itself. A real agent leaves SYNCSHIFT_DIRECTORY unset (ldap) and sets LDAP_URL.',
      });
    }
    return { kind: 'simulated', forestFile: e.SYNCSHIFT_SIMULATED_FOREST, pageSize: e.LDAP_PAGE_SIZE };
  }
  const missing = (name: string): AppError =>
    new AppError('CONFIG.INVALID', `Agent setting ${name} is missing.`, { hint: 'See "Install the agent on-premises" in docs/deploy.md, and the agent table in the README, for every setting.' });
  if (!e.LDAP_URL) throw missing('LDAP_URL');
  if (!e.LDAP_BIND_DN) throw missing('LDAP_BIND_DN');
  const password = e.LDAP_PASSWORD ?? readSecret(e.LDAP_PASSWORD_FILE, 'LDAP_PASSWORD');
  return { kind: 'ldap', url: e.LDAP_URL, bindDn: e.LDAP_BIND_DN, password, caPath: e.LDAP_CA_PATH, pageSize: e.LDAP_PAGE_SIZE };
}

function readSecret(path: string | undefined, name: string): string {
  if (!path) throw new AppError('CONFIG.INVALID', `${name} is not set.`, { hint: `Set ${name} or ${name}_FILE (a file holding only the value).` });
  try {
    return readFileSync(path, 'utf8').trim();
  } catch (err) {
    throw new AppError('CONFIG.INVALID', `${name}_FILE ${path} cannot be read: ${(err as Error).message}.`, { hint: 'Check the path and that the agent\'s account may read it.' });
  }
}
