import { COMMAND_HELP } from '../runbook/commands';
import { literal, literalFacts, literalLines } from './literal';
import { expandTemplate, type AdaptiveCardJson } from './render';

export interface MessageCardInput {
  title: string;
  text: string;
  hint?: string;
  tone?: 'default' | 'good' | 'warning' | 'attention';
  facts?: { title: string; value: string }[];
  items?: string[];
  /** A button that opens a URL the bot made (a download link); the text should show the URL too, for copying. */
  link?: { title: string; url: string };
  /** Buttons (Action.Execute) whose data only names stored records by id; the bot decides from its store. */
  buttons?: { title: string; verb: string; data: Record<string, string> }[];
}

const COLORS = { default: 'Default', good: 'Good', warning: 'Warning', attention: 'Attention' } as const;

export function renderMessageCard(input: MessageCardInput): AdaptiveCardJson {
  return expandTemplate('message', {
    title: literal(input.title),
    // Paragraphs as separate blocks: how a TextRun shows a line break differs between clients.
    paragraphs: literalLines(input.text.split('\n\n')),
    hint: literal(input.hint ?? ''),
    color: COLORS[input.tone ?? 'default'],
    facts: literalFacts(input.facts ?? []),
    items: literalLines(input.items ?? []),
    links: input.link ? [input.link] : [],
    buttons: input.buttons ?? [],
  });
}

/** `intro` explains why help is shown (an unknown command, say). */
export function renderHelpCard(intro = ''): AdaptiveCardJson {
  return expandTemplate('help', {
    intro: literal(intro),
    commands: COMMAND_HELP.map((c) => ({
      usage: literal(c.usage),
      description: literal(c.description),
      example: literal(`Example: ${c.example}`),
    })),
  });
}

/** Commands that need a migration, sent where there is none. */
export function renderNoMigrationCard(): AdaptiveCardJson {
  return renderMessageCard({
    title: 'No migration here yet',
    text: 'This conversation has no migration.',
    hint: 'Start one with /migration start "<name>".',
    tone: 'warning',
  });
}
