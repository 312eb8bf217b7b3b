import { spreadSample } from '../../src/agent/actions/no-flow-check';
import { renderNoFlowCard } from '../../src/cards/no-flow-card';
import {
  MUTATING_ACTIONS,
  jobPayload,
  leasedJob,
  noFlowCheckResult,
  readAdsyncResult,
  resultRequest,
} from '../../src/relay/protocol';
import {
  carriesCloudNoFlow,
  evaluateNoFlow,
  lastSyncRun,
  type NoFlowReadObject,
  type NoFlowReading,
  type NoFlowRun,
} from '../../src/runbook/no-flow-check';

const OU = 'OU=Pilot,DC=contoso,DC=com';
const RULES_AT = new Date('2026-12-05T10:00:00Z');

function run(profile: string, end: string | null, extra: Partial<NoFlowRun> = {}): NoFlowRun {
  return {
    connectorName: 'contoso.com',
    runProfileName: profile,
    result: 'success',
    isRunComplete: true,
    startDate: end,
    endDate: end,
    ...extra,
  };
}

function obj(dn: string, cloudNoFlow: string | null, extra: Partial<NoFlowReadObject> = {}): NoFlowReadObject {
  return {
    dn,
    adType: 'user',
    inConnectorSpace: true,
    csObjectType: 'user',
    mvObjectId: '6f84d2b1-2922-ec11-8d0e-f16a15e46b81',
    cloudNoFlow,
    readError: null,
    ...extra,
  };
}

function reading(objects: NoFlowReadObject[], runs: NoFlowRun[], extra: Partial<NoFlowReading> = {}): NoFlowReading {
  return {
    ouDn: OU,
    adConnector: { name: 'contoso.com', identifier: '8f2a3c41-6d5e-4b7a-9c1d-2e3f4a5b6c7d' },
    objectsInOu: objects.length,
    selection: 'all',
    objects,
    runs,
    scheduler: { syncCycleEnabled: true, syncCycleInProgress: false, runningConnector: null },
    ...extra,
  };
}

const AFTER = [run('Export', '2026-12-05T11:02:00Z'), run('Full Synchronization', '2026-12-05T11:01:00Z')];
const BEFORE = [run('Delta Synchronization', '2026-07-01T12:01:30Z'), run('Delta Import', '2026-07-01T12:00:30Z')];

describe('the last sync run', () => {
  it('is the latest completed synchronization run, not an import or export', () => {
    expect(lastSyncRun([...AFTER, ...BEFORE])).toEqual({
      runProfileName: 'Full Synchronization',
      startedAt: '2026-12-05T11:01:00.000Z',
      endedAt: '2026-12-05T11:01:00.000Z',
      result: 'success',
    });
  });

  it('skips runs still going and runs without an end', () => {
    expect(
      lastSyncRun([
        run('Delta Synchronization', '2026-12-05T12:00:00Z', { isRunComplete: false }),
        run('Full Synchronization', null),
        ...BEFORE,
      ])?.endedAt,
    ).toBe('2026-07-01T12:01:30.000Z');
    expect(lastSyncRun([run('Export', '2026-12-05T11:02:00Z')])).toBeNull();
  });
});

describe('evaluateNoFlow', () => {
  const a = `CN=Adele Vance,${OU}`;
  const b = `CN=Doe\\, Jane,${OU}`;

  it('says "no cycle since the rules" when the last sync ended before they were created', () => {
    const e = evaluateNoFlow(reading([obj(a, null), obj(b, null)], BEFORE), RULES_AT);
    expect(e.outcome).toBe('noCycleSinceRules');
    expect(e.lastSync?.endedAt).toBe('2026-07-01T12:01:30.000Z');
    expect(e.rulesCreatedAt).toBe('2026-12-05T10:00:00.000Z');
    // The objects are still counted as read, so the card can show what was seen.
    expect([e.read, e.carrying.length, e.notCarrying.length]).toEqual([2, 0, 2]);
  });

  it('does not count a run that started before the rules, even if it ended after them', () => {
    const straddling = run('Full Synchronization', '2026-12-05T10:05:00Z', { startDate: '2026-12-05T09:55:00Z' });
    expect(evaluateNoFlow(reading([obj(a, null)], [straddling]), RULES_AT).outcome).toBe('noCycleSinceRules');
  });

  it('says so too when no sync run was ever recorded', () => {
    expect(evaluateNoFlow(reading([obj(a, 'True')], []), null).outcome).toBe('noCycleSinceRules');
  });

  it('counts every object carrying cloudNoFlow after a cycle', () => {
    const e = evaluateNoFlow(reading([obj(a, 'True'), obj(b, 'true')], AFTER), RULES_AT);
    expect(e.outcome).toBe('allCarry');
    expect(e.carrying).toEqual([a, b]);
    expect(e.notCarrying).toEqual([]);
  });

  it('lists the objects not carrying it, by DN literally, with the reason', () => {
    const c = `CN=Group (Sales),${OU}`;
    const d = `CN=Contact,${OU}`;
    const f = `CN=Ghost,${OU}`;
    const g = `CN=Broken,${OU}`;
    const e = evaluateNoFlow(
      reading(
        [
          obj(a, 'True'),
          obj(b, 'False'),
          obj(c, null),
          obj(d, null, { mvObjectId: null }),
          obj(f, null, { inConnectorSpace: false, csObjectType: null, mvObjectId: null }),
          obj(g, null, { readError: 'The operation timed out' }),
        ],
        AFTER,
      ),
      RULES_AT,
    );
    expect(e.outcome).toBe('someCarry');
    expect(e.notCarrying).toEqual([
      { dn: b, reason: 'cloudNoFlow is False', detail: 'False' },
      { dn: c, reason: 'cloudNoFlow not set' },
      { dn: d, reason: 'not joined to a metaverse object' },
      { dn: f, reason: 'not in the connector space' },
      { dn: g, reason: 'could not be read', detail: 'The operation timed out' },
    ]);
  });

  it('tells none carrying it from an empty OU', () => {
    expect(evaluateNoFlow(reading([obj(a, null)], AFTER), RULES_AT).outcome).toBe('noneCarry');
    expect(evaluateNoFlow(reading([], AFTER), RULES_AT).outcome).toBe('empty');
  });

  it('judges the objects as read when SyncShift has no record of the rules', () => {
    const e = evaluateNoFlow(reading([obj(a, null)], BEFORE), null);
    expect(e.outcome).toBe('noneCarry');
    expect(e.rulesCreatedAt).toBeNull();
  });

  it('reports a sample and a cycle running now', () => {
    const e = evaluateNoFlow(
      reading([obj(a, 'True')], AFTER, {
        objectsInOu: 1200,
        selection: 'spread-sample',
        scheduler: { syncCycleEnabled: true, syncCycleInProgress: false, runningConnector: 'contoso.com' },
      }),
      RULES_AT,
    );
    expect([e.sampled, e.objectsInOu, e.read, e.cycleRunningNow]).toEqual([true, 1200, 1, true]);
  });

  it('reads the metaverse boolean whatever its case, and nothing else as true', () => {
    expect(['True', 'true', ' TRUE '].map(carriesCloudNoFlow)).toEqual([true, true, true]);
    expect(['False', '1', '', null].map(carriesCloudNoFlow)).toEqual([false, false, false, false]);
  });
});

describe('the sample the agent reads', () => {
  it('takes all up to the cap and an even spread above it', () => {
    const items = Array.from({ length: 10 }, (_, i) => i);
    expect(spreadSample(items, 10)).toEqual(items);
    expect(spreadSample(items, 4)).toEqual([0, 2, 5, 7]);
    expect(
      spreadSample(
        Array.from({ length: 1200 }, (_, i) => i),
        500,
      ),
    ).toHaveLength(500);
  });
});

describe('the no-flow card', () => {
  it('shows the server, the cycle time, the counts and each DN literally', () => {
    const b = `CN=Doe\\, Jane [x](http://e),${OU}`;
    const e = evaluateNoFlow(reading([obj(`CN=A,${OU}`, 'True'), obj(b, null)], AFTER), RULES_AT);
    const text = JSON.stringify(
      renderNoFlowCard({
        target: 'pilot',
        ouDn: OU,
        server: 'aadc-01',
        adConnector: 'contoso.com',
        maxObjects: 500,
        evaluation: e,
      }),
    );
    expect(text).toContain('Some objects do not carry cloudNoFlow: pilot');
    expect(text).toContain('aadc-01');
    expect(text).toContain('Full Synchronization ended 2026-12-05T11:01:00.000Z (success)');
    expect(text).toContain('all 2 objects in the OU');
    // Literal: the escaped comma and the markdown-looking link stay as stored.
    expect(text).toContain(JSON.stringify(`Not carrying: ${b} (cloudNoFlow not set)`).slice(1, -1));
  });
});

describe('the job and its result on the wire', () => {
  const scheduler = {
    syncCycleEnabled: true,
    syncCycleInProgress: false,
    stagingModeEnabled: false,
    schedulerSuspended: false,
    maintenanceEnabled: true,
    nextSyncCyclePolicyType: 'Delta',
    nextSyncCycleStartTimeInUTC: null,
    currentlyEffectiveSyncCycleInterval: '00:30:00',
    runningConnector: null,
  };
  const data = {
    ...reading([obj(`CN=A,${OU}`, 'True')], AFTER),
    scheduler,
  };

  it('is a read-only job with the OU as data', () => {
    const payload = { action: 'adsync.noFlowCheck', ou: OU };
    expect(jobPayload.parse(payload)).toEqual(payload);
    expect(
      leasedJob.safeParse({ id: '0b8e4a4e-8f51-4a7c-9d0e-2c3b4d5e6f70', payload, leaseExpiresAt: 'x' }).success,
    ).toBe(true);
    expect(MUTATING_ACTIONS.has('adsync.noFlowCheck')).toBe(false);
    expect(jobPayload.safeParse({ action: 'adsync.noFlowCheck' }).success).toBe(false);
    expect(jobPayload.safeParse({ action: 'adsync.noFlowCheck', ou: '' }).success).toBe(false);
    expect(jobPayload.safeParse({ action: 'adsync.noFlowCheck', ou: 'x'.repeat(2049) }).success).toBe(false);
  });

  it('is read back by the bot with the schema the agent sent it with, and nothing larger', () => {
    const result = { action: 'adsync.noFlowCheck', data };
    expect(resultRequest.safeParse({ outcome: 'succeeded', result }).success).toBe(true);
    expect(readAdsyncResult('adsync.noFlowCheck', result)).toEqual({ ok: true, data });
    const tooMany = { ...data, objects: Array.from({ length: 501 }, (_, i) => obj(`CN=U${i},${OU}`, null)) };
    expect(noFlowCheckResult.safeParse(tooMany).success).toBe(false);
    expect(
      readAdsyncResult('adsync.noFlowCheck', { action: 'adsync.noFlowCheck', data: { ...data, selection: 'some' } }),
    ).toMatchObject({
      ok: false,
    });
  });
});
