import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Attribute, Client } from 'ldapts';
import { connectLdapDirectory } from '../../src/directory/ldap-directory';
import type { Directory } from '../../src/directory/types';
import { initialSteps } from '../../src/runbook/runbook';
import { stepByCheck } from '../../src/runbook/steps';
import {
  SIMULATED_CLOUD_SYNC_JOB_ID,
  startSimulatedCloudSync,
  type SimulatedCloudSync,
} from '../../src/sandbox/simulated-cloud-sync';
import { buildTenantFromDirectory } from '../../src/sandbox/tenant-from-directory';
import type { StoredCanary } from '../../src/store/canary-repo';
import type { StoredStep } from '../../src/store/runbook-repo';
import { ADELE, cardActionActivity, MEGAN, postActivity, type TestUser } from '../helpers/activities';
import { spawnAgent, type AgentProcess } from '../helpers/agent-process';
import { startBotHarness, type BotHarness } from '../helpers/bot-harness';
import { cardProblems } from '../helpers/card-check';
import { eventually } from '../helpers/eventually';
import { cardText } from '../helpers/fake-connector';
import { sambaEnv } from '../helpers/samba';

/**
 * Step 12's canary end to end: the agent creates a disabled user in the pilot OU after approval,
 * the simulated Cloud Sync provisions it and logs it, the bot sees both; the agent deletes it after
 * approval, Cloud Sync deletes it from the tenant, and the OU holds exactly what it held before.
 * The pilot OU is this test's own (created and removed here), so it writes nothing into shared OUs.
 */
describe('step 12 canary: created, provisioned, deleted through the agent with approval', () => {
  const samba = sambaEnv();
  const OU_DN = `OU=SyncShift Canary ${randomBytes(3).toString('hex')},${samba.baseDn}`;
  const PILOT_USERS = ['Pilot One', 'Pilot Two'];
  /** A security group and a mail-enabled contact: step 12 confirms them from the logs like the users. */
  const PILOT_GROUP = 'Pilot Group';
  const PILOT_CONTACT = 'Pilot Contact';
  const CONTACT_MAIL = `c${randomBytes(4).toString('hex')}@partner.example`;
  let ldap: Client;
  let h: BotHarness;
  let agent: AgentProcess;
  let cloudSync: SimulatedCloudSync;
  let migrationId: string;

  const connect = (): Promise<Directory> =>
    connectLdapDirectory({ url: samba.url, bindDn: samba.bindDn, password: samba.password, caPath: samba.caPath });

  /** Every object in the OU's subtree, the OU itself included, as Samba counts them. */
  async function objectsInOu(): Promise<string[]> {
    const { searchEntries } = await ldap.search(OU_DN, {
      scope: 'sub',
      filter: '(objectClass=*)',
      attributes: ['1.1'],
    });
    return searchEntries.map((e) => e.dn).sort();
  }

  beforeAll(async () => {
    ldap = new Client({ url: samba.url, tlsOptions: { ca: readFileSync(samba.caPath), minVersion: 'TLSv1.2' } });
    await ldap.bind(samba.bindDn, samba.password);
    await ldap.add(OU_DN, [new Attribute({ type: 'objectClass', values: ['top', 'organizationalUnit'] })]);
    for (const cn of PILOT_USERS)
      await ldap.add(`CN=${cn},${OU_DN}`, [
        new Attribute({ type: 'objectClass', values: ['top', 'person', 'organizationalPerson', 'user'] }),
        new Attribute({ type: 'sAMAccountName', values: [`c${randomBytes(6).toString('hex')}`] }),
        new Attribute({ type: 'userAccountControl', values: ['514'] }),
      ]);
    await ldap.add(`CN=${PILOT_GROUP},${OU_DN}`, [
      new Attribute({ type: 'objectClass', values: ['top', 'group'] }),
      new Attribute({ type: 'sAMAccountName', values: [`g${randomBytes(6).toString('hex')}`] }),
      new Attribute({ type: 'groupType', values: ['-2147483646'] }),
    ]);
    await ldap.add(`CN=${PILOT_CONTACT},${OU_DN}`, [
      new Attribute({ type: 'objectClass', values: ['top', 'person', 'organizationalPerson', 'contact'] }),
      new Attribute({ type: 'mail', values: [CONTACT_MAIL] }),
      new Attribute({ type: 'proxyAddresses', values: [`SMTP:${CONTACT_MAIL}`] }),
    ]);
    h = await startBotHarness({
      env: {
        SYNCSHIFT_APPROVERS: [ADELE, MEGAN].map((u) => u.aadObjectId).join(','),
        SYNCSHIFT_REQUIRED_APPROVALS: '1',
      },
      canary: { pollMs: 200, progressEveryMs: 0, timeouts: { provisionMs: 60_000, deleteMs: 60_000 } },
    });
    // Connect Sync already put every user of the domain into Entra with the right anchor.
    const directory = await connect();
    const tenant = await buildTenantFromDirectory(directory, { baseDn: OU_DN, missing: 0, extra: 0, mismatched: 0 });
    await directory.close();
    h.graph.setUsers(tenant.users);
    h.graph.setGroups(tenant.groups);
    h.graph.setContacts(tenant.contacts);
    // The agent may touch only this OU: its own policy, not just the bot's word.
    agent = spawnAgent(h.bot.url, samba, { SYNCSHIFT_ALLOWED_BASE_DNS: OU_DN });
    cloudSync = startSimulatedCloudSync({
      graph: h.graph,
      connectDirectory: connect,
      delayMs: 0,
      cycleIntervalMs: 300,
      pollMs: 200,
    });
    // A bot, an agent process and PGlite on a busy machine: more than the default minute.
  }, 180_000);

  afterAll(async () => {
    await cloudSync?.stop();
    agent?.stop();
    await h?.close();
    if (ldap) {
      // Whatever a failed run left behind goes, leaves first.
      const left = await objectsInOu().catch(() => [] as string[]);
      for (const dn of left.sort((a, b) => b.length - a.length)) await ldap.del(dn).catch(() => undefined);
      await ldap.unbind();
    }
  }, 120_000);

  async function step(n: number): Promise<StoredStep> {
    return (await h.store.runbook.listSteps(migrationId))[n - 1]!;
  }

  async function click(user: TestUser, verb: string, n: number, extra: Record<string, unknown> = {}): Promise<string> {
    const res = await postActivity(
      h.bot.url,
      cardActionActivity({
        verb,
        data: { migrationId, n, ...extra },
        from: user,
        conversationId: h.conversationId,
        serviceUrl: h.connector.url,
        replyToId: (await step(n)).cardActivityId,
      }),
    );
    expect(res.status).toBe(200);
    const body = (await res.json()) as { value: Record<string, unknown> };
    expect(cardProblems(body.value)).toEqual([]);
    return cardText(body.value);
  }

  async function canary(status: StoredCanary['status']): Promise<StoredCanary> {
    return eventually(
      async () => {
        const [latest] = await h.store.canaries.list(migrationId, 1);
        return latest?.status === status ? latest : null;
      },
      {
        what: `the canary to be ${status}`,
        // Two processes and a Cloud Sync cycle on a shared, busy machine.
        timeoutMs: 120_000,
        detail: async () =>
          `Canary: ${JSON.stringify((await h.store.canaries.list(migrationId, 1))[0] ?? null)}\nAgent log:\n${agent.log().slice(-3000)}`,
      },
    );
  }

  async function approvalId(status: string): Promise<string> {
    return eventually(
      async () => {
        const a = await h.store.runbook.latestApproval(migrationId, 12);
        return a?.status === status ? a.id : null;
      },
      { what: `step 12's approval to be ${status}`, timeoutMs: 15_000 },
    );
  }

  /** The shared copy of step 12's card, once it shows `expected`. */
  async function card12(expected: string): Promise<string> {
    return eventually(
      async () => {
        const id = (await step(12)).cardActivityId;
        const card = id ? h.connector.cards(h.conversationId).get(id) : undefined;
        const text = card ? cardText(card) : '';
        return text.includes(expected) ? text : null;
      },
      { what: `step 12's card to show "${expected}"`, timeoutMs: 30_000 },
    );
  }

  it('refuses step 12 without a canary, then passes after one came through; nothing is left behind', async () => {
    const before = await objectsInOu();
    expect(before).toHaveLength(1 + PILOT_USERS.length + 2);

    await h.say('/migration start "Canary pilot"', ADELE);
    migrationId = (await h.store.migrations.findByConversation(h.conversationId))!.id;
    await h.say(`/summary job ${SIMULATED_CLOUD_SYNC_JOB_ID}`, ADELE);
    // Steps 1 to 11 as the runbook test walks them: the pilot OU recorded, its baseline counted,
    // the scheduler stopped (step 8) and Cloud Sync configured (step 11).
    const baseline = stepByCheck({ kind: 'verify', mode: 'baseline' }).n;
    for (const s of initialSteps().filter((x) => x.n <= 11)) {
      const stored = await step(s.n);
      const evidence =
        s.n === stepByCheck({ kind: 'pilotOu' }).n
          ? { pilotOu: OU_DN, users: PILOT_USERS.length, disabled: PILOT_USERS.length }
          : s.n === baseline
            ? { ou: OU_DN, onPremUsers: PILOT_USERS.length, cloudUsers: PILOT_USERS.length }
            : { confirmedBy: 'test' };
      await h.store.runbook.saveStep(
        migrationId,
        { ...stored, status: 'done', evidence, updatedBy: 'test', updatedAt: new Date() },
        stored.version,
      );
    }
    // Step 12's card gets posted by a refresh through /step.
    const posted = await h.say('/step 12', ADELE);
    expect(posted.length).toBeGreaterThan(0);
    await eventually(async () => (await step(12)).cardActivityId, { what: 'step 12 card', timeoutMs: 10_000 });

    // Before Cloud Sync has the OU in scope: the group and the contact are in Entra (Connect Sync put
    // them there, found by SID and mail), but no entry of the Cloud Sync job names them: refused.
    await click(ADELE, 'step.run', 12);
    const unconfirmed = await eventually(async () => ((await step(12)).status === 'failed' ? await step(12) : null), {
      what: 'step 12 to fail before Cloud Sync ran',
      timeoutMs: 30_000,
      detail: () => agent.log().slice(-2000),
    });
    const source = `(a successful entry of job ${SIMULATED_CLOUD_SYNC_JOB_ID} in the provisioning logs)`;
    expect(unconfirmed.reason).toContain(
      `0 of 1 in-scope groups are confirmed by Cloud Sync ${source}; 1 are not yet (/verify list unconfirmed names them)`,
    );
    expect(unconfirmed.reason).toContain(`0 of 1 in-scope contacts are confirmed by Cloud Sync ${source}`);
    expect(unconfirmed.evidence).toMatchObject({
      cloudSyncGroups: { onPrem: 1, inEntra: 1, confirmed: 0, unconfirmed: 1 },
      cloudSyncContacts: { onPrem: 1, inEntra: 1, confirmed: 0, unconfirmed: 1 },
    });
    expect(JSON.stringify(unconfirmed.evidence)).toContain(
      `group: CN=${PILOT_GROUP},${OU_DN} (no Cloud Sync log entry)`,
    );

    // What step 11 writes through Graph: the pilot OU in the running job's scope. Cloud Sync's first
    // cycle logs the users, the group and the contact under its job.
    h.graph.setCloudSync({ includedContainers: [OU_DN], statusCode: 'Active' });
    const first = await cloudSync.cycleFor(OU_DN);
    expect(first.others).toEqual({
      group: { matched: 1, created: [] },
      contact: { matched: 1, created: [] },
    });

    // Every user, group and contact is confirmed by Cloud Sync now, but no canary came through: refused.
    await click(ADELE, 'step.run', 12);
    const failed = await eventually(
      async () => {
        const s = await step(12);
        return s.status === 'failed' && (s.updatedAt?.getTime() ?? 0) > (unconfirmed.updatedAt?.getTime() ?? 0)
          ? s
          : null;
      },
      { what: 'step 12 to fail on the canary alone', timeoutMs: 30_000, detail: () => agent.log().slice(-2000) },
    );
    expect(failed.reason).toContain('no canary has come through Cloud Sync');
    expect(failed.reason).not.toContain('confirmed by Cloud Sync');
    expect(failed.evidence).toMatchObject({
      unconfirmed: 0,
      cloudSyncGroups: { onPrem: 1, confirmed: 1, unconfirmed: 0 },
      cloudSyncContacts: { onPrem: 1, confirmed: 1, unconfirmed: 0 },
    });

    // Create: four eyes, then the agent writes it into the pilot OU.
    expect(await click(ADELE, 'step.canaryCreate', 12)).toContain('Canary creation waiting for approval');
    const createApproval = await approvalId('pending');
    expect(await click(ADELE, 'step.approve', 12, { approvalId: createApproval })).toContain(
      'someone else has to approve',
    );
    await click(MEGAN, 'step.approve', 12, { approvalId: createApproval });
    const waiting = await canary('waiting');
    expect(waiting.dn).toBe(`CN=${waiting.name},${OU_DN}`);
    expect(waiting.name).toMatch(/^syncshift-canary-[0-9a-f]{8}$/);
    const inAd = await ldap.search(waiting.dn!, {
      scope: 'base',
      filter: '(objectClass=user)',
      attributes: ['userAccountControl', 'memberOf', 'sAMAccountName'],
    });
    expect(inAd.searchEntries[0]).toMatchObject({
      userAccountControl: '514',
      sAMAccountName: expect.stringMatching(/^syncshift-c-/),
    });
    expect(inAd.searchEntries[0]!.memberOf ?? []).toEqual([]);

    // Cloud Sync's next cycle provisions it; the bot sees the Entra object and the log entry.
    const provisioned = await canary('provisioned');
    expect(provisioned.cloudId).toBe(h.graph.users().find((u) => u.onPremisesImmutableId === waiting.anchor)?.id);
    expect(provisioned.createLogAt).not.toBeNull();
    expect(provisioned.schedulerStopped).toBe(true);
    const shown = await card12('provisioned by Cloud Sync');
    expect(shown).toContain('so Cloud Sync alone provisioned it');
    expect(shown).toMatch(/provisioned by Cloud Sync [\d.]+ s after it was created/);

    // Delete: approved again, then the agent removes exactly that user and Cloud Sync follows.
    await click(ADELE, 'step.canaryDelete', 12);
    await click(MEGAN, 'step.approve', 12, { approvalId: await approvalId('pending') });
    const gone = await canary('gone');
    expect(gone.deleteLogAt).not.toBeNull();
    expect(h.graph.users().some((u) => u.onPremisesImmutableId === waiting.anchor)).toBe(false);
    expect(await card12('Nothing is left behind')).toMatch(/gone from Entra [\d.]+ s later \(Delete log entry at /);
    expect(await objectsInOu()).toEqual(before);

    // With the canary through, step 12 passes on its counts.
    await click(ADELE, 'step.run', 12);
    const done = await eventually(async () => ((await step(12)).status === 'done' ? await step(12) : null), {
      what: 'step 12 to pass',
      timeoutMs: 30_000,
      detail: async () => JSON.stringify(await step(12)),
    });
    expect(done.evidence).toMatchObject({ canary: { name: waiting.name, schedulerStopped: true } });

    const audit = await h.store.audit.forConversation(h.conversationId, 500);
    for (const action of ['canary.request', 'approval.approve', 'canary.created', 'canary.observed', 'canary.deleted'])
      expect(audit.map((a) => a.action)).toContain(action);
    // The password went to the DC only: not in the store, not in the agent's log.
    expect(JSON.stringify(await h.store.db.query('SELECT payload, result FROM jobs'))).not.toMatch(
      /password|unicodePwd/i,
    );
    expect(agent.log()).not.toMatch(/unicodePwd|aA1!/);
  }, 480_000);

  it("the agent's own policy refuses a canary outside its allowed OU, even if the bot asks", async () => {
    const job = await h.bot.jobs.enqueue({
      purpose: 'canary',
      payload: {
        action: 'directory.createCanary',
        ouDn: `OU=Sales,${samba.baseDn}`,
        name: 'syncshift-canary-00000bad',
      },
      conversationId: h.conversationId,
      migrationId,
      requestedBy: { id: 'test', name: 'test' },
    });
    const finished = await eventually(
      async () => {
        const j = await h.store.jobs.get(job.id);
        return j?.state === 'failed' || j?.state === 'succeeded' ? j : null;
      },
      { what: 'the refused canary job to finish', timeoutMs: 30_000, detail: () => agent.log().slice(-2000) },
    );
    expect(finished.state).toBe('failed');
    expect(finished.error).toMatchObject({ code: 'POLICY.DN_NOT_ALLOWED' });
    const sales = await ldap.search(`OU=Sales,${samba.baseDn}`, {
      scope: 'sub',
      filter: '(cn=syncshift-canary-00000bad)',
      attributes: ['1.1'],
    });
    expect(sales.searchEntries).toHaveLength(0);
  });
});
