import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cloudSyncCovers } from '../../src/runbook/cloud-sync-scope';
import {
  connectSyncExports,
  installFakePowerShell,
  type FakePowerShell,
} from '../../src/sandbox/simulated-connect-sync';
import { SIMULATED_CLOUD_SYNC_JOB_ID, SIMULATED_CLOUD_SYNC_SP_ID } from '../../src/sandbox/sim-synchronization';
import type { WaveActionKind } from '../../src/runbook/wave-engine';
import { OU } from '../fixtures/ad-seed-spec';
import { ADELE, cardActionActivity, MEGAN, postActivity, type TestUser } from '../helpers/activities';
import { spawnAgent, type AgentProcess } from '../helpers/agent-process';
import { AGENT_ID, startBotHarness, type BotHarness } from '../helpers/bot-harness';
import { cardProblems } from '../helpers/card-check';
import { eventually } from '../helpers/eventually';
import { cardText } from '../helpers/fake-connector';
import { sambaEnv } from '../helpers/samba';

const LYNNE: TestUser = { id: '29:lynne', name: 'Lynne Robbins', aadObjectId: '00000000-0000-0000-0000-00000000ad03' };
const MALLORY: TestUser = { id: '29:mallory', name: 'Mallory', aadObjectId: '00000000-0000-0000-0000-0000000000ff' };
/** How AD writes the OU typed as "ou=regions" (the seed's spelling). */
const REGIONS = OU.regions;

/**
 * Issue 16 for waves, end to end: a pilot through step 13 (stored as the steps leave it), two waves
 * counted by the real agent against Samba AD, and the second wave's rules (PowerShell stand-in on the
 * named Connect Sync server), full cycle and Cloud Sync scope (Graph simulator) each changing only
 * after another person's approval; then `/rollback Wave2` undoes them part by part.
 */
describe('waves: rules, scope and rollback through the bot', () => {
  const samba = sambaEnv();
  let h: BotHarness;
  let ps: FakePowerShell;
  let agent: AgentProcess;
  let migrationId: string;
  let wave2Id: string;
  let wave1Id: string;
  let exportDir: string;
  /** Moves the bot's clock (approval expiry) without touching the relay's. */
  let clockOffsetMs = 0;

  const jobUrl = (): string =>
    `${h.graph.url}/beta/servicePrincipals/${SIMULATED_CLOUD_SYNC_SP_ID}/synchronization/jobs/${SIMULATED_CLOUD_SYNC_JOB_ID}`;
  const auth = (): Record<string, string> => ({ authorization: `Bearer ${h.graph.token}` });

  async function readScope(): Promise<{ containers: string[]; status: string; covers: boolean }> {
    const schema = (await (await fetch(`${jobUrl()}/schema`, { headers: auth() })).json()) as {
      synchronizationRules: { id: string; containerFilter: { includedContainers: string[] } }[];
    };
    const job = (await (await fetch(jobUrl(), { headers: auth() })).json()) as { status: { code: string } };
    const rules = schema.synchronizationRules.map((r) => ({
      id: r.id,
      includedContainers: r.containerFilter.includedContainers,
    }));
    return {
      containers: rules[0]!.includedContainers,
      status: job.status.code,
      covers: cloudSyncCovers({ statusCode: job.status.code, scope: { rules } }, REGIONS),
    };
  }

  async function say(text: string, from: TestUser = ADELE): Promise<string[]> {
    return (await h.say(text, from)).map((c) => {
      const card = c.activity.attachments?.[0]?.content ?? {};
      expect(cardProblems(card)).toEqual([]);
      return cardText(card);
    });
  }

  async function action(kind: WaveActionKind, waveId = wave2Id) {
    return (await h.store.waveActions.listForWaves([waveId])).find((a) => a.kind === kind) ?? null;
  }

  async function waitFor(kind: WaveActionKind, status: string, waveId = wave2Id) {
    return eventually(
      async () => {
        const a = await action(kind, waveId);
        return a?.status === status ? a : null;
      },
      {
        what: `the wave's ${kind} to be ${status}`,
        timeoutMs: 30_000,
        detail: async () =>
          `It is ${JSON.stringify(await action(kind, waveId))}.\nAgent log:\n${agent.log().slice(-3000)}`,
      },
    );
  }

  /** A button on a wave card, as Teams sends it; the answer is the card the clicker sees. */
  async function click(user: TestUser, verb: string, data: Record<string, unknown>): Promise<string> {
    const res = await postActivity(
      h.bot.url,
      cardActionActivity({ verb, data, from: user, conversationId: h.conversationId, serviceUrl: h.connector.url }),
    );
    expect(res.status).toBe(200);
    const body = (await res.json()) as { value: Record<string, unknown> };
    expect(cardProblems(body.value)).toEqual([]);
    return cardText(body.value);
  }

  async function vote(kind: WaveActionKind, user: TestUser, verb = 'wave.approve', waveId = wave2Id): Promise<string> {
    const a = (await action(kind, waveId))!;
    const approvalId = await h.store.waveActions.latestApprovalId(a.id);
    return click(user, verb, { migrationId, actionId: a.id, approvalId });
  }

  function wave2Rules() {
    return ps.readState().rules.filter((r) => r.Name.includes('(wave Wave2)'));
  }

  beforeAll(async () => {
    ps = installFakePowerShell();
    h = await startBotHarness({
      env: {
        SYNCSHIFT_APPROVERS: [ADELE, MEGAN, LYNNE].map((u) => u.aadObjectId).join(','),
        SYNCSHIFT_REQUIRED_APPROVALS: '1',
        SYNCSHIFT_APPROVAL_TTL_MINUTES: '60',
      },
      now: () => new Date(Date.now() + clockOffsetMs),
    });
    // An agent on a Connect Sync server: ADSync actions are declared when it has an export folder.
    exportDir = mkdtempSync(join(tmpdir(), 'syncshift-export-'));
    agent = spawnAgent(h.bot.url, samba, { ...ps.env, SYNCSHIFT_ADSYNC_EXPORT_DIR: exportDir });
    await h.say('/migration start "Waves"', ADELE);
    migrationId = (await h.store.migrations.findByConversation(h.conversationId))!.id;
    // The pilot through step 13, as the steps leave it (runbook.test.ts walks them for real).
    for (const s of await h.store.runbook.listSteps(migrationId))
      if (s.n <= 13)
        expect(
          await h.store.runbook.saveStep(
            migrationId,
            {
              ...s,
              status: 'done',
              evidence: s.n === 5 ? { pilotOu: OU.rAndD, users: 7, disabled: 0, job: 'test' } : null,
              updatedBy: 'Adele Vance',
              updatedAt: new Date(),
            },
            s.version,
          ),
        ).toBe(true);
    // The pilot OU in Cloud Sync's scope and the job running, as step 11 left them.
    const schema = (await (await fetch(`${jobUrl()}/schema`, { headers: auth() })).json()) as {
      synchronizationRules: { containerFilter: { includedContainers: string[] } }[];
    };
    for (const r of schema.synchronizationRules) r.containerFilter.includedContainers = [OU.rAndD];
    const put = await fetch(`${jobUrl()}/schema`, {
      method: 'PUT',
      headers: { ...auth(), 'content-type': 'application/json' },
      body: JSON.stringify(schema),
    });
    expect(put.status).toBe(204);
    expect((await fetch(`${jobUrl()}/start`, { method: 'POST', headers: auth() })).status).toBe(204);
    await eventually(
      async () => ((await h.store.agents.get(AGENT_ID))?.actions?.includes('adsync.listRules') ? true : null),
      {
        what: 'the agent to declare its Connect Sync actions',
        timeoutMs: 60_000,
        detail: async () => agent.log().slice(-3000),
      },
    );
    expect((await say(`/server ${AGENT_ID}`))[0]).toContain(`now runs on ${AGENT_ID}`);
    await say(`/wave add Wave1 "${OU.salesOps}"`);
    // Typed in lower case: every value written must be AD's own spelling.
    await say('/wave add Wave2 ou=regions');
    const waves = await eventually(
      async () => {
        const list = await h.store.waves.listWaves(migrationId);
        return list.length === 2 && list.every((w) => w.ous.every((o) => o.baseDn)) ? list : null;
      },
      {
        what: 'both waves to be counted by the agent',
        timeoutMs: 60_000,
        detail: async () => agent.log().slice(-3000),
      },
    );
    wave2Id = waves.find((w) => w.name === 'Wave2')!.id;
    wave1Id = waves.find((w) => w.name === 'Wave1')!.id;
    expect(waves.find((w) => w.name === 'Wave2')!.ous[0]!.baseDn).toBe(REGIONS);
  }, 180_000);

  afterAll(async () => {
    agent?.stop();
    await h?.close();
    ps?.cleanup();
    if (exportDir) rmSync(exportDir, { recursive: true, force: true });
  });

  it("refuses Wave2's scope before its rules, and creates the rules only after another person approves", async () => {
    const [early] = await say('/wave scope Wave2');
    expect(early).toContain('The no-flow rules of wave Wave2 are not done yet');
    expect((await readScope()).containers).toEqual([OU.rAndD]);

    const [reading] = await say('/wave rules Wave2');
    expect(reading).toContain('Reading the live sync rules through the agent');
    await waitFor('rules', 'waiting_approval');
    expect(wave2Rules()).toEqual([]);
    // The requester cannot approve her own request; nothing is created.
    expect(await vote('rules', ADELE)).toContain('someone else has to approve it');
    expect((await action('rules'))!.status).toBe('waiting_approval');
    expect(wave2Rules()).toEqual([]);

    expect(await vote('rules', MEGAN)).toMatch(/Approval[^\n]*Megan Bowen approved/);
    const done = await waitFor('rules', 'done');
    const rules = wave2Rules();
    expect(rules).toHaveLength(6);
    const inbound = rules.filter((r) => r.Direction === 'Inbound');
    // dn ENDSWITH the OU as AD wrote it, not "ou=regions".
    expect(inbound.map((r) => r.ScopeFilter)).toEqual(
      inbound.map(() => [[{ Attribute: 'dn', ComparisonValue: REGIONS, ComparisonOperator: 'ENDSWITH' }]]),
    );
    expect(JSON.stringify(done.evidence)).toContain(rules[0]!.Identifier);
    expect(connectSyncExports(ps.readState(), `CN=Someone,OU=EMEA,${REGIONS}`)).toBe(false);
    // Wave1 is untouched: Connect Sync still exports it.
    expect(connectSyncExports(ps.readState(), `CN=Someone,${OU.salesOps}`)).toBe(true);
  }, 90_000);

  it('asks for a full cycle before the scope, then adds the OU to Cloud Sync only after approval', async () => {
    const [noCycle] = await say('/wave scope Wave2');
    expect(noCycle).toContain('No full Connect Sync cycle has run since the rules of wave Wave2 were created');

    await say('/wave cycle Wave2');
    await waitFor('cycle', 'waiting_approval');
    const starts = () => ps.readState().calls.filter((c) => c.cmdlet === 'Start-ADSyncSyncCycle').length;
    expect(starts()).toBe(0);
    await vote('cycle', LYNNE);
    await waitFor('cycle', 'done');
    expect(ps.readState().lastStartedPolicy).toBe('Initial');
    // The cycle finishes on the server.
    ps.writeState({ syncCycleInProgress: false, runningConnector: null });

    const [card] = await say('/wave scope Wave2');
    // The scope value exactly as AD wrote the DN, though it was typed in lower case.
    expect(card).toContain(`Scope value: ${REGIONS}`);
    expect(card).not.toContain('ou=regions,');
    await waitFor('scope', 'waiting_approval');
    expect(await readScope()).toMatchObject({ containers: [OU.rAndD], covers: false });
    expect(await vote('scope', ADELE)).toContain('someone else has to approve it');
    expect(await readScope()).toMatchObject({ containers: [OU.rAndD], covers: false });

    await vote('scope', MEGAN);
    await waitFor('scope', 'done');
    expect(await readScope()).toEqual({ containers: [OU.rAndD, REGIONS], status: 'Active', covers: true });

    // A wave holding changes is not removed from the plan (the ledger would lose them).
    expect((await say('/wave remove Wave2'))[0]).toContain('Wave Wave2 not removed');

    const [status] = await say('/ou status');
    expect(status).toContain(`Wave2: ${REGIONS}: in Cloud Sync scope`);
    expect(status).toContain(`Wave1: ${OU.salesOps}: owned by Connect Sync`);
    expect(status).not.toContain('ALARM');
  }, 90_000);

  it('rolls Wave2 back part by part: out of scope, rules disabled, a full cycle; then nothing is left', async () => {
    const [refused] = await say('/rollback Wave2', MALLORY);
    expect(refused).toContain('Only an approver (SYNCSHIFT_APPROVERS) can start the rollback of wave Wave2');

    const [plan, scopeCard] = await say('/rollback Wave2', MEGAN);
    expect(plan).toContain('Rollback of wave Wave2');
    expect(plan).toContain('tutorial-pilot-aadc-aadccp');
    expect(scopeCard).toContain('Take back');
    await vote('scope', LYNNE);
    await waitFor('scope', 'undone');
    // Out of the list; the pilot's OU stays in scope and the job keeps running for it.
    expect(await readScope()).toEqual({ containers: [OU.rAndD], status: 'Active', covers: false });
    expect(connectSyncExports(ps.readState(), `CN=Someone,OU=EMEA,${REGIONS}`)).toBe(false);

    // The next part from the Rollback button of the /wave list card: it carries only the wave's id.
    const list = (await h.say('/wave list', MEGAN))[0]!.activity.attachments![0]!.content;
    const buttons = JSON.stringify(list).match(/\{"type":"Action\.Execute"[^{}]*"data":\{[^{}]*\}\}/g) ?? [];
    expect(buttons).toHaveLength(1);
    const button = JSON.parse(buttons[0]!) as { title: string; verb: string; data: Record<string, unknown> };
    expect(button).toEqual({
      type: 'Action.Execute',
      title: 'Rollback Wave2',
      verb: 'wave.rollback',
      data: { migrationId, waveId: wave2Id },
    });
    // Not an approver: refused, nothing asked for.
    expect(await click(MALLORY, button.verb, button.data)).toContain('Only an approver');
    // A forged wave id is refused as tampering.
    expect(await click(MEGAN, button.verb, { ...button.data, waveId: migrationId })).toContain(
      'does not match what SyncShift stored',
    );
    const rulesPlan = await click(MEGAN, button.verb, button.data);
    expect(rulesPlan).toMatch(/Cloud Sync's scope: undone already/);
    expect(
      await h.store.runbook.getApproval((await h.store.waveActions.latestApprovalId((await action('rules'))!.id))!),
    ).toMatchObject({
      action: 'wave.undo:rules',
      status: 'pending',
    });
    await vote('rules', LYNNE);
    await waitFor('rules', 'undone');
    expect(wave2Rules().every((r) => r.Disabled)).toBe(true);
    // Connect Sync exports the OU's objects again; Cloud Sync does not cover it.
    expect(connectSyncExports(ps.readState(), `CN=Someone,OU=EMEA,${REGIONS}`)).toBe(true);
    expect((await readScope()).covers).toBe(false);

    const before = ps.readState().calls.filter((c) => c.cmdlet === 'Start-ADSyncSyncCycle').length;
    await say('/rollback Wave2', MEGAN);
    await vote('cycle', LYNNE);
    await eventually(
      async () => {
        const a = await action('cycle');
        return a?.status === 'done' &&
          ps.readState().calls.filter((c) => c.cmdlet === 'Start-ADSyncSyncCycle').length > before
          ? a
          : null;
      },
      { what: 'the rollback cycle to run', timeoutMs: 30_000, detail: async () => agent.log().slice(-3000) },
    );
    expect(ps.readState().lastStartedPolicy).toBe('Initial');

    const [last] = await say('/rollback Wave2', MEGAN);
    expect(last).toContain('Rollback of wave Wave2: nothing to roll back');
    const [status] = await say('/ou status');
    expect(status).toContain(`Wave2: ${REGIONS}: owned by Connect Sync`);
    expect(status).not.toContain('ALARM');
  }, 120_000);

  it("without the write permission names it on Wave1's card; a person adds the OU and Check the scope confirms", async () => {
    await say('/wave rules Wave1');
    await waitFor('rules', 'waiting_approval', wave1Id);
    // Nobody answers within the hour: asking again is not blocked by the expired request.
    const expired = await h.store.waveActions.latestApprovalId((await action('rules', wave1Id))!.id);
    expect((await say('/wave rules Wave1'))[0]).toContain('waiting approval already');
    clockOffsetMs = 2 * 3600_000;
    expect((await say('/wave rules Wave1'))[0]).toContain('Reading the live sync rules');
    expect(await h.store.runbook.getApproval(expired!)).toMatchObject({ status: 'expired' });
    await eventually(
      async () => {
        const a = await action('rules', wave1Id);
        const id = a?.status === 'waiting_approval' ? await h.store.waveActions.latestApprovalId(a.id) : null;
        return id && id !== expired ? id : null;
      },
      { what: "Wave1's new rules request", timeoutMs: 30_000 },
    );
    await vote('rules', MEGAN, 'wave.approve', wave1Id);
    await waitFor('rules', 'done', wave1Id);
    // The rollback's cycle above has finished on the server.
    ps.writeState({ syncCycleInProgress: false, runningConnector: null });
    await say('/wave cycle Wave1');
    await waitFor('cycle', 'waiting_approval', wave1Id);
    await vote('cycle', MEGAN, 'wave.approve', wave1Id);
    await waitFor('cycle', 'done', wave1Id);
    ps.writeState({ syncCycleInProgress: false, runningConnector: null });

    h.graph.setCloudSyncPermission('read');
    await say('/wave scope Wave1');
    await waitFor('scope', 'waiting_approval', wave1Id);
    await vote('scope', MEGAN, 'wave.approve', wave1Id);
    const failed = await waitFor('scope', 'failed', wave1Id);
    expect(failed.reason).toContain('lacks Synchronization.ReadWrite.All');
    expect(await readScope()).toMatchObject({ containers: [OU.rAndD] });

    const check = { migrationId, actionId: failed.id };
    // Not yet added by hand: the read says so and nothing changes.
    expect(await click(ADELE, 'wave.checkScope', check)).toContain(`Not yet: Cloud Sync does not cover ${OU.salesOps}`);
    // A person adds it in the portal, as the card says.
    h.graph.setCloudSync({ includedContainers: [OU.rAndD, OU.salesOps] });
    expect(await click(ADELE, 'wave.checkScope', check)).toContain(`Scope value: ${OU.salesOps}`);
    await waitFor('scope', 'done', wave1Id);
    const [status] = await say('/ou status');
    expect(status).toContain(`Wave1: ${OU.salesOps}: in Cloud Sync scope`);
    expect(status).not.toContain('ALARM');
    h.graph.setCloudSyncPermission('readWrite');
  }, 120_000);
});
