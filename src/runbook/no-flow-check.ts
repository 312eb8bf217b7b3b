/**
 * Issue 16: what a no-flow check read on the Connect Sync server means. Pure: the agent's reading
 * (adsync.noFlowCheck, shaped as in src/relay/protocol.ts) and when SyncShift created the OU's rules
 * go in, an outcome and lists of DNs come out.
 *
 * Connect Sync writes cloudNoFlow into the metaverse only when a synchronization run evaluates the new
 * inbound rule (the scheduler doc: changed rules need a full sync). So a reading older than the rules
 * says nothing about them, and is its own outcome rather than "no object carries cloudNoFlow".
 */

export interface NoFlowReadObject {
  dn: string;
  adType: string;
  inConnectorSpace: boolean;
  csObjectType: string | null;
  mvObjectId: string | null;
  cloudNoFlow: string | null;
  readError: string | null;
}

export interface NoFlowRun {
  connectorName: string;
  runProfileName: string;
  result: string;
  isRunComplete: boolean;
  startDate: string | null;
  endDate: string | null;
}

export interface NoFlowReading {
  ouDn: string;
  adConnector: { name: string; identifier: string };
  objectsInOu: number;
  selection: 'all' | 'spread-sample';
  objects: NoFlowReadObject[];
  runs: NoFlowRun[];
  scheduler: { syncCycleEnabled: boolean; syncCycleInProgress: boolean; runningConnector: string | null };
}

export type NoFlowOutcome =
  /** No synchronization run has completed on the AD connector since the rules were created. */
  | 'noCycleSinceRules'
  /** The OU holds no users, groups or contacts. */
  | 'empty'
  | 'allCarry'
  | 'someCarry'
  | 'noneCarry';

/** Why an object does not carry cloudNoFlow, in the words the card uses. */
export type NotCarryingReason =
  | 'not in the connector space'
  | 'not joined to a metaverse object'
  | 'cloudNoFlow not set'
  | 'cloudNoFlow is False'
  | 'could not be read';

export interface NoFlowEvaluation {
  outcome: NoFlowOutcome;
  /** The last completed synchronization run on the AD connector: the cycle the metaverse reflects. */
  lastSync: { runProfileName: string; startedAt: string | null; endedAt: string; result: string } | null;
  rulesCreatedAt: string | null;
  objectsInOu: number;
  read: number;
  sampled: boolean;
  carrying: string[];
  notCarrying: { dn: string; reason: NotCarryingReason; detail?: string }[];
  cycleRunningNow: boolean;
}

/** Run profiles that evaluate sync rules: Full Synchronization and Delta Synchronization. */
const SYNC_PROFILE = /synchroni[sz]ation/i;

/** Metaverse booleans print as True/False; a constant flow of 'true' may read back as text (**unverified**). */
export function carriesCloudNoFlow(value: string | null): boolean {
  return value !== null && value.trim().toLowerCase() === 'true';
}

export function lastSyncRun(runs: readonly NoFlowRun[]): NoFlowEvaluation['lastSync'] {
  let best: { run: NoFlowRun; at: number } | null = null;
  for (const run of runs) {
    if (!run.isRunComplete || !SYNC_PROFILE.test(run.runProfileName)) continue;
    const at = Date.parse(run.endDate ?? '');
    if (Number.isNaN(at)) continue;
    if (!best || at > best.at) best = { run, at };
  }
  if (!best) return null;
  const started = Date.parse(best.run.startDate ?? '');
  return {
    runProfileName: best.run.runProfileName,
    startedAt: Number.isNaN(started) ? null : new Date(started).toISOString(),
    endedAt: new Date(best.at).toISOString(),
    result: best.run.result,
  };
}

/**
 * `rulesCreatedAt`: when SyncShift's rules for this OU were created, from its own records; null when it
 * has none (the objects are judged as read, and the card says the comparison was not possible).
 */
export function evaluateNoFlow(reading: NoFlowReading, rulesCreatedAt: Date | null): NoFlowEvaluation {
  const lastSync = lastSyncRun(reading.runs);
  const carrying: string[] = [];
  const notCarrying: NoFlowEvaluation['notCarrying'] = [];
  for (const o of reading.objects) {
    if (carriesCloudNoFlow(o.cloudNoFlow)) carrying.push(o.dn);
    else notCarrying.push(whyNot(o));
  }
  // A run evaluates the rules that exist when it starts: one that started before them does not count.
  const noCycle =
    lastSync === null ||
    (rulesCreatedAt !== null && Date.parse(lastSync.startedAt ?? lastSync.endedAt) < rulesCreatedAt.getTime());
  const read = reading.objects.length;
  const outcome: NoFlowOutcome = noCycle
    ? 'noCycleSinceRules'
    : read === 0
      ? 'empty'
      : notCarrying.length === 0
        ? 'allCarry'
        : carrying.length === 0
          ? 'noneCarry'
          : 'someCarry';
  return {
    outcome,
    lastSync,
    rulesCreatedAt: rulesCreatedAt ? rulesCreatedAt.toISOString() : null,
    objectsInOu: reading.objectsInOu,
    read,
    sampled: reading.selection === 'spread-sample',
    carrying,
    notCarrying,
    cycleRunningNow: reading.scheduler.syncCycleInProgress || reading.scheduler.runningConnector !== null,
  };
}

function whyNot(o: NoFlowReadObject): NoFlowEvaluation['notCarrying'][number] {
  if (o.readError !== null) return { dn: o.dn, reason: 'could not be read', detail: o.readError };
  if (!o.inConnectorSpace) return { dn: o.dn, reason: 'not in the connector space' };
  if (o.mvObjectId === null) return { dn: o.dn, reason: 'not joined to a metaverse object' };
  if (o.cloudNoFlow === null) return { dn: o.dn, reason: 'cloudNoFlow not set' };
  return { dn: o.dn, reason: 'cloudNoFlow is False', detail: o.cloudNoFlow };
}
