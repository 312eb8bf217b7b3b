import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { USERS_SELECT } from '../../src/cloud/graph-cloud-directory';
import type { FakeConnector } from '../../test/helpers/fake-connector';
import { randomUUID } from 'node:crypto';
import {
  benchDc,
  cardNumber,
  freshSchema,
  queryPg,
  startAgentProcess,
  startBotProcess,
  startMigration,
  verifyOu,
  type BenchDc,
} from '../lib/harness';
import { spawnNode, waitForOutput } from '../lib/processes';

export interface ExpectedCounts {
  onPrem: number;
  cloud: number;
  missing: number;
  extra: number;
  mismatched: number;
}

/** The bot's own account of a verify's cloud refresh (its "cloud copy refreshed" log line). */
export interface CloudRefreshLog {
  cloudRead: 'full' | 'delta';
  reason?: string;
  changes: number;
  pages: number;
  ms: number;
}

export interface VerifyRun {
  totalMs: number;
  onPremMs: number;
  /** From the stored scan to the final card: reading the copy back and comparing (or paging Graph). */
  cloudAfterScanMs: number;
  refresh: CloudRefreshLog | null;
  card: ExpectedCounts;
  /** Empty when the card shows exactly the expected numbers. */
  wrong: string[];
}

export interface VerifyMeasurement {
  label: string;
  first: VerifyRun;
  /** A second verify of the same OU after `changed` users changed in the tenant. */
  repeat?: VerifyRun & { changed: { updated: number; deleted: number } };
  onPremUsers: number;
  botIdleRss: number;
  /** Peak after the first verify (VmHWM), before any repeat. */
  botPeakRss: number;
  agentIdleRss: number;
  agentPeakRss: number;
}

const AGENT_PAGE_SIZE = 500;

function refreshLogs(log: string): CloudRefreshLog[] {
  return log
    .split('\n')
    .filter((line) => line.includes('"cloud copy refreshed"'))
    .map((line) => JSON.parse(line) as CloudRefreshLog);
}

/**
 * `/verify pilot` through the real path: activity over HTTP → bot (dist/main.js, PostgreSQL)
 * → relay → agent process (dist/agent/cli.js) → LDAPS → bot → Graph simulator → card, in a
 * conversation with a migration (so the cloud side goes through the migration's copy). Fresh
 * processes per measurement, so VmHWM is this verify's peak. With `repeatChanges`, the tenant then
 * changes that many users (control route of graph-sim-process) and the same OU is verified again.
 */
export async function measureVerify(input: {
  label: string;
  ou: string;
  graphUrl: string;
  controlUrl?: string;
  connector: FakeConnector;
  expected: ExpectedCounts;
  repeatChanges?: number;
  moduleList?: string;
}): Promise<VerifyMeasurement> {
  const dc = benchDc();
  const databaseUrl = await freshSchema(`bench_verify_${input.label}`);
  const bot = await startBotProcess({
    graphUrl: input.graphUrl,
    databaseUrl,
    ...(input.moduleList ? { moduleList: input.moduleList } : {}),
  });
  const agent = startAgentProcess(bot.url, dc, AGENT_PAGE_SIZE);
  const conversationId = `19:bench-${randomUUID()}@thread.tacv2`;
  try {
    await startMigration(bot.url, input.connector, conversationId);
    // Let both settle (the agent's first long poll) before reading their idle size.
    await new Promise((r) => setTimeout(r, 1500));
    const botIdleRss = bot.rss();
    const agentIdleRss = agent.rss();
    if (input.moduleList) bot.child.kill('SIGUSR2');
    const run = async (expected: ExpectedCounts): Promise<VerifyRun> => {
      const logsBefore = refreshLogs(bot.log()).length;
      const outcome = await verifyOu(bot.url, input.connector, input.ou, 15 * 60_000, conversationId).catch(
        (err: Error) => {
          throw new Error(
            `${err.message}\nagent log:\n${agent.log().slice(-2000)}\nbot log:\n${bot.log().slice(-2000)}`,
          );
        },
      );
      const [timing] = await queryPg<{ leased: Date; finished: Date }>(
        databaseUrl,
        `SELECT a.at AS leased, j.finished_at AS finished FROM jobs j JOIN audit_log a ON a.target = j.id::text AND a.action = 'job.leased'
          WHERE j.kind = 'directory.scanOu' ORDER BY j.created_at DESC LIMIT 1`,
      );
      if (!timing) throw new Error('The verify job or its lease is not in the store.');
      const doneWall = performance.timeOrigin + outcome.doneAt;
      const text = outcome.text;
      const card: ExpectedCounts = {
        onPrem: cardNumber(text, 'On-premises users'),
        cloud: cardNumber(text, 'Cloud users \\(synced\\)'),
        missing: cardNumber(text, 'Missing in cloud'),
        extra: cardNumber(text, 'Extra in cloud'),
        mismatched: cardNumber(text, 'ImmutableId differs'),
      };
      const wrong = (Object.keys(card) as (keyof ExpectedCounts)[])
        .filter((k) => card[k] !== expected[k])
        .map((k) => `${k}: card ${card[k]}, expected ${expected[k]}`);
      return {
        totalMs: outcome.doneAt - outcome.sentAt,
        onPremMs: timing.finished.getTime() - timing.leased.getTime(),
        cloudAfterScanMs: doneWall - timing.finished.getTime(),
        refresh: refreshLogs(bot.log())[logsBefore] ?? null,
        card,
        wrong,
      };
    };
    const first = await run(input.expected);
    const botPeakRss = bot.peakRss();
    const agentPeakRss = agent.peakRss();
    let repeat: VerifyMeasurement['repeat'];
    if (input.repeatChanges && input.controlUrl) {
      const res = await fetch(
        `${input.controlUrl}/bench/change?count=${input.repeatChanges}&under=${encodeURIComponent(`${input.ou},DC=contoso,DC=com`)}`,
        { method: 'POST' },
      );
      const changed = (await res.json()) as { updated: number; deleted: number };
      // Deleted users were in the OU's cloud side: they leave the cloud count. The rest is checked by the property test.
      const again = await run({ ...first.card, cloud: first.card.cloud - changed.deleted });
      again.wrong = again.wrong.filter((w) => w.startsWith('cloud:') || w.startsWith('onPrem:'));
      repeat = { ...again, changed };
    }
    return {
      label: input.label,
      first,
      ...(repeat ? { repeat } : {}),
      onPremUsers: first.card.onPrem,
      botIdleRss,
      botPeakRss,
      agentIdleRss,
      agentPeakRss,
    };
  } finally {
    await agent.stop();
    await bot.stop();
  }
}

/** RSS of a process that loads the bot's library files and nothing else (bench/stack-floor.ts). */
export async function measureStackFloor(moduleList: string): Promise<{ rss: number; loaded: string }> {
  const proc = spawnNode('bench/stack-floor.js', [moduleList], {});
  try {
    const match = await waitForOutput(proc, /stack floor loaded (\d+ of \d+) files/, 120_000);
    await new Promise((r) => setTimeout(r, 1500));
    return { rss: proc.rss(), loaded: match[1]! };
  } finally {
    await proc.stop();
  }
}

export const USER_FILTER = '(&(objectCategory=person)(objectClass=user))';
export const USER_ATTRIBUTES = [
  'objectGUID',
  'mS-DS-ConsistencyGuid',
  'sAMAccountName',
  'userPrincipalName',
  'userAccountControl',
];

/** Raw ldapsearch of the same base, filter, attributes and page size over LDAPS with the CA, output discarded. */
export async function timeLdapsearch(
  dc: BenchDc,
  baseDn: string,
  pageSize = AGENT_PAGE_SIZE,
): Promise<{ ms: number; entries: number }> {
  const args = [
    '-LLL',
    '-H',
    dc.url,
    '-x',
    '-D',
    dc.bindDn,
    '-w',
    dc.password,
    '-b',
    baseDn,
    '-E',
    `pr=${pageSize}/noprompt`,
    USER_FILTER,
    ...USER_ATTRIBUTES,
  ];
  const start = performance.now();
  let entries = 0;
  let tail = '';
  await new Promise<void>((resolve, reject) => {
    const child = spawn('ldapsearch', args, {
      env: { ...process.env, LDAPTLS_CACERT: dc.caPath, LDAPTLS_REQCERT: 'demand' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    // Count entries as they stream by; holding the output would cost this process, not ldapsearch.
    child.stdout.on('data', (d: Buffer) => {
      const text = tail + d.toString('latin1');
      const lines = text.split('\n');
      tail = lines.pop() ?? '';
      for (const line of lines) if (line.startsWith('dn: ')) entries++;
    });
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', (e) => reject(new Error(`ldapsearch could not start (${e.message}); install ldap-utils.`)));
    child.on('exit', (code) =>
      code === 0 ? resolve() : reject(new Error(`ldapsearch exited ${code}: ${err.slice(0, 500)}`)),
    );
  });
  return { ms: performance.now() - start, entries };
}

/** Plain fetch of the same Graph pages the bot reads ($filter, $select, $top=999), following @odata.nextLink. */
export async function timeGraphPages(
  graphUrl: string,
  token: string,
): Promise<{ ms: number; users: number; pages: number }> {
  const select = USERS_SELECT.join(',');
  let next: string | undefined =
    `${graphUrl}/v1.0/users?$filter=${encodeURIComponent('onPremisesSyncEnabled eq true')}&$select=${select}&$top=999`;
  let users = 0;
  let pages = 0;
  const start = performance.now();
  while (next) {
    const res = await fetch(next, { headers: { authorization: `Bearer ${token}` } });
    if (!res.ok) throw new Error(`Graph page ${pages + 1} answered ${res.status}: ${(await res.text()).slice(0, 300)}`);
    const body = (await res.json()) as { value: unknown[]; '@odata.nextLink'?: string };
    users += body.value.length;
    pages++;
    next = body['@odata.nextLink'];
  }
  return { ms: performance.now() - start, users, pages };
}

export function graphSimulatorScript(): string {
  return join('bench', 'graph-sim-process.js');
}
