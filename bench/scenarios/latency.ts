import { randomUUID } from 'node:crypto';
import { RelayClient } from '../../src/agent/relay-client';
import type { FakeConnector } from '../../test/helpers/fake-connector';
import { AGENT_ID, AGENT_SECRET, firstReply, freshSchema, queryPg, send, startBotProcess } from '../lib/harness';
import { summarize, type Summary } from '../lib/stats';

export interface LatencyMeasurement {
  ack: Summary;
  verifyAck: Summary;
  dispatch: Summary;
}

/**
 * Command acknowledgment: activity POSTed → first reply at the connector, for /help (no agent work).
 * Job dispatch: job row created (PostgreSQL clock) → job in the hands of an agent that was already
 * waiting in a long poll (same machine clock). The agent here only leases and answers "failed" at
 * once, so what is timed is the relay, not LDAP.
 */
export async function measureLatency(input: {
  graphUrl: string;
  connector: FakeConnector;
  commands: number;
  jobs: number;
  progress: (text: string) => void;
}): Promise<LatencyMeasurement> {
  const databaseUrl = await freshSchema('bench_latency');
  const bot = await startBotProcess({ graphUrl: input.graphUrl, databaseUrl });
  const stop = new AbortController();
  const relay = new RelayClient({ url: bot.url, agentId: AGENT_ID, secret: AGENT_SECRET, agentVersion: 'bench' });
  const leasedAt = new Map<string, number>();
  let waiting: () => void = () => undefined;
  let inLongPoll = new Promise<void>((r) => (waiting = r));
  const agentLoop = (async () => {
    while (!stop.signal.aborted) {
      waiting();
      const job = await relay
        .lease(20_000, stop.signal, { actions: ['directory.scanOu'], readOnly: true })
        .catch((err: Error) => {
          if (stop.signal.aborted) return null;
          throw err;
        });
      if (!job) continue;
      const at = Date.now();
      inLongPoll = new Promise<void>((r) => (waiting = r));
      leasedAt.set(job.id, at);
      await relay.result(job.id, {
        outcome: 'failed',
        error: { code: 'BENCH.SKIPPED', message: 'The latency benchmark does not scan.' },
      });
    }
  })();
  try {
    const conversationId = `19:bench-latency-${randomUUID()}@thread.tacv2`;
    const ack: number[] = [];
    // A few untimed turns first: the first ones pay for lazy module loading and JIT.
    for (let i = 0; i < 20 + input.commands; i++) {
      const sent = await send(bot.url, input.connector, conversationId, '/help');
      const reply = await firstReply(input.connector, sent);
      if (i >= 20) ack.push(reply.receivedAt - sent.sentAt);
      if (i > 20 && (i - 20) % 250 === 0) input.progress(`  /help acknowledged ${i - 20}/${input.commands}`);
    }
    const verifyAck: number[] = [];
    for (let i = 0; i < input.jobs; i++) {
      await inLongPoll;
      // The lease request is on the wire once the loop is waiting; give it a moment to reach the bot.
      await new Promise((r) => setTimeout(r, 5));
      const sent = await send(bot.url, input.connector, conversationId, '/verify pilot OU=Dept001,OU=Bench10k');
      const reply = await firstReply(input.connector, sent);
      verifyAck.push(reply.receivedAt - sent.sentAt);
      // One job at a time: the next is queued only once this one was leased and the agent waits again.
      while (leasedAt.size < i + 1) await new Promise((r) => setTimeout(r, 2));
      if ((i + 1) % 100 === 0) input.progress(`  jobs dispatched ${i + 1}/${input.jobs}`);
    }
    // The last lease may still be on its way back.
    const deadline = Date.now() + 10_000;
    while (leasedAt.size < input.jobs && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    const rows = await queryPg<{ id: string; created: Date }>(
      databaseUrl,
      `SELECT id, created_at AS created FROM jobs WHERE kind = 'directory.scanOu'`,
    );
    const dispatch = rows.map((row) => {
      const at = leasedAt.get(row.id);
      if (at === undefined) throw new Error(`Job ${row.id} was never leased to the waiting agent.`);
      return at - row.created.getTime();
    });
    return { ack: summarize(ack), verifyAck: summarize(verifyAck), dispatch: summarize(dispatch) };
  } finally {
    stop.abort();
    await agentLoop.catch(() => undefined);
    await bot.stop();
  }
}
