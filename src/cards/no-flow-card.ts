import type { NoFlowEvaluation } from '../runbook/no-flow-check';
import { renderMessageCard } from './message-cards';
import type { AdaptiveCardJson } from './render';

/** DNs listed on one card; the counts always cover every object read. */
const LIST_LIMIT = 50;

export interface NoFlowCardInput {
  /** "pilot" or the wave's name. */
  target: string;
  ouDn: string;
  /** The agent on the migration's Connect Sync server that read it. */
  server: string;
  adConnector: string;
  maxObjects: number;
  evaluation: NoFlowEvaluation;
}

const TITLES: Record<NoFlowEvaluation['outcome'], string> = {
  noCycleSinceRules: 'No Connect Sync cycle since the rules were created',
  empty: 'The OU has no users, groups or contacts to check',
  allCarry: 'Every object read carries cloudNoFlow',
  someCarry: 'Some objects do not carry cloudNoFlow',
  noneCarry: 'No object read carries cloudNoFlow',
};

/** The no-flow check's result card; every DN and value shown literally (renderMessageCard). */
export function renderNoFlowCard(input: NoFlowCardInput): AdaptiveCardJson {
  const e = input.evaluation;
  const selection = e.sampled
    ? `${e.read} of the ${e.objectsInOu} objects in the OU (more than ${input.maxObjects}: an evenly spread sample in directory order)`
    : `all ${e.read} objects in the OU (the check reads all when there are at most ${input.maxObjects})`;
  const facts = [
    { title: 'OU', value: input.ouDn },
    { title: 'For', value: input.target },
    { title: 'Connect Sync server', value: input.server },
    { title: 'AD connector', value: input.adConnector },
    {
      title: 'Last sync run',
      value: e.lastSync
        ? `${e.lastSync.runProfileName} ended ${e.lastSync.endedAt} (${e.lastSync.result})`
        : 'none completed on the AD connector',
    },
    { title: 'Rules created', value: e.rulesCreatedAt ?? 'not recorded by SyncShift' },
    { title: 'Read', value: selection },
    { title: 'Carrying cloudNoFlow', value: String(e.carrying.length) },
    { title: 'Not carrying it', value: String(e.notCarrying.length) },
  ];
  if (e.cycleRunningNow) facts.push({ title: 'Sync cycle', value: 'running now' });
  const items = [
    ...e.notCarrying
      .slice(0, LIST_LIMIT)
      .map((o) => `Not carrying: ${o.dn} (${o.reason}${o.detail ? `: ${o.detail}` : ''})`),
    ...(e.notCarrying.length > LIST_LIMIT ? [`… and ${e.notCarrying.length - LIST_LIMIT} more not carrying it`] : []),
  ];
  return renderMessageCard({
    title: `${TITLES[e.outcome]}: ${input.target}`,
    text: textFor(e),
    facts,
    items,
    hint: hintFor(e),
    tone: e.outcome === 'allCarry' ? 'good' : e.outcome === 'empty' ? 'default' : 'warning',
  });
}

function textFor(e: NoFlowEvaluation): string {
  const source =
    'Read on the Connect Sync server: each object with Get-ADSyncCSObject on the AD connector and its metaverse object with Get-ADSyncMVObject; the runs with Get-ADSyncRunProfileResult.';
  switch (e.outcome) {
    case 'noCycleSinceRules':
      return `${source}\n\nConnect Sync sets cloudNoFlow only when a synchronization run evaluates the new rules, and none has completed on the AD connector since they were created, so the values read say nothing about the rules yet.`;
    case 'empty':
      return `${source}\n\nThe OU holds no users, groups or contacts.`;
    case 'allCarry':
      return `${source}\n\nConnect Sync no longer exports adds, deletes and non-reference updates of these objects to Entra (reference attributes such as manager and member still flow).`;
    case 'someCarry':
    case 'noneCarry':
      return `${source}\n\nThe objects listed below would still be exported to Entra by Connect Sync.`;
  }
}

function hintFor(e: NoFlowEvaluation): string {
  switch (e.outcome) {
    case 'noCycleSinceRules':
      return e.cycleRunningNow
        ? 'A cycle is running now; run the check again when it has finished.'
        : 'Start the scheduler (step 13) or wait for the next cycle, then run the check again.';
    case 'empty':
      return 'Check the OU name; an empty OU has nothing to move.';
    case 'allCarry':
      return e.sampled ? 'Only a sample was read; the counts above cover that sample.' : '';
    case 'someCarry':
    case 'noneCarry':
      return 'Check in the Synchronization Rules Editor that the SyncShift no-flow rules for this OU are enabled and scoped to it, and that the last cycle was a full synchronization (rule changes need one); then run the check again.';
  }
}
