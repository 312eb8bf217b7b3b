import { OU } from '../../src/sandbox/forest-spec';
import { SIMULATED_CLOUD_SYNC_JOB_ID, SIMULATED_CLOUD_SYNC_SP_ID } from '../../src/sandbox/sim-synchronization';
import type { StoredStep } from '../../src/store/runbook-repo';
import { ADELE, cardActionActivity, MEGAN, postActivity, type TestUser } from '../helpers/activities';
import { startBotHarness, type BotHarness } from '../helpers/bot-harness';
import { cardProblems } from '../helpers/card-check';
import { eventually } from '../helpers/eventually';
import { cardText } from '../helpers/fake-connector';

const LYNNE: TestUser = { id: '29:lynne', name: 'Lynne Robbins', aadObjectId: '00000000-0000-0000-0000-00000000ad03' };
const RULE_ID = '0b7e3c2a-5a4d-4b6e-9f10-0000000000a1';

/**
 * `/rollback pilot` through the bot with the Graph simulator's Cloud Sync: the pilot is through step
 * 11 (stored as the steps would have left it, the OU in the simulated scope), an approver asks for the
 * rollback, approves its first part (the OU out of Cloud Sync's scope, here the job paused as it is
 * the last OU) and asks again for the next part (the rules), all on the stored steps.
 */
describe('/rollback pilot end to end (Cloud Sync part through Graph)', () => {
  let h: BotHarness;
  let migrationId: string;
  const schemaUrl = (): string =>
    `${h.graph.url}/beta/servicePrincipals/${SIMULATED_CLOUD_SYNC_SP_ID}/synchronization/jobs/${SIMULATED_CLOUD_SYNC_JOB_ID}`;
  const auth = (): Record<string, string> => ({ authorization: `Bearer ${h.graph.token}` });

  async function readScope(): Promise<{ containers: string[]; status: string }> {
    const schema = (await (await fetch(`${schemaUrl()}/schema`, { headers: auth() })).json()) as {
      synchronizationRules: { containerFilter: { includedContainers: string[] } }[];
    };
    const job = (await (await fetch(schemaUrl(), { headers: auth() })).json()) as { status: { code: string } };
    return { containers: schema.synchronizationRules[0]!.containerFilter.includedContainers, status: job.status.code };
  }

  async function steps(): Promise<StoredStep[]> {
    return h.store.runbook.listSteps(migrationId);
  }

  async function say(text: string, from = MEGAN): Promise<string[]> {
    return (await h.say(text, from)).map((c) => {
      const card = c.activity.attachments?.[0]?.content ?? {};
      expect(cardProblems(card)).toEqual([]);
      return cardText(card);
    });
  }

  beforeAll(async () => {
    h = await startBotHarness({
      env: {
        SYNCSHIFT_APPROVERS: [MEGAN, LYNNE].map((u) => u.aadObjectId).join(','),
        SYNCSHIFT_REQUIRED_APPROVALS: '1',
      },
    });
    await h.say('/migration start "Rollback"', ADELE);
    migrationId = (await h.store.migrations.findByConversation(h.conversationId))!.id;
    const evidence: Record<number, unknown> = {
      5: { pilotOu: OU.rAndD, users: 7, disabled: 0, job: 'test' },
      9: { result: { created: [{ identifier: RULE_ID }] } },
      11: { scopeValue: OU.rAndD },
    };
    for (const s of await steps())
      if (s.n <= 11)
        expect(
          await h.store.runbook.saveStep(
            migrationId,
            { ...s, status: 'done', evidence: evidence[s.n] ?? null, updatedBy: 'Adele Vance', updatedAt: new Date() },
            s.version,
          ),
        ).toBe(true);
    // The pilot OU in Cloud Sync's scope and the job running, as step 11 left them.
    const schema = (await (await fetch(`${schemaUrl()}/schema`, { headers: auth() })).json()) as {
      synchronizationRules: { containerFilter: { includedContainers: string[] } }[];
    };
    schema.synchronizationRules[0]!.containerFilter.includedContainers = [OU.rAndD];
    const put = await fetch(`${schemaUrl()}/schema`, {
      method: 'PUT',
      headers: { ...auth(), 'content-type': 'application/json' },
      body: JSON.stringify(schema),
    });
    expect(put.status).toBe(204);
    expect((await fetch(`${schemaUrl()}/start`, { method: 'POST', headers: auth() })).status).toBe(204);
    // A bot with a fresh PGlite store starts slowly on a loaded machine.
  }, 180_000);

  afterAll(async () => {
    await h?.close();
  });

  it('refuses a requester who is not an approver, and asks for nothing', async () => {
    const [card] = await say('/rollback pilot', ADELE);
    expect(card).toContain('Only an approver (SYNCSHIFT_APPROVERS) can start the rollback of the pilot.');
    expect(await h.store.runbook.liveApproval(migrationId, 11)).toBeNull();
  });

  it('answers for a wave this migration does not have, and asks for nothing', async () => {
    const [card] = await say('/rollback Wave1');
    expect(card).toContain('No wave named Wave1');
  });

  it('refuses while a wave holds its rules, naming the wave; once the wave is rolled back it plans again', async () => {
    const wave = (await h.store.waves.createWave({
      migrationId,
      name: 'Wave1',
      scheduledFor: null,
      createdBy: 'Megan Bowen',
      now: new Date(),
      ous: [OU.sales],
    }))!;
    // The wave's rules, created by its approved action, as the engine stores them.
    const rules = (await h.store.waveActions.create({
      migrationId,
      waveId: wave.id,
      kind: 'rules',
      status: 'done',
      by: 'Megan Bowen',
      now: new Date(),
    }))!;
    const evidence = { wave: 'Wave1', ous: [OU.sales], result: { created: [{ identifier: RULE_ID, name: 'r' }] } };
    const createdAt = new Date();
    expect(
      await h.store.waveActions.save(
        { id: rules.id, status: 'done', reason: null, evidence, updatedBy: 'Megan Bowen', updatedAt: createdAt },
        rules.version,
      ),
    ).toBe(true);

    const [plan, stepCard] = await say('/rollback pilot');
    expect(plan).toContain('Wave Wave1 still holds changes that rest on the pilot through step 13');
    expect(plan).toContain('(/rollback Wave1)');
    expect(stepCard).toBeUndefined();
    expect(await h.store.runbook.liveApproval(migrationId, 11)).toBeNull();
    const audit = (await h.store.audit.latest(20)).find((e) => e.action === 'rollback.pilot');
    expect(audit).toMatchObject({ outcome: 'refused' });
    expect(JSON.stringify(audit!.details)).toContain('Wave1');

    // The wave rolled back: its rules disabled and a full cycle run since.
    const undoneAt = new Date();
    expect(
      await h.store.waveActions.save(
        { id: rules.id, status: 'undone', reason: null, evidence, updatedBy: 'Megan Bowen', updatedAt: undoneAt },
        rules.version + 1,
      ),
    ).toBe(true);
    const cycle = (await h.store.waveActions.create({
      migrationId,
      waveId: wave.id,
      kind: 'cycle',
      status: 'done',
      by: 'Megan Bowen',
      now: new Date(),
    }))!;
    await h.store.waveActions.save(
      {
        id: cycle.id,
        status: 'done',
        reason: null,
        evidence: { rulesChangedAt: undoneAt.toISOString() },
        updatedBy: 'Megan Bowen',
        updatedAt: new Date(),
      },
      cycle.version,
    );
  });

  it('plans 11, 9, 8 and asks for the Cloud Sync part first; approved, the OU leaves scope', async () => {
    const [plan, stepCard] = await say('/rollback pilot');
    expect(plan).toContain('Pilot rollback');
    expect(plan).toContain('Step 11: Configure Cloud Sync for the pilot OU');
    expect(plan).toMatch(/Step 11: Configure Cloud Sync for the pilot OU: done; next/);
    expect(plan).toMatch(/Step 12: [^\n]*: not started; nothing to take back/);
    expect(plan).toContain('tutorial-pilot-aadc-aadccp');
    expect(stepCard).toBeDefined();
    const approval = await h.store.runbook.liveApproval(migrationId, 11);
    expect(approval).toMatchObject({ action: 'undo:removeFromScope', status: 'pending' });

    const res = await postActivity(
      h.bot.url,
      cardActionActivity({
        verb: 'step.approve',
        data: { migrationId, n: 11, approvalId: approval!.id },
        // Megan asked for the rollback; another approver approves it.
        from: LYNNE,
        conversationId: h.conversationId,
        serviceUrl: h.connector.url,
        replyToId: (await steps())[10]!.cardActivityId,
      }),
    );
    expect(res.status).toBe(200);
    const undone = await eventually(
      async () => {
        const s = (await steps())[10]!;
        return s.status === 'pending' && s.reason === 'undone' ? s : null;
      },
      { what: 'step 11 to be undone', timeoutMs: 30_000 },
    );
    expect(undone.status).toBe('pending');
    // The pilot was the last OU, so the job is paused rather than left with an empty (whole-domain) scope.
    expect(await readScope()).toEqual({ containers: [OU.rAndD], status: 'Paused' });
  }, 60_000);

  it('asks for the rules next, from the stored steps, and not for step 11 again', async () => {
    const [plan, stepCard] = await say('/rollback pilot');
    expect(plan).toMatch(/Step 11: Configure Cloud Sync for the pilot OU: not started; undone already/);
    expect(plan).toMatch(/Step 9: Create the custom sync rules: done; next/);
    expect(await h.store.runbook.liveApproval(migrationId, 11)).toBeNull();
    // The rules part is an ADSync job: the step's own Undo path refuses it until the migration names
    // its Connect Sync server, and its card says so; nothing is requested.
    expect(stepCard).toContain('Step 9 of 18');
    expect(stepCard).toContain("Name this migration's Connect Sync server first");
    expect(await h.store.runbook.liveApproval(migrationId, 9)).toBeNull();
  });

  /** Clicks a button as `from` and returns the card that answers the click. */
  async function click(verb: string, data: unknown, from: TestUser): Promise<string> {
    const res = await postActivity(
      h.bot.url,
      cardActionActivity({ verb, data, from, conversationId: h.conversationId, serviceUrl: h.connector.url }),
    );
    expect(res.status).toBe(200);
    const body = (await res.json()) as { value: Record<string, unknown> };
    expect(cardProblems(body.value)).toEqual([]);
    return cardText(body.value);
  }

  it('/ou status offers a Rollback button per owner holding changes, decided from the store on click', async () => {
    // Wave1 holds its rules again.
    const wave = (await h.store.waves.listWaves(migrationId)).find((w) => w.name === 'Wave1')!;
    const rules = (await h.store.waveActions.listForWaves([wave.id])).find((a) => a.kind === 'rules')!;
    expect(await h.store.waveActions.save({ ...rules, status: 'done', updatedAt: new Date() }, rules.version)).toBe(
      true,
    );

    const [activity] = await h.say('/ou status', MEGAN);
    const card = activity!.activity.attachments![0]!.content as {
      actions?: { title: string; verb: string; data: unknown }[];
    };
    expect(cardProblems(card)).toEqual([]);
    const buttons = card.actions ?? [];
    expect(buttons.map((b) => b.title)).toEqual(['Rollback pilot', 'Rollback Wave1']);
    const [pilot, wave1] = buttons as [(typeof buttons)[0], (typeof buttons)[0]];
    // Opaque ids only.
    expect(pilot.data).toEqual({ migrationId });
    expect(wave1.data).toEqual({ migrationId, waveId: wave.id });

    // The pilot's button is /rollback pilot: refused while Wave1 holds its rules.
    const refused = await click(pilot.verb, pilot.data, LYNNE);
    expect(refused).toContain('Wave Wave1 still holds changes that rest on the pilot');
    expect(await h.store.runbook.liveApproval(migrationId, 9)).toBeNull();

    // Forged ids: refused and audited, nothing asked for.
    const other = '00000000-0000-4000-8000-000000000abc';
    expect(await click(pilot.verb, { migrationId: other }, LYNNE)).toContain(
      'Refused: this button does not match what SyncShift stored',
    );
    expect(await click(wave1.verb, { migrationId, waveId: other }, LYNNE)).toContain(
      'Refused: this button does not match what SyncShift stored',
    );
    const tampered = (await h.store.audit.latest(20)).filter((e) => e.action === 'card.tampered');
    expect(tampered.length).toBeGreaterThanOrEqual(2);

    // The wave's button asks for its rollback's next part: the rules, which need the Connect Sync server named.
    const plan = await click(wave1.verb, wave1.data, LYNNE);
    expect(plan).toContain('Wave1');
    expect(plan).toContain("Name this migration's Connect Sync server first");

    // Wave1 rolled back (rules disabled, a full cycle since) and the server named: the pilot's button
    // asks for its next part, and the step's card is posted for everyone.
    const undoneAt = new Date();
    const now = (await h.store.waveActions.listForWaves([wave.id])).filter((a) => a.kind !== 'scope');
    for (const a of now)
      await h.store.waveActions.save(
        a.kind === 'rules'
          ? { ...a, status: 'undone', updatedAt: undoneAt }
          : { ...a, evidence: { rulesChangedAt: undoneAt.toISOString() } },
        a.version,
      );
    await h.store.servers.set({ migrationId, agent: 'aadc-01', by: { id: 'test', name: 'test' }, now: new Date() });
    const [after] = await h.say('/ou status', MEGAN);
    const again = (after!.activity.attachments![0]!.content as { actions?: { title: string }[] }).actions ?? [];
    expect(again.map((b) => b.title)).toEqual(['Rollback pilot']);
    const from = h.connector.calls.length;
    const requested = await click(pilot.verb, pilot.data, LYNNE);
    expect(requested).toMatch(/Step 9: Create the custom sync rules: done; next/);
    expect(await h.store.runbook.liveApproval(migrationId, 9)).toMatchObject({ action: 'undo:disableRules' });
    await h.connector.waitFor(
      (c) =>
        c.method === 'POST' &&
        c.conversationId === h.conversationId &&
        cardText((c.activity.attachments?.[0]?.content ?? {}) as Record<string, unknown>).includes('Step 9 of 18'),
      { from, timeoutMs: 10_000 },
    );
  });
});
