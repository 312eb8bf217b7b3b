/** One line of the benchmark table. `pass` is undefined for rows that have no target. */
export interface ResultRow {
  section: string;
  metric: string;
  value: string;
  target?: string;
  pass?: boolean;
}

/** A Markdown table; `|` inside cells is escaped so a value cannot break the layout. */
export function formatTable(rows: readonly ResultRow[]): string {
  const cell = (text: string): string => text.replace(/\|/g, '\\|');
  const lines = ['| section | metric | value | target | result |', '| --- | --- | --- | --- | --- |'];
  for (const row of rows) {
    const result = row.pass === undefined ? '' : row.pass ? 'PASS' : 'FAIL';
    lines.push(
      `| ${cell(row.section)} | ${cell(row.metric)} | ${cell(row.value)} | ${cell(row.target ?? '')} | ${result} |`,
    );
  }
  return lines.join('\n');
}

export function ms(value: number): string {
  return `${value < 10 ? value.toFixed(1) : Math.round(value).toLocaleString('en-US')} ms`;
}

export function seconds(valueMs: number): string {
  return `${(valueMs / 1000).toFixed(1)} s`;
}

export function perSecond(count: number, elapsedMs: number): string {
  return `${Math.round(count / (elapsedMs / 1000)).toLocaleString('en-US')}/s`;
}

export function mb(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(0)} MB`;
}

/** Ratio of a measured time to its baseline, against a "within X times" target. */
export function ratioRow(
  section: string,
  metric: string,
  measuredMs: number,
  baselineMs: number,
  limit: number,
): ResultRow {
  const ratio = measuredMs / baselineMs;
  return {
    section,
    metric,
    value: `${ratio.toFixed(2)}x (${seconds(measuredMs)} vs ${seconds(baselineMs)})`,
    target: `≤ ${limit}x`,
    pass: ratio <= limit,
  };
}
