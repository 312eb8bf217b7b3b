import { randomUUID } from 'node:crypto';
import { OU } from '../../src/sandbox/forest-spec';
import { SIMULATED_PASSWORD_HASH_JOB_ID } from '../../src/sandbox/sim-synchronization';
import type { CloudSyncConfirmation } from '../../src/runbook/cloud-sync-evidence';
import { ADELE, cardActionActivity, MEGAN, postActivity, type TestUser } from '../helpers/activities';
import { AGENT_ID, firstCard, startBotHarness, type BotHarness } from '../helpers/bot-harness';
import { cardProblems } from '../helpers/card-check';
import { eventually } from '../helpers/eventually';
import { cardText } from '../helpers/fake-connector';

const JOB = 'AD2AADProvisioning.5a4d60c1.0b7e3c2a-5a4d-4b6e-9f10-000000000011';

/**
 * Step 16 through the bot, from a stored runbook at step 15: the request is refused while the pilot
 * OU is not confirmed by Cloud Sync in the ledger (stored evidence: step 12's counts, then a verify),
 * then while Cloud Sync's password hash sync job is absent or paused in the Graph simulator, and a
 * 403 falls back to the requester's word, unverified. Once the pilot is confirmed and the job is
 * Active, the approval is requested with both read facts. No agent or AD is needed: nothing runs.
 */
describe('step 16 waits for the ledger and for Cloud Sync password hash sync read from Graph', () => {
  let h: BotHarness;
  let migrationId: string;

  beforeAll(async () => {
    h = await startBotHarness({
      env: {
        SYNCSHIFT_APPROVERS: [ADELE, MEGAN].map((u) => u.aadObjectId).join(','),
        SYNCSHIFT_REQUIRED_APPROVALS: '1',
      },
    });
    expect((await h.say('/migration start "Final stop"', ADELE)).length).toBe(3);
    migrationId = (await h.store.migrations.findByConversation(h.conversationId))!.id;
    await h.store.servers.set({ migrationId, agent: AGENT_ID, by: { id: 'test', name: 'test' }, now: new Date() });
    // Steps 1 to 15 as a migration that got there stored them; step 12's check saw 5 of 7 confirmed.
    const evidence: Record<number, unknown> = {
      5: { pilotOu: OU.rAndD, users: 7, disabled: 0, job: 'test' },
      10: { confirmedBy: 'Adele Vance', connectSyncPhs: 'on' },
      12: { ou: OU.rAndD, confirmedByCloudSync: 5, unconfirmed: 2, cloudSyncJob: JOB },
    };
    const earlier = new Date(Date.now() - 3_600_000);
    for (const s of await h.store.runbook.listSteps(migrationId)) {
      if (s.n > 15) continue;
      expect(
        await h.store.runbook.saveStep(
          migrationId,
          { ...s, status: 'done', evidence: evidence[s.n] ?? {}, updatedBy: 'Adele Vance', updatedAt: earlier },
          s.version,
        ),
      ).toBe(true);
    }
    // A bot with a fresh PGlite store starts slowly on a loaded machine.
  }, 180_000);

  afterAll(async () => {
    await h?.close();
  });

  async function request16(user: TestUser, extra: Record<string, unknown> = {}): Promise<string> {
    return click16(user, 'step.requestApproval', extra);
  }

  async function click16(user: TestUser, verb: string, extra: Record<string, unknown> = {}): Promise<string> {
    const res = await postActivity(
      h.bot.url,
      cardActionActivity({
        verb,
        data: { migrationId, n: 16, ...extra },
        from: user,
        conversationId: h.conversationId,
        serviceUrl: h.connector.url,
      }),
    );
    expect(res.status).toBe(200);
    const body = (await res.json()) as { value: Record<string, unknown> };
    expect(cardProblems(body.value)).toEqual([]);
    return cardText(body.value);
  }

  async function ouStatus(): Promise<string> {
    const card = firstCard(await h.say('/ou status', ADELE));
    expect(cardProblems(card)).toEqual([]);
    return cardText(card);
  }

  /** A reported verify of the pilot OU, as the verify service stores it once it read the provisioning logs. */
  async function storeVerify(confirmed: number, unconfirmed: CloudSyncConfirmation['unconfirmed'] = []): Promise<void> {
    const job = await h.store.jobs.enqueue({
      kind: 'directory.scanOu',
      purpose: 'verify',
      payload: { action: 'directory.scanOu', ou: OU.rAndD },
      conversationId: h.conversationId,
      migrationId,
      requestedBy: { id: ADELE.aadObjectId, name: ADELE.name },
    });
    const v = await h.store.verifications.create({
      jobId: job.id,
      conversationId: h.conversationId,
      migrationId,
      ouInput: OU.rAndD,
    });
    const cloudSync: CloudSyncConfirmation = {
      jobId: JOB,
      onPrem: 7,
      inEntraWithAnchor: 7,
      confirmed,
      unconfirmed,
    };
    await h.store.verifications.complete({
      id: v.id,
      status: 'reported',
      baseDn: OU.rAndD,
      summary: { confirmedByCloudSync: confirmed },
      report: { baseDn: OU.rAndD, missing: [], extra: [], mismatched: [], cloudSync },
      now: new Date(),
    });
  }

  it('refuses while the pilot OU is not confirmed by Cloud Sync, naming the OU and its counts', async () => {
    const text = await request16(ADELE, { phs: 'on' });
    expect(text).toContain('Connect Sync may be stopped only when Cloud Sync has confirmed every object');
    expect(text).toContain(`pilot ${OU.rAndD}: in Cloud Sync scope, 5 of 7 in-scope objects confirmed by Cloud Sync`);
    expect(text).toContain('the pilot check (step 12');
    expect(await h.store.runbook.latestApproval(migrationId, 16)).toBeNull();
    expect(await ouStatus()).toContain('next: confirmation: 5 of 7 objects confirmed by Cloud Sync');
  });

  it('/ou status shows the pilot confirmed by Cloud Sync after a confirmed verify, with where it was read', async () => {
    await storeVerify(7);
    const text = await ouStatus();
    expect(text).toContain(`pilot: ${OU.rAndD}`);
    expect(text).toContain('confirmed by Cloud Sync · all 7 objects confirmed (read from the verify of');
    expect(text).toContain(`reading job ${JOB}'s provisioning logs`);
  });

  it('then refuses while the password hash sync job is absent or paused, and takes the word only on a 403', async () => {
    const absent = await request16(ADELE, { phs: 'on' });
    expect(absent).toContain('has no AD2AADPasswordHash job');
    expect(absent).toContain('Turn on password hash sync in the Cloud Sync configuration');

    h.graph.setCloudSync({ passwordHashJob: 'Paused' });
    expect(await request16(ADELE, { phs: 'on' })).toContain(`job ${SIMULATED_PASSWORD_HASH_JOB_ID} is Paused`);

    // The app may not read the jobs: the requester's word stands in, and only it.
    h.graph.setCloudSyncPermission('none');
    expect(await request16(ADELE)).toContain('choose On for it on this card');
    h.graph.setCloudSyncPermission('readWrite');
    expect(await h.store.runbook.latestApproval(migrationId, 16)).toBeNull();
  });

  it('requests the approval once the pilot is confirmed and the job is Active, with what was read', async () => {
    h.graph.setCloudSync({ passwordHashJob: 'Active' });
    await request16(ADELE);
    const approval = await h.store.runbook.latestApproval(migrationId, 16);
    expect(approval?.status).toBe('pending');
    expect(approval!.evidence).toMatchObject({
      connectSyncPhs: 'on',
      cloudSyncPhs: expect.stringContaining(
        `on, read from Graph: job ${SIMULATED_PASSWORD_HASH_JOB_ID} is Active`,
      ) as unknown,
    });
  });

  it('voids the approval when a verify since the request found an object Cloud Sync has not confirmed', async () => {
    const approval = (await h.store.runbook.latestApproval(migrationId, 16))!;
    await storeVerify(6, [{ dn: `CN=Pat Newhire,${OU.rAndD}`, reason: 'no Cloud Sync log entry' }]);
    await click16(MEGAN, 'step.approve', { approvalId: approval.id });
    const step16 = await eventually(
      async () => {
        const s = (await h.store.runbook.listSteps(migrationId)).find((x) => x.n === 16)!;
        return s.status === 'pending' ? s : null;
      },
      { what: 'step 16 back to pending after the void approval', timeoutMs: 30_000 },
    );
    expect(step16.reason).toContain(`approval void, nothing ran: Connect Sync may be stopped only when`);
    expect(step16.reason).toContain(`6 of 7 in-scope objects confirmed by Cloud Sync`);
    expect((await h.store.runbook.getApproval(approval.id))!.status).toBe('void');
    // Nothing was queued for the agent: the ADSync service was never asked to stop.
    const queued = await h.store.db.query(`SELECT kind FROM jobs WHERE migration_id = $1 AND kind LIKE 'adsync.%'`, [
      migrationId,
    ]);
    expect(queued).toEqual([]);
  });
  it("refuses while a staging server lacks a wave's rules, naming both, until it is confirmed decommissioned", async () => {
    // A wave whose approved rules action created a rule on the active server, as the engine stores it.
    const wave = (await h.store.waves.createWave({
      migrationId,
      name: 'Wave1',
      scheduledFor: null,
      createdBy: 'Adele Vance',
      now: new Date(),
      ous: [OU.sales],
    }))!;
    const waveRule = 'In from AD - User cloudNoFlow OU=Sales (SyncShift) (wave Wave1)';
    const action = (await h.store.waveActions.create({
      migrationId,
      waveId: wave.id,
      kind: 'rules',
      status: 'done',
      by: 'Adele Vance',
      now: new Date(),
    }))!;
    const evidence = {
      wave: 'Wave1',
      ous: [OU.sales],
      result: { created: [{ name: waveRule, identifier: randomUUID() }] },
    };
    await h.store.waveActions.save(
      { id: action.id, status: 'done', reason: null, evidence, updatedBy: 'Adele Vance', updatedAt: new Date() },
      action.version,
    );
    // A staging server read in staging mode, with no SyncShift rule on it.
    await h.store.servers.saveStagingReading({
      migrationId,
      agent: 'aadc-staging',
      jobId: randomUUID(),
      at: new Date(),
      stagingMode: true,
      rulesFound: [],
    });

    const refused = await request16(ADELE);
    expect(refused).toContain('another Connect Sync server would export the migrated objects again');
    expect(refused).toContain(`aadc-staging in staging mode without 1 of the 1 no-flow rules (${waveRule})`);
    const staging = cardText(firstCard(await h.say('/server staging', ADELE)));
    expect(staging).toContain(`Rule needed: ${waveRule}`);

    // Undone, the wave's rules are no longer needed there: the staging server blocks for another reason.
    await h.store.waveActions.save(
      { id: action.id, status: 'undone', reason: null, evidence, updatedBy: 'Adele Vance', updatedAt: new Date() },
      action.version + 1,
    );
    expect(await request16(ADELE)).toContain('the active server has no SyncShift no-flow rules to compare with yet');
    await h.store.waveActions.save(
      { id: action.id, status: 'done', reason: null, evidence, updatedBy: 'Adele Vance', updatedAt: new Date() },
      action.version + 2,
    );

    expect(cardText(firstCard(await h.say('/server decommissioned aadc-staging', ADELE)))).toContain(
      'confirmed aadc-staging decommissioned',
    );
    // Past the staging servers, the request stops at the ledger (the last verify found an unconfirmed object).
    const next = await request16(ADELE);
    expect(next).not.toContain('aadc-staging');
    expect(next).toContain(
      'Not requested: Connect Sync may be stopped only when Cloud Sync has confirmed every object',
    );
    expect(await h.store.runbook.liveApproval(migrationId, 16)).toBeNull();
  });
});
