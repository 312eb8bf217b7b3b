// The UMD bundle: the package's ESM entry does not load under Node's CommonJS resolver.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const AC = require('adaptivecards/dist/adaptivecards.js') as typeof import('adaptivecards');

/** Teams refuses messages over about 100 KB (UTF-16); its docs advise staying under 80 KB. */
export const TEAMS_CARD_BYTES_LIMIT = 80 * 1024;

/**
 * Parses a card with the Adaptive Cards SDK and returns every problem it reports: unknown element
 * or action types, invalid values, and the SDK's own validation. An empty array means the card is valid.
 * `literalText`: strings the card shows on purpose (a name someone typed) that contain `${`.
 */
export function cardProblems(card: unknown, options: { literalText?: readonly string[] } = {}): string[] {
  const problems: string[] = [];
  const json = card as { type?: string; version?: string };
  if (json.type !== 'AdaptiveCard') problems.push('type is not AdaptiveCard');
  if (json.version !== '1.5') problems.push(`version is ${json.version}, expected 1.5`);
  const text = JSON.stringify(card);
  const withoutLiterals = (options.literalText ?? []).reduce(
    (t, l) => t.split(JSON.stringify(l).slice(1, -1)).join(''),
    text,
  );
  if (withoutLiterals.includes('${')) problems.push('unexpanded template expression');
  const utf16Bytes = text.length * 2;
  if (utf16Bytes > TEAMS_CARD_BYTES_LIMIT)
    problems.push(`card is ${utf16Bytes} bytes (UTF-16), over ${TEAMS_CARD_BYTES_LIMIT}`);
  const ac = new AC.AdaptiveCard();
  const context = new AC.SerializationContext();
  ac.parse(card as object, context);
  for (let i = 0; i < context.eventCount; i++) {
    const message = context.getEventAt(i).message;
    // Teams' chart elements are not in the Adaptive Cards SDK; they are allowed when they carry a fallback (checked below).
    if (/^Unknown element type "Chart\.[A-Za-z.]+"/.test(message)) continue;
    problems.push(`parse: ${message}`);
  }
  for (const chart of findCharts(card))
    if (!chart.fallback) problems.push(`${String(chart.type)} has no fallback for clients without charts`);
  for (const event of ac.validateProperties().validationEvents) problems.push(`validate: ${event.message}`);
  return problems;
}

function findCharts(node: unknown): Array<Record<string, unknown>> {
  if (Array.isArray(node)) return node.flatMap(findCharts);
  if (typeof node !== 'object' || node === null) return [];
  const obj = node as Record<string, unknown>;
  const own = typeof obj.type === 'string' && obj.type.startsWith('Chart.') ? [obj] : [];
  return [
    ...own,
    ...Object.entries(obj)
      .filter(([k]) => k !== 'fallback')
      .flatMap(([, v]) => findCharts(v)),
  ];
}
