import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { USERS_SELECT } from '../../src/cloud/graph-cloud-directory';
import type { FakeConnector } from '../../test/helpers/fake-connector';
import {
  benchDc,
  cardNumber,
  freshSchema,
  queryPg,
  startAgentProcess,
  startBotProcess,
  verifyOu,
  type BenchDc,
} from '../lib/harness';

export interface ExpectedCounts {
  onPrem: number;
  cloud: number;
  missing: number;
  extra: number;
  mismatched: number;
}

export interface VerifyMeasurement {
  label: string;
  totalMs: number;
  onPremMs: number;
  cloudMs: number;
  onPremUsers: number;
  cloudUsersRead: number;
  botIdleRss: number;
  botPeakRss: number;
  agentIdleRss: number;
  agentPeakRss: number;
  /** Empty when the card shows exactly the expected numbers. */
  wrong: string[];
}

const AGENT_PAGE_SIZE = 500;

/**
 * One `/verify pilot` through the real path: activity over HTTP → bot (dist/main.js, PostgreSQL)
 * → relay → agent process (dist/agent/cli.js) → LDAPS → bot → Graph simulator → card.
 * Fresh processes per measurement, so VmHWM is this verify's peak.
 */
export async function measureVerify(input: {
  label: string;
  ou: string;
  graphUrl: string;
  cloudUsersRead: number;
  connector: FakeConnector;
  expected: ExpectedCounts;
}): Promise<VerifyMeasurement> {
  const dc = benchDc();
  const databaseUrl = await freshSchema(`bench_verify_${input.label}`);
  const bot = await startBotProcess({ graphUrl: input.graphUrl, databaseUrl });
  const agent = startAgentProcess(bot.url, dc, AGENT_PAGE_SIZE);
  try {
    // Let both settle (the agent's first long poll) before reading their idle size.
    await new Promise((r) => setTimeout(r, 1500));
    const botIdleRss = bot.rss();
    const agentIdleRss = agent.rss();
    const outcome = await verifyOu(bot.url, input.connector, input.ou, 15 * 60_000).catch((err: Error) => {
      throw new Error(`${err.message}\nagent log:\n${agent.log().slice(-2000)}\nbot log:\n${bot.log().slice(-2000)}`);
    });
    const [timing] = await queryPg<{ leased: Date; finished: Date }>(
      databaseUrl,
      `SELECT a.at AS leased, j.finished_at AS finished FROM jobs j JOIN audit_log a ON a.target = j.id::text AND a.action = 'job.leased' WHERE j.kind = 'directory.scanOu'`,
    );
    if (!timing) throw new Error('The verify job or its lease is not in the store.');
    const doneWall = performance.timeOrigin + outcome.doneAt;
    const text = outcome.text;
    const got: ExpectedCounts = {
      onPrem: cardNumber(text, 'On-premises users'),
      cloud: cardNumber(text, 'Cloud users \\(synced\\)'),
      missing: cardNumber(text, 'Missing in cloud'),
      extra: cardNumber(text, 'Extra in cloud'),
      mismatched: cardNumber(text, 'ImmutableId differs'),
    };
    const wrong = (Object.keys(got) as (keyof ExpectedCounts)[])
      .filter((k) => got[k] !== input.expected[k])
      .map((k) => `${k}: card ${got[k]}, expected ${input.expected[k]}`);
    return {
      label: input.label,
      totalMs: outcome.doneAt - outcome.sentAt,
      onPremMs: timing.finished.getTime() - timing.leased.getTime(),
      cloudMs: doneWall - timing.finished.getTime(),
      onPremUsers: got.onPrem,
      cloudUsersRead: input.cloudUsersRead,
      botIdleRss,
      botPeakRss: bot.peakRss(),
      agentIdleRss,
      agentPeakRss: agent.peakRss(),
      wrong,
    };
  } finally {
    await agent.stop();
    await bot.stop();
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
