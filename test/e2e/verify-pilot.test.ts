import { connectLdapDirectory } from '../../src/directory/ldap-directory';
import { guidString } from '../../src/runbook/cloud-sync-evidence';
import { SIMULATED_CLOUD_SYNC_JOB_ID, startSimulatedCloudSync } from '../../src/sandbox/simulated-cloud-sync';
import { buildTenantFromDirectory, type BuiltTenant } from '../../src/sandbox/tenant-from-directory';
import {
  EXPECTED,
  EXPECTED_OTHER_TYPES,
  EXPECTED_SYNCED,
  OU,
  SALES_WITH_CONSISTENCY_GUID,
} from '../fixtures/ad-seed-spec';
import type { ComparisonReport } from '../../src/runbook/ou-comparison';
import { inetOrgPersonProblem, verifyOutcome } from '../../src/runbook/step-evidence';
import { stepByCheck } from '../../src/runbook/steps';
import { cardProblems } from '../helpers/card-check';
import { cardText, type ConnectorCall } from '../helpers/fake-connector';
import { AGENT_ID, firstCard, startBotHarness, type BotHarness } from '../helpers/bot-harness';
import { sambaEnv } from '../helpers/samba';
import { spawnAgent, type AgentProcess } from '../helpers/agent-process';

/**
 * The whole slice: Bot Framework activities over HTTP → bot → durable job → the real agent process
 * → Samba AD over LDAPS (paged) → bot → Graph simulator (paged, one 429) → card updated in place.
 */
describe('/verify pilot end to end against Samba AD', () => {
  const samba = sambaEnv();
  let h: BotHarness;
  let tenant: BuiltTenant;
  let agent: AgentProcess;

  beforeAll(async () => {
    const directory = await connectLdapDirectory({
      url: samba.url,
      bindDn: samba.bindDn,
      password: samba.password,
      caPath: samba.caPath,
    });
    try {
      tenant = await buildTenantFromDirectory(directory, { baseDn: OU.sales, missing: 3, extra: 2, mismatched: 2 });
    } finally {
      await directory.close();
    }
    h = await startBotHarness();
    h.graph.setUsers(tenant.users);
    h.graph.setGroups(tenant.groups);
    h.graph.setContacts(tenant.contacts);
    agent = spawnAgent(h.bot.url, samba);
  });

  afterAll(async () => {
    agent?.stop();
    await h?.close();
  });

  /** Sends the command, checks the immediate "verifying" card, and returns the final version of that card. */
  async function verify(ou: string): Promise<{ text: string; card: Record<string, unknown>; initial: ConnectorCall }> {
    const calls = await h.say(`/verify pilot ${ou}`);
    expect(calls).toHaveLength(1);
    const initial = calls[0]!;
    expect(cardText(firstCard(calls))).toContain('Verifying… waiting for the on-premises agent');
    const from = h.connector.calls.indexOf(initial) + 1;
    const final = await h.connector
      .waitFor(
        (c) =>
          c.method === 'PUT' &&
          c.id === initial.id &&
          !cardText(c.activity.attachments![0]!.content).includes('Verifying…'),
        { from, timeoutMs: 60_000 },
      )
      .catch((err: Error) => {
        throw new Error(`${err.message}\nAgent log:\n${agent.log().slice(-3000)}`);
      });
    const card = final.activity.attachments![0]!.content;
    expect(cardProblems(card)).toEqual([]);
    return { text: cardText(card), card, initial };
  }

  it('reports the right numbers and names for OU=Sales (paging on both sides, Sales vs SalesOps, one 429)', async () => {
    expect((await h.say('/migration start "Contoso pilot"')).length).toBe(3);
    h.graph.reset();
    h.graph.failNext(1, 429, { retryAfterSeconds: 1 });
    const readBack = jest.spyOn(h.store.jobs, 'resultUsers');
    const { text } = await verify('OU=Sales');
    // The bot indexed the scan while the agent sent it, so the cloud side read nothing back from the store.
    expect(readBack).not.toHaveBeenCalled();
    readBack.mockRestore();

    const onPrem = EXPECTED_SYNCED.sales.users;
    expect(text).toContain(`Verify pilot: OU=Sales,DC=contoso,DC=com`);
    expect(text).toContain(
      `On-premises users: ${onPrem.toLocaleString('en-US')} (${EXPECTED_SYNCED.sales.disabled} disabled)`,
    );
    expect(text).toContain(`Cloud users (synced): ${(onPrem - 3 + 2).toLocaleString('en-US')}`);
    expect(text).toContain(`Matched: ${(onPrem - 3).toLocaleString('en-US')}`);
    expect(text).toContain('Missing in cloud: 3');
    expect(text).toContain('Extra in cloud: 2');
    expect(text).toContain('ImmutableId differs: 2');
    for (const dn of tenant.missingDns) expect(text).toContain(dn);
    for (const dn of tenant.extraDns) expect(text).toContain(dn);
    for (const dn of tenant.mismatchedDns) expect(text).toContain(dn);
    // Look-alikes in OU=SalesOps and DC=company were not counted.
    expect(text).not.toContain('Look Alike');

    // The migration has no cloud copy yet: a deltaLink from now on (throttled once, then retried), then
    // the synced users paged through /users; later verifies follow that link.
    expect(h.graph.requests[0]).toMatchObject({ status: 429, path: '/v1.0/users/delta' });
    expect(h.graph.requests[1]).toMatchObject({
      status: 200,
      path: '/v1.0/users/delta',
      query: { $deltatoken: 'latest' },
    });
    expect(text).toContain(
      // The copy is of the whole tenant, not of the OU.
      `Cloud side read: all ${tenant.users.filter((u) => u.onPremisesSyncEnabled === true).length.toLocaleString('en-US')} synced users (the first read for this migration`,
    );
    const userRequests = h.graph.requests.filter((r) => r.path === '/v1.0/users');
    expect(userRequests.filter((r) => r.status === 200).length).toBeGreaterThanOrEqual(2);
    for (const r of userRequests) {
      expect(r.query.$top).toBe('999');
      expect(r.query.$filter).toBe('onPremisesSyncEnabled eq true');
      expect(r.query.$select).toContain('onPremisesDistinguishedName');
      expect(r.query.$select).toContain('onPremisesImmutableId');
    }

    const job = (
      await h.store.db.query<{ id: string; state: string; agent_id: string; result: Record<string, unknown> }>(
        "SELECT id, state, agent_id, result FROM jobs WHERE kind = 'directory.scanOu' ORDER BY created_at DESC LIMIT 1",
      )
    )[0]!;
    expect(job).toMatchObject({ state: 'succeeded', agent_id: AGENT_ID });
    // The agent streamed the scan as lines; the job keeps the head, the objects sit in pieces of 1,000:
    // every user (those Connect Sync filters out too), inetOrgPerson, group and contact of the OU.
    const objects =
      EXPECTED.sales.users +
      EXPECTED_OTHER_TYPES.sales.inetOrgPersons +
      EXPECTED_OTHER_TYPES.sales.groups +
      EXPECTED_OTHER_TYPES.sales.contacts;
    expect(job.result).toMatchObject({
      baseDn: OU.sales,
      storedUsers: objects,
      totals: { ...EXPECTED.sales, ...EXPECTED_OTHER_TYPES.sales },
    });
    expect(job.result).not.toHaveProperty('users');
    const pieces = await h.store.db.query<{ seq: number; n: number }>(
      'SELECT seq, jsonb_array_length(users) AS n FROM job_result_pieces WHERE job_id = $1 ORDER BY seq',
      [job.id],
    );
    expect(pieces.map((p) => [Number(p.seq), Number(p.n)])).toEqual([
      [0, 1000],
      [1, objects - 1000],
    ]);
  });

  it("lists what Connect Sync's default rules filter out apart, never blocking, and counts groups, contacts and inetOrgPersons on both sides", async () => {
    // A tenant exactly as Connect Sync left it, without the drift: then nothing should differ.
    const directory = await connectLdapDirectory({
      url: samba.url,
      bindDn: samba.bindDn,
      password: samba.password,
      caPath: samba.caPath,
    });
    const clean = await buildTenantFromDirectory(directory, {
      baseDn: OU.sales,
      missing: 0,
      extra: 0,
      mismatched: 0,
    }).finally(() => directory.close());
    h.graph.setUsers(clean.users);
    try {
      const { text } = await verify('OU=Sales');
      expect(text).toContain('Everything in this OU matches the cloud.');
      expect(text).toContain('Missing in cloud: 0');
      const filtered = EXPECTED_OTHER_TYPES.salesFiltered;
      expect(text).toContain(`Not synced by design: ${filtered.users + filtered.groups + filtered.contacts}`);
      // Read from Samba: the MSOL_ and AAD_ service accounts and the replication conflict, each with its reason.
      expect(text).toContain(
        `CN=MSOL_2f9c1e0b7a64,${OU.sales} (sAMAccountName starts with AAD_ or MSOL_: Connect Sync's own service account)`,
      );
      expect(text).toContain(`CN=AAD_5d3e8a1c6b90,${OU.sales} (sAMAccountName starts with AAD_ or MSOL_`);
      expect(text).toContain(
        `CN=Sales Conflict\\0ACNF:6c1f4b2e-8d3a-4f5e-9a7b-1c2d3e4f5a6b,${OU.sales} (its name holds \\0ACNF:`,
      );
      expect(text).toContain(`group: CN=Sales Old List,${OU.sales} (a distribution group that is not mail-enabled)`);
      expect(text).toContain(`contact: CN=Sales Contact 10,${OU.sales} (no mail attribute`);
      const exported = EXPECTED_OTHER_TYPES.sales;
      expect(text).toContain(
        `Groups: ${exported.groups - filtered.groups} on-premises; ${exported.groups - filtered.groups} in Entra, matched on onPremisesSecurityIdentifier (SID); 0 missing`,
      );
      expect(text).toContain('Group anchors: 2 objectGUID, 1 ms-DS-ConsistencyGuid');
      expect(text).toContain(
        `Contacts: ${exported.contacts - filtered.contacts} on-premises; ${exported.contacts - filtered.contacts} in Entra, matched on mail; 0 missing`,
      );
      expect(text).toContain(
        `inetOrgPerson (refused): ${exported.inetOrgPersons} on-premises, ${exported.inetOrgPersons} of them in Entra as users`,
      );
      expect(text).toContain(`CN=Inet Person 1,${OU.sales}`);
      // The SIDs Samba made were matched against the groups Graph served, through the migration's copy
      // of them kept by the groups delta query (issue 17); contacts the same way.
      const groupRequests = h.graph.requests.filter((r) => r.path === '/v1.0/groups/delta');
      expect(groupRequests.at(-1)).toMatchObject({ status: 200 });
      expect(h.graph.requests.filter((r) => r.path === '/v1.0/contacts/delta').at(-1)).toMatchObject({ status: 200 });
      expect(text).toMatch(
        /Groups read: (all \d+ synced groups|the migration's copy, brought up to date with the groups delta query)/,
      );

      // Steps 7 (baseline) and 12 (provisioned) judge this report: the filtered objects block neither.
      const stored = (await h.store.verifications.listByConversation(h.conversationId, 1))[0]!;
      const report = stored.report as ComparisonReport;
      const baseline = verifyOutcome('baseline', report, [], 'job');
      expect(baseline.evidence).toMatchObject({ onPremUsers: EXPECTED_SYNCED.sales.users, missing: 0 });
      const steps = [{ n: stepByCheck({ kind: 'verify', mode: 'baseline' }).n, evidence: baseline.evidence }];
      // With every in-scope user confirmed by Cloud Sync's logs, the filtered-out objects block nothing.
      const confirmedAll = {
        jobId: 'job',
        onPrem: EXPECTED_SYNCED.sales.users,
        inEntraWithAnchor: EXPECTED_SYNCED.sales.users,
        confirmed: EXPECTED_SYNCED.sales.users,
        unconfirmed: [],
      };
      // Users alone are not enough: the OU's groups and contacts must be confirmed too, and its
      // inetOrgPersons refuse the step first.
      expect(verifyOutcome('provisioned', report, steps as never, 'job', { cloudSync: confirmedAll })).toMatchObject({
        ok: false,
        reason: `${inetOrgPersonProblem({ onPrem: exported.inetOrgPersons })}; the Cloud Sync evidence covers 0 of the ${exported.groups - filtered.groups} in-scope groups; verify again to read them all; the Cloud Sync evidence covers 0 of the ${exported.contacts - filtered.contacts} in-scope contacts; verify again to read them all`,
      });
      const all = (onPrem: number, matchedOn: 'onPremisesSecurityIdentifier' | 'mail') => ({
        onPrem,
        inEntra: onPrem,
        confirmed: onPrem,
        matchedOn,
        unconfirmed: [],
      });
      const everyType = {
        ...confirmedAll,
        groups: all(exported.groups - filtered.groups, 'onPremisesSecurityIdentifier'),
        contacts: all(exported.contacts - filtered.contacts, 'mail'),
      };
      // Every user, group and contact confirmed: only the OU's inetOrgPersons are left, and step 12
      // refuses on them alone, saying why and what to do.
      expect(verifyOutcome('provisioned', report, steps as never, 'job', { cloudSync: everyType })).toMatchObject({
        ok: false,
        reason: inetOrgPersonProblem({ onPrem: exported.inetOrgPersons }),
        evidence: { onPremUsers: EXPECTED_SYNCED.sales.users, inetOrgPersons: exported.inetOrgPersons },
      });
      // Without them the same evidence passes: nothing else blocks.
      const withoutInets: ComparisonReport = { ...report };
      delete withoutInets.inetOrgPersons;
      expect(verifyOutcome('provisioned', withoutInets, steps as never, 'job', { cloudSync: everyType })).toMatchObject(
        {
          ok: true,
          reason: '',
        },
      );
    } finally {
      h.graph.setUsers(tenant.users);
    }
  });

  it('a group or contact missing in Entra is listed per type, and Microsoft Graph is asked for groups and contacts', async () => {
    const managers = h.graph.groups().filter((g) => g.onPremisesSamAccountName === 'SalesManagers');
    expect(managers).toHaveLength(1);
    h.graph.setGroups(h.graph.groups().filter((g) => g !== managers[0]));
    try {
      const { text } = await verify('OU=Sales');
      expect(text).toContain(
        'Groups: 3 on-premises; 2 in Entra, matched on onPremisesSecurityIdentifier (SID); 1 missing',
      );
      expect(text).toContain(`Groups missing in the cloud (1)`);
      expect(text).toContain(`CN=Sales Managers,${OU.sales}`);
      const listed = cardText(firstCard(await h.say('/verify list groups')));
      expect(listed).toContain(`Missing groups: ${OU.sales}`);
      expect(listed).toContain(`CN=Sales Managers,${OU.sales}`);
    } finally {
      h.graph.setGroups(tenant.groups);
    }
  });

  it('the full list behind the card is one command away', async () => {
    const calls = await h.say('/verify list missing');
    const text = cardText(firstCard(calls));
    expect(text).toContain('Page 1 of 1 (3 in all)');
    for (const dn of tenant.missingDns) expect(text).toContain(dn);
  });

  it('OU=SalesOps is its own OU: 40 users, and the SalesOps look-alike is extra there', async () => {
    h.graph.reset();
    const { text } = await verify('OU=SalesOps');
    // A repeat verify reads only what changed since the last one: one delta round, no /users paging.
    expect(h.graph.requests.map((r) => r.path)).toEqual(['/v1.0/users/delta']);
    expect(text).toContain(
      "Cloud side read: the migration's copy, brought up to date with the users delta query: 0 change(s)",
    );
    expect(text).toContain(`On-premises users: ${EXPECTED.salesOps.users} (${EXPECTED.salesOps.disabled} disabled)`);
    expect(text).toContain('Extra in cloud: 1');
    expect(text).toContain('CN=Look Alike,OU=SalesOps,DC=contoso,DC=com');
    expect(text).toContain('Missing in cloud: 0');
  });

  it('an OU with an escaped comma in its name works, as a full DN', async () => {
    const { text } = await verify('OU=R\\,D,DC=contoso,DC=com');
    expect(text).toContain(`On-premises users: ${EXPECTED.rAndD.users} (${EXPECTED.rAndD.disabled} disabled)`);
    expect(text).toContain('Everything in this OU matches the cloud.');
  });

  it('a nested OU by its relative path', async () => {
    const { text } = await verify('OU=EMEA,OU=Sales');
    expect(text).toContain('Verify pilot: OU=EMEA,OU=Sales,DC=contoso,DC=com');
    expect(text).toContain(`On-premises users: ${EXPECTED.salesEmea.users} (${EXPECTED.salesEmea.disabled} disabled)`);
  });

  it('an ambiguous relative name asks which one', async () => {
    const { text } = await verify('OU=Marketing');
    expect(text).toContain('2 OUs match "OU=Marketing"');
    expect(text).toContain('/verify pilot OU=Marketing,OU=APAC,OU=Regions,DC=contoso,DC=com');
    expect(text).toContain('/verify pilot OU=Marketing,OU=EMEA,OU=Regions,DC=contoso,DC=com');
    expect(text).toContain('Say which one by typing its full DN.');
  });

  it('an OU that does not exist says so and what to type', async () => {
    const { text } = await verify('OU=Nowhere');
    expect(text).toContain('No OU matches "OU=Nowhere"');
    expect(text).toContain('OU=Sales,DC=contoso,DC=com');
    const failed = await h.store.db.query<{ state: string; error: { code: string } }>(
      'SELECT state, error FROM jobs ORDER BY created_at DESC LIMIT 1',
    );
    expect(failed[0]).toMatchObject({ state: 'failed', error: { code: 'DIRECTORY.OU_NOT_FOUND' } });
  });

  it('built-in accounts of CN=Users are not missing: they are listed apart, with the reason', async () => {
    const { text } = await verify('CN=Users,DC=contoso,DC=com');
    expect(text).toContain('Verify pilot: CN=Users,DC=contoso,DC=com');
    expect(text).toContain('Missing in cloud: 0');
    expect(text).toContain('Everything in this OU matches the cloud.');
    expect(text).toMatch(/Not synced by design: [1-9]/);
    for (const cn of ['Administrator', 'Guest', 'krbtgt']) {
      expect(text).toContain(
        `CN=${cn},CN=Users,DC=contoso,DC=com (isCriticalSystemObject: not synced by Connect Sync or Cloud Sync)`,
      );
    }
    expect(text).not.toContain('Missing in the cloud');
    const listed = cardText(firstCard(await h.say('/verify list notsynced')));
    expect(listed).toContain('Not synced by design users: CN=Users,DC=contoso,DC=com');
    expect(listed).toContain(
      'CN=krbtgt,CN=Users,DC=contoso,DC=com (isCriticalSystemObject: not synced by Connect Sync or Cloud Sync)',
    );
    expect(cardText(firstCard(await h.say('/verify list missing')))).toContain('None.');
  });

  it('a user typed as the OU is refused as a user, with the container to type instead', async () => {
    const { text } = await verify('CN=Administrator,CN=Users,DC=contoso,DC=com');
    expect(text).toContain('CN=Administrator,CN=Users,DC=contoso,DC=com is a user, not an OU or container.');
    expect(text).toContain('/verify pilot CN=Users,DC=contoso,DC=com');
    const failed = await h.store.db.query<{ state: string; error: { code: string } }>(
      'SELECT state, error FROM jobs ORDER BY created_at DESC LIMIT 1',
    );
    expect(failed[0]).toMatchObject({ state: 'failed', error: { code: 'DIRECTORY.NOT_A_CONTAINER' } });
  });

  it('an OU name with a comma, quoted, is looked up by name', async () => {
    const { text } = await verify('"R,D"');
    expect(text).toContain('Verify pilot: OU=R\\,D,DC=contoso,DC=com');
    expect(text).toContain(`On-premises users: ${EXPECTED.rAndD.users} (${EXPECTED.rAndD.disabled} disabled)`);
  });

  it('an OU name with a comma, unquoted, gets the two ways to type it', async () => {
    const calls = await h.say('/verify pilot Sales, Inc');
    const text = cardText(firstCard(calls));
    expect(text).toContain('That OU name cannot be read');
    expect(text).toContain('("Sales, Inc")');
    expect(text).toContain('OU=Sales\\, Inc');
  });

  it('with the Cloud Sync job set, groups and contacts are confirmed per type from its logs, and the rest named', async () => {
    const groups = EXPECTED_OTHER_TYPES.sales.groups - EXPECTED_OTHER_TYPES.salesFiltered.groups;
    const contacts = EXPECTED_OTHER_TYPES.sales.contacts - EXPECTED_OTHER_TYPES.salesFiltered.contacts;
    await h.say(`/summary job ${SIMULATED_CLOUD_SYNC_JOB_ID}`);
    // In Entra (found by SID and mail), but no entry of the Cloud Sync job names them.
    const before = await verify('OU=Sales');
    expect(before.text).toContain(
      `Groups confirmed by Cloud Sync: 0 of ${groups} on-premises (${groups} in Entra, found by onPremisesSecurityIdentifier)`,
    );
    expect(before.text).toContain(
      `Contacts confirmed by Cloud Sync: 0 of ${contacts} on-premises (${contacts} in Entra, found by mail)`,
    );
    const listed = cardText(firstCard(await h.say('/verify list unconfirmed')));
    expect(listed).toContain(`group: CN=Sales Team,${OU.sales} (no Cloud Sync log entry)`);
    expect(listed).toContain(`contact: CN=Sales Contact 01,${OU.sales} (no Cloud Sync log entry)`);

    // Entries of the job for two groups, naming each by its objectGUID: Sales Team is anchored on it,
    // Sales Managers on ms-DS-ConsistencyGuid. Either identifier names the object (docs/verify.md),
    // and the scan carries Sales Managers' objectGUID because it differs from its anchor.
    const directory = await connectLdapDirectory({
      url: samba.url,
      bindDn: samba.bindDn,
      password: samba.password,
      caPath: samba.caPath,
    });
    const guids = new Map<string, string>();
    try {
      await directory.scanUsers(OU.sales, {
        objectTypes: 'all',
        onPage: (page) => {
          for (const o of page)
            if (o.objectType === 'group') guids.set(o.samAccountName ?? '', guidString(o.objectGuid));
        },
      });
    } finally {
      await directory.close();
    }
    const at = new Date().toISOString();
    h.graph.addProvisioningEvents(
      ['SalesTeam', 'SalesManagers'].map((sam) => ({
        activityDateTime: at,
        jobId: SIMULATED_CLOUD_SYNC_JOB_ID,
        status: 'success' as const,
        action: 'update' as const,
        sourceId: guids.get(sam)!,
        targetId: h.graph.groups().find((g) => g.onPremisesSamAccountName === sam)!.id,
        sourceDisplayName: sam,
        identityType: 'Group',
      })),
    );
    const after = await verify('OU=Sales');
    expect(after.text).toContain(`Groups confirmed by Cloud Sync: 2 of ${groups} on-premises`);
    const relisted = cardText(firstCard(await h.say('/verify list unconfirmed')));
    expect(relisted).not.toContain(`CN=Sales Team,${OU.sales}`);
    expect(relisted).not.toContain(`CN=Sales Managers,${OU.sales}`);
    expect(relisted).not.toContain('log entry names another source object');
  });

  it("after the simulated Cloud Sync's first cycle, objects anchored on their own ms-DS-ConsistencyGuid are confirmed too", async () => {
    const groups = EXPECTED_OTHER_TYPES.sales.groups - EXPECTED_OTHER_TYPES.salesFiltered.groups;
    const contacts = EXPECTED_OTHER_TYPES.sales.contacts - EXPECTED_OTHER_TYPES.salesFiltered.contacts;
    const connect = () =>
      connectLdapDirectory({ url: samba.url, bindDn: samba.bindDn, password: samba.password, caPath: samba.caPath });
    // It logs every object by its objectGUID (docs/verify.md: Microsoft does not say which identifier
    // Cloud Sync writes; SyncShift accepts either).
    const cloudSync = startSimulatedCloudSync({
      graph: h.graph,
      connectDirectory: connect,
      delayMs: 0,
      pollMs: 60_000,
    });
    try {
      h.graph.setCloudSync({ includedContainers: [OU.sales], statusCode: 'Active' });
      await cloudSync.pollNow();
      const cycle = await cloudSync.cycleFor(OU.sales);
      // The drift the tenant was built with: the missing users are created, the mismatched ones fail.
      expect([...cycle.created].sort()).toEqual([...tenant.missingDns].sort());
      expect([...cycle.conflicts].sort()).toEqual([...tenant.mismatchedDns].sort());

      const { text } = await verify('OU=Sales');
      // Every in-scope user but the two whose Entra user carries another anchor, of the in-scope users
      // alone: the OU's inetOrgPersons are counted and listed apart, never as users.
      const users = EXPECTED_SYNCED.sales.users;
      const inets = EXPECTED_OTHER_TYPES.sales.inetOrgPersons;
      expect(text).toContain(
        `Confirmed by Cloud Sync: ${(users - 2).toLocaleString('en-US')} of ${users.toLocaleString('en-US')} (provisioning logs of `,
      );
      expect(text).toContain(`On-premises users: ${users.toLocaleString('en-US')} (`);
      expect(text).toContain(`inetOrgPerson (refused): ${inets} on-premises, ${inets} of them in Entra as users`);
      expect(text).toContain(`Groups confirmed by Cloud Sync: ${groups} of ${groups} on-premises`);
      expect(text).toContain(`Contacts confirmed by Cloud Sync: ${contacts} of ${contacts} on-premises`);
      // The two whose Entra user carries another anchor are left, for that reason; no entry names another object.
      const listed = cardText(firstCard(await h.say('/verify list unconfirmed')));
      for (const dn of tenant.mismatchedDns) expect(listed).toContain(`${dn} (different anchor in Entra)`);
      expect(listed).not.toContain('log entry names another source object');
      expect(listed).not.toContain(`CN=Sales Managers,${OU.sales}`);
      // The inetOrgPersons are not among the unconfirmed users; they have their own list, with the reason.
      expect(listed).not.toContain('Inet Person');
      const refused = cardText(firstCard(await h.say('/verify list inetorgperson')));
      for (let i = 1; i <= inets; i++)
        expect(refused).toContain(`CN=Inet Person ${i},${OU.sales} (inetOrgPerson: not covered by the no-flow rules`);
      expect(refused).toContain('move it out of the pilot OU (step 12 refuses the OU while it holds one)');
      // The Sales users with their own ms-DS-ConsistencyGuid (the first SALES_WITH_CONSISTENCY_GUID):
      // the entries name their objectGUID, which the scan carried for each of them.
      const withOwnGuid = Array.from(
        { length: SALES_WITH_CONSISTENCY_GUID },
        (_, i) => `CN=Sales User ${String(i + 1).padStart(4, '0')},${OU.sales}`,
      ).filter((dn) => !tenant.mismatchedDns.includes(dn));
      expect(withOwnGuid.length).toBeGreaterThan(SALES_WITH_CONSISTENCY_GUID - 3);
      // Read from Samba: the scan carried an objectGUID for exactly those users and Sales Managers.
      const carried = await h.store.db.query<{ dn: string }>(
        `SELECT u->>'dn' AS dn FROM job_result_pieces p JOIN jobs j ON j.id = p.job_id AND p.upload = j.result_upload,
                jsonb_array_elements(p.users) u
          WHERE j.id = (SELECT id FROM jobs WHERE kind = 'directory.scanOu' ORDER BY created_at DESC LIMIT 1)
            AND u ? 'objectGuid'`,
      );
      expect(carried.map((r) => r.dn).sort()).toEqual(
        [
          ...Array.from(
            { length: SALES_WITH_CONSISTENCY_GUID },
            (_, i) => `CN=Sales User ${String(i + 1).padStart(4, '0')},${OU.sales}`,
          ),
          `CN=Sales Managers,${OU.sales}`,
        ].sort(),
      );
      for (const dn of withOwnGuid) expect(listed).not.toContain(`${dn} (`);
    } finally {
      await cloudSync.stop();
      h.graph.setCloudSync({ includedContainers: [], statusCode: 'Paused' });
    }
  });

  it('groups and contacts come from their copies; an expired delta token gets one full round, and the card says so', async () => {
    h.graph.reset();
    const { text: again } = await verify('OU=Sales');
    // The copies are current: one delta round each, no whole list of groups or contacts.
    expect(again).toContain(
      "Groups read: the migration's copy, brought up to date with the groups delta query: 0 change(s)",
    );
    expect(again).toContain(
      "Contacts read: the migration's copy, brought up to date with the contacts delta query: 0 change(s)",
    );
    expect(h.graph.requests.filter((r) => r.path === '/v1.0/groups' || r.path === '/v1.0/contacts')).toEqual([]);

    h.graph.expireDeltaTokens();
    const { text } = await verify('OU=Sales');
    const groups = tenant.groups.filter((g) => g.onPremisesSyncEnabled === true).length;
    const contacts = tenant.contacts.filter((c) => c.onPremisesSyncEnabled === true).length;
    expect(text).toContain(
      `Groups read: all ${groups} synced groups again: Microsoft Graph no longer accepted the stored groups delta token (expired), so the copy was read whole`,
    );
    expect(text).toContain(
      `Contacts read: all ${contacts} synced contacts again: Microsoft Graph no longer accepted the stored contacts delta token (expired)`,
    );
    // The same numbers as before the token expired: the whole round replaced the copies.
    const exported = EXPECTED_OTHER_TYPES.sales;
    const filtered = EXPECTED_OTHER_TYPES.salesFiltered;
    expect(text).toContain(
      `Contacts: ${exported.contacts - filtered.contacts} on-premises; ${exported.contacts - filtered.contacts} in Entra, matched on mail; 0 missing`,
    );
  });
});
