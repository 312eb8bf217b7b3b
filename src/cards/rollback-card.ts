import type { RollbackPartState, RollbackPlan } from '../runbook/rollback';
import { renderMessageCard } from './message-cards';
import type { AdaptiveCardJson } from './render';

const PILOT_TUTORIAL = 'https://learn.microsoft.com/entra/identity/hybrid/cloud-sync/tutorial-pilot-aadc-aadccp';

const STATE_WORDS: Record<RollbackPartState, string> = {
  undone: 'undone already',
  'not-needed': 'nothing to take back',
  next: 'next: its undo is asked for on the step card below',
  waiting: 'after the part before it',
};

/**
 * `/rollback pilot`: the plan as read from the stored steps, part by part, with each step's status.
 * The order is the pilot tutorial's (Troubleshooting), named on the card.
 */
export function renderRollbackPlanCard(plan: RollbackPlan): AdaptiveCardJson {
  const facts = plan.parts.map((p) => ({
    title: `Step ${p.n}: ${p.title}`,
    // A refused plan asks for nothing, so no part is "next" on it.
    value: `${p.status}; ${!plan.ok && (p.state === 'next' || p.state === 'waiting') ? 'still to undo' : STATE_WORDS[p.state]}`,
  }));
  const items = plan.parts.map((p) => `Step ${p.n}: ${p.does}`);
  const source = `Order: Microsoft's pilot tutorial, Troubleshooting (${PILOT_TUTORIAL}).`;
  if (!plan.ok)
    return renderMessageCard({
      title: 'Pilot rollback refused',
      text: plan.reason,
      hint: `Nothing was requested. ${source}`,
      tone: 'warning',
      facts,
      items,
    });
  if (plan.next === null)
    return renderMessageCard({
      title: 'Pilot rollback: nothing left to roll back',
      text: 'No step of the pilot (12, 11, 9, 8) holds a change SyncShift could take back.',
      hint: source,
      tone: 'good',
      facts,
      items,
    });
  return renderMessageCard({
    title: 'Pilot rollback',
    text: `Step ${plan.next}'s undo is asked for on its card below (which says so if it was refused); an approver approves it there. Once it is done, send /rollback pilot again for the next part.`,
    hint: source,
    tone: 'warning',
    facts,
    items,
  });
}
