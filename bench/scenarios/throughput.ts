import { randomUUID } from 'node:crypto';
import type { FakeConnector } from '../../test/helpers/fake-connector';
import {
  benchDc,
  cardNumber,
  freshSchema,
  queryPg,
  send,
  firstReply,
  startAgentProcess,
  startBotProcess,
  verifyOu,
  type BotProcess,
} from '../lib/harness';

export interface ThroughputMeasurement {
  label: string;
  verifies: number;
  completed: number;
  errors: string[];
  wallMs: number;
  /** Jobs whose lease or result was recorded other than exactly once. */
  notExactlyOnce: number;
}

/**
 * `count` migrations at once, each in its own conversation with its own `/migration start` and a
 * `/verify pilot` of a 1,000-user OU, over one agent. With two bots, conversations alternate between
 * them while the agent talks to the first only: jobs queued by the second are leased through the
 * first via PostgreSQL.
 */
export async function measureThroughput(input: {
  label: string;
  bots: 1 | 2;
  count: number;
  graphUrl: string;
  connector: FakeConnector;
  usersPerOu: number;
}): Promise<ThroughputMeasurement> {
  const databaseUrl = await freshSchema(`bench_throughput_${input.label}`);
  const bots: BotProcess[] = [];
  for (let i = 0; i < input.bots; i++) bots.push(await startBotProcess({ graphUrl: input.graphUrl, databaseUrl }));
  const agent = startAgentProcess(bots[0]!.url, benchDc(), 500);
  const errors: string[] = [];
  try {
    const start = performance.now();
    const results = await Promise.allSettled(
      Array.from({ length: input.count }, async (_, i) => {
        const bot = bots[i % bots.length]!;
        const conversationId = `19:bench-${input.label}-${i}-${randomUUID()}@thread.tacv2`;
        const started = await send(bot.url, input.connector, conversationId, `/migration start "Bench ${i + 1}"`);
        await firstReply(input.connector, started);
        const ou = `OU=Dept${String((i % 10) + 1).padStart(3, '0')},OU=Bench10k`;
        const { text } = await verifyOu(bot.url, input.connector, ou, 10 * 60_000, conversationId);
        const onPrem = cardNumber(text, 'On-premises users');
        if (onPrem !== input.usersPerOu)
          throw new Error(`${ou}: the card says ${onPrem} on-premises users, expected ${input.usersPerOu}`);
        if (cardNumber(text, 'Missing in cloud') !== 0)
          throw new Error(`${ou}: users reported missing in a tenant that has them all`);
      }),
    );
    const wallMs = performance.now() - start;
    for (const r of results) if (r.status === 'rejected') errors.push((r.reason as Error).message.split('\n')[0]!);
    const perJob = await queryPg<{ id: string; state: string; leases: string; results: string }>(
      databaseUrl,
      `SELECT j.id, j.state,
              (SELECT count(*) FROM audit_log a WHERE a.target = j.id::text AND a.action = 'job.leased') AS leases,
              (SELECT count(*) FROM audit_log a WHERE a.target = j.id::text AND a.action = 'job.result') AS results
         FROM jobs j WHERE j.kind = 'directory.scanOu'`,
    );
    const notExactlyOnce = perJob.filter((j) => Number(j.leases) !== 1 || Number(j.results) !== 1).length;
    const completed = perJob.filter((j) => j.state === 'succeeded').length;
    if (perJob.length !== input.count) errors.push(`${perJob.length} jobs in the store for ${input.count} verifies`);
    return { label: input.label, verifies: input.count, completed, errors, wallMs, notExactlyOnce };
  } finally {
    await agent.stop();
    for (const bot of bots) await bot.stop();
  }
}
