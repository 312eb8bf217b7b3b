/**
 * Text shown on a card exactly as stored: names, DNs, anchors, UPNs, reasons people typed.
 *
 * Teams and the Agents Playground read a TextBlock's text and a FactSet's titles and values as
 * markdown: `CN=Doe\, Jane` shows as `CN=Doe, Jane`, `\\` as `\`, `[Approve here](…)` as a
 * link, `<n>` disappears. The Adaptive Cards schema defines a TextRun (inside a RichTextBlock) as text
 * without markdown, so the templates put every value into TextRuns and keep TextBlocks for their own
 * fixed words (test/unit/card-literal.test.ts checks both; test/browser/playground.test.ts reads
 * the result in the Agents Playground).
 *
 * One rewrite remains inside a TextRun: the renderers turn `{{DATE(…)}}` and `{{TIME(…)}}` into
 * local dates. It only matches within one run, so the text is cut into runs between two `{`; the
 * runs sit side by side, and copying them gives the stored text back.
 */
export type Literal = string[];

/** The runs of a TextRun list (templates: `"inlines": [{ "$data": "${field}", "type": "TextRun", "text": "${$data}" }]`). */
export function literal(text: string): Literal {
  return text === '' ? [] : text.split(/(?<=\{)(?=\{)/);
}

/** Lines shown one under the other, each its own RichTextBlock (`{ "$data": "${field}" … "${text}" }`). */
export function literalLines(lines: readonly string[]): { text: Literal }[] {
  return lines.filter((l) => l !== '').map((l) => ({ text: literal(l) }));
}

/**
 * Title/value rows, the literal counterpart of a FactSet: one ColumnSet per fact, the same column
 * weights in every row so they line up. Not a Table: clients disagree on the name of the property
 * that stops its first row being drawn as a header.
 */
export function literalFacts(facts: readonly { title: string; value: string }[]): { title: Literal; value: Literal }[] {
  return facts.map((f) => ({ title: literal(f.title), value: literal(f.value === '' ? '—' : f.value) }));
}
