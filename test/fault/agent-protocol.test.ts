import { AGENT_ID, AGENT_SECRET, startBotHarness, type BotHarness } from '../helpers/bot-harness';
import { cardProblems } from '../helpers/card-check';
import { startRelayProxy, verifyThroughAgent, type RelayProxy } from '../helpers/relay-proxy';

/**
 * A bot newer than its agent: the lease carries an action (or parameters) this agent does not
 * know. A proxy between the real agent loop and the real bot rewrites the lease answer, the way a
 * newer bot would send it. The agent must answer for that job, so the card says why, instead of
 * failing to parse the lease and retrying forever as if the bot were unreachable.
 */
describe('an agent leased a job it cannot read', () => {
  let h: BotHarness;
  let proxy: RelayProxy;
  let rewrite: (payload: Record<string, unknown>) => Record<string, unknown> = (p) => p;
  const logLines: string[] = [];

  beforeAll(async () => {
    h = await startBotHarness();
    proxy = await startRelayProxy(() => h.bot.url, {
      rewrite: (path, status, text) => {
        if (path !== '/relay/v1/jobs/lease' || status !== 200) return text;
        const body = JSON.parse(text) as { job: { payload: Record<string, unknown> } | null };
        if (body.job) body.job.payload = rewrite(body.job.payload);
        return JSON.stringify(body);
      },
    });
  });
  afterAll(async () => {
    await proxy?.close();
    await h?.close();
  });

  async function verifyThroughOldAgent(): Promise<{ text: string; jobId: string }> {
    const connectDirectory = (): Promise<never> =>
      Promise.reject(new Error('the agent must not touch the directory for a job it cannot read'));
    const { card, text, jobId } = await verifyThroughAgent(h, {
      relayUrl: proxy.url,
      agentVersion: '0.0.9',
      connectDirectory,
      logLines,
    });
    expect(cardProblems(card)).toEqual([]);
    return { text, jobId };
  }

  it('an unknown action is answered with AGENT.UNKNOWN_ACTION, and the card tells a person to update the agent', async () => {
    rewrite = (p) => ({ ...p, action: 'directory.scanOuV2' });
    const { text, jobId } = await verifyThroughOldAgent();
    expect(text).toContain(
      'This agent (version 0.0.9) does not know the action directory.scanOuV2, so it did nothing.',
    );
    expect(text).toContain('Update syncshift-agent on the agent host');
    expect(await h.store.jobs.get(jobId)).toMatchObject({
      state: 'failed',
      agentId: AGENT_ID,
      attempts: 1,
      error: { code: 'AGENT.UNKNOWN_ACTION' },
    });
    expect(logLines.join('\n')).not.toContain('cannot reach the bot');
  });

  it('a known action with parameters this agent cannot read is answered with AGENT.BAD_PARAMETERS', async () => {
    rewrite = (p) => ({ ...p, pageSize: 5000 });
    const { text, jobId } = await verifyThroughOldAgent();
    expect(text).toMatch(
      /This agent \(version 0\.0\.9\) cannot read the parameters of directory\.scanOu \(pageSize: .+\), so it did nothing\./,
    );
    expect(await h.store.jobs.get(jobId)).toMatchObject({ state: 'failed', error: { code: 'AGENT.BAD_PARAMETERS' } });
  });
});

/**
 * An agent that does not say what it runs (an older version, or a hand-made client) used to be
 * offered every job, Connect Sync changes included, and its "done" was taken although nothing ran.
 */
describe('an agent that declares no actions', () => {
  let h: BotHarness;
  const headers = {
    'content-type': 'application/json',
    'x-syncshift-agent': AGENT_ID,
    authorization: `Bearer ${AGENT_SECRET}`,
  };
  const post = async (path: string, body: unknown): Promise<{ status: number; body: Record<string, unknown> }> => {
    const res = await fetch(`${h.bot.url}${path}`, { method: 'POST', headers, body: JSON.stringify(body) });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };

  beforeAll(async () => {
    h = await startBotHarness();
  });
  afterAll(async () => {
    await h?.close();
  });

  it('is offered nothing, and is told to update', async () => {
    const stop = await h.store.jobs.enqueue({
      kind: 'adsync.stopScheduler',
      purpose: 'step.action',
      payload: { action: 'adsync.stopScheduler' },
      conversationId: h.conversationId,
      migrationId: null,
      requestedBy: { id: 'test', name: 'test' },
      pinnedAgent: AGENT_ID,
      mutating: true,
    });
    for (const declared of [
      {},
      { actions: [] },
      { actions: ['adsync.formatDisk'] },
      { actions: ['adsync.stopScheduler'], readOnly: true },
    ]) {
      const res = await post('/relay/v1/jobs/lease', { agentVersion: '0.0.9', waitMs: 0, ...declared });
      expect(res).toEqual({
        status: 400,
        body: {
          code: 'RELAY.NO_ACTIONS_DECLARED',
          message: expect.stringContaining('so it is offered no job') as unknown,
          hint: expect.stringContaining('Update syncshift-agent on the agent host') as unknown,
        },
      });
    }
    expect(await h.store.jobs.get(stop.id)).toMatchObject({ state: 'queued', attempts: 0, agentId: null });
    // Declaring scans only still leaves the Connect Sync job alone.
    expect(await post('/relay/v1/jobs/lease', { agentVersion: '1', waitMs: 0, actions: ['directory.scanOu'] })).toEqual(
      { status: 200, body: { job: null } },
    );
    await h.store.jobs.cancelQueued({ jobIds: [stop.id], reason: 'test over', now: new Date() });
  });

  it('cannot start or finish a job of an action it never declared, even one it holds (leased before the bot checked)', async () => {
    const stop = await h.store.jobs.enqueue({
      kind: 'adsync.stopScheduler',
      purpose: 'step.action',
      payload: { action: 'adsync.stopScheduler' },
      conversationId: h.conversationId,
      migrationId: null,
      requestedBy: { id: 'test', name: 'test' },
      pinnedAgent: AGENT_ID,
      mutating: true,
    });
    // What the bot used to do for an agent that declared nothing: hand it anything.
    expect((await h.store.jobs.lease({ agentId: AGENT_ID, leaseMs: 3_600_000, now: new Date() }))?.id).toBe(stop.id);
    const starting = await post(`/relay/v1/jobs/${stop.id}/progress`, { scanned: 0, phase: 'starting' });
    expect(starting).toMatchObject({
      status: 409,
      body: {
        code: 'RELAY.ACTION_NOT_DECLARED',
        message:
          'This agent has not declared that it runs adsync.stopScheduler, so nothing it reports for this job is taken.',
      },
    });
    const done = await post(`/relay/v1/jobs/${stop.id}/result`, {
      outcome: 'succeeded',
      result: { action: 'adsync.stopScheduler', data: { syncCycleEnabled: false } },
    });
    expect(done).toMatchObject({ status: 409, body: { code: 'RELAY.ACTION_NOT_DECLARED' } });
    const rows = await h.store.db.query<{ state: string; started_at: unknown; result: unknown }>(
      'SELECT state, started_at, result FROM jobs WHERE id = $1',
      [stop.id],
    );
    expect(rows).toEqual([{ state: 'leased', started_at: null, result: null }]);
    expect((await h.store.audit.latest(50)).filter((e) => e.action === 'job.result')).toEqual([]);
  });

  it("a result must be for the job's own action", async () => {
    await h.store.jobs.enqueue({
      kind: 'directory.scanOu',
      purpose: 'verify',
      payload: { action: 'directory.scanOu', ou: 'OU=Sales' },
      conversationId: h.conversationId,
      migrationId: null,
      requestedBy: { id: 'test', name: 'test' },
    });
    const leased = await post('/relay/v1/jobs/lease', { agentVersion: '1', waitMs: 0, actions: ['directory.scanOu'] });
    const jobId = (leased.body.job as { id: string }).id;
    const wrong = await post(`/relay/v1/jobs/${jobId}/result`, {
      outcome: 'succeeded',
      result: { action: 'adsync.stopScheduler', data: {} },
    });
    expect(wrong).toEqual({
      status: 400,
      body: {
        code: 'RELAY.BAD_REQUEST',
        message: 'Invalid request: the result is for adsync.stopScheduler but the job is directory.scanOu.',
      },
    });
    expect(await h.store.jobs.get(jobId)).toMatchObject({ state: 'leased', result: null });
    expect(
      await post(`/relay/v1/jobs/${jobId}/result`, { outcome: 'failed', error: { code: 'X', message: 'test over' } }),
    ).toEqual({ status: 200, body: { ok: true } });
  });
});
