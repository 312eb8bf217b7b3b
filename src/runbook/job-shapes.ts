import { z } from 'zod';
import { CANARY_NAME } from './canary';

/**
 * What a job asks the agent to do, and how a job's failure reads: the shapes the job queue and the
 * store keep and the relay protocol carries. They sit in the core, below both, so the job module
 * and the store never reach up into the relay; src/relay/protocol.ts re-exports them for the wire.
 */

const dnString = z.string().min(1).max(4096);

export const scanOuPayload = z.object({
  action: z.literal('directory.scanOu'),
  /** The OU exactly as the person typed it; the agent parses and resolves it itself. */
  ou: z.string().min(1).max(2048),
  pageSize: z.number().int().min(1).max(1000).optional(),
  /** Only the totals are wanted (a wave's count): the agent counts page by page and keeps no users. */
  countOnly: z.boolean().optional(),
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
  'adsync.readiness',
  'adsync.noFlowCheck',
] as const;
export type AdsyncAction = (typeof ADSYNC_ACTIONS)[number];

/** Actions that change Connect Sync: never retried automatically, whatever happens to the agent. */
export const MUTATING_ACTIONS: ReadonlySet<string> = new Set([
  'adsync.stopScheduler',
  'adsync.startScheduler',
  'adsync.createNoFlowRules',
  'adsync.setRulesDisabled',
  'adsync.stopService',
  'adsync.startService',
  'directory.createCanary',
  'directory.deleteCanary',
]);

export const adsyncPayload = z.discriminatedUnion('action', [
  z.object({ action: z.literal('adsync.getScheduler') }),
  z.object({ action: z.literal('adsync.stopScheduler') }),
  z.object({ action: z.literal('adsync.startScheduler'), policyType: z.enum(['Delta', 'Initial']) }),
  z.object({ action: z.literal('adsync.exportConfig') }),
  z.object({ action: z.literal('adsync.listRules') }),
  // A wave's plan: 6 rules per OU, at most the custom precedence range (sync-rules.ts MAX_RULES_PER_PLAN).
  z.object({ action: z.literal('adsync.createNoFlowRules'), plan: z.array(z.record(z.unknown())).min(1).max(100) }),
  z.object({
    action: z.literal('adsync.setRulesDisabled'),
    identifiers: z.array(z.string().uuid()).min(1).max(64),
    disabled: z.boolean(),
  }),
  z.object({ action: z.literal('adsync.stopService') }),
  z.object({
    action: z.literal('adsync.startService'),
    /** The start type the final stop read before it disabled the service; older bots sent none (Automatic). */
    startType: z.enum(['Automatic', 'Manual']).optional(),
  }),
  z.object({ action: z.literal('adsync.readiness') }),
  /**
   * Read only: whether the metaverse objects of one OU's objects carry cloudNoFlow, and the last runs
   * (src/agent/actions/no-flow-check.ts). `ou` as for a scan: the agent resolves it and checks its allow-list.
   */
  z.object({ action: z.literal('adsync.noFlowCheck'), ou: z.string().min(1).max(2048) }),
]);
export type AdsyncPayload = z.infer<typeof adsyncPayload>;

/**
 * The canary of step 12: a disabled user the agent creates in one OU of the migration and later
 * deletes by its objectGUID. Names must carry the canary prefix; the agent checks both again.
 */
export const CANARY_ACTIONS = ['directory.createCanary', 'directory.deleteCanary'] as const;
export type CanaryAction = (typeof CANARY_ACTIONS)[number];
const canaryNameString = z.string().regex(CANARY_NAME, 'must be syncshift-canary- and 8 hex characters');
const guidString = z
  .string()
  .regex(/^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/, 'expected a GUID');
export const canaryPayload = z.discriminatedUnion('action', [
  z.object({ action: z.literal('directory.createCanary'), ouDn: dnString, name: canaryNameString }),
  z.object({ action: z.literal('directory.deleteCanary'), objectGuid: guidString, name: canaryNameString }),
]);
export type CanaryPayload = z.infer<typeof canaryPayload>;

export const createCanaryResult = z.object({
  name: canaryNameString,
  dn: dnString,
  objectGuid: guidString,
  /** base64 of the objectGUID bytes as AD stores them: onPremisesImmutableId of a new object. */
  anchor: z.string().max(64),
  disabled: z.literal(true),
});
export type CreateCanaryResult = z.infer<typeof createCanaryResult>;
export const deleteCanaryResult = z.object({ name: canaryNameString, dn: dnString, objectGuid: guidString });
export type DeleteCanaryResult = z.infer<typeof deleteCanaryResult>;
export const canaryResult = z.discriminatedUnion('action', [
  z.object({ action: z.literal('directory.createCanary'), data: createCanaryResult }),
  z.object({ action: z.literal('directory.deleteCanary'), data: deleteCanaryResult }),
]);
export type CanaryResult = z.infer<typeof canaryResult>;

export const jobPayload = z.union([scanOuPayload, adsyncPayload, canaryPayload]);
export type JobPayload = z.infer<typeof jobPayload>;

/** Every action this version of the protocol knows. */
export const KNOWN_ACTIONS: readonly string[] = ['directory.scanOu', ...ADSYNC_ACTIONS, ...CANARY_ACTIONS];

export const jobError = z.object({
  code: z.string().max(64),
  message: z.string().max(4000),
  hint: z.string().max(2000).optional(),
  details: z.record(z.unknown()).optional(),
});
export type JobError = z.infer<typeof jobError>;
