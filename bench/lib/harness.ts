import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Client } from 'pg';
import { messageActivity, postActivity, type TestUser } from '../../test/helpers/activities';
import { cardText, type ConnectorCall, type FakeConnector } from '../../test/helpers/fake-connector';
import { join } from 'node:path';
import { BUILD_DIR, spawnNode, waitForOutput, type NodeProcess } from './processes';

export const AGENT_ID = 'agent-bench';
export const AGENT_SECRET = 'bench-secret-0123456789-abcdefghij';
export const GRAPH_TOKEN = 'bench-token';
export const BENCH_USER: TestUser = {
  id: '29:bench',
  name: 'Bench Person',
  aadObjectId: '00000000-0000-0000-0000-0000000be0c1',
};

export interface BenchDc {
  url: string;
  bindDn: string;
  password: string;
  caPath: string;
  baseDn: string;
}

/** The benchmark's own DC (bench/bench-dc-up.sh), never the shared test DC. */
export function benchDc(): BenchDc {
  const dir = process.env.SYNCSHIFT_BENCH_SAMBA_DIR ?? '/var/tmp/syncshift-samba-bench';
  try {
    return JSON.parse(readFileSync(`${dir}/env.json`, 'utf8')) as BenchDc;
  } catch (err) {
    throw new Error(
      `${dir}/env.json is missing (${(err as Error).message}); run bash bench/bench-dc-up.sh (npm run bench does).`,
    );
  }
}

export const PG_URL = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** A fresh schema per scenario; the URL pins every pooled connection of the bot to it. */
export async function freshSchema(name: string): Promise<string> {
  const client = new Client({ connectionString: PG_URL });
  await client.connect();
  try {
    await client.query(`DROP SCHEMA IF EXISTS "${name}" CASCADE`);
    await client.query(`CREATE SCHEMA "${name}"`);
  } finally {
    await client.end();
  }
  const url = new URL(PG_URL);
  url.searchParams.set('options', `-c search_path=${name}`);
  return url.toString();
}

export async function queryPg<T>(databaseUrl: string, sql: string, params: unknown[] = []): Promise<T[]> {
  const client = new Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    return (await client.query(sql, params)).rows as T[];
  } finally {
    await client.end();
  }
}

export interface BotProcess extends NodeProcess {
  url: string;
}

/** The bot exactly as `npm start` runs it (dist/main.js), on PostgreSQL or PGlite. */
export async function startBotProcess(env: {
  graphUrl: string;
  databaseUrl?: string;
  dataDir?: string;
  /** Where the bot writes the library files it loaded, on SIGUSR2 (bench/lib/module-list.ts). */
  moduleList?: string;
}): Promise<BotProcess> {
  // BENCH_BOT_NODE_OPTIONS: V8 flags for the bot alone (e.g. a heap cap, to tell retained data from
  // collector headroom); without it the bot inherits NODE_OPTIONS like the other processes.
  const botFlags = process.env.BENCH_BOT_NODE_OPTIONS ?? process.env.NODE_OPTIONS ?? '';
  const requireList = env.moduleList ? `--require ${join(BUILD_DIR, 'bench', 'lib', 'module-list.js')}` : '';
  const proc = spawnNode('src/main.js', [], {
    NODE_OPTIONS: [requireList, botFlags].filter(Boolean).join(' '),
    ...(env.moduleList ? { BENCH_MODULE_LIST: env.moduleList } : {}),
    PORT: '0',
    LOG_LEVEL: 'info',
    SYNCSHIFT_AGENT_SECRETS: `${AGENT_ID}:${AGENT_SECRET}`,
    GRAPH_BASE_URL: env.graphUrl,
    GRAPH_STATIC_TOKEN: GRAPH_TOKEN,
    ...(env.databaseUrl ? { DATABASE_URL: env.databaseUrl } : {}),
    ...(env.dataDir ? { DATA_DIR: env.dataDir } : {}),
  });
  const match = await waitForOutput(proc, /"url":"(http:\/\/[^"]+)"[^\n]*SyncShift bot listening/, 60_000);
  return { ...proc, url: match[1]! };
}

/** The real agent (dist/agent/cli.js) against the bench DC. */
export function startAgentProcess(botUrl: string, dc: BenchDc, pageSize: number): NodeProcess {
  return spawnNode('src/agent/cli.js', ['run'], {
    SYNCSHIFT_RELAY_URL: botUrl,
    SYNCSHIFT_AGENT_ID: AGENT_ID,
    SYNCSHIFT_AGENT_SECRET: AGENT_SECRET,
    LDAP_URL: dc.url,
    LDAP_BIND_DN: dc.bindDn,
    LDAP_PASSWORD: dc.password,
    LDAP_CA_PATH: dc.caPath,
    LDAP_PAGE_SIZE: String(pageSize),
    LOG_LEVEL: 'warn',
  });
}

export interface Sent {
  activityId: string;
  /** performance.now() just before the POST. */
  sentAt: number;
}

export async function send(
  botUrl: string,
  connector: FakeConnector,
  conversationId: string,
  text: string,
): Promise<Sent> {
  const activity = messageActivity({ text, from: BENCH_USER, conversationId, serviceUrl: connector.url });
  const sentAt = performance.now();
  const res = await postActivity(botUrl, activity);
  if (res.status >= 300) throw new Error(`/api/messages answered ${res.status}: ${await res.text()}`);
  return { activityId: String(activity.id), sentAt };
}

/** The bot's first reply to a message (what the person sees first). */
export function firstReply(connector: FakeConnector, sent: Sent, timeoutMs = 30_000): Promise<ConnectorCall> {
  return connector.waitFor((c) => c.method === 'POST' && c.activityId === sent.activityId, { timeoutMs });
}

export interface VerifyOutcome {
  sentAt: number;
  doneAt: number;
  text: string;
}

/** `/migration start` in a conversation, so its verifies keep and reuse a cloud copy. */
export async function startMigration(botUrl: string, connector: FakeConnector, conversationId: string): Promise<void> {
  const sent = await send(botUrl, connector, conversationId, '/migration start "Bench"');
  await firstReply(connector, sent);
}

/** `/verify pilot <ou>` and the final version of its card. */
export async function verifyOu(
  botUrl: string,
  connector: FakeConnector,
  ou: string,
  timeoutMs: number,
  conversationId = `19:bench-${randomUUID()}@thread.tacv2`,
): Promise<VerifyOutcome> {
  const sent = await send(botUrl, connector, conversationId, `/verify pilot ${ou}`);
  const initial = await firstReply(connector, sent);
  const final = await connector.waitFor(
    (c) =>
      c.method === 'PUT' &&
      c.id === initial.id &&
      !cardText(c.activity.attachments?.[0]?.content).includes('Verifying…'),
    { timeoutMs },
  );
  return { sentAt: sent.sentAt, doneAt: final.receivedAt, text: cardText(final.activity.attachments?.[0]?.content) };
}

/** Reads "Label: 1,234" from a verify card's text. */
export function cardNumber(text: string, label: string): number {
  const match = new RegExp(`${label}: ([\\d,]+)`).exec(text);
  if (!match) throw new Error(`The card has no "${label}": ${text.slice(0, 800)}`);
  return Number(match[1]!.replace(/,/g, ''));
}
