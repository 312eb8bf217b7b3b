import { z } from 'zod';
import { AGENT_NAME } from '../runbook/agent-name';

/**
 * Messages between the bot (relay server) and the on-premises agent. Both sides validate every
 * message with these schemas: the wire is a trust boundary in both directions.
 */

export const RELAY_PROTOCOL_VERSION = 1;
export const AGENT_ID_HEADER = 'x-syncshift-agent';
/** Sent on every request so `/agent list` shows what each agent runs. */
export const AGENT_VERSION_HEADER = 'x-syncshift-agent-version';
export { AGENT_NAME };

const dnString = z.string().min(1).max(4096);

export const scanOuPayload = z.object({
  action: z.literal('directory.scanOu'),
  /** The OU exactly as the person typed it; the agent parses and resolves it itself. */
  ou: z.string().min(1).max(2048),
  pageSize: z.number().int().min(1).max(1000).optional(),
});
export type ScanOuPayload = z.infer<typeof scanOuPayload>;

/**
 * Connect Sync actions. Parameters are data; the agent runs fixed scripts and re-validates them.
 * The rule plan is checked against the agent's own schema before anything runs.
 */
export const ADSYNC_ACTIONS = [
  'adsync.getScheduler',
  'adsync.stopScheduler',
  'adsync.startScheduler',
  'adsync.exportConfig',
  'adsync.listRules',
  'adsync.createNoFlowRules',
  'adsync.setRulesDisabled',
  'adsync.stopService',
  'adsync.startService',
] as const;
export type AdsyncAction = (typeof ADSYNC_ACTIONS)[number];

/** Actions that change Connect Sync: never retried automatically, whatever happens to the agent. */
export const MUTATING_ACTIONS: ReadonlySet<string> = new Set(['adsync.stopScheduler', 'adsync.startScheduler', 'adsync.createNoFlowRules', 'adsync.setRulesDisabled', 'adsync.stopService', 'adsync.startService']);

export const adsyncPayload = z.discriminatedUnion('action', [
  z.object({ action: z.literal('adsync.getScheduler') }),
  z.object({ action: z.literal('adsync.stopScheduler') }),
  z.object({ action: z.literal('adsync.startScheduler'), policyType: z.enum(['Delta', 'Initial']) }),
  z.object({ action: z.literal('adsync.exportConfig') }),
  z.object({ action: z.literal('adsync.listRules') }),
  z.object({ action: z.literal('adsync.createNoFlowRules'), plan: z.array(z.record(z.unknown())).min(1).max(16) }),
  z.object({ action: z.literal('adsync.setRulesDisabled'), identifiers: z.array(z.string().uuid()).min(1).max(64), disabled: z.boolean() }),
  z.object({ action: z.literal('adsync.stopService') }),
  z.object({ action: z.literal('adsync.startService') }),
]);
export type AdsyncPayload = z.infer<typeof adsyncPayload>;

export const jobPayload = z.union([scanOuPayload, adsyncPayload]);
export type JobPayload = z.infer<typeof jobPayload>;

/** Every action this version of the protocol knows. */
export const KNOWN_ACTIONS: readonly string[] = ['directory.scanOu', ...ADSYNC_ACTIONS];

export const leasedJob = z.object({
  id: z.string().uuid(),
  payload: jobPayload,
  leaseExpiresAt: z.string(),
});
export type LeasedJob = z.infer<typeof leasedJob>;

export const leaseRequest = z.object({
  agentVersion: z.string().max(64),
  /** How long the bot may hold the request open waiting for work (long poll). */
  waitMs: z.number().int().min(0).max(30_000).default(20_000),
  /**
   * The actions this agent can run (its configuration decides: Connect Sync actions only on the
   * Connect Sync server, none that change anything when read-only). The bot hands it nothing else.
   * Absent from older agents, which are offered every job.
   */
  actions: z.array(z.string().min(1).max(64)).max(64).optional(),
  readOnly: z.boolean().optional(),
});
export type LeaseRequest = z.infer<typeof leaseRequest>;

export const leaseResponse = z.object({ job: leasedJob.nullable() });
export type LeaseResponse = z.infer<typeof leaseResponse>;

/**
 * What the agent reads first: the job's id and lease, whatever its payload. A newer bot may send
 * an action this agent does not know; the agent must still be able to answer for that job.
 */
export const leaseEnvelope = z.object({
  job: z.object({ id: z.string().uuid(), leaseExpiresAt: z.string().max(64), payload: z.unknown() }).nullable(),
});

/**
 * The progress phase an agent sends right before it acts on a mutating job. Until the bot has
 * accepted it, the agent does nothing; after it, the job is never handed to another agent.
 */
export const STARTING_PHASE = 'starting';

export const progressRequest = z.object({
  scanned: z.number().int().min(0),
  phase: z.string().max(100).optional(),
});
export type ProgressRequest = z.infer<typeof progressRequest>;

export const scannedUser = z.object({
  dn: dnString,
  /** base64(ms-DS-ConsistencyGuid ?? objectGUID): what onPremisesImmutableId must equal. */
  anchor: z.string().max(64),
  disabled: z.boolean(),
});
export type ScannedUser = z.infer<typeof scannedUser>;

export const scanOuResult = z.object({
  action: z.literal('directory.scanOu'),
  baseDn: dnString,
  defaultNamingContext: dnString,
  totals: z.object({ users: z.number().int().min(0), disabled: z.number().int().min(0) }),
  users: z.array(scannedUser),
});
export type ScanOuResult = z.infer<typeof scanOuResult>;

export const jobError = z.object({
  code: z.string().max(64),
  message: z.string().max(4000),
  hint: z.string().max(2000).optional(),
  details: z.record(z.unknown()).optional(),
});
export type JobError = z.infer<typeof jobError>;

/** The agent validated `data` with the action's own schema; the bot validates it again where it reads it. */
export const adsyncResult = z.object({ action: z.enum(ADSYNC_ACTIONS), data: z.unknown() });
export type AdsyncResult = z.infer<typeof adsyncResult>;

export const resultRequest = z.discriminatedUnion('outcome', [
  z.object({ outcome: z.literal('succeeded'), result: z.union([scanOuResult, adsyncResult]) }),
  z.object({ outcome: z.literal('failed'), error: jobError }),
]);
export type ResultRequest = z.infer<typeof resultRequest>;

/** `syncshift-agent enroll`: a one-time code from `/agent enroll <name>` in exchange for a credential. */
export const enrollRequest = z.object({ code: z.string().min(1).max(64), agentVersion: z.string().max(64).optional() });
export type EnrollRequest = z.infer<typeof enrollRequest>;

export const enrollResponse = z.object({ agentId: z.string().regex(AGENT_NAME), secret: z.string().min(32).max(256) });
export type EnrollResponse = z.infer<typeof enrollResponse>;
