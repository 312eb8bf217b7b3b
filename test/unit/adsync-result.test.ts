import { ADSYNC_ACTIONS, ADSYNC_RESULT_DATA, readAdsyncResult, resultRequest } from '../../src/relay/protocol';

/** The bot reads a stored Connect Sync result with the schema the agent validated it with. */

const scheduler = {
  syncCycleEnabled: true,
  syncCycleInProgress: false,
  stagingModeEnabled: false,
  schedulerSuspended: false,
  maintenanceEnabled: true,
  nextSyncCyclePolicyType: 'Delta',
  nextSyncCycleStartTimeInUTC: '2026-11-25T10:30:00Z',
  currentlyEffectiveSyncCycleInterval: '00:30:00',
  runningConnector: null,
};

describe('readAdsyncResult', () => {
  it('has a data schema for every Connect Sync action', () => {
    expect(Object.keys(ADSYNC_RESULT_DATA).sort()).toEqual([...ADSYNC_ACTIONS].sort());
  });

  it('reads a result as the agent sends it (and as the relay accepts it)', () => {
    const result = { action: 'adsync.getScheduler', data: scheduler };
    expect(resultRequest.safeParse({ outcome: 'succeeded', result }).success).toBe(true);
    expect(readAdsyncResult('adsync.getScheduler', result)).toEqual({ ok: true, data: scheduler });
    const rules = { rules: [], connectors: [] };
    expect(readAdsyncResult('adsync.listRules', { action: 'adsync.listRules', data: rules })).toEqual({
      ok: true,
      data: rules,
    });
  });

  it('refuses the result of another action', () => {
    expect(readAdsyncResult('adsync.listRules', { action: 'adsync.getScheduler', data: scheduler })).toEqual({
      ok: false,
      problem: 'expected the result of adsync.listRules',
    });
    expect(readAdsyncResult('adsync.getScheduler', { action: 'directory.scanOu', baseDn: 'OU=P' })).toEqual({
      ok: false,
      problem: 'expected the result of adsync.getScheduler',
    });
    expect(readAdsyncResult('adsync.getScheduler', null)).toMatchObject({ ok: false });
  });

  it("refuses Get-ADSyncScheduler's own PascalCase names: the agent's script always renames them, so none are guessed at", () => {
    const pascal = { SyncCycleEnabled: true, SyncCycleInProgress: true, StagingModeEnabled: false };
    const read = readAdsyncResult('adsync.getScheduler', { action: 'adsync.getScheduler', data: pascal });
    expect(read.ok).toBe(false);
    expect(read).toMatchObject({
      problem: expect.stringContaining('the result of adsync.getScheduler is malformed (syncCycleEnabled: Required'),
    });
  });
});
