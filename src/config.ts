import { X509Certificate, createPrivateKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { AGENT_NAME } from './runbook/agent-name';
import { AppError } from './shared/errors';
import { isLoopback } from './shared/loopback';

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
    tenantId: string | undefined;
    appType: BotAppType;
    /** How the bot proves its identity to the Bot Framework; inbound tokens are validated the same way for all three. */
    credential: BotCredential;
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
  /**
   * The Cloud Sync configuration whose OU scope SyncShift reads and changes: its service principal's
   * object id (one per AD domain). Unset: the scope steps are confirmed by a person.
   */
  cloudSync: { servicePrincipalId: string } | null;
  /** agent id → shared secret (static agents; enrolled agents live in the store). */
  agentSecrets: Map<string, string>;
  /** How long an `/agent enroll` code stays usable. */
  enrollmentTtlMs: number;
  /** How long an agent holds a job without a heartbeat before it is presumed gone. */
  jobLeaseMs: number;
  /** Leases an agent may lose on one read-only job before the job fails instead of going back to the queue. */
  jobMaxAttempts: number;
  /** How often the bot looks for expired leases and for finished jobs whose result was never applied. */
  leaseSweepMs: number;
  /** How long a request body (other than a streamed scan) may send nothing before it is cut with 408. */
  bodyIdleMs: number;
  cardListLimit: number;
  /** Smallest gap between two progress updates of one card (a verify's count of objects scanned). */
  progressIntervalMs: number;
  /** The no-flow check after a cycle (issue 16): how often it reads again, and when it gives up. */
  noFlowFollowUp: { intervalMs: number; deadlineMs: number };
  /** How long one proactive card post or update may go without an answer before it counts as failed. */
  cardSendTimeoutMs: number;
  approvals: { approvers: string[]; required: number; ttlMs: number };
  /** Base URL people's browsers reach the bot at, for download links; defaults to the listen address. */
  publicUrl: string | undefined;
  /** HMAC key for export links; shared by all instances behind one URL. Random per process when unset. */
  linkSigningKey: string | undefined;
}

export type BotAppType = 'MultiTenant' | 'SingleTenant' | 'UserAssignedMSI';

export type BotCredential =
  | { kind: 'password'; password: string }
  /** The thumbprint is what the Bot Framework SDK identifies the certificate by; the key signs the client assertion. */
  | { kind: 'certificate'; thumbprint: string; privateKeyPem: string; certificatePem: string; notAfter: Date }
  | { kind: 'managedIdentity' };

const schema = z.object({
  PORT: z.coerce.number().int().min(0).max(65535).default(3978),
  HOST: z.string().optional(),
  MICROSOFT_APP_ID: z.string().optional(),
  MICROSOFT_APP_PASSWORD: z.string().optional(),
  MICROSOFT_APP_CERTIFICATE_PATH: z.string().optional(),
  MICROSOFT_APP_CERTIFICATE_KEY_PATH: z.string().optional(),
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
  CLOUD_SYNC_SERVICE_PRINCIPAL_ID: z.string().uuid().optional(),
  SYNCSHIFT_AGENT_SECRETS: z.string().default(''),
  SYNCSHIFT_ENROLLMENT_TTL_MINUTES: z.coerce
    .number()
    .int()
    .min(1)
    .max(24 * 60)
    .default(10),
  SYNCSHIFT_JOB_LEASE_SECONDS: z.coerce.number().int().min(2).max(3600).default(300),
  SYNCSHIFT_JOB_MAX_ATTEMPTS: z.coerce.number().int().min(1).max(20).default(3),
  SYNCSHIFT_LEASE_SWEEP_SECONDS: z.coerce.number().int().min(1).max(600).default(15),
  SYNCSHIFT_BODY_IDLE_SECONDS: z.coerce.number().int().min(1).max(300).default(15),
  CARD_LIST_LIMIT: z.coerce.number().int().min(1).max(100).default(15),
  SYNCSHIFT_PROGRESS_INTERVAL_MS: z.coerce.number().int().min(0).max(600_000).default(5000),
  SYNCSHIFT_NO_FLOW_RECHECK_MINUTES: z.coerce.number().int().min(1).max(60).default(5),
  SYNCSHIFT_NO_FLOW_DEADLINE_MINUTES: z.coerce
    .number()
    .int()
    .min(10)
    .max(24 * 60)
    .default(120),
  // At least 1 s: a shorter deadline would give up on Teams answering normally; at most 5 minutes,
  // past which a hung update holds the card's later updates back for longer than anyone waits.
  SYNCSHIFT_CARD_SEND_TIMEOUT_MS: z.coerce.number().int().min(1000).max(300_000).default(30_000),
  SYNCSHIFT_APPROVERS: z.string().default(''),
  SYNCSHIFT_REQUIRED_APPROVALS: z.coerce.number().int().min(1).max(10).default(1),
  SYNCSHIFT_APPROVAL_TTL_MINUTES: z.coerce
    .number()
    .int()
    .min(1)
    .max(7 * 24 * 60)
    .default(60),
  PUBLIC_URL: z.string().url().optional(),
  SYNCSHIFT_LINK_SIGNING_KEY: z.string().min(32).optional(),
});

export function loadConfig(env: NodeJS.ProcessEnv = process.env): BotConfig {
  const parsed = schema.safeParse(Object.fromEntries(Object.entries(env).filter(([, v]) => v !== '')));
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new AppError('CONFIG.INVALID', `Environment variable ${issue.path.join('.')} is invalid: ${issue.message}.`, {
      hint: 'Fix it in env/.env.* or the App Service settings; docs/configuration.md lists every variable.',
    });
  }
  const e = parsed.data;
  const botAuth = e.MICROSOFT_APP_ID
    ? {
        appId: e.MICROSOFT_APP_ID,
        tenantId: requireTenantFor(e.MICROSOFT_APP_TYPE, e.MICROSOFT_APP_TENANT_ID),
        appType: e.MICROSOFT_APP_TYPE,
        credential: botCredential(e),
        openIdMetadataUrl: metadataUrl('MICROSOFT_BOT_OPENID_METADATA_URL', e.MICROSOFT_BOT_OPENID_METADATA_URL),
        emulatorOpenIdMetadataUrl: metadataUrl(
          'MICROSOFT_BOT_EMULATOR_OPENID_METADATA_URL',
          e.MICROSOFT_BOT_EMULATOR_OPENID_METADATA_URL,
        ),
      }
    : null;
  if (!botAuth) {
    const stray = (
      ['MICROSOFT_APP_PASSWORD', 'MICROSOFT_APP_CERTIFICATE_PATH', 'MICROSOFT_APP_CERTIFICATE_KEY_PATH'] as const
    ).find((name) => e[name] !== undefined);
    if (stray) {
      throw new AppError(
        'CONFIG.INVALID',
        `${stray} is set but MICROSOFT_APP_ID is not, so the bot would run unauthenticated in local mode.`,
        {
          hint: "Set MICROSOFT_APP_ID to the bot registration's application (client) id, or remove the credential to run locally.",
        },
      );
    }
  }
  const host = e.HOST ?? (botAuth ? '0.0.0.0' : '127.0.0.1');
  if (!botAuth && !isLoopback(host)) {
    throw new AppError(
      'CONFIG.INVALID',
      `HOST=${host} without Bot Framework credentials would accept unauthenticated activities from the network.`,
      {
        hint: 'Set MICROSOFT_APP_ID and MICROSOFT_APP_PASSWORD, or leave HOST unset to stay on loopback.',
      },
    );
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
    cloudSync: e.CLOUD_SYNC_SERVICE_PRINCIPAL_ID ? { servicePrincipalId: e.CLOUD_SYNC_SERVICE_PRINCIPAL_ID } : null,
    agentSecrets: parseAgentSecrets(e.SYNCSHIFT_AGENT_SECRETS),
    enrollmentTtlMs: e.SYNCSHIFT_ENROLLMENT_TTL_MINUTES * 60_000,
    jobLeaseMs: e.SYNCSHIFT_JOB_LEASE_SECONDS * 1000,
    jobMaxAttempts: e.SYNCSHIFT_JOB_MAX_ATTEMPTS,
    leaseSweepMs: e.SYNCSHIFT_LEASE_SWEEP_SECONDS * 1000,
    bodyIdleMs: e.SYNCSHIFT_BODY_IDLE_SECONDS * 1000,
    cardListLimit: e.CARD_LIST_LIMIT,
    progressIntervalMs: e.SYNCSHIFT_PROGRESS_INTERVAL_MS,
    noFlowFollowUp: {
      intervalMs: e.SYNCSHIFT_NO_FLOW_RECHECK_MINUTES * 60_000,
      deadlineMs: e.SYNCSHIFT_NO_FLOW_DEADLINE_MINUTES * 60_000,
    },
    cardSendTimeoutMs: e.SYNCSHIFT_CARD_SEND_TIMEOUT_MS,
    approvals: {
      approvers: parseApprovers(e.SYNCSHIFT_APPROVERS, e.SYNCSHIFT_REQUIRED_APPROVALS),
      required: e.SYNCSHIFT_REQUIRED_APPROVALS,
      ttlMs: e.SYNCSHIFT_APPROVAL_TTL_MINUTES * 60_000,
    },
    publicUrl: e.PUBLIC_URL?.replace(/\/+$/, ''),
    linkSigningKey: e.SYNCSHIFT_LINK_SIGNING_KEY,
  };
}

/**
 * What the bot must say at start, loudly: running without token checks, or taking its token keys
 * from somewhere other than Microsoft's public cloud (an override that would let whoever serves
 * those keys sign activities).
 */
export function startupWarnings(config: BotConfig, listenUrl: string): string[] {
  const auth = config.botAuth;
  if (!auth) {
    return [
      `LOCAL MODE: no MICROSOFT_APP_ID, so Bot Framework tokens are NOT checked. Listening on loopback only (${listenUrl}). Configure the bot's credentials (password, certificate or managed identity) before exposing it.`,
    ];
  }
  const warnings: string[] = [];
  for (const [name, url] of [
    ['MICROSOFT_BOT_OPENID_METADATA_URL', auth.openIdMetadataUrl],
    ['MICROSOFT_BOT_EMULATOR_OPENID_METADATA_URL', auth.emulatorOpenIdMetadataUrl],
  ] as const) {
    if (url)
      warnings.push(
        `OPENID METADATA OVERRIDDEN: ${name}=${url}. Incoming activities are accepted when signed by keys published there, not only by Microsoft's public cloud. Unset it unless this is a sovereign cloud or a test.`,
      );
  }
  if (auth.credential.kind === 'certificate') {
    const days = Math.floor((auth.credential.notAfter.getTime() - Date.now()) / 86_400_000);
    if (days < 30)
      warnings.push(
        `The bot certificate (thumbprint ${auth.credential.thumbprint}) expires in ${days} day(s), on ${auth.credential.notAfter.toISOString()}. Upload a new one to the app registration and point MICROSOFT_APP_CERTIFICATE_PATH at it.`,
      );
  }
  return warnings;
}

/** botbuilder asserts a tenant for these two app types and crashes at the first activity without one. */
function requireTenantFor(appType: BotAppType, tenantId: string | undefined): string | undefined {
  if ((appType === 'SingleTenant' || appType === 'UserAssignedMSI') && !tenantId) {
    throw new AppError(
      'CONFIG.INVALID',
      `MICROSOFT_APP_TENANT_ID is not set, but MICROSOFT_APP_TYPE=${appType} needs it${appType === 'SingleTenant' ? ' (SingleTenant is the default)' : ''}.`,
      {
        hint: 'Set MICROSOFT_APP_TENANT_ID to the Entra tenant id of the bot registration, or MICROSOFT_APP_TYPE=MultiTenant for a multi-tenant registration.',
      },
    );
  }
  return tenantId;
}

/** Exactly one way for the bot to prove who it is. */
function botCredential(e: z.infer<typeof schema>): BotCredential {
  const certificate = e.MICROSOFT_APP_CERTIFICATE_PATH;
  if (e.MICROSOFT_APP_TYPE === 'UserAssignedMSI') {
    const extra =
      e.MICROSOFT_APP_PASSWORD !== undefined
        ? 'MICROSOFT_APP_PASSWORD'
        : certificate !== undefined
          ? 'MICROSOFT_APP_CERTIFICATE_PATH'
          : null;
    if (extra) {
      throw new AppError(
        'CONFIG.INVALID',
        `${extra} is set, but MICROSOFT_APP_TYPE=UserAssignedMSI signs in with the managed identity and would ignore it.`,
        {
          hint: `Remove ${extra}, or pick MICROSOFT_APP_TYPE=SingleTenant or MultiTenant to use it.`,
        },
      );
    }
    return { kind: 'managedIdentity' };
  }
  if (certificate !== undefined && e.MICROSOFT_APP_PASSWORD !== undefined) {
    throw new AppError('CONFIG.INVALID', 'Both MICROSOFT_APP_PASSWORD and MICROSOFT_APP_CERTIFICATE_PATH are set.', {
      hint: 'Configure one credential for the bot: remove the password to use the certificate, or the other way round.',
    });
  }
  if (certificate !== undefined) return loadCertificate(certificate, e.MICROSOFT_APP_CERTIFICATE_KEY_PATH);
  if (e.MICROSOFT_APP_CERTIFICATE_KEY_PATH !== undefined) {
    throw new AppError(
      'CONFIG.INVALID',
      'MICROSOFT_APP_CERTIFICATE_KEY_PATH is set without MICROSOFT_APP_CERTIFICATE_PATH.',
      { hint: 'Point MICROSOFT_APP_CERTIFICATE_PATH at the PEM certificate uploaded to the app registration.' },
    );
  }
  if (e.MICROSOFT_APP_PASSWORD === undefined) {
    throw new AppError(
      'CONFIG.INVALID',
      'MICROSOFT_APP_ID is set but no credential is: neither MICROSOFT_APP_PASSWORD nor MICROSOFT_APP_CERTIFICATE_PATH.',
      {
        hint: "Set the bot registration's client secret (MICROSOFT_APP_PASSWORD), its certificate (MICROSOFT_APP_CERTIFICATE_PATH), or MICROSOFT_APP_TYPE=UserAssignedMSI for a managed identity.",
      },
    );
  }
  return { kind: 'password', password: e.MICROSOFT_APP_PASSWORD };
}

/** A PEM certificate and its private key (in the same file or in MICROSOFT_APP_CERTIFICATE_KEY_PATH), checked to belong together. */
function loadCertificate(certPath: string, keyPath: string | undefined): BotCredential {
  const read = (name: string, path: string): string => {
    try {
      return readFileSync(path, 'utf8');
    } catch (err) {
      throw new AppError('CONFIG.INVALID', `${name} ${path} cannot be read: ${(err as Error).message}.`, {
        hint: "Check the path and that the bot's account may read the file.",
      });
    }
  };
  const certText = read('MICROSOFT_APP_CERTIFICATE_PATH', certPath);
  const keyText = keyPath === undefined ? certText : read('MICROSOFT_APP_CERTIFICATE_KEY_PATH', keyPath);
  const certificatePem = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(certText)?.[0];
  const privateKeyPem = /-----BEGIN (?:RSA |EC )?PRIVATE KEY-----[\s\S]+?-----END (?:RSA |EC )?PRIVATE KEY-----/.exec(
    keyText,
  )?.[0];
  if (!certificatePem) {
    throw new AppError(
      'CONFIG.INVALID',
      `MICROSOFT_APP_CERTIFICATE_PATH ${certPath} holds no PEM certificate (-----BEGIN CERTIFICATE-----).`,
      { hint: 'Export the certificate as PEM, e.g. openssl pkcs12 -in bot.pfx -out bot.pem -nodes.' },
    );
  }
  if (!privateKeyPem) {
    const where =
      keyPath === undefined
        ? `MICROSOFT_APP_CERTIFICATE_PATH ${certPath}`
        : `MICROSOFT_APP_CERTIFICATE_KEY_PATH ${keyPath}`;
    throw new AppError('CONFIG.INVALID', `${where} holds no unencrypted PEM private key.`, {
      hint: 'Put the private key (-----BEGIN PRIVATE KEY-----) in the same file, or set MICROSOFT_APP_CERTIFICATE_KEY_PATH to a file that holds it.',
    });
  }
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(certificatePem);
  } catch (err) {
    throw new AppError(
      'CONFIG.INVALID',
      `MICROSOFT_APP_CERTIFICATE_PATH ${certPath} is not a readable X.509 certificate: ${(err as Error).message}.`,
      { hint: 'Export the certificate as PEM again.' },
    );
  }
  let matches = false;
  try {
    matches = cert.checkPrivateKey(createPrivateKey(privateKeyPem));
  } catch {
    matches = false;
  }
  if (!matches) {
    throw new AppError(
      'CONFIG.INVALID',
      `The private key does not belong to the certificate in MICROSOFT_APP_CERTIFICATE_PATH ${certPath}.`,
      { hint: 'Use the key the certificate was issued for; both come from the same .pfx.' },
    );
  }
  const notAfter = new Date(cert.validTo);
  if (notAfter.getTime() <= Date.now()) {
    throw new AppError(
      'CONFIG.INVALID',
      `The certificate in MICROSOFT_APP_CERTIFICATE_PATH ${certPath} expired on ${notAfter.toISOString()}.`,
      {
        hint: "Upload a new certificate to the bot's app registration and point MICROSOFT_APP_CERTIFICATE_PATH at it.",
      },
    );
  }
  // SHA-1 thumbprint, hex without colons: what Entra shows and what the SDK sends as x5t.
  return {
    kind: 'certificate',
    thumbprint: cert.fingerprint.replace(/:/g, ''),
    privateKeyPem,
    certificatePem,
    notAfter,
  };
}

/** Token keys decide who may sign activities: only over HTTPS, or from this machine. */
function metadataUrl(name: string, url: string | undefined): string | undefined {
  if (url === undefined) return undefined;
  const parsed = new URL(url);
  if (
    parsed.protocol !== 'https:' &&
    !(parsed.protocol === 'http:' && isLoopback(parsed.hostname.replace(/^\[|\]$/g, '')))
  ) {
    throw new AppError(
      'CONFIG.INVALID',
      `${name} ${url} is not HTTPS; whoever can change that response in transit could sign activities the bot accepts.`,
      {
        hint: "Use the https:// metadata URL of your cloud, or unset it for Microsoft's public cloud. Plain http is accepted only for loopback (tests).",
      },
    );
  }
  return url;
}

/** "agent-a:secret1,agent-b:secret2". Secrets shorter than 24 characters are refused: they are the only lock on the relay. */
export function parseAgentSecrets(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of text
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean)) {
    const colon = part.indexOf(':');
    const id = colon > 0 ? part.slice(0, colon) : '';
    const secret = colon > 0 ? part.slice(colon + 1) : '';
    if (!AGENT_NAME.test(id) || secret.length < 24) {
      throw new AppError(
        'CONFIG.INVALID',
        'SYNCSHIFT_AGENT_SECRETS must be "agent-id:secret" pairs separated by commas, each secret at least 24 characters.',
        {
          hint: 'Generate a secret with: openssl rand -base64 32',
        },
      );
    }
    out.set(id, secret);
  }
  return out;
}

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Entra object ids, comma separated. Enough of them must exist for the required count, counting that the requester cannot approve. */
export function parseApprovers(text: string, required: number): string[] {
  const ids = text
    .split(',')
    .map((p) => p.trim().toLowerCase())
    .filter(Boolean);
  const bad = ids.find((id) => !GUID.test(id));
  if (bad) {
    throw new AppError('CONFIG.INVALID', `SYNCSHIFT_APPROVERS contains "${bad}", which is not an Entra object id.`, {
      hint: 'List approvers by object id (Entra admin center → Users → Object ID), separated by commas.',
    });
  }
  if (ids.length > 0 && ids.length < required + 1) {
    throw new AppError(
      'CONFIG.INVALID',
      `SYNCSHIFT_REQUIRED_APPROVALS is ${required} but only ${ids.length} approver(s) are listed; a requester who is an approver could never get enough approvals.`,
      {
        hint: `List at least ${required + 1} approvers or lower SYNCSHIFT_REQUIRED_APPROVALS.`,
      },
    );
  }
  return [...new Set(ids)];
}
