import { cardProblems } from '../helpers/card-check';
import { cardText } from '../helpers/fake-connector';
import { MEGAN } from '../helpers/activities';
import { firstCard, startBotHarness, type BotHarness } from '../helpers/bot-harness';

describe('bot commands over HTTP', () => {
  let h: BotHarness;
  beforeAll(async () => {
    h = await startBotHarness();
  });
  afterAll(async () => {
    await h.close();
  });

  async function card(text: string, from = undefined): Promise<string> {
    const calls = await h.say(text, from);
    expect(calls).toHaveLength(1);
    const c = firstCard(calls);
    expect(cardProblems(c)).toEqual([]);
    return cardText(c);
  }

  it('/help lists every command with an example', async () => {
    const text = await card('/help');
    expect(text).toContain('/migration start "<name>"');
    expect(text).toContain('Example: /verify pilot OU=Sales');
    expect(text).toContain('/verify list');
  });

  it('an unknown command gets the help text, not silence', async () => {
    const text = await card('/frobnicate now');
    expect(text).toContain('"/frobnicate now" is not a command I know');
    expect(text).toContain('Example: /verify pilot OU=Sales');
    expect(await card('hello there')).toContain('is not a command I know');
  });

  it('a NUL in a command gets a card saying so and an audit row, not "Something went wrong"', async () => {
    const conversationId = '19:nul-input@thread.tacv2';
    const calls = await h.say('/migration start "a\u0000b"', undefined, conversationId);
    expect(calls).toHaveLength(1);
    expect(cardProblems(firstCard(calls))).toEqual([]);
    const text = cardText(firstCard(calls));
    expect(text).toContain(
      '/migration: The message contains an invisible control character (U+0000), so nothing was done.',
    );
    expect(text).toContain('Usage: type it again without it: /migration start "<name>"');
    expect(text).not.toContain('Something went wrong');
    expect(await h.store.migrations.findByConversation(conversationId)).toBeNull();
    const rows = await h.store.db.query<{ action: string; target: string }>(
      'SELECT action, target FROM audit_log WHERE conversation_id = $1',
      [conversationId],
    );
    expect(rows).toEqual([{ action: 'command.invalid', target: '/migration start "a\\u0000b"' }]);
  });

  it('/migration start creates one durable migration per conversation', async () => {
    const started = await h.say('/migration start "Contoso pilot"');
    // The confirmation, the runbook overview and the first step's card.
    expect(started).toHaveLength(3);
    for (const c of started) expect(cardProblems(c.activity.attachments![0]!.content)).toEqual([]);
    expect(cardText(started[0]!.activity.attachments![0]!.content)).toContain('Migration "Contoso pilot" started');
    expect(cardText(started[2]!.activity.attachments![0]!.content)).toContain('Step 1 of 18');
    const m = await h.store.migrations.findByConversation(h.conversationId);
    expect(m).toMatchObject({ name: 'Contoso pilot', createdBy: '00000000-0000-0000-0000-00000000ad01' });
    expect(await card('/migration start "Again"')).toContain('already has a migration');
    expect(await card('/migration start')).toContain('The migration needs a name.');
  });

  it.each([
    ['/verify pilot OU=Sales)(objectClass=*', 'That is not an OU'],
    ['/verify pilot *)(uid=*))(|(uid=*', 'That is not an OU'],
    ['/verify pilot OU=Sales,', 'That OU name cannot be read'],
    ['/verify pilot DC=contoso,DC=com', 'whole domain'],
    ['/verify pilot UID=x,DC=contoso,DC=com', 'only OU=, CN= and DC= are accepted'],
  ])('%s gets a clear card and queues nothing', async (text, expected) => {
    const before = (await h.store.db.query<{ n: number }>('SELECT count(*)::int AS n FROM jobs'))[0]!.n;
    const shown = await card(text, undefined);
    expect(shown).toContain(expected);
    expect(shown).toContain('OU=Sales,DC=contoso,DC=com');
    const after = (await h.store.db.query<{ n: number }>('SELECT count(*)::int AS n FROM jobs'))[0]!.n;
    expect(after).toBe(before);
  });

  it('/verify pilot answers at once with a verifying card and queues one job', async () => {
    const shown = await card('/verify pilot OU=Sales', undefined);
    expect(shown).toContain('Verify pilot: OU=Sales');
    expect(shown).toContain('waiting for the on-premises agent');
    const jobs = await h.store.db.query<{ kind: string; state: string; payload: unknown }>(
      'SELECT kind, state, payload FROM jobs ORDER BY created_at DESC LIMIT 1',
    );
    expect(jobs[0]).toMatchObject({
      kind: 'directory.scanOu',
      state: 'queued',
      payload: { action: 'directory.scanOu', ou: 'OU=Sales' },
    });
  });

  it('strips the @mention Teams puts in channel messages', async () => {
    const { messageActivity, postActivity } = await import('../helpers/activities');
    const before = h.connector.calls.length;
    await postActivity(
      h.bot.url,
      messageActivity({
        text: '/help',
        from: MEGAN,
        conversationId: h.conversationId,
        serviceUrl: h.connector.url,
        mentionBot: true,
      }),
    );
    expect(cardText(firstCard(h.connector.calls.slice(before)))).toContain('SyncShift commands');
  });

  it('/verify list before any result explains what to do', async () => {
    expect(await card('/verify list missing')).toContain('Run /verify pilot OU=Sales first');
  });

  it('the relay refuses requests without a valid agent credential', async () => {
    const lease = (headers: Record<string, string>): Promise<Response> =>
      fetch(`${h.bot.url}/relay/v1/jobs/lease`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: JSON.stringify({ agentVersion: 't', waitMs: 0 }),
      });
    expect((await lease({})).status).toBe(401);
    expect(
      (await lease({ 'x-syncshift-agent': 'agent-test', authorization: 'Bearer wrong-secret-wrong-secret-wrong' }))
        .status,
    ).toBe(401);
    expect(
      (await lease({ 'x-syncshift-agent': 'nobody', authorization: 'Bearer test-secret-0123456789-abcdefghij' }))
        .status,
    ).toBe(401);
    const result = await fetch(`${h.bot.url}/relay/v1/jobs/00000000-0000-0000-0000-000000000000/result`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"outcome":"failed","error":{"code":"x","message":"y"}}',
    });
    expect(result.status).toBe(401);
  });
});
