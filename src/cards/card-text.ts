/**
 * Text of every text element in a card, in order: roughly what a person reads on it. A
 * RichTextBlock is the text of its runs; a fact (or a ColumnSet row of them) is "title: value".
 */
export function cardText(card: unknown): string {
  const parts: string[] = [];
  const walk = (node: unknown): void => {
    if (Array.isArray(node)) node.forEach(walk);
    else if (node && typeof node === 'object') {
      const o = node as Record<string, unknown>;
      if (o.type === 'TextBlock' && typeof o.text === 'string') parts.push(o.text);
      if (o.type === 'RichTextBlock') parts.push(inlineText(o));
      if (o.type === 'FactSet' && Array.isArray(o.facts))
        for (const f of o.facts as { title: string; value: string }[]) parts.push(`${f.title}: ${f.value}`);
      // A fact row: a column for the title, one for the value.
      if (o.type === 'ColumnSet') {
        parts.push(
          ((o.columns ?? []) as { items?: unknown[] }[]).map((c) => (c.items ?? []).map(cellText).join(' ')).join(': '),
        );
        return;
      }
      if (o.type === 'RichTextBlock') return;
      for (const [k, v] of Object.entries(o)) if (k !== 'text') walk(v);
    }
  };
  walk(card);
  return parts.join('\n');
}

function inlineText(block: Record<string, unknown>): string {
  return ((block.inlines ?? []) as unknown[])
    .map((i) => (typeof i === 'string' ? i : String((i as { text?: unknown }).text ?? '')))
    .join('');
}

function cellText(item: unknown): string {
  const o = item as Record<string, unknown>;
  if (o.type === 'RichTextBlock') return inlineText(o);
  return typeof o.text === 'string' ? o.text : '';
}
