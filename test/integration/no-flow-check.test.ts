import { rmSync } from 'node:fs';
import path from 'node:path';
import { createNoFlowRules, listRules, setRulesDisabled, startScheduler } from '../../src/agent/actions/adsync';
import { checkNoFlow } from '../../src/agent/actions/no-flow-check';
import { runAgent } from '../../src/agent/agent';
import { assertDnAllowed } from '../../src/agent/agent-policy';
import type { RelayClient } from '../../src/agent/relay-client';
import { createLogger } from '../../src/shared/logger';
import type { Directory } from '../../src/directory/types';
import { noFlowCheckResult, readAdsyncResult, type LeasedJob, type ResultRequest } from '../../src/relay/protocol';
import { evaluateNoFlow } from '../../src/runbook/no-flow-check';
import { planNoFlowRules } from '../../src/runbook/sync-rules';
import { AppError } from '../../src/shared/errors';
import { finishSyncCycle, installFakePowerShell, type FakePowerShell } from '../../src/sandbox/simulated-connect-sync';
import {
  PILOT_CONTACT,
  PILOT_GROUP,
  PILOT_OU,
  PILOT_USERS,
  SALES_OU,
  SALES_USERS,
  noFlowConnectorSpace,
  openNoFlowDirectory,
  writeNoFlowForest,
} from '../fixtures/no-flow-forest';

/**
 * Issue 16's no-flow check against the stand-in PowerShell and a simulated forest: the agent's action
 * reads the OU over LDAP and asks the simulated Connect Sync about each object; the evaluation says
 * what that means.
 */
let fake: FakePowerShell;
let forestFile: string;
let directory: Directory;
beforeEach(async () => {
  fake = installFakePowerShell({ connectorSpace: noFlowConnectorSpace() });
  forestFile = writeNoFlowForest();
  directory = await openNoFlowDirectory(forestFile);
});
afterEach(async () => {
  await directory.close();
  fake.cleanup();
  rmSync(path.dirname(forestFile), { recursive: true, force: true });
});

const open = { checkBase: () => undefined };
const check = (ou: string) => checkNoFlow(directory, { ou, ...open }, { env: fake.env });

async function createPilotRules(): Promise<{ at: Date; ids: string[] }> {
  const used = (await listRules({ env: fake.env })).rules.map((r) => r.precedence);
  const at = new Date();
  const { created } = await createNoFlowRules(planNoFlowRules({ ouDn: PILOT_OU, usedPrecedences: used }), {
    env: fake.env,
  });
  return { at, ids: created.map((c) => c.identifier) };
}

async function runCycle(): Promise<void> {
  await startScheduler('Initial', { env: fake.env });
  finishSyncCycle(fake);
}

describe('adsync.noFlowCheck against the stand-in', () => {
  it('before a cycle: "no cycle since the rules"; after one: every pilot object carries cloudNoFlow', async () => {
    const rules = await createPilotRules();

    const before = await check(PILOT_OU);
    expect(noFlowCheckResult.parse(before)).toEqual(before);
    expect(before.adConnector.name).toBe('contoso.com');
    expect(before.objects.map((o) => o.dn).sort()).toEqual([...PILOT_USERS, PILOT_GROUP, PILOT_CONTACT].sort());
    expect(evaluateNoFlow(before, rules.at).outcome).toBe('noCycleSinceRules');
    expect(before.objects.every((o) => o.cloudNoFlow === null)).toBe(true);

    await runCycle();
    const after = await check(PILOT_OU);
    const e = evaluateNoFlow(after, rules.at);
    expect(e.outcome).toBe('allCarry');
    expect(e.carrying.sort()).toEqual([...PILOT_USERS, PILOT_GROUP, PILOT_CONTACT].sort());
    expect(e.lastSync?.runProfileName).toBe('Full Synchronization');
    expect(Date.parse(e.lastSync!.endedAt)).toBeGreaterThanOrEqual(rules.at.getTime() - 1000);
    expect(after.objects.find((o) => o.dn === PILOT_GROUP)).toMatchObject({ csObjectType: 'group', adType: 'group' });

    // The calls the script makes, as the documented cmdlets.
    const cmdlets = new Set(fake.readState().calls.map((c) => c.cmdlet));
    for (const c of ['Get-ADSyncCSObject', 'Get-ADSyncMVObject', 'Get-ADSyncRunProfileResult'])
      expect(cmdlets.has(c)).toBe(true);
  });

  it('an OU without rules: none of its objects carries cloudNoFlow after the cycle', async () => {
    const rules = await createPilotRules();
    await runCycle();
    const sales = evaluateNoFlow(await check(SALES_OU), rules.at);
    expect(sales.outcome).toBe('noneCarry');
    expect(sales.notCarrying).toEqual(SALES_USERS.map((dn) => ({ dn, reason: 'cloudNoFlow not set' })));
  });

  it('a disabled rule flags nothing once a cycle has run with it disabled', async () => {
    const rules = await createPilotRules();
    await runCycle();
    await setRulesDisabled(rules.ids, true, { env: fake.env });
    // Until the next cycle the metaverse still holds what the last one wrote.
    expect(evaluateNoFlow(await check(PILOT_OU), rules.at).outcome).toBe('allCarry');
    await runCycle();
    expect(evaluateNoFlow(await check(PILOT_OU), rules.at).outcome).toBe('noneCarry');
  });

  it('reports an object missing from the connector space rather than failing', async () => {
    fake.writeState({ connectorSpace: noFlowConnectorSpace().filter((o) => o.DistinguishedName !== PILOT_USERS[1]) });
    const rules = await createPilotRules();
    await runCycle();
    const e = evaluateNoFlow(await check(PILOT_OU), rules.at);
    expect(e.outcome).toBe('someCarry');
    expect(e.notCarrying).toEqual([{ dn: PILOT_USERS[1], reason: 'not in the connector space' }]);
  });

  it('fails clearly when no AD connector covers the OU', async () => {
    const [ad, entra] = fake.readState().connectors;
    fake.writeState({ connectors: [entra!] });
    await expect(check(PILOT_OU)).rejects.toMatchObject({
      code: 'ADSYNC.CONNECTOR_NOT_FOUND',
      message: expect.stringContaining('has no Active Directory connector') as unknown,
    });
    // Two forests, neither of them the pilot's.
    const other = { Identifier: '11111111-2222-4333-8444-555555555555', Name: 'fabrikam.com' };
    fake.writeState({
      connectors: [
        { ...ad!, Partitions: ['DC=woodgrove,DC=com'] },
        { ...ad!, ...other, Partitions: ['DC=fabrikam,DC=com'] },
        entra!,
      ],
    });
    await expect(check(PILOT_OU)).rejects.toMatchObject({ code: 'ADSYNC.CONNECTOR_NOT_FOUND' });
  });

  it('refuses an OU outside the allow-list before asking Connect Sync anything', async () => {
    const before = fake.readState().scriptsRun.length;
    const policy = { allowedBaseDns: [SALES_OU], readOnly: true };
    const err = await checkNoFlow(
      directory,
      { ou: PILOT_OU, checkBase: (dn) => assertDnAllowed(policy, dn) },
      { env: fake.env },
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AppError);
    expect((err as AppError).code).toBe('POLICY.DN_NOT_ALLOWED');
    expect(fake.readState().scriptsRun.length).toBe(before);
  });
});

describe('adsync.noFlowCheck through the agent loop', () => {
  it('a read-only agent runs it inside its allow-list and refuses it outside, before Connect Sync is asked', async () => {
    const job = (n: number, ou: string): LeasedJob => ({
      id: `00000000-0000-4000-8000-00000000000${n}`,
      payload: { action: 'adsync.noFlowCheck', ou },
      leaseExpiresAt: new Date(Date.now() + 60_000).toISOString(),
    });
    const jobs = [job(1, PILOT_OU), job(2, SALES_OU)];
    const results: ResultRequest[] = [];
    const relay = {
      lease: async () => jobs.shift() ?? null,
      progress: async () => undefined,
      result: async (_id: string, r: ResultRequest) => void results.push(r),
    } as unknown as RelayClient;
    await runAgent({
      relay,
      logger: createLogger('test', 'silent'),
      maxJobs: 2,
      policy: { allowedBaseDns: [SALES_OU], readOnly: true },
      connectDirectory: () => openNoFlowDirectory(forestFile),
      adsync: { exportDir: '/nonexistent', env: fake.env },
    });
    expect(results[0]).toMatchObject({ outcome: 'failed', error: { code: 'POLICY.DN_NOT_ALLOWED' } });
    expect(results[1]!.outcome).toBe('succeeded');
    const read = readAdsyncResult('adsync.noFlowCheck', (results[1] as { result: unknown }).result);
    expect(read.ok && read.data.objects.map((o) => o.dn)).toEqual(SALES_USERS);
    // Only the allowed OU reached Connect Sync: one listRules and one check.
    expect(fake.readState().scriptsRun).toEqual(['adsync.listRules', 'adsync.noFlowCheck']);
  });
});
