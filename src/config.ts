import { z } from 'zod';
import { AGENT_NAME } from './runbook/agent-name';
import { AppError } from './shared/errors';

/**
 * Bot configuration, read once at start from the environment and validated; entry points pass
 * typed slices to the parts. A bad value stops the bot with the variable's name and the fix.
 */
export interface BotConfig {
  port: number;
  host: string;
  /** Set when Bot Framework credentials are configured; without them the bot only serves loopback. */
  botAuth: {
    appId: string;
    appPassword: string;
    tenantId: string | undefined;
    appType: string;
    /** Where the public keys for incoming Bot Framework tokens come from; unset means Microsoft's public cloud. */
    openIdMetadataUrl: string | undefined;
    emulatorOpenIdMetadataUrl: string | undefined;
  } | null;
  databaseUrl: string | undefined;
  dataDir: string;
  graph: {
    baseUrl: string;
    tenantId: string | undefined;
    clientId: string | undefined;
    clientSecret: string | undefined;
    /** Only for the Graph simulator (sandbox and tests); never for a real tenant. */
    staticToken: string | undefined;
  };
  /** agent id → shared secret (static agents; enrolled agents live in the store). */
  agentSecrets: Map<string, string>;
  /** How long an `/agent enroll` code stays usable. */
  enrollmentTtlMs: number;
  /** How long an agent holds a job without a heartbeat before it is presumed gone. */
  jobLeaseMs: number;
  cardListLimit: number;
  /** Smallest gap between two progress updates of one card (a verify's count of objects scanned). */
  progressIntervalMs: number;
  approvals: { approvers: string[]; required: number; ttlMs: number };
  /** Base URL people's browsers reach the bot at, for download links; defaults to the listen address. */
  publicUrl: string | undefined;
  /** HMAC key for export links; shared by all instances behind one URL. Random per process when unset. */
  linkSigningKey: string | undefined;
}

const schema = z.object({
  PORT: z.coerce.number().int().min(0).max(65535).default(3978),
  HOST: z.string().optional(),
  MICROSOFT_APP_ID: z.string().optional(),
  MICROSOFT_APP_PASSWORD: z.string().optional(),
  MICROSOFT_APP_TENANT_ID: z.string().optional(),
  MICROSOFT_APP_TYPE: z.enum(['MultiTenant', 'SingleTenant', 'UserAssignedMSI']).default('SingleTenant'),
  MICROSOFT_BOT_OPENID_METADATA_URL: z.string().url().optional(),
  MICROSOFT_BOT_EMULATOR_OPENID_METADATA_URL: z.string().url().optional(),
  DATABASE_URL: z.string().url().optional(),
  DATA_DIR: z.string().default('.data'),
  GRAPH_BASE_URL: z.string().url().default('https://graph.microsoft.com'),
  GRAPH_TENANT_ID: z.string().optional(),
  GRAPH_CLIENT_ID: z.string().optional(),
  GRAPH_CLIENT_SECRET: z.string().optional(),
  GRAPH_STATIC_TOKEN: z.string().optional(),
  SYNCSHIFT_AGENT_SECRETS: z.string().default(''),
  SYNCSHIFT_ENROLLMENT_TTL_MINUTES: z.coerce.number().int().min(1).max(24 * 60).default(10),
  SYNCSHIFT_JOB_LEASE_SECONDS: z.coerce.number().int().min(2).max(3600).default(300),
  CARD_LIST_LIMIT: z.coerce.number().int().min(1).max(100).default(15),
  SYNCSHIFT_PROGRESS_INTERVAL_MS: z.coerce.number().int().min(0).max(600_000).default(5000),
  SYNCSHIFT_APPROVERS: z.string().default(''),
  SYNCSHIFT_REQUIRED_APPROVALS: z.coerce.number().int().min(1).max(10).default(1),
  SYNCSHIFT_APPROVAL_TTL_MINUTES: z.coerce.number().int().min(1).max(7 * 24 * 60).default(60),
  PUBLIC_URL: z.string().url().optional(),
  SYNCSHIFT_LINK_SIGNING_KEY: z.string().min(32).optional(),
});

export function loadConfig(env: NodeJS.ProcessEnv = process.env): BotConfig {
  const parsed = schema.safeParse(Object.fromEntries(Object.entries(env).filter(([, v]) => v !== '')));
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new AppError('CONFIG.INVALID', `Environment variable ${issue.path.join('.')} is invalid: ${issue.message}.`, {
      hint: 'Fix it in env/.env.* or the App Service settings; the README lists every variable.',
    });
  }
  const e = parsed.data;
  const botAuth = e.MICROSOFT_APP_ID
    ? (() => {
        if (!e.MICROSOFT_APP_PASSWORD && e.MICROSOFT_APP_TYPE !== 'UserAssignedMSI') {
          throw new AppError('CONFIG.INVALID', 'MICROSOFT_APP_ID is set but MICROSOFT_APP_PASSWORD is not.', {
            hint: 'Set the bot registration\'s client secret, or MICROSOFT_APP_TYPE=UserAssignedMSI for a managed identity.',
          });
        }
        return {
          appId: e.MICROSOFT_APP_ID,
          appPassword: e.MICROSOFT_APP_PASSWORD ?? '',
          tenantId: e.MICROSOFT_APP_TENANT_ID,
          appType: e.MICROSOFT_APP_TYPE,
          openIdMetadataUrl: e.MICROSOFT_BOT_OPENID_METADATA_URL,
          emulatorOpenIdMetadataUrl: e.MICROSOFT_BOT_EMULATOR_OPENID_METADATA_URL,
        };
      })()
    : null;
  const host = e.HOST ?? (botAuth ? '0.0.0.0' : '127.0.0.1');
  if (!botAuth && !isLoopback(host)) {
    throw new AppError('CONFIG.INVALID', `HOST=${host} without Bot Framework credentials would accept unauthenticated activities from the network.`, {
      hint: 'Set MICROSOFT_APP_ID and MICROSOFT_APP_PASSWORD, or leave HOST unset to stay on loopback.',
    });
  }
  return {
    port: e.PORT,
    host,
    botAuth,
    databaseUrl: e.DATABASE_URL,
    dataDir: e.DATA_DIR,
    graph: {
      baseUrl: e.GRAPH_BASE_URL.replace(/\/+$/, ''),
      tenantId: e.GRAPH_TENANT_ID,
      clientId: e.GRAPH_CLIENT_ID,
      clientSecret: e.GRAPH_CLIENT_SECRET,
      staticToken: e.GRAPH_STATIC_TOKEN,
    },
    agentSecrets: parseAgentSecrets(e.SYNCSHIFT_AGENT_SECRETS),
    enrollmentTtlMs: e.SYNCSHIFT_ENROLLMENT_TTL_MINUTES * 60_000,
    jobLeaseMs: e.SYNCSHIFT_JOB_LEASE_SECONDS * 1000,
    cardListLimit: e.CARD_LIST_LIMIT,
    progressIntervalMs: e.SYNCSHIFT_PROGRESS_INTERVAL_MS,
    approvals: { approvers: parseApprovers(e.SYNCSHIFT_APPROVERS, e.SYNCSHIFT_REQUIRED_APPROVALS), required: e.SYNCSHIFT_REQUIRED_APPROVALS, ttlMs: e.SYNCSHIFT_APPROVAL_TTL_MINUTES * 60_000 },
    publicUrl: e.PUBLIC_URL?.replace(/\/+$/, ''),
    linkSigningKey: e.SYNCSHIFT_LINK_SIGNING_KEY,
  };
}

export function isLoopback(host: string): boolean {
  return host === '127.0.0.1' || host === '::1' || host === 'localhost';
}

/** "agent-a:secret1,agent-b:secret2". Secrets shorter than 24 characters are refused: they are the only lock on the relay. */
export function parseAgentSecrets(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of text.split(',').map((p) => p.trim()).filter(Boolean)) {
    const colon = part.indexOf(':');
    const id = colon > 0 ? part.slice(0, colon) : '';
    const secret = colon > 0 ? part.slice(colon + 1) : '';
    if (!AGENT_NAME.test(id) || secret.length < 24) {
      throw new AppError('CONFIG.INVALID', 'SYNCSHIFT_AGENT_SECRETS must be "agent-id:secret" pairs separated by commas, each secret at least 24 characters.', {
        hint: 'Generate a secret with: openssl rand -base64 32',
      });
    }
    out.set(id, secret);
  }
  return out;
}

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Entra object ids, comma separated. Enough of them must exist for the required count, counting that the requester cannot approve. */
export function parseApprovers(text: string, required: number): string[] {
  const ids = text.split(',').map((p) => p.trim().toLowerCase()).filter(Boolean);
  const bad = ids.find((id) => !GUID.test(id));
  if (bad) {
    throw new AppError('CONFIG.INVALID', `SYNCSHIFT_APPROVERS contains "${bad}", which is not an Entra object id.`, {
      hint: 'List approvers by object id (Entra admin center → Users → Object ID), separated by commas.',
    });
  }
  if (ids.length > 0 && ids.length < required + 1) {
    throw new AppError('CONFIG.INVALID', `SYNCSHIFT_REQUIRED_APPROVALS is ${required} but only ${ids.length} approver(s) are listed; a requester who is an approver could never get enough approvals.`, {
      hint: `List at least ${required + 1} approvers or lower SYNCSHIFT_REQUIRED_APPROVALS.`,
    });
  }
  return [...new Set(ids)];
}
