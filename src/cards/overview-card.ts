import { currentStep, describe, type StepState } from '../runbook/runbook';
import { STEPS } from '../runbook/steps';
import { literal, literalFacts } from './literal';
import { expandTemplate, type AdaptiveCardJson } from './render';

export function renderOverviewCard(input: { name: string; steps: readonly StepState[] }): AdaptiveCardJson {
  const current = currentStep(input.steps);
  const done = input.steps.filter((s) => s.status === 'done' || s.status === 'skipped').length;
  return expandTemplate('overview', {
    name: literal(`Migration "${input.name}"`),
    summary: literal(
      current === null
        ? 'All 18 steps are finished.'
        : `${done} of 18 steps finished · current: step ${current}, ${STEPS[current - 1]!.title}.`,
    ),
    steps: literalFacts(
      STEPS.map((d) => {
        const s = input.steps.find((x) => x.n === d.n);
        const status = s ? describe(s.status) + (s.reason ? ` (${s.reason})` : '') : 'not started';
        return { title: `${d.n === current ? '▶ ' : ''}${d.n}. ${d.title}`, value: status };
      }),
    ),
    hint: literal("Type /step <n> to show a step's card again."),
  });
}
