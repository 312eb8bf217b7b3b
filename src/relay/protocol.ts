import { z } from 'zod';
import { AGENT_NAME } from '../runbook/agent-name';
import {
  ADSYNC_ACTIONS,
  canaryResult,
  jobError,
  jobPayload,
  KNOWN_ACTIONS,
  MUTATING_ACTIONS,
  type AdsyncAction,
} from '../runbook/job-shapes';

/**
 * Messages between the bot (relay server) and the on-premises agent. Both sides validate every
 * message with these schemas: the wire is a trust boundary in both directions.
 */

export const RELAY_PROTOCOL_VERSION = 1;
export const AGENT_ID_HEADER = 'x-syncshift-agent';
/** Sent on every request so `/agent list` shows what each agent runs. */
export const AGENT_VERSION_HEADER = 'x-syncshift-agent-version';
export { AGENT_NAME };
// The job shapes live in the core (the job queue and the store need them too); the wire carries them.
export * from '../runbook/job-shapes';

const dnString = z.string().min(1).max(4096);

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
   * Connect Sync server, none that change anything when read-only). The bot hands it nothing else,
   * and takes its result only for a job of one of these. Optional in the schema only so that an
   * older agent, which never says, is told to update instead of getting a bare 400: it is offered nothing.
   */
  actions: z.array(z.string().min(1).max(64)).max(64).optional(),
  readOnly: z.boolean().optional(),
  /**
   * The jobs this agent process is still working on. Any other job leased to this agent is one it
   * lost (it restarted, or never got the lease's answer), so the bot takes it back at once instead
   * of waiting for the lease to run out. One process per agent name. Absent from older agents,
   * whose leases simply run out.
   */
  holding: z.array(z.string().uuid()).max(64).optional(),
});
export type LeaseRequest = z.infer<typeof leaseRequest>;

/**
 * What a lease request lets the agent be offered: the actions it declared that this bot knows,
 * less those that change anything when it says it is read-only. Empty: it is offered nothing.
 */
export function runnableActions(request: Pick<LeaseRequest, 'actions' | 'readOnly'>): string[] {
  return (request.actions ?? []).filter(
    (action) => KNOWN_ACTIONS.includes(action) && !(request.readOnly === true && MUTATING_ACTIONS.has(action)),
  );
}

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

/**
 * Canonical base64 of exactly 16 bytes (a GUID as AD stores it): 24 characters, "==" at the end, and
 * the last data character one whose unused low bits are zero, so one GUID has one spelling.
 */
export const BASE64_GUID = /^[A-Za-z0-9+/]{21}[AQgw]==$/;

export const scannedUser = z.object({
  dn: dnString,
  /** base64(ms-DS-ConsistencyGuid ?? objectGUID): what onPremisesImmutableId must equal. */
  anchor: z.string().max(64),
  /**
   * base64(objectGUID), sent only when it differs from `anchor` (ms-DS-ConsistencyGuid holds other
   * bytes), so most lines carry nothing more: a Cloud Sync log entry may name the object by it
   * (docs/verify.md, "Confirmed by Cloud Sync"). Older agents never send it.
   */
  objectGuid: z.string().regex(BASE64_GUID, 'expected base64 of 16 bytes').optional(),
  disabled: z.boolean(),
  /**
   * isCriticalSystemObject is TRUE: no sync engine syncs it by default. Sent only when true; an
   * older agent never sends it, and its users count as ordinary ones.
   */
  criticalSystemObject: z.boolean().optional(),
  /** The object's type when it is not a user (a scan reads inetOrgPersons, groups and contacts too). */
  type: z.enum(['inetOrgPerson', 'group', 'contact']).optional(),
  /**
   * The conditions of Connect Sync's default scope that keep it out of Entra
   * (src/runbook/connect-sync-scope.ts), by id; sent only when there is one.
   */
  filteredBy: z.array(z.string().min(1).max(64)).max(32).optional(),
  /** Groups: objectSid as S-1-5-…, what Graph returns as onPremisesSecurityIdentifier. */
  sid: z.string().max(200).optional(),
  /** Contacts: mail, what Graph returns as the orgContact's mail. */
  mail: z.string().max(512).optional(),
  /** Groups: ms-DS-ConsistencyGuid is set, so `anchor` is it rather than objectGUID. */
  consistencyGuid: z.boolean().optional(),
});
export type ScannedUser = z.infer<typeof scannedUser>;

/** What a scan found, without the users themselves. */
export const scanOuHead = z.object({
  action: z.literal('directory.scanOu'),
  baseDn: dnString,
  defaultNamingContext: dnString,
  totals: z.object({
    users: z.number().int().min(0),
    disabled: z.number().int().min(0),
    /** Counted apart from users; absent from agents that scan users only. */
    inetOrgPersons: z.number().int().min(0).optional(),
    groups: z.number().int().min(0).optional(),
    contacts: z.number().int().min(0).optional(),
  }),
});
export type ScanOuHead = z.infer<typeof scanOuHead>;

/** A scan with its users inline, as one JSON body (small scans, and the shape the agent builds). */
export const scanOuResult = scanOuHead.extend({ users: z.array(scannedUser) });
export type ScanOuResult = z.infer<typeof scanOuResult>;

/**
 * A scan as the bot stores it: the head in the job's result, the users in pieces of their own
 * (store.jobs.resultUsers), so no step ever has to hold a 100,000-user result as one value.
 */
export const storedScanOu = scanOuHead.extend({ storedUsers: z.number().int().min(0) });
export type StoredScanOu = z.infer<typeof storedScanOu>;

/**
 * A scan result can also come as newline-delimited JSON, sent while the agent is still reading the
 * directory: a head line `{"outcome":"succeeded","result":{action, baseDn, defaultNamingContext}}`,
 * then lines that are each a JSON array of users, then an end line
 * `{"end":true,"users":<count>,"totals":{users, disabled}}`. The bot reads and stores it one line at
 * a time; the end line tells a complete scan from one cut short (the directory failed, the
 * connection broke), which the bot refuses.
 */
export const SCAN_STREAM_CONTENT_TYPE = 'application/x-ndjson';
export const scanStreamHead = z.object({ outcome: z.literal('succeeded'), result: scanOuHead.omit({ totals: true }) });
export const scanStreamEnd = z.object({
  end: z.literal(true),
  users: z.number().int().min(0),
  totals: scanOuHead.shape.totals,
});
export const MAX_USERS_PER_LINE = 5000;

/**
 * Checks one line's users in place (the scannedUser schema, without zod's copy of each object):
 * a 100,000-user scan is 100 such lines. Returns the problem, or null.
 */
export function scannedUsersProblem(value: unknown): string | null {
  if (!Array.isArray(value)) return 'expected an array of users';
  if (value.length > MAX_USERS_PER_LINE) return `more than ${MAX_USERS_PER_LINE} users on one line`;
  for (let i = 0; i < value.length; i++) {
    const u = value[i] as Record<string, unknown> | null;
    if (typeof u !== 'object' || u === null) return `user ${i}: expected an object`;
    if (typeof u.dn !== 'string' || u.dn.length === 0 || u.dn.length > 4096)
      return `user ${i}: dn must be a string of 1 to 4096 characters`;
    if (typeof u.anchor !== 'string' || u.anchor.length > 64)
      return `user ${i}: anchor must be a string of at most 64 characters`;
    if (u.objectGuid !== undefined && (typeof u.objectGuid !== 'string' || !BASE64_GUID.test(u.objectGuid)))
      return `user ${i}: objectGuid must be base64 of 16 bytes when present`;
    if (typeof u.disabled !== 'boolean') return `user ${i}: disabled must be true or false`;
    if (u.criticalSystemObject !== undefined && typeof u.criticalSystemObject !== 'boolean')
      return `user ${i}: criticalSystemObject must be true or false when present`;
    if (u.type !== undefined && u.type !== 'inetOrgPerson' && u.type !== 'group' && u.type !== 'contact')
      return `user ${i}: type must be inetOrgPerson, group or contact when present`;
    if (
      u.filteredBy !== undefined &&
      (!Array.isArray(u.filteredBy) ||
        u.filteredBy.length > 32 ||
        u.filteredBy.some((id) => typeof id !== 'string' || id.length === 0 || id.length > 64))
    )
      return `user ${i}: filteredBy must be a list of condition ids when present`;
    if (u.sid !== undefined && (typeof u.sid !== 'string' || u.sid.length > 200))
      return `user ${i}: sid must be a string of at most 200 characters when present`;
    if (u.mail !== undefined && (typeof u.mail !== 'string' || u.mail.length > 512))
      return `user ${i}: mail must be a string of at most 512 characters when present`;
    if (u.consistencyGuid !== undefined && typeof u.consistencyGuid !== 'boolean')
      return `user ${i}: consistencyGuid must be true or false when present`;
  }
  return null;
}

/** How many objects the totals count: what the lines of a scan must add up to. */
export function scannedObjects(totals: ScanOuHead['totals']): number {
  return totals.users + (totals.inetOrgPersons ?? 0) + (totals.groups ?? 0) + (totals.contacts ?? 0);
}

/**
 * What each Connect Sync action returns, as `data` of its adsyncResult. The agent validates its
 * script's output with these before sending it; the bot reads stored results with the same ones.
 */
export const adsyncGuid = z
  .string()
  .regex(/^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/, 'expected a GUID');

export const schedulerState = z.object({
  syncCycleEnabled: z.boolean(),
  syncCycleInProgress: z.boolean(),
  stagingModeEnabled: z.boolean(),
  schedulerSuspended: z.boolean(),
  maintenanceEnabled: z.boolean(),
  nextSyncCyclePolicyType: z.string().max(32),
  nextSyncCycleStartTimeInUTC: z.string().max(64).nullable(),
  currentlyEffectiveSyncCycleInterval: z.string().max(64).nullable(),
  /** Name of the connector Get-ADSyncConnectorRunStatus reports as running, or null when idle. */
  runningConnector: z.string().max(512).nullable(),
});
export type SchedulerState = z.infer<typeof schedulerState>;

export const stopSchedulerResult = z.object({ stopped: z.literal(true), scheduler: schedulerState });
export type StopSchedulerResult = z.infer<typeof stopSchedulerResult>;

export const startSchedulerResult = z.object({
  started: z.literal(true),
  policyType: z.enum(['Delta', 'Initial']),
  /** Start-ADSyncSyncCycle's Result, e.g. "Success" (**unverified** property name). */
  startResult: z.string().max(256).nullable(),
  scheduler: schedulerState,
});
export type StartSchedulerResult = z.infer<typeof startSchedulerResult>;

export const exportConfigResult = z.object({
  path: z.string().min(1).max(1024),
  files: z.number().int().min(0),
  bytes: z.number().int().min(0),
});
export type ExportConfigResult = z.infer<typeof exportConfigResult>;

export const syncRuleSummary = z.object({
  identifier: z.string().max(64),
  name: z.string().max(1024),
  description: z.string().max(4096),
  direction: z.string().max(32),
  precedence: z.number().int(),
  /** Empty for custom rules; built-in rules carry tags such as Microsoft.InfromADUserJoin.003. */
  immutableTag: z.string().max(256),
  disabled: z.boolean(),
  connector: z.string().max(64),
  sourceObjectType: z.string().max(64),
  targetObjectType: z.string().max(64),
  linkType: z.string().max(32),
});
export type SyncRuleSummary = z.infer<typeof syncRuleSummary>;

export const connectorSummary = z.object({
  identifier: z.string().max(64),
  name: z.string().max(1024),
  type: z.enum(['AD', 'Entra', 'Other']),
  connectorTypeName: z.string().max(256),
  subType: z.string().max(256),
  /** Partition DNs the connector covers; used to pick the AD connector that holds the pilot OU. */
  partitions: z.array(z.string().max(2048)).max(1000),
});
export type ConnectorSummary = z.infer<typeof connectorSummary>;

export const listRulesResult = z.object({
  rules: z.array(syncRuleSummary).max(5000),
  connectors: z.array(connectorSummary).max(100),
});
export type ListRulesResult = z.infer<typeof listRulesResult>;

export const createdRule = z.object({
  key: z.string().max(64),
  name: z.string().max(1024),
  identifier: adsyncGuid,
  precedence: z.number().int(),
  connectorId: adsyncGuid,
});
export type CreatedRule = z.infer<typeof createdRule>;

export const createNoFlowRulesResult = z.object({ created: z.array(createdRule) });
export type CreateNoFlowRulesResult = z.infer<typeof createNoFlowRulesResult>;

export const setRulesDisabledResult = z.object({
  rules: z.array(z.object({ identifier: z.string().max(64), name: z.string().max(1024), disabled: z.boolean() })),
});
export type SetRulesDisabledResult = z.infer<typeof setRulesDisabledResult>;

export const serviceStateResult = z.object({
  status: z.string().max(64),
  startType: z.string().max(64),
  /** Start type before the change, so a rollback can restore it. */
  previousStartType: z.string().max(64),
});
export type ServiceStateResult = z.infer<typeof serviceStateResult>;

/**
 * `/readiness` (steps 1 and 2): what the agent on the Connect Sync server reads, read-only. The
 * Connect Sync half comes from one fixed script (adsync.readiness in scripts.ts); names are passed
 * on as the cmdlets report them, and src/runbook/readiness.ts decides what they mean.
 */
export const readinessConnector = z.object({
  name: z.string().max(1024),
  type: z.enum(['AD', 'Entra', 'Other']),
  connectorTypeName: z.string().max(256),
  subType: z.string().max(256),
  /** Object types the connector imports (ObjectInclusionList); `computer` means device sync. */
  objectTypes: z.array(z.string().max(128)).max(200),
  /** Attributes the connector imports (AttributeInclusionList), counted only. */
  attributeCount: z.number().int().min(0),
  partitions: z
    .array(
      z.object({
        dn: z.string().max(2048),
        /** OU filtering: the containers the connector includes and excludes in this partition. */
        included: z.array(z.string().max(2048)).max(2000),
        excluded: z.array(z.string().max(2048)).max(2000),
      }),
    )
    .max(100),
});
export type ReadinessConnector = z.infer<typeof readinessConnector>;

export const readinessConnectSync = z.object({
  /** The global settings parameters the rules read (Microsoft.OptionalFeature.*, the anchor, the version). */
  globalSettings: z.array(z.object({ name: z.string().max(256), value: z.string().max(4096) })).max(500),
  /** Get-ADSyncAADCompanyFeature's boolean properties, by name (PasswordHashSync, UserWriteBack …). */
  companyFeatures: z.record(z.boolean()),
  stagingModeEnabled: z.boolean(),
  connectors: z.array(readinessConnector).max(100),
  rules: z.array(syncRuleSummary).max(5000),
});
export type ReadinessConnectSync = z.infer<typeof readinessConnectSync>;

/** A named object and a number, e.g. a group and its member count. */
const countedDn = z.object({ dn: z.string().max(4096), count: z.number().int().min(0) });

export const readinessDirectory = z.object({
  defaultNamingContext: z.string().max(4096),
  /** The bases the agent read: the domain, or its allow-list (SYNCSHIFT_ALLOWED_BASE_DNS). */
  bases: z.array(z.string().max(4096)).max(100),
  users: z.number().int().min(0),
  groups: z.number().int().min(0),
  contacts: z.number().int().min(0),
  organizationalUnits: z.number().int().min(0),
  inetOrgPersons: z.number().int().min(0),
  inetOrgPersonSample: z.array(z.string().max(4096)).max(10),
  usersWithoutConsistencyGuid: z.number().int().min(0),
  withoutConsistencyGuidSample: z.array(z.string().max(4096)).max(10),
  /** The largest groups by member count, largest first. */
  largestGroups: z.array(countedDn).max(10),
});
export type ReadinessDirectory = z.infer<typeof readinessDirectory>;

export const readinessResult = z.object({ connectSync: readinessConnectSync, directory: readinessDirectory });
export type ReadinessResult = z.infer<typeof readinessResult>;

/**
 * `adsync.noFlowCheck`: one object of the OU as Connect Sync holds it. Read with Get-ADSyncCSObject
 * -ConnectorName -DistinguishedName on the AD connector, then Get-ADSyncMVObject -Identifier with the
 * connector space object's ConnectedMVObjectId. `cloudNoFlow` is the metaverse attribute's first value
 * as PowerShell prints it ("True"), or null when the attribute is absent.
 */
export const noFlowObject = z.object({
  dn: dnString,
  /** The AD object class the agent read over LDAP (user, inetOrgPerson, group, contact). */
  adType: z.string().max(64),
  inConnectorSpace: z.boolean(),
  csObjectType: z.string().max(128).nullable(),
  /** Null: the connector space object is not joined to a metaverse object. */
  mvObjectId: z.string().max(64).nullable(),
  cloudNoFlow: z.string().max(64).nullable(),
  /** The cmdlet's message when reading this object failed; the object counts as not read. */
  readError: z.string().max(1000).nullable(),
});
export type NoFlowObject = z.infer<typeof noFlowObject>;

/** One run of Get-ADSyncRunProfileResult (property names as the cmdlet prints them; **unverified** in Microsoft's docs). */
export const runProfileRun = z.object({
  connectorName: z.string().max(1024),
  runProfileName: z.string().max(256),
  result: z.string().max(256),
  isRunComplete: z.boolean(),
  startDate: z.string().max(64).nullable(),
  endDate: z.string().max(64).nullable(),
});
export type RunProfileRun = z.infer<typeof runProfileRun>;

export const MAX_NO_FLOW_OBJECTS = 500;

export const noFlowCheckResult = z.object({
  ouDn: dnString,
  adConnector: z.object({ name: z.string().max(1024), identifier: z.string().max(64) }),
  /** Objects (users, inetOrgPersons, groups, contacts) the agent found in the OU subtree over LDAP. */
  objectsInOu: z.number().int().min(0),
  /** 'all' up to MAX_NO_FLOW_OBJECTS; above it an evenly spread sample of that many, in directory order. */
  selection: z.enum(['all', 'spread-sample']),
  objects: z.array(noFlowObject).max(MAX_NO_FLOW_OBJECTS),
  /** The AD connector's latest runs, newest first. */
  runs: z.array(runProfileRun).max(50),
  scheduler: schedulerState,
});
export type NoFlowCheckResult = z.infer<typeof noFlowCheckResult>;

/** The agent validated `data` with the action's own schema; the bot validates it again where it reads it. */
export const adsyncResult = z.object({ action: z.enum(ADSYNC_ACTIONS), data: z.unknown() });
export type AdsyncResult = z.infer<typeof adsyncResult>;

/** Each Connect Sync action's result data, by action. */
export const ADSYNC_RESULT_DATA = {
  'adsync.getScheduler': schedulerState,
  'adsync.stopScheduler': stopSchedulerResult,
  'adsync.startScheduler': startSchedulerResult,
  'adsync.exportConfig': exportConfigResult,
  'adsync.listRules': listRulesResult,
  'adsync.createNoFlowRules': createNoFlowRulesResult,
  'adsync.setRulesDisabled': setRulesDisabledResult,
  'adsync.stopService': serviceStateResult,
  'adsync.startService': serviceStateResult,
  'adsync.readiness': readinessResult,
  'adsync.noFlowCheck': noFlowCheckResult,
} as const satisfies Record<AdsyncAction, z.ZodTypeAny>;
export type AdsyncResultData<A extends AdsyncAction> = z.infer<(typeof ADSYNC_RESULT_DATA)[A]>;

/**
 * A stored job result read as the result of `action`, with the schema the agent wrote it with.
 * Every agent so far sends these camelCase shapes (its scripts build them), so nothing else is guessed at.
 */
export function readAdsyncResult<A extends AdsyncAction>(
  action: A,
  result: unknown,
): { ok: true; data: AdsyncResultData<A> } | { ok: false; problem: string } {
  const envelope = adsyncResult.safeParse(result);
  if (!envelope.success || envelope.data.action !== action)
    return { ok: false, problem: `expected the result of ${action}` };
  const data = ADSYNC_RESULT_DATA[action].safeParse(envelope.data.data);
  if (!data.success)
    return {
      ok: false,
      problem: `the result of ${action} is malformed (${data.error.issues
        .map((i) => `${i.path.join('.') || 'data'}: ${i.message}`)
        .slice(0, 3)
        .join('; ')})`,
    };
  return { ok: true, data: data.data as AdsyncResultData<A> };
}

export const resultRequest = z.discriminatedUnion('outcome', [
  z.object({ outcome: z.literal('succeeded'), result: z.union([scanOuResult, adsyncResult, canaryResult]) }),
  z.object({ outcome: z.literal('failed'), error: jobError }),
]);
export type ResultRequest = z.infer<typeof resultRequest>;

/** `syncshift-agent enroll`: a one-time code from `/agent enroll <name>` in exchange for a credential. */
export const enrollRequest = z.object({ code: z.string().min(1).max(64), agentVersion: z.string().max(64).optional() });
export type EnrollRequest = z.infer<typeof enrollRequest>;

export const enrollResponse = z.object({ agentId: z.string().regex(AGENT_NAME), secret: z.string().min(32).max(256) });
export type EnrollResponse = z.infer<typeof enrollResponse>;
