import { SYSTEM_ACTOR } from '../../src/runbook/actor';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { connectLdapDirectory } from '../../src/directory/ldap-directory';
import { buildTenantFromDirectory } from '../../src/sandbox/tenant-from-directory';
import type { SimUser } from '../../src/sandbox/graph-simulator';
import type { StoredStep } from '../../src/store/runbook-repo';
import { EXPECTED, OU } from '../fixtures/ad-seed-spec';
import { ADELE, cardActionActivity, MEGAN, postActivity, type TestUser } from '../helpers/activities';
import { AGENT_ID, startBotHarness, type BotHarness } from '../helpers/bot-harness';
import { cardProblems } from '../helpers/card-check';
import { eventually } from '../helpers/eventually';
import { cardText } from '../helpers/fake-connector';
import { installFakePowerShell, type FakePowerShell } from '../../src/sandbox/simulated-connect-sync';
import {
  SIMULATED_CLOUD_SYNC_JOB_ID,
  startSimulatedCloudSync,
  type SimulatedCloudSync,
} from '../../src/sandbox/simulated-cloud-sync';
import { sambaEnv } from '../helpers/samba';
import { spawnAgent, type AgentProcess } from '../helpers/agent-process';

const LYNNE: TestUser = { id: '29:lynne', name: 'Lynne Robbins', aadObjectId: '00000000-0000-0000-0000-00000000ad03' };
const MALLORY: TestUser = { id: '29:mallory', name: 'Mallory', aadObjectId: '00000000-0000-0000-0000-0000000000ff' };

/**
 * A migration from `/migration start` to step 13 through the HTTP activity path, with a requester
 * (Adele) and approvers (Megan, Lynne): Samba AD, the Graph simulator and the PowerShell stand-in.
 */
describe('runbook end to end: steps 1 to 13 with approvals', () => {
  const samba = sambaEnv();
  let h: BotHarness;
  let ps: FakePowerShell;
  let agent: AgentProcess;
  let exportDir: string;
  let migrationId: string;
  let rdUsers: SimUser[];
  let cloudSync: SimulatedCloudSync | undefined;

  beforeAll(async () => {
    const directory = await connectLdapDirectory({
      url: samba.url,
      bindDn: samba.bindDn,
      password: samba.password,
      caPath: samba.caPath,
    });
    const tenant = await buildTenantFromDirectory(directory, {
      baseDn: OU.sales,
      missing: 3,
      extra: 2,
      mismatched: 2,
    }).finally(() => directory.close());
    ps = installFakePowerShell();
    exportDir = mkdtempSync(join(tmpdir(), 'syncshift-export-'));
    h = await startBotHarness({
      env: {
        SYNCSHIFT_APPROVERS: [ADELE, MEGAN, LYNNE].map((u) => u.aadObjectId).join(','),
        SYNCSHIFT_REQUIRED_APPROVALS: '1',
      },
    });
    h.graph.setUsers(tenant.users);
    rdUsers = tenant.users.filter((u) => u.onPremisesDistinguishedName?.endsWith('OU=R\\,D,DC=contoso,DC=com'));
    agent = spawnAgent(h.bot.url, samba, { ...ps.env, SYNCSHIFT_ADSYNC_EXPORT_DIR: exportDir });
  });

  afterAll(async () => {
    await cloudSync?.stop();
    agent?.stop();
    await h?.close();
    ps?.cleanup();
    if (exportDir) rmSync(exportDir, { recursive: true, force: true });
  });

  async function steps(): Promise<StoredStep[]> {
    return h.store.runbook.listSteps(migrationId);
  }

  async function step(n: number): Promise<StoredStep> {
    return (await steps())[n - 1]!;
  }

  /** Clicks a button on a step card the way Teams does: an adaptiveCard/action invoke, answered in the HTTP response. */
  async function click(user: TestUser, verb: string, n: number, extra: Record<string, unknown> = {}): Promise<string> {
    const s = await step(n);
    const res = await postActivity(
      h.bot.url,
      cardActionActivity({
        verb,
        data: { migrationId, n, ...extra },
        from: user,
        conversationId: h.conversationId,
        serviceUrl: h.connector.url,
        replyToId: s.cardActivityId,
      }),
    );
    expect(res.status).toBe(200);
    const body = (await res.json()) as { statusCode: number; type: string; value: Record<string, unknown> };
    expect(body).toMatchObject({ statusCode: 200, type: 'application/vnd.microsoft.card.adaptive' });
    expect(cardProblems(body.value)).toEqual([]);
    return cardText(body.value);
  }

  async function waitForStep(n: number, statuses: string[], timeoutMs = 30_000): Promise<StoredStep> {
    return eventually(
      async () => {
        const s = await step(n);
        return statuses.includes(s.status) ? s : null;
      },
      {
        what: `step ${n} to be ${statuses.join('/')}`,
        timeoutMs,
        detail: async () => {
          const s = await step(n);
          return `Step ${n} is ${s.status} (${s.reason ?? ''}).\nAgent log:\n${agent.log().slice(-3000)}`;
        },
      },
    );
  }

  async function waitForApproval(n: number, status: string): Promise<string> {
    return eventually(
      async () => {
        const a = await h.store.runbook.latestApproval(migrationId, n);
        return a?.status === status ? a.id : null;
      },
      {
        what: `step ${n}'s approval to be ${status}`,
        timeoutMs: 30_000,
        detail: async () => {
          const a = await h.store.runbook.latestApproval(migrationId, n);
          const s = await step(n);
          return `Approval for step ${n} is ${a?.status ?? 'missing'} (step ${s.status}: ${s.reason ?? ''}).\nAgent log:\n${agent.log().slice(-3000)}`;
        },
      },
    );
  }

  /**
   * The shared copy of a step card as everyone in the channel sees it. The card is updated just
   * after the step is stored, so wait until it shows `expected`. The wait is long because this test
   * sends more than Teams' 60 messages per 30 s into one conversation, and the bot paces its card
   * updates to stay under that limit. A step's card may be posted only after the step was read,
   * so its activity id is read again on every try.
   */
  async function sharedCard(s: StoredStep, expected: string | RegExp): Promise<string> {
    let seen = { activityId: null as string | null, text: '' };
    const shown = await eventually(
      async () => {
        const activityId = (await step(s.n)).cardActivityId;
        const card = activityId ? h.connector.cards(h.conversationId).get(activityId) : undefined;
        const text = card ? cardText(card) : '';
        seen = { activityId, text };
        return (typeof expected === 'string' ? text.includes(expected) : expected.test(text)) ? { card, text } : null;
      },
      {
        what: `step ${s.n}'s card to show ${String(expected)}`,
        timeoutMs: 45_000,
        intervalMs: 50,
        detail: () => `Step ${s.n}'s card (${seen.activityId ?? 'not posted'}) shows:\n${seen.text}`,
      },
    );
    expect(cardProblems(shown.card)).toEqual([]);
    return shown.text;
  }

  it('walks the runbook', async () => {
    const started = await h.say('/migration start "Contoso pilot"', ADELE);
    expect(started).toHaveLength(3);
    for (const c of started) expect(cardProblems(c.activity.attachments![0]!.content)).toEqual([]);
    expect(cardText(started[1]!.activity.attachments![0]!.content)).toContain(
      '0 of 18 steps finished · current: step 1',
    );
    migrationId = (await h.store.migrations.findByConversation(h.conversationId))!.id;
    expect((await step(1)).cardActivityId).toBe(started[2]!.id);

    // The report and every later Connect Sync job read the migration's named server (issue 16).
    await eventually(
      async () => ((await h.store.agents.get(AGENT_ID))?.actions?.includes('adsync.getScheduler') ? true : null),
      {
        what: 'the agent to declare its Connect Sync actions',
        timeoutMs: 30_000,
      },
    );
    expect(cardText((await h.say(`/server ${AGENT_ID}`, ADELE))[0]!.activity.attachments![0]!.content)).toContain(
      `now runs on ${AGENT_ID}`,
    );
    // 1, 2: the readiness report. The stand-in's Connect Sync has an admin-made rule (a blocker),
    // which an approver accepts with a reason; step 2 then passes from the same report.
    expect(await click(ADELE, 'step.confirm', 1)).toContain('checked by SyncShift');
    await h.say('/readiness', ADELE);
    const s1 = await waitForStep(1, ['failed']);
    const blocker = (s1.evidence as { findings: { id?: string; severity: string }[] }).findings.find(
      (f) => f.severity === 'blocker',
    )!;
    expect(
      await click(MEGAN, 'step.acceptBlocker', 1, { findingId: blocker.id, reason: 'Re-created as a mapping' }),
    ).toContain('Accepted by Megan Bowen');
    await sharedCard(await waitForStep(1, ['done']), 'Done');
    await waitForStep(2, ['done']);
    expect((await step(2)).cardActivityId).not.toBeNull();
    expect(await click(ADELE, 'step.confirm', 2)).toContain('checked by SyncShift');

    // 3: the agent exports the configuration through the PowerShell stand-in, on the server named above
    // (every Connect Sync job runs there and nowhere else).
    expect(await click(ADELE, 'step.confirm', 3)).toContain('checked by SyncShift');
    // The stand-in may finish before the card answers: in progress or already done.
    expect(await click(ADELE, 'step.run', 3)).toMatch(/In progress|Done/);
    const s3 = await waitForStep(3, ['done']);
    expect(JSON.stringify(s3.evidence)).toContain(exportDir);
    await sharedCard(s3, /export\.files: \d/);

    await click(ADELE, 'step.confirm', 4);

    // 5: a bad OU is refused on the card; a good one is resolved and counted by the agent.
    expect(await click(ADELE, 'step.run', 5, { ou: 'OU=x)(objectClass=*' })).toContain('looks like an LDAP filter');
    // Typed in lower case: what is stored, and later written into Cloud Sync's scope, is AD's spelling.
    await click(ADELE, 'step.run', 5, { ou: 'ou=r\\,d' });
    const s5 = await waitForStep(5, ['done']);
    expect(s5.evidence).toMatchObject({ pilotOu: 'OU=R\\,D,DC=contoso,DC=com', users: EXPECTED.rAndD.users });

    // 6: optional, skipped with a reason; 7 cannot be skipped.
    expect(await click(ADELE, 'step.skip', 7, { reason: 'no' })).toContain('cannot be skipped');
    expect(await click(ADELE, 'step.skip', 6, { reason: 'Pilot users already live in OU=R,D' })).toContain(
      'Skipped: Pilot users already live in OU=R,D',
    );

    // 7: baseline count through the verify slice.
    await click(ADELE, 'step.run', 7);
    const s7 = await waitForStep(7, ['done']);
    expect(s7.evidence).toMatchObject({
      onPremUsers: EXPECTED.rAndD.users,
      cloudUsers: EXPECTED.rAndD.users,
      missing: 0,
    });
    await sharedCard(s7, `onPremUsers: ${EXPECTED.rAndD.users}`);

    // 8: stop the scheduler. Refused while a cycle runs; then four eyes.
    ps.writeState({ syncCycleInProgress: true });
    expect(await click(ADELE, 'step.requestApproval', 8)).toContain('Reading the current Connect Sync state');
    await eventually(async () => ((await step(8)).reason ?? '').includes('Connect Sync cycle is in progress'), {
      what: 'step 8 to wait for the Connect Sync cycle',
      timeoutMs: 30_000,
      detail: async () =>
        `step 8: ${JSON.stringify(await step(8))}; jobs: ${JSON.stringify(await h.store.db.query('SELECT kind, state, error FROM jobs ORDER BY seq DESC LIMIT 2'))}\n${agent.log().slice(-2000)}`,
    });
    await sharedCard(await step(8), 'a Connect Sync cycle is in progress');
    ps.writeState({ syncCycleInProgress: false });
    await click(ADELE, 'step.requestApproval', 8);
    const ap8 = await waitForApproval(8, 'pending');
    expect((await step(8)).status).toBe('waiting_approval');
    expect(await click(ADELE, 'step.approve', 8, { approvalId: ap8 })).toContain(
      'You asked for this change, so someone else has to approve it.',
    );
    expect(await click(MALLORY, 'step.approve', 8, { approvalId: ap8 })).toContain('You are not on the approver list');
    // Megan's view has the buttons; Adele's refreshed view does not.
    expect(await click(MEGAN, 'step.refresh', 8)).toContain('Waiting for approval: 0 of 1');
    // Two approvers at once, one of them double-clicking: the action runs once.
    const clicks = await Promise.all([
      click(MEGAN, 'step.approve', 8, { approvalId: ap8 }),
      click(LYNNE, 'step.approve', 8, { approvalId: ap8 }),
      click(MEGAN, 'step.approve', 8, { approvalId: ap8 }),
    ]);
    expect(clicks.filter((t) => /already (approved|executing|executed)|already answered/.test(t)).length).toBe(2);
    const s8 = await waitForStep(8, ['done']);
    expect(ps.readState().scheduler.SyncCycleEnabled).toBe(false);
    expect(ps.readState().calls.filter((c) => c.cmdlet === 'Set-ADSyncScheduler')).toHaveLength(1);
    expect(await h.store.db.query(`SELECT id FROM jobs WHERE kind = 'adsync.stopScheduler'`)).toHaveLength(1);
    const card8 = await sharedCard(s8, 'result.scheduler.syncCycleEnabled: false');
    expect(card8).toContain('before.scheduler.syncCycleEnabled: true');
    expect(card8).toContain('Requested by Adele Vance');
    expect(card8).toMatch(/approved by (Megan Bowen|Lynne Robbins)/);

    // 9: the rules. The card shows the script; a rule added meanwhile voids the approval.
    await click(ADELE, 'step.requestApproval', 9);
    const ap9 = await waitForApproval(9, 'pending');
    const card9 = await sharedCard(await step(9), 'Script that will run after approval');
    expect(card9).toContain('Script that will run after approval');
    expect(card9).toContain('ENDSWITH');
    expect(card9).toContain('cloudNoFlow');
    const planned = ((await h.store.runbook.getApproval(ap9))!.evidence as { plan: { precedence: number }[] }).plan.map(
      (p) => p.precedence,
    );
    const state = ps.readState();
    ps.writeState({
      rules: [
        ...state.rules,
        {
          ...state.rules.find((r) => r.ImmutableTag === '')!,
          Identifier: randomUUID(),
          Name: 'Someone else',
          Precedence: planned[0]!,
        },
      ],
    });
    await click(MEGAN, 'step.approve', 9, { approvalId: ap9 });
    await waitForApproval(9, 'void');
    expect((await waitForStep(9, ['pending'])).reason).toContain('approval void');
    await click(ADELE, 'step.requestApproval', 9);
    const ap9b = await waitForApproval(9, 'pending');
    await click(LYNNE, 'step.approve', 9, { approvalId: ap9b });
    const s9 = await waitForStep(9, ['done']);
    const created = ps.readState().rules.filter((r) => r.Name.includes('(SyncShift)'));
    expect(created).toHaveLength(6);
    expect(
      created
        .filter((r) => r.Direction === 'Inbound')
        .every((r) => JSON.stringify(r.ScopeFilter).includes('OU=R\\\\,D,DC=contoso,DC=com')),
    ).toBe(true);
    expect(created.every((r) => r.Precedence >= 0 && r.Precedence <= 99)).toBe(true);
    await sharedCard(s9, 'Done');

    // Step 10 asks whether Connect Sync's password hash sync is on; the answer is its evidence.
    expect(await click(MEGAN, 'step.confirm', 10)).toContain("whether Connect Sync's password hash sync is on");
    await click(MEGAN, 'step.confirm', 10, { phs: 'on' });
    expect((await step(10)).evidence).toMatchObject({ connectSyncPhs: 'on' });
    // 11: Cloud Sync's scope. First the app may only read: the card names the permission, a person
    // changes the scope by hand, and "Check the scope" reads it.
    h.graph.setCloudSyncPermission('read');
    await click(ADELE, 'step.requestApproval', 11);
    const ap11 = await waitForApproval(11, 'pending');
    const card11 = await sharedCard(await step(11), 'Scope value (the DN as AD wrote it)');
    expect(card11).toContain('OU=R\\,D,DC=contoso,DC=com');
    expect(card11).toContain('no filter (the whole domain)');
    await click(MEGAN, 'step.approve', 11, { approvalId: ap11 });
    const s11 = await waitForStep(11, ['failed']);
    expect(s11.reason).toContain('lacks Synchronization.ReadWrite.All');
    expect(h.graph.cloudSync()).toEqual({ statusCode: 'Paused', includedContainers: [[]] });
    expect(await click(ADELE, 'step.run', 11)).toContain('Not done: the Cloud Sync job is Paused, not Active');
    h.graph.setCloudSync({ includedContainers: ['OU=R\\,D,DC=contoso,DC=com'], statusCode: 'Active' });
    await click(ADELE, 'step.run', 11);
    expect((await waitForStep(11, ['done'])).evidence).toMatchObject({
      byHand: 'Adele Vance',
      coveredByCloudSync: true,
    });

    // With the permission: undo takes the pilot out (the last OU, so the job is paused: an empty
    // list would cover the whole domain), and a new approval puts it back and starts the job.
    h.graph.setCloudSyncPermission('readWrite');
    await click(ADELE, 'step.undo', 11);
    const undo11 = await waitForApproval(11, 'pending');
    await click(LYNNE, 'step.approve', 11, { approvalId: undo11 });
    expect((await waitForStep(11, ['pending'])).reason).toBe('undone');
    expect(h.graph.cloudSync()).toEqual({ statusCode: 'Paused', includedContainers: [['OU=R\\,D,DC=contoso,DC=com']] });
    await click(ADELE, 'step.requestApproval', 11);
    const ap11b = await waitForApproval(11, 'pending');
    await click(MEGAN, 'step.approve', 11, { approvalId: ap11b });
    const done11 = await waitForStep(11, ['done']);
    expect(done11.evidence).toMatchObject({
      scopeValue: 'OU=R\\,D,DC=contoso,DC=com',
      coveredByCloudSync: true,
      jobStatus: 'Active',
    });
    expect(h.graph.cloudSync()).toEqual({ statusCode: 'Active', includedContainers: [['OU=R\\,D,DC=contoso,DC=com']] });

    // 12 without a Cloud Sync job: nothing can show Cloud Sync did anything, and the card says how to set it.
    await click(ADELE, 'step.run', 12);
    const noJob = await waitForStep(12, ['failed']);
    expect(noJob.reason).toContain('no Cloud Sync job is set for this migration');
    expect(noJob.reason).toContain('/summary job <job id>');

    // 12 with the job: every pilot user is in Entra with the right anchor (Connect Sync put them there),
    // but no entry of the Cloud Sync job names them, so the step is refused and says which number is which.
    await h.say(`/summary job ${SIMULATED_CLOUD_SYNC_JOB_ID}`, ADELE);
    await click(ADELE, 'step.run', 12);
    const unconfirmed = await waitForStep(12, ['failed']);
    expect(unconfirmed.evidence).toMatchObject({
      onPremUsers: EXPECTED.rAndD.users,
      cloudUsers: EXPECTED.rAndD.users,
      missing: 0,
      immutableIdMismatches: 0,
      inEntraWithAnchor: EXPECTED.rAndD.users,
      confirmedByCloudSync: 0,
      unconfirmed: EXPECTED.rAndD.users,
      cloudSyncJob: SIMULATED_CLOUD_SYNC_JOB_ID,
    });
    expect(unconfirmed.reason).toContain(
      `0 of ${EXPECTED.rAndD.users} in-scope objects are confirmed by Cloud Sync (a successful entry of job ${SIMULATED_CLOUD_SYNC_JOB_ID} in the provisioning logs); ${EXPECTED.rAndD.users} are not yet (/verify list unconfirmed names them)`,
    );
    const card12 = await sharedCard(unconfirmed, 'Confirmed by Cloud Sync (provisioning logs): 0');
    expect(card12).toContain(`In Entra with the right anchor: ${EXPECTED.rAndD.users}`);
    expect(card12).toMatch(/Not yet confirmed, first few: CN=.*OU=R\\,D,DC=contoso,DC=com \(no Cloud Sync log entry\)/);
    // The title quotes Microsoft's guide; no count on the card is called provisioned.
    expect(card12).not.toMatch(/\d+ (of \S+ )?(users )?(are )?provisioned/);

    // Cloud Sync's first cycle hard-matches the pilot users and logs them under its job.
    cloudSync = startSimulatedCloudSync({
      graph: h.graph,
      connectDirectory: () =>
        connectLdapDirectory({ url: samba.url, bindDn: samba.bindDn, password: samba.password, caPath: samba.caPath }),
      delayMs: 0,
      pollMs: 60_000,
    });
    await cloudSync.pollNow();
    const cycle = await cloudSync.cycleFor(OU.rAndD);
    // OU=R,D holds users only: the cycle logs no group or contact, and step 12 asks for none.
    expect(cycle).toMatchObject({
      kind: 'initial',
      matched: EXPECTED.rAndD.users,
      created: [],
      conflicts: [],
      others: { group: { matched: 0, created: [] }, contact: { matched: 0, created: [] } },
    });

    // A pilot user gone from Entra still fails the step, however Cloud Sync logged it; "in Entra" is never called provisioned.
    h.graph.removeUser(rdUsers[0]!.id);
    await click(ADELE, 'step.run', 12);
    const s12 = await waitForStep(12, ['failed']);
    expect(s12.reason).toContain('1 missing in the cloud');
    await sharedCard(
      s12,
      `Failed: ${EXPECTED.rAndD.users - 1} of the ${EXPECTED.rAndD.users} users counted in step 7 are in Entra; 1 missing in the cloud`,
    );
    h.graph.addUsers([rdUsers[0]!]);
    // Without a canary that came through Cloud Sync step 12 still fails; here an approver waives it
    // (test/e2e/canary.test.ts runs a real one). Only approvers may, and only with a reason.
    await click(ADELE, 'step.run', 12);
    // Every pilot user is confirmed by Cloud Sync now; only the canary is left.
    const canaryOnly = await waitForStep(12, ['failed']);
    expect(canaryOnly.reason).toContain('no canary has come through Cloud Sync');
    expect(canaryOnly.reason).not.toContain('confirmed by Cloud Sync');
    expect(canaryOnly.evidence).toMatchObject({ confirmedByCloudSync: EXPECTED.rAndD.users, unconfirmed: 0 });
    expect(await click(MALLORY, 'step.waiveCanary', 12, { reason: 'lab forest' })).toContain(
      'Only an approver may waive the canary',
    );
    expect(await click(MEGAN, 'step.waiveCanary', 12, { reason: '' })).toContain('Say why the canary is waived');
    expect(await click(MEGAN, 'step.waiveCanary', 12, { reason: 'Pilot OU has no room for test users' })).toContain(
      'Canary waived by Megan Bowen',
    );
    await click(ADELE, 'step.run', 12);
    const done12 = await waitForStep(12, ['done']);
    expect(done12.evidence).toMatchObject({
      inEntraWithAnchor: EXPECTED.rAndD.users,
      confirmedByCloudSync: EXPECTED.rAndD.users,
      unconfirmed: 0,
      canaryWaived: { by: 'Megan Bowen', reason: 'Pilot OU has no room for test users' },
    });
    expect(done12.evidence).not.toHaveProperty('cloudSyncGroups');
    await sharedCard(done12, `Confirmed by Cloud Sync (provisioning logs): ${EXPECTED.rAndD.users}`);

    // 13: an expired approval is refused; a fresh one runs a full sync cycle.
    await click(ADELE, 'step.requestApproval', 13);
    const ap13 = await waitForApproval(13, 'pending');
    await h.store.db.query(`UPDATE approvals SET expires_at = now() - interval '1 minute' WHERE id = $1`, [ap13]);
    expect(await click(MEGAN, 'step.approve', 13, { approvalId: ap13 })).toContain('This request expired');
    expect((await waitForStep(13, ['pending'])).reason).toBe('approval expired');
    await click(ADELE, 'step.requestApproval', 13);
    const ap13b = await waitForApproval(13, 'pending');
    await click(MEGAN, 'step.approve', 13, { approvalId: ap13b });
    await waitForStep(13, ['done']);
    expect(ps.readState().scheduler.SyncCycleEnabled).toBe(true);
    expect(ps.readState().lastStartedPolicy).toBe('Initial');

    const status = cardText((await h.say('/migration status', MEGAN))[0]!.activity.attachments![0]!.content);
    expect(status).toContain('13 of 18 steps finished · current: step 14');
    expect(status).toContain(
      '6. Move pilot users into the OU (optional): skipped (Pilot users already live in OU=R,D)',
    );
    // Step 12 runs the agent's scan four times and a Cloud Sync cycle: more than the default minute on a busy machine.
  }, 240_000);

  it('the audit log has every command, approval, job and result, and exports as CSV', async () => {
    const audit = await h.store.audit.forConversation(h.conversationId, 1000);
    const actions = new Set(audit.map((a) => a.action));
    for (const a of [
      'command.migration.start',
      'step.confirm',
      'step.run',
      'approval.request',
      'approval.approve',
      'job.queued',
      'job.leased',
      'job.result',
      'canary.waive',
    ])
      expect(actions).toContain(a);
    expect(audit.some((a) => a.action === 'approval.approve' && a.outcome === 'refused:SELF_APPROVAL')).toBe(true);
    expect(audit.some((a) => a.action === 'approval.approve' && a.outcome === 'refused:EXPIRED')).toBe(true);
    await expect(h.store.db.query(`UPDATE audit_log SET outcome = 'x'`)).rejects.toThrow();

    const text = cardText((await h.say('/audit', MEGAN))[0]!.activity.attachments![0]!.content);
    expect(text).toContain('Audit: latest 20 entries');
    const exportCard = cardText((await h.say('/audit export csv', MEGAN))[0]!.activity.attachments![0]!.content);
    const url = /Download: (\S+)/.exec(exportCard)![1]!;
    const csv = await (await fetch(url)).text();
    expect(csv.split('\r\n')[0]).toBe('at,actor,action,target,outcome,details,conversation_id,actor_name');
    expect(csv).toContain('approval.approve');
    expect((await fetch(url.replace(/sig=[^&]+/, 'sig=forged'))).status).toBe(403);

    // One person's rows, by name: each names Megan by her Entra object id and her name, whichever part of the bot wrote it.
    const meganCard = cardText(
      (await h.say('/audit export json Megan Bowen', MEGAN))[0]!.activity.attachments![0]!.content,
    );
    const meganUrl = /Download: (\S+)/.exec(meganCard)![1]!;
    const meganRows = (await (await fetch(meganUrl)).json()) as { actor: string; actorName: string; action: string }[];
    expect(meganRows.length).toBeGreaterThan(0);
    expect(new Set(meganRows.map((r) => `${r.actor}|${r.actorName}`))).toEqual(
      new Set([`${MEGAN.aadObjectId}|Megan Bowen`]),
    );
    expect(meganRows.map((r) => r.action)).toEqual(expect.arrayContaining(['command.audit', 'approval.approve']));
    // Widening a one-person link to everyone's rows breaks its signature.
    expect((await fetch(meganUrl.replace(/&person=[^&]+/, ''))).status).toBe(403);
    // Jobs queued for a step are on the record under the person who asked, not under a "id|name" string.
    // The one exception is the bot's own read after step 13's cycle (docs/no-flow-check.md): a
    // read-only cloudNoFlow check, on the record under SyncShift itself.
    const queued = audit.filter((a) => a.action === 'job.queued');
    const byBot = queued.filter((a) => a.actor === SYSTEM_ACTOR.id);
    expect(byBot.map((a) => [a.actorName, (a.details as { action?: string }).action])).toEqual(
      byBot.map(() => [SYSTEM_ACTOR.name, 'adsync.noFlowCheck']),
    );
    const byPeople = queued.filter((a) => a.actor !== SYSTEM_ACTOR.id);
    expect(byPeople.length).toBeGreaterThan(0);
    for (const row of byPeople)
      expect([ADELE, MEGAN, LYNNE].map((u) => `${u.aadObjectId}|${u.name}`)).toContain(`${row.actor}|${row.actorName}`);
  });

  it('undo of step 13 needs approval and stops the scheduler again', async () => {
    expect(await click(ADELE, 'step.undo', 13)).toContain('Undo waiting for approval');
    const ap = await waitForApproval(13, 'pending');
    expect(await click(ADELE, 'step.approve', 13, { approvalId: ap })).toContain('someone else has to approve');
    await click(LYNNE, 'step.approve', 13, { approvalId: ap });
    const s13 = await waitForStep(13, ['pending']);
    expect(s13.reason).toBe('undone');
    expect(ps.readState().scheduler.SyncCycleEnabled).toBe(false);
  });

  it('on to step 16: the ADSync service is stopped and disabled after approval', async () => {
    await click(ADELE, 'step.requestApproval', 13);
    await click(MEGAN, 'step.approve', 13, { approvalId: await waitForApproval(13, 'pending') });
    await waitForStep(13, ['done']);
    await click(ADELE, 'step.confirm', 14);
    await click(ADELE, 'step.confirm', 15);
    expect(ps.readState().service).toMatchObject({ Status: 'Running' });
    // Connect Sync synced password hashes (step 10), so Cloud Sync's must be on: read from Graph as
    // the configuration's AD2AADPasswordHash job, which the simulated configuration has not yet.
    expect(await click(ADELE, 'step.requestApproval', 16, { phs: 'on' })).toContain(
      'Turn on password hash sync in the Cloud Sync configuration',
    );
    h.graph.setCloudSync({ passwordHashJob: 'Active' });
    await click(ADELE, 'step.requestApproval', 16);
    const ap16 = await waitForApproval(16, 'pending');
    expect((await h.store.runbook.getApproval(ap16))!.evidence).toMatchObject({
      connectSyncPhs: 'on',
      cloudSyncPhs: expect.stringContaining('on, read from Graph: job AD2AADPasswordHash.') as unknown,
    });
    await click(LYNNE, 'step.approve', 16, { approvalId: ap16 });
    const s16 = await waitForStep(16, ['done']);
    expect(ps.readState().service).toMatchObject({ Status: 'Stopped', StartType: 'Disabled' });
    await sharedCard(s16, 'result.startType: Disabled');
    expect(s16.evidence).toMatchObject({ result: { previousStartType: 'Automatic' } });
  });

  it('undo of step 16 restores the start type the service had before the stop', async () => {
    expect(await click(ADELE, 'step.undo', 16)).toContain('Undo waiting for approval');
    await click(MEGAN, 'step.approve', 16, { approvalId: await waitForApproval(16, 'pending') });
    const s16 = await waitForStep(16, ['pending']);
    expect(s16.reason).toBe('undone');
    expect(ps.readState().service).toEqual({ Status: 'Running', StartType: 'Automatic' });
    const started = ps
      .readState()
      .calls.filter((c) => c.cmdlet === 'Set-Service')
      .at(-1);
    expect(started).toEqual({ cmdlet: 'Set-Service', args: { Name: 'ADSync', StartupType: 'Automatic' } });
  });
});
