import * as ACData from 'adaptivecards-templating';
import helpTemplate from './templates/help.json';
import messageTemplate from './templates/message.json';
import verifyTemplate from './templates/verify.json';
import stepTemplate from './templates/step.json';
import overviewTemplate from './templates/overview.json';
import summaryTemplate from './templates/summary.json';
import wavesTemplate from './templates/waves.json';

/** An Adaptive Card as JSON, ready to be an attachment's content. */
export type AdaptiveCardJson = Record<string, unknown>;

export const ADAPTIVE_CARD_CONTENT_TYPE = 'application/vnd.microsoft.card.adaptive';

const templates = {
  help: new ACData.Template(helpTemplate),
  message: new ACData.Template(messageTemplate),
  verify: new ACData.Template(verifyTemplate),
  step: new ACData.Template(stepTemplate),
  overview: new ACData.Template(overviewTemplate),
  summary: new ACData.Template(summaryTemplate),
  waves: new ACData.Template(wavesTemplate),
};

export type TemplateName = keyof typeof templates;

export function expandTemplate(name: TemplateName, data: object): AdaptiveCardJson {
  return templates[name].expand({ $root: data }) as AdaptiveCardJson;
}

/** Number formatting used on every card, so counts read the same everywhere. */
export function formatCount(n: number): string {
  return n.toLocaleString('en-US');
}
