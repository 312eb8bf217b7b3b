import { z } from 'zod';
import type { Directory } from '../../directory/types';
import {
  MAX_NO_FLOW_OBJECTS,
  noFlowObject,
  runProfileRun,
  schedulerState,
  type ConnectorSummary,
  type NoFlowCheckResult,
} from '../../relay/protocol';
import { isDnWithin } from '../../runbook/dn';
import { AdsyncError } from '../../runbook/sync-rules';
import { runPowerShellScript } from '../powershell/executor';
import { noFlowCheckScript } from '../powershell/scripts';
import { resolveOu } from '../resolve-ou';
import { listRules, type AdsyncRunOptions } from './adsync';

/**
 * Issue 16: after the first Connect Sync cycle that follows the no-flow rules, do the OU's objects
 * carry cloudNoFlow in the metaverse? Read only. The agent lists the OU's objects over LDAP (it is on
 * the Connect Sync server and reads the forest for /readiness too), keeps at most
 * MAX_NO_FLOW_OBJECTS of them, and asks Connect Sync about each one by DN: Connect Sync cannot be
 * asked for "every object under an OU" without reading its whole connector space.
 */

const scriptObject = noFlowObject.omit({ adType: true });
const scriptResult = z.object({
  objects: z.array(scriptObject).max(MAX_NO_FLOW_OBJECTS),
  runs: z.array(runProfileRun).max(50),
  scheduler: schedulerState.nullable(),
});

/** SYNCSHIFT_PARAMS is one environment variable (30,000 characters); DNs go in batches well below it. */
const MAX_BATCH_CHARS = 20_000;

export interface NoFlowCheckInput {
  ou: string;
  /** Throws to refuse the resolved OU (the agent's allow-list), before anything is read. */
  checkBase: (baseDn: string) => void;
  /** Told how many objects Connect Sync has been asked about so far. */
  onProgress?: (read: number) => void | Promise<void>;
}

export async function checkNoFlow(
  directory: Directory,
  input: NoFlowCheckInput,
  run: AdsyncRunOptions,
): Promise<NoFlowCheckResult> {
  const { baseDn } = await resolveOu(directory, input.ou);
  input.checkBase(baseDn);
  const found: { dn: string; type: string }[] = [];
  await directory.scanUsers(baseDn, {
    objectTypes: 'all',
    onPage: (page) => {
      for (const u of page) found.push({ dn: u.dn, type: u.objectType ?? 'user' });
    },
  });
  const chosen = spreadSample(found, MAX_NO_FLOW_OBJECTS);
  const connector = pickAdConnector((await listRules(run)).connectors, baseDn);

  const objects: NoFlowCheckResult['objects'] = [];
  let runs: NoFlowCheckResult['runs'] = [];
  let scheduler: NoFlowCheckResult['scheduler'] | null = null;
  const batches = batchByLength(chosen, MAX_BATCH_CHARS);
  // The runs are read with the first batch, or alone when the OU is empty.
  for (let i = 0; i < Math.max(batches.length, 1); i++) {
    const batch = batches[i] ?? [];
    const out = await runPowerShellScript({
      script: noFlowCheckScript,
      params: {
        connectorName: connector.name,
        connectorId: connector.identifier,
        dns: batch.map((o) => o.dn),
        readRuns: i === 0,
      },
      resultSchema: scriptResult,
      timeoutMs: run.timeoutMs ?? 300_000,
      ...(run.executable !== undefined ? { executable: run.executable } : {}),
      ...(run.env !== undefined ? { env: run.env } : {}),
    });
    if (out.objects.length !== batch.length)
      throw new AdsyncError(
        'ADSYNC.BAD_OUTPUT',
        `The no-flow check asked Connect Sync about ${batch.length} objects and got ${out.objects.length} answers.`,
        { hint: 'Send the agent log to the SyncShift maintainers; run the check again.' },
      );
    out.objects.forEach((o, j) => objects.push({ ...o, dn: batch[j]!.dn, adType: batch[j]!.type }));
    if (i === 0) {
      runs = out.runs;
      scheduler = out.scheduler;
    }
    await input.onProgress?.(objects.length);
  }
  if (!scheduler)
    throw new AdsyncError('ADSYNC.BAD_OUTPUT', 'The no-flow check did not return the scheduler state.', {
      hint: 'Send the agent log to the SyncShift maintainers.',
    });
  return {
    ouDn: baseDn,
    adConnector: { name: connector.name, identifier: connector.identifier },
    objectsInOu: found.length,
    selection: found.length > MAX_NO_FLOW_OBJECTS ? 'spread-sample' : 'all',
    objects,
    runs,
    scheduler,
  };
}

/**
 * All items when there are at most `max`; otherwise `max` of them spread evenly over the directory's
 * order, so a sample is not just the first OU's objects of a large subtree.
 */
export function spreadSample<T>(items: readonly T[], max: number): T[] {
  if (items.length <= max) return [...items];
  const out: T[] = [];
  for (let i = 0; i < max; i++) out.push(items[Math.floor((i * items.length) / max)]!);
  return out;
}

function batchByLength<T extends { dn: string }>(items: readonly T[], maxChars: number): T[][] {
  const batches: T[][] = [];
  let current: T[] = [];
  let chars = 0;
  for (const item of items) {
    // JSON escaping can double a DN's length (backslashes, quotes); count it as JSON.
    const size = JSON.stringify(item.dn).length + 1;
    if (current.length > 0 && chars + size > maxChars) {
      batches.push(current);
      current = [];
      chars = 0;
    }
    current.push(item);
    chars += size;
  }
  if (current.length > 0) batches.push(current);
  return batches;
}

/** The AD connector whose partition holds the OU (with one AD connector, that one if it lists no partitions). */
export function pickAdConnector(connectors: readonly ConnectorSummary[], ouDn: string): ConnectorSummary {
  const ads = connectors.filter((c) => c.type === 'AD');
  const holding = ads.filter((c) => c.partitions.some((p) => isDnWithin(ouDn, p)));
  const chosen = ads.length === 1 && (holding.length === 1 || ads[0]!.partitions.length === 0) ? ads : holding;
  if (chosen.length !== 1) {
    throw new AdsyncError(
      'ADSYNC.CONNECTOR_NOT_FOUND',
      ads.length === 0
        ? 'Connect Sync on this server has no Active Directory connector, so the no-flow check cannot read the OU.'
        : chosen.length === 0
          ? `No Active Directory connector on this server covers ${ouDn}, so the no-flow check cannot read it.`
          : `Several Active Directory connectors cover ${ouDn}; the no-flow check reads one.`,
      {
        hint: 'Check that /server names the active Connect Sync server and that the OU is in a forest it syncs (Synchronization Service Manager, Connectors); otherwise look the objects up there by hand.',
        details: { adConnectors: ads.map((c) => ({ name: c.name, partitions: c.partitions })) },
      },
    );
  }
  return chosen[0]!;
}
