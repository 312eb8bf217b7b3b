import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RelayClient, RelayHttpError } from '../../src/agent/relay-client';
import { cardProblems } from '../helpers/card-check';
import { cardText, type ConnectorCall } from '../helpers/fake-connector';
import { ADELE, MEGAN, messageActivity, postActivity, type TestUser } from '../helpers/activities';
import { runAgentCommand } from '../helpers/agent-process';
import { AGENT_ID, AGENT_SECRET, firstCard, startBotHarness, type BotHarness } from '../helpers/bot-harness';

const EVE: TestUser = { id: '29:eve', name: 'Eve Stranger', aadObjectId: '00000000-0000-0000-0000-0000000000ee' };

/** `/agent ...` over real Bot Framework HTTP, and the real `syncshift-agent enroll` against the relay. */
describe('agent enrollment, listing, rotation and revocation', () => {
  let h: BotHarness;
  let dir: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'syncshift-agents-'));
    h = await startBotHarness({ env: { SYNCSHIFT_APPROVERS: `${ADELE.aadObjectId},${MEGAN.aadObjectId}` } });
  });
  afterAll(async () => {
    await h?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const privateCalls = (user: TestUser): ConnectorCall[] =>
    h.connector.calls.filter((c) => c.conversationId === `a:personal-${user.id}`);
  const textOf = (call: ConnectorCall): string => cardText(call.activity.attachments![0]!.content);
  const auditActions = async (): Promise<string[]> =>
    (await h.store.audit.latest(500)).map((e) => `${e.action}:${e.outcome}`);

  /** Asks for a code in the channel; returns it from the private chat, after checking the channel never saw it. */
  async function requestCode(command: string, user: TestUser = ADELE): Promise<string> {
    const before = privateCalls(user).length;
    const replies = await h.say(command, user);
    expect(replies).toHaveLength(1);
    const publicText = cardText(firstCard(replies));
    expect(publicText).toContain('sent privately');
    const sent = privateCalls(user).slice(before);
    expect(sent).toHaveLength(1);
    expect(cardProblems(sent[0]!.activity.attachments![0]!.content)).toEqual([]);
    const code = /Code: ([0-9A-Z]{4}(?:-[0-9A-Z]{4}){4})/.exec(textOf(sent[0]!))?.[1];
    expect(code).toBeDefined();
    // The code is a credential: it must not appear anywhere in the channel.
    for (const call of h.connector.calls.filter((c) => c.conversationId === h.conversationId))
      expect(JSON.stringify(call.activity)).not.toContain(code!);
    return code!;
  }

  async function enroll(code: string, out: string): Promise<{ code: number | null; output: string }> {
    return runAgentCommand(['enroll', '--url', h.bot.url, '--code', code, '--out', out]);
  }

  const clientFor = (agentId: string, secret: string): RelayClient =>
    new RelayClient({ url: h.bot.url, agentId, secret, agentVersion: '9.9.9-test' });
  /** What an LDAP-only agent declares in every lease request. */
  const SCANS = { actions: ['directory.scanOu'], readOnly: false };

  it('a non-approver cannot enroll, rotate or revoke', async () => {
    for (const command of ['/agent enroll dc-1', '/agent rotate agent-test', '/agent revoke agent-test']) {
      const text = cardText(firstCard(await h.say(command, EVE)));
      expect(text).toContain('needs an approver');
    }
    expect(h.connector.createdConversations).toHaveLength(0);
    expect(await h.store.db.query('SELECT * FROM agent_enrollment_codes')).toEqual([]);
    expect((await auditActions()).filter((a) => a.endsWith(':refused'))).toHaveLength(3);
  });

  let credentialFile = '';
  let secret = '';

  it('enroll: the code goes to the approver in a 1:1 chat; the agent exchanges it once for a 0600 credential file', async () => {
    const code = await requestCode('/agent enroll dc-1');
    expect(h.connector.createdConversations[0]!.parameters).toMatchObject({
      isGroup: false,
      members: [{ id: ADELE.id }],
      tenantId: 'tenant-1',
    });
    // Only a digest of the code is stored.
    const stored = await h.store.db.query<{ code_sha256: string }>('SELECT code_sha256 FROM agent_enrollment_codes');
    expect(JSON.stringify(stored)).not.toContain(code);

    credentialFile = join(dir, 'dc-1.json');
    const first = await enroll(code, credentialFile);
    expect(first.output).toContain('Enrolled as agent "dc-1"');
    expect(first.code).toBe(0);
    expect(statSync(credentialFile).mode & 0o777).toBe(0o600);
    const credential = JSON.parse(readFileSync(credentialFile, 'utf8')) as {
      agentId: string;
      secret: string;
      relayUrl: string;
    };
    expect(credential).toMatchObject({ agentId: 'dc-1', relayUrl: h.bot.url });
    secret = credential.secret;
    const agentRow = await h.store.db.query<{ secret_sha256: string }>(
      "SELECT secret_sha256 FROM agents WHERE name = 'dc-1'",
    );
    expect(agentRow[0]!.secret_sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(JSON.stringify(agentRow)).not.toContain(secret);

    const second = await enroll(code, join(dir, 'again.json'));
    expect(second.code).toBe(1);
    expect(second.output).toContain('unknown, already used or expired');
    expect(() => statSync(join(dir, 'again.json'))).toThrow();

    await expect(clientFor('dc-1', secret).lease(0, undefined, SCANS)).resolves.toBeNull();
    expect(await auditActions()).toEqual(
      expect.arrayContaining(['agent.enroll.code:issued', 'agent.enroll:credential-issued', 'agent.enroll:refused']),
    );
  });

  it('/agent enroll in a personal chat answers with the code in the turn', async () => {
    const personal = 'a:personal-29:megan';
    const activity = messageActivity({
      text: '/agent enroll dc-2',
      from: MEGAN,
      conversationId: personal,
      serviceUrl: h.connector.url,
      conversationType: 'personal',
    });
    expect((await postActivity(h.bot.url, activity)).status).toBe(200);
    const replies = h.connector.calls.filter((c) => c.activityId === activity.id);
    expect(replies).toHaveLength(1);
    expect(cardText(firstCard(replies))).toMatch(/Code: [0-9A-Z-]{24}/);
    expect(
      h.connector.createdConversations.filter(
        (c) => c.parameters.members && JSON.stringify(c.parameters.members).includes(MEGAN.id),
      ),
    ).toHaveLength(0);
  });

  it('when Teams refuses the 1:1 chat, the channel is told so and still never sees a code', async () => {
    h.connector.refuseConversations = true;
    try {
      const replies = await h.say('/agent enroll dc-3');
      expect(replies).toHaveLength(1);
      const text = cardText(firstCard(replies));
      expect(text).toContain('I could not send you the enrollment code for dc-3 privately');
      expect(text).not.toMatch(/\b[0-9A-Z]{4}(?:-[0-9A-Z]{4}){4}\b/);
      expect(text).not.toContain('Code:');
    } finally {
      h.connector.refuseConversations = false;
    }
  });

  it('/agent list shows status, enrollment, last seen, version, actions run and the current lease', async () => {
    const calls = await h.say('/verify pilot OU=Sales');
    expect(calls).toHaveLength(1);
    const job = await clientFor('dc-1', secret).lease(0, undefined, SCANS);
    expect(job?.payload.action).toBe('directory.scanOu');
    const text = cardText(firstCard(await h.say('/agent list', EVE)));
    const line = text.split('\n').find((l) => l.startsWith('dc-1 '))!;
    expect(line).toContain('dc-1 · active · enrolled 20');
    expect(line).toContain('last seen 20');
    expect(line).toContain('version 9.9.9-test');
    expect(line).toContain('0 action(s) run');
    expect(line).toContain(`holds directory.scanOu ${job!.id.slice(0, 8)}`);
    expect(text).toContain(`${AGENT_ID} · active (SYNCSHIFT_AGENT_SECRETS) · never seen`);
    expect(text).toContain('dc-2 · waiting for enrollment (code valid until 20');
    await clientFor('dc-1', secret).result(job!.id, {
      outcome: 'failed',
      error: { code: 'DIRECTORY.UNAVAILABLE', message: 'test' },
    });
    expect(cardText(firstCard(await h.say('/agent list')))).toContain('1 action(s) run · no lease');
  });

  it('routing: an agent is offered only what it declared it can run; /agent list shows that, and work no online agent can run', async () => {
    const ldapOnly = clientFor('dc-1', secret);
    const job = await h.store.jobs.enqueue({
      kind: 'adsync.stopScheduler',
      purpose: 'step.action',
      payload: { action: 'adsync.stopScheduler' },
      conversationId: h.conversationId,
      migrationId: null,
      requestedBy: { id: 'test', name: 'test' },
      pinnedAgent: 'dc-1',
      mutating: true,
    });
    await expect(ldapOnly.lease(0, undefined, { actions: ['directory.scanOu'], readOnly: false })).resolves.toBeNull();
    // Read-only wins over the list: the bot drops the changes from it.
    await expect(
      ldapOnly.lease(0, undefined, {
        actions: ['directory.scanOu', 'adsync.getScheduler', 'adsync.stopScheduler'],
        readOnly: true,
      }),
    ).resolves.toBeNull();
    expect(await h.store.jobs.get(job.id)).toMatchObject({ state: 'queued', attempts: 0 });
    const text = cardText(firstCard(await h.say('/agent list')));
    expect(text.split('\n').find((l) => l.startsWith('dc-1 '))).toContain(
      'runs: directory.scanOu, adsync.getScheduler (read-only)',
    );
    expect(text).toMatch(
      /Waiting: 1 adsync\.stopScheduler job\(s\) since 20\S+, for an agent that can run adsync\.stopScheduler; it runs on the Connect Sync server \(SYNCSHIFT_ADSYNC_EXPORT_DIR set\) and must not be read-only\./,
    );
    // An agent on the Connect Sync server takes it.
    const leased = await ldapOnly.lease(0, undefined, {
      actions: ['directory.scanOu', 'adsync.stopScheduler'],
      readOnly: false,
    });
    expect(leased?.id).toBe(job.id);
    await ldapOnly.result(job.id, { outcome: 'failed', error: { code: 'ADSYNC.NOT_AVAILABLE', message: 'test' } });
    const after = cardText(firstCard(await h.say('/agent list')));
    expect(after).not.toContain('Waiting:');
    expect(after.split('\n').find((l) => l.startsWith('dc-1 '))).toContain(
      'runs: directory.scanOu, adsync.stopScheduler',
    );
  });

  it('revoke: the next request is refused and the job it held goes to another agent', async () => {
    await h.say('/verify pilot OU=Sales');
    const held = await clientFor('dc-1', secret).lease(0, undefined, SCANS);
    expect(held).not.toBeNull();
    const text = cardText(firstCard(await h.say('/agent revoke dc-1', MEGAN)));
    expect(text).toContain('Agent dc-1 revoked');
    expect(text).toContain('It held 1 job(s)');
    const refused = await clientFor('dc-1', secret)
      .lease(0, undefined, SCANS)
      .catch((err: unknown) => err);
    expect(refused).toBeInstanceOf(RelayHttpError);
    expect((refused as RelayHttpError).status).toBe(403);
    // Its late result is refused too: authentication fails before the job is looked at.
    const late = await clientFor('dc-1', secret)
      .result(held!.id, { outcome: 'failed', error: { code: 'X', message: 'late' } })
      .catch((err: unknown) => err);
    expect((late as RelayHttpError).status).toBe(403);
    // Not finished by the late result; the revocation put the read-only job back in the queue.
    expect(await h.store.jobs.get(held!.id)).toMatchObject({ state: 'queued', result: null, finishedAt: null });
    const taken = await clientFor(AGENT_ID, AGENT_SECRET).lease(0, undefined, SCANS);
    expect(taken?.id).toBe(held!.id);
    expect((await h.store.jobs.get(held!.id))!.agentId).toBe(AGENT_ID);
    expect(cardText(firstCard(await h.say('/agent list')))).toContain('dc-1 · revoked');
    expect(await auditActions()).toContain('agent.revoke:revoked');
  });

  it('rotate: after the new code is used, the old credential stops working', async () => {
    const code = await requestCode('/agent enroll dc-1');
    expect((await enroll(code, credentialFile)).code).toBe(0);
    const oldSecret = secret;
    secret = (JSON.parse(readFileSync(credentialFile, 'utf8')) as { secret: string }).secret;
    await expect(clientFor('dc-1', secret).lease(0, undefined, SCANS)).resolves.toBeDefined();

    expect(cardText(firstCard(await h.say('/agent enroll dc-1')))).toContain('already enrolled');
    const rotation = await requestCode('/agent rotate dc-1', MEGAN);
    const rotated = join(dir, 'rotated.json');
    expect((await enroll(rotation, rotated)).code).toBe(0);
    const newSecret = (JSON.parse(readFileSync(rotated, 'utf8')) as { secret: string }).secret;
    expect(newSecret).not.toBe(secret);
    for (const stale of [secret, oldSecret]) {
      const err = await clientFor('dc-1', stale)
        .lease(0, undefined, SCANS)
        .catch((e: unknown) => e);
      expect((err as RelayHttpError).status).toBe(401);
    }
    await clientFor('dc-1', newSecret).lease(0, undefined, SCANS);
    expect(cardText(firstCard(await h.say('/agent rotate nobody-here')))).toContain(
      'There is no agent called nobody-here',
    );
  });

  it('rotate of a static agent (SYNCSHIFT_AGENT_SECRETS): once the new code is used, the static secret stops working', async () => {
    // The static agent authenticates once, so the bot knows it and can rotate it.
    await expect(clientFor(AGENT_ID, AGENT_SECRET).lease(0, undefined, SCANS)).resolves.toBeDefined();
    const rotation = await requestCode(`/agent rotate ${AGENT_ID}`, MEGAN);
    // Until the code is used the static secret still works: rotating must not lock the agent out early.
    await expect(clientFor(AGENT_ID, AGENT_SECRET).lease(0, undefined, SCANS)).resolves.toBeDefined();
    const rotated = join(dir, 'static-rotated.json');
    expect((await enroll(rotation, rotated)).code).toBe(0);
    const newSecret = (JSON.parse(readFileSync(rotated, 'utf8')) as { secret: string }).secret;
    const err = await clientFor(AGENT_ID, AGENT_SECRET)
      .lease(0, undefined, SCANS)
      .catch((e: unknown) => e);
    expect((err as RelayHttpError).status).toBe(401);
    await expect(clientFor(AGENT_ID, newSecret).lease(0, undefined, SCANS)).resolves.toBeDefined();
  });

  it('a /verify whose reply failed after its job was queued is not queued again when Teams redelivers it', async () => {
    const conversationId = '19:reply-fails@thread.tacv2';
    const activity = messageActivity({
      text: '/verify pilot OU=Sales',
      from: ADELE,
      conversationId,
      serviceUrl: h.connector.url,
    });
    // The card reply and the error card after it both fail: the bot answers 500 and Teams retries.
    // 400: botbuilder's connector client does not retry it, so the reply fails at once.
    h.connector.failPosts(2, { status: 400 });
    const first = await postActivity(h.bot.url, activity);
    expect(first.status).toBe(500);
    const retry = await postActivity(h.bot.url, activity);
    expect(retry.status).toBe(200);
    const jobs = await h.store.db.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM jobs WHERE conversation_id = $1',
      [conversationId],
    );
    expect(jobs[0]!.n).toBe(1);
    // The job's verify is still there; its card follows once the agent reports (verify posts a new one when the first never arrived).
    expect(await h.store.verifications.listByConversation(conversationId, 10)).toHaveLength(1);
    await h.store.jobs.cancelQueued({
      jobIds: [(await h.store.verifications.listByConversation(conversationId, 1))[0]!.jobId],
      reason: 'test over',
      now: new Date(),
    });
  });

  it('a read-only command whose reply failed is answered again when Teams redelivers it', async () => {
    const conversationId = '19:help-fails@thread.tacv2';
    const activity = messageActivity({ text: '/help', from: ADELE, conversationId, serviceUrl: h.connector.url });
    // 400: botbuilder's connector client does not retry it, so the reply fails at once.
    h.connector.failPosts(2, { status: 400 });
    const first = await postActivity(h.bot.url, activity);
    expect(first.status).toBe(500);
    expect((await postActivity(h.bot.url, activity)).status).toBe(200);
    const replies = h.connector.calls.filter((c) => c.conversationId === conversationId);
    expect(replies).toHaveLength(1);
    expect(cardText(firstCard(replies))).toContain('/verify pilot');
  });

  it('a redelivered activity (same id) is handled once', async () => {
    const activity = messageActivity({
      text: '/migration start "Dedupe"',
      from: ADELE,
      conversationId: '19:dedupe@thread.tacv2',
      serviceUrl: h.connector.url,
    });
    const first = await postActivity(h.bot.url, activity);
    const second = await postActivity(h.bot.url, activity);
    expect([first.status, second.status]).toEqual([200, 200]);
    const replies = h.connector.calls.filter((c) => c.conversationId === '19:dedupe@thread.tacv2');
    expect(replies).toHaveLength(3);
    const commands = (await h.store.audit.forConversation('19:dedupe@thread.tacv2', 100)).filter(
      (e) => e.action === 'command.migration.start',
    );
    expect(commands).toHaveLength(1);
    expect(
      (await h.store.db.query<{ n: number }>("SELECT count(*)::int AS n FROM migrations WHERE name = 'Dedupe'"))[0]!.n,
    ).toBe(1);
  });
});
