/** Text of every TextBlock and fact in a card, in order: roughly what a person reads on it. */
export function cardText(card: unknown): string {
  const parts: string[] = [];
  const walk = (node: unknown): void => {
    if (Array.isArray(node)) node.forEach(walk);
    else if (node && typeof node === 'object') {
      const o = node as Record<string, unknown>;
      if (o.type === 'TextBlock' && typeof o.text === 'string') parts.push(o.text);
      if (o.type === 'FactSet' && Array.isArray(o.facts)) for (const f of o.facts as { title: string; value: string }[]) parts.push(`${f.title}: ${f.value}`);
      for (const [k, v] of Object.entries(o)) if (k !== 'text') walk(v);
    }
  };
  walk(card);
  return parts.join('\n');
}
