import { z } from 'zod';
import { STEPS } from './steps';

/**
 * What a step card's button may send. Only opaque ids and what the person typed: which step, which
 * migration and which approval are looked up in the store, and whatever the card claims beyond that
 * is compared with the stored record, never believed.
 */

export const STEP_VERBS = {
  refresh: 'step.refresh',
  confirm: 'step.confirm',
  skip: 'step.skip',
  run: 'step.run',
  requestApproval: 'step.requestApproval',
  approve: 'step.approve',
  reject: 'step.reject',
  undo: 'step.undo',
  acknowledge: 'step.acknowledge',
  /** An approver accepts one readiness blocker, named by the opaque id the report gave it. */
  acceptBlocker: 'step.acceptBlocker',
  /** Step 12: ask for approval to create a canary in the pilot OU, or to delete it again. */
  canaryCreate: 'step.canaryCreate',
  canaryDelete: 'step.canaryDelete',
  /** Step 12: an approver waives the canary, with a reason. */
  waiveCanary: 'step.waiveCanary',
} as const;
export type StepVerb = (typeof STEP_VERBS)[keyof typeof STEP_VERBS];

const id = z.string().uuid();
// Inputs on the card (`ou`, `reason`) travel with every button of that card, so they are allowed on
// every verb; only the verbs that read them keep them. Unknown keys are dropped, not trusted.
const stepData = z.object({
  migrationId: id,
  n: z.number().int().min(1).max(STEPS.length),
  ou: z.string().optional(),
  reason: z.string().optional(),
  /** The password hash sync answer on steps that ask it (runbook steps' asksPhs). */
  phs: z.enum(['on', 'off']).optional(),
});
const voteData = stepData.extend({ approvalId: id });
const acceptData = stepData.extend({ findingId: id });

export type StepAction =
  | { verb: typeof STEP_VERBS.approve | typeof STEP_VERBS.reject; migrationId: string; n: number; approvalId: string }
  | {
      verb: typeof STEP_VERBS.skip | typeof STEP_VERBS.waiveCanary | typeof STEP_VERBS.acknowledge;
      migrationId: string;
      n: number;
      reason: string;
    }
  | { verb: typeof STEP_VERBS.run; migrationId: string; n: number; ou: string }
  | { verb: typeof STEP_VERBS.acceptBlocker; migrationId: string; n: number; findingId: string; reason: string }
  | {
      verb: typeof STEP_VERBS.confirm | typeof STEP_VERBS.requestApproval;
      migrationId: string;
      n: number;
      phs?: 'on' | 'off';
    }
  | {
      verb:
        | typeof STEP_VERBS.refresh
        | typeof STEP_VERBS.undo
        | typeof STEP_VERBS.canaryCreate
        | typeof STEP_VERBS.canaryDelete;
      migrationId: string;
      n: number;
    };

/** `fields` names what was missing or malformed, for the refusal and the audit. */
export type ParsedStepAction = { ok: true; action: StepAction } | { ok: false; fields: string[]; problem: string };

const VERBS: ReadonlySet<string> = new Set(Object.values(STEP_VERBS));

export function isStepVerb(verb: string): verb is StepVerb {
  return VERBS.has(verb);
}

/** Checks an invoke's verb and data against what the card can send. */
export function parseStepAction(verb: string, data: unknown): ParsedStepAction {
  if (!isStepVerb(verb))
    return { ok: false, fields: ['verb'], problem: `"${verb.slice(0, 40)}" is not a button of a step card.` };
  const vote = verb === STEP_VERBS.approve || verb === STEP_VERBS.reject;
  const accept = verb === STEP_VERBS.acceptBlocker;
  const parsed = (vote ? voteData : accept ? acceptData : stepData).safeParse(data);
  if (!parsed.success) {
    const fields = [...new Set(parsed.error.issues.map((i) => (i.path.length > 0 ? String(i.path[0]) : 'data')))];
    return { ok: false, fields, problem: `The button's data is missing or malformed (${fields.join(', ')}).` };
  }
  const { migrationId, n } = parsed.data;
  switch (verb) {
    case STEP_VERBS.approve:
    case STEP_VERBS.reject:
      return {
        ok: true,
        action: { verb, migrationId, n, approvalId: (parsed.data as z.infer<typeof voteData>).approvalId },
      };
    case STEP_VERBS.skip:
    case STEP_VERBS.acknowledge:
    case STEP_VERBS.waiveCanary:
      return { ok: true, action: { verb, migrationId, n, reason: parsed.data.reason ?? '' } };
    case STEP_VERBS.acceptBlocker:
      return {
        ok: true,
        action: {
          verb,
          migrationId,
          n,
          findingId: (parsed.data as z.infer<typeof acceptData>).findingId,
          reason: parsed.data.reason ?? '',
        },
      };
    case STEP_VERBS.run:
      return { ok: true, action: { verb, migrationId, n, ou: parsed.data.ou ?? '' } };
    case STEP_VERBS.confirm:
    case STEP_VERBS.requestApproval: {
      const phs = (parsed.data as { phs?: 'on' | 'off' }).phs;
      return { ok: true, action: { verb, migrationId, n, ...(phs ? { phs } : {}) } };
    }
    default:
      return { ok: true, action: { verb, migrationId, n } };
  }
}
