import { z } from 'zod';

/**
 * What a job asks the agent to do, and how a job's failure reads: the shapes the job queue and the
 * store keep and the relay protocol carries. They sit in the core, below both, so the job module
 * and the store never reach up into the relay; src/relay/protocol.ts re-exports them for the wire.
 */

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
]);

export const adsyncPayload = z.discriminatedUnion('action', [
  z.object({ action: z.literal('adsync.getScheduler') }),
  z.object({ action: z.literal('adsync.stopScheduler') }),
  z.object({ action: z.literal('adsync.startScheduler'), policyType: z.enum(['Delta', 'Initial']) }),
  z.object({ action: z.literal('adsync.exportConfig') }),
  z.object({ action: z.literal('adsync.listRules') }),
  z.object({ action: z.literal('adsync.createNoFlowRules'), plan: z.array(z.record(z.unknown())).min(1).max(16) }),
  z.object({
    action: z.literal('adsync.setRulesDisabled'),
    identifiers: z.array(z.string().uuid()).min(1).max(64),
    disabled: z.boolean(),
  }),
  z.object({ action: z.literal('adsync.stopService') }),
  z.object({ action: z.literal('adsync.startService') }),
]);
export type AdsyncPayload = z.infer<typeof adsyncPayload>;

export const jobPayload = z.union([scanOuPayload, adsyncPayload]);
export type JobPayload = z.infer<typeof jobPayload>;

/** Every action this version of the protocol knows. */
export const KNOWN_ACTIONS: readonly string[] = ['directory.scanOu', ...ADSYNC_ACTIONS];

export const jobError = z.object({
  code: z.string().max(64),
  message: z.string().max(4000),
  hint: z.string().max(2000).optional(),
  details: z.record(z.unknown()).optional(),
});
export type JobError = z.infer<typeof jobError>;
