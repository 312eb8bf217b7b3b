import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { AGENT_NAME } from '../runbook/agent-name';
import { AppError } from '../shared/errors';
import { isLoopback } from '../shared/loopback';
import { parseAllowedBaseDns, type AgentPolicy } from './agent-policy';
import { readCredentialFile } from './credential-file';

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
  policy: AgentPolicy;
  /** Smallest gap between two progress reports of a running scan. */
  progressIntervalMs: number;
}

const schema = z.object({
  SYNCSHIFT_RELAY_URL: z.string().url().optional(),
  SYNCSHIFT_AGENT_ID: z.string().regex(AGENT_NAME).optional(),
  /** Written by `syncshift-agent enroll`; holds the agent id and its credential. */
  SYNCSHIFT_AGENT_CREDENTIAL_FILE: z.string().optional(),
  SYNCSHIFT_AGENT_SECRET: z.string().min(24).optional(),
  SYNCSHIFT_AGENT_SECRET_FILE: z.string().optional(),
  SYNCSHIFT_DIRECTORY: z.enum(['ldap', 'simulated']).default('ldap'),
  SYNCSHIFT_SIMULATED_FOREST: z.string().optional(),
  LDAP_URL: z
    .string()
    .regex(/^ldaps?:\/\//, 'must start with ldaps:// (or ldap:// for StartTLS-less test setups)')
    .optional(),
  LDAP_BIND_DN: z.string().min(1).optional(),
  LDAP_PASSWORD: z.string().optional(),
  LDAP_PASSWORD_FILE: z.string().optional(),
  LDAP_CA_PATH: z.string().optional(),
  LDAP_PAGE_SIZE: z.coerce.number().int().min(1).max(1000).default(500),
  SYNCSHIFT_ADSYNC_EXPORT_DIR: z.string().optional(),
  SYNCSHIFT_POWERSHELL: z.string().optional(),
  SYNCSHIFT_ALLOWED_BASE_DNS: z.string().default(''),
  SYNCSHIFT_READ_ONLY: z.enum(['true', 'false', '1', '0', 'yes', 'no']).default('false'),
  SYNCSHIFT_PROGRESS_INTERVAL_MS: z.coerce.number().int().min(0).max(600_000).default(1000),
});

/** Secrets may come from files so they need not sit in the service's environment block. */
export function loadAgentConfig(env: NodeJS.ProcessEnv = process.env): AgentConfig {
  const parsed = schema.safeParse(Object.fromEntries(Object.entries(env).filter(([, v]) => v !== '')));
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new AppError(
      'CONFIG.INVALID',
      `Agent setting ${issue.path.join('.')} is missing or invalid: ${issue.message}.`,
      {
        hint: 'See "Install the agent on-premises" in docs/deploy.md, and the agent table in docs/configuration.md, for every setting.',
      },
    );
  }
  const e = parsed.data;
  const credential = e.SYNCSHIFT_AGENT_CREDENTIAL_FILE
    ? readCredentialFile(e.SYNCSHIFT_AGENT_CREDENTIAL_FILE)
    : undefined;
  const agentId = credential?.agentId ?? e.SYNCSHIFT_AGENT_ID;
  if (!agentId) {
    throw new AppError(
      'CONFIG.INVALID',
      'The agent has no identity: neither SYNCSHIFT_AGENT_CREDENTIAL_FILE nor SYNCSHIFT_AGENT_ID is set.',
      {
        hint: 'Enroll it (syncshift-agent enroll --url ... --code ...) and set SYNCSHIFT_AGENT_CREDENTIAL_FILE to the file it wrote.',
      },
    );
  }
  const secret =
    credential?.secret ??
    e.SYNCSHIFT_AGENT_SECRET ??
    readSecret(e.SYNCSHIFT_AGENT_SECRET_FILE, 'SYNCSHIFT_AGENT_SECRET');
  const relayUrl = e.SYNCSHIFT_RELAY_URL ?? credential?.relayUrl;
  if (!relayUrl) {
    throw new AppError('CONFIG.INVALID', 'SYNCSHIFT_RELAY_URL is not set.', {
      hint: "Set it to the bot's https:// address (the credential file from syncshift-agent enroll also carries it).",
    });
  }
  assertRelayUrlSafe(relayUrl, 'SYNCSHIFT_RELAY_URL');
  return {
    relayUrl,
    agentId,
    secret,
    directory: selectDirectory(e),
    adsync: e.SYNCSHIFT_ADSYNC_EXPORT_DIR
      ? { exportDir: e.SYNCSHIFT_ADSYNC_EXPORT_DIR, executable: e.SYNCSHIFT_POWERSHELL }
      : undefined,
    policy: {
      allowedBaseDns: parseAllowedBaseDns(e.SYNCSHIFT_ALLOWED_BASE_DNS),
      readOnly: ['true', '1', 'yes'].includes(e.SYNCSHIFT_READ_ONLY),
    },
    progressIntervalMs: e.SYNCSHIFT_PROGRESS_INTERVAL_MS,
  };
}

/** Credentials travel on every request: only HTTPS, or plain HTTP to this machine. */
export function assertRelayUrlSafe(url: string, name: string): void {
  const relay = new URL(url);
  if (relay.protocol !== 'https:' && !isLoopback(relay.hostname.replace(/^\[|\]$/g, ''))) {
    throw new AppError(
      'CONFIG.INVALID',
      `${name} ${url} is not HTTPS; the agent's credential would cross the network in clear text.`,
      {
        hint: "Use the bot's https:// address. Plain http is accepted only for loopback.",
      },
    );
  }
}

function selectDirectory(e: z.infer<typeof schema>): DirectorySelection {
  if (e.SYNCSHIFT_DIRECTORY === 'simulated') {
    if (!e.SYNCSHIFT_SIMULATED_FOREST) {
      throw new AppError(
        'CONFIG.INVALID',
        'SYNCSHIFT_DIRECTORY=simulated needs SYNCSHIFT_SIMULATED_FOREST, the forest file the sandbox writes.',
        {
          hint: 'The sandbox sets both itself. A real agent leaves SYNCSHIFT_DIRECTORY unset (ldap) and sets LDAP_URL.',
        },
      );
    }
    return { kind: 'simulated', forestFile: e.SYNCSHIFT_SIMULATED_FOREST, pageSize: e.LDAP_PAGE_SIZE };
  }
  const missing = (name: string): AppError =>
    new AppError('CONFIG.INVALID', `Agent setting ${name} is missing.`, {
      hint: 'See "Install the agent on-premises" in docs/deploy.md, and the agent table in docs/configuration.md, for every setting.',
    });
  if (!e.LDAP_URL) throw missing('LDAP_URL');
  if (!e.LDAP_BIND_DN) throw missing('LDAP_BIND_DN');
  const password = e.LDAP_PASSWORD ?? readSecret(e.LDAP_PASSWORD_FILE, 'LDAP_PASSWORD');
  return {
    kind: 'ldap',
    url: e.LDAP_URL,
    bindDn: e.LDAP_BIND_DN,
    password,
    caPath: e.LDAP_CA_PATH,
    pageSize: e.LDAP_PAGE_SIZE,
  };
}

function readSecret(path: string | undefined, name: string): string {
  if (!path)
    throw new AppError('CONFIG.INVALID', `${name} is not set.`, {
      hint: `Set ${name} or ${name}_FILE (a file holding only the value).`,
    });
  try {
    return readFileSync(path, 'utf8').trim();
  } catch (err) {
    throw new AppError('CONFIG.INVALID', `${name}_FILE ${path} cannot be read: ${(err as Error).message}.`, {
      hint: "Check the path and that the agent's account may read it.",
    });
  }
}
