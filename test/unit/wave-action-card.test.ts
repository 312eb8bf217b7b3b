import { cardText } from '../../src/cards/card-text';
import { renderWaveActionCard, WAVE_VERBS } from '../../src/cards/wave-action-card';
import { renderWavesCard } from '../../src/cards/waves-card';
import type { Approval } from '../../src/runbook/approvals';
import { cardProblems } from '../helpers/card-check';

const RD = String.raw`OU=R\,D,DC=contoso,DC=com`;
const IDS = {
  migrationId: '11111111-1111-4111-8111-111111111111',
  waveId: '22222222-2222-4222-8222-222222222222',
  actionId: '33333333-3333-4333-8333-333333333333',
};

function approval(status: Approval['status']): Approval {
  return {
    id: '44444444-4444-4444-8444-444444444444',
    migrationId: IDS.migrationId,
    step: 0,
    action: 'wave.scope',
    requestedBy: 'adele',
    requestedByName: 'Adele Vance',
    requestedAt: new Date('2026-12-01T10:00:00Z'),
    expiresAt: new Date('2026-12-02T10:00:00Z'),
    required: 1,
    evidenceHash: 'x',
    evidence: { scopeValues: [RD], jobId: 'AD2AADProvisioning.j', jobStatus: 'Active', scopeBefore: [[]] },
    status,
    votes: [],
  };
}

function actions(card: Record<string, unknown>): { verb: string; data: Record<string, unknown> }[] {
  return JSON.stringify(card)
    .match(/\{"type":"Action\.Execute"[^{}]*"data":\{[^{}]*\}\}/g)!
    .map((t) => JSON.parse(t));
}

describe('wave action card', () => {
  const base = {
    ...IDS,
    waveName: 'Wave2',
    kind: 'scope' as const,
    reason: null,
    updatedBy: 'Adele Vance',
    canRollBack: false,
  };

  it('shows the scope value as AD wrote it and asks with buttons that carry ids only', () => {
    const card = renderWaveActionCard({
      ...base,
      status: 'waiting_approval',
      evidence: null,
      approval: approval('pending'),
    });
    expect(cardProblems(card)).toEqual([]);
    expect(cardText(card)).toContain(`Scope value: ${RD}`);
    expect(cardText(card)).toContain('Scope before (read): (empty: the whole domain)');
    expect(actions(card)).toEqual([
      {
        type: 'Action.Execute',
        title: 'Approve',
        verb: WAVE_VERBS.approve,
        data: { ...pick(IDS, 'migrationId', 'actionId'), approvalId: approval('pending').id },
      },
      {
        type: 'Action.Execute',
        title: 'Reject',
        verb: WAVE_VERBS.reject,
        data: { ...pick(IDS, 'migrationId', 'actionId'), approvalId: approval('pending').id },
      },
    ]);
  });

  it('offers Check the scope after a change by hand was asked for, and Rollback when something can be taken back', () => {
    const card = renderWaveActionCard({
      ...base,
      status: 'failed',
      reason: 'The app registration lacks Synchronization.ReadWrite.All',
      evidence: { scopeValues: [RD], missingPermission: 'Synchronization.ReadWrite.All', byHand: 'add' },
      approval: approval('executed'),
      canRollBack: true,
    });
    expect(cardText(card)).toContain('Missing permission: Synchronization.ReadWrite.All');
    expect(actions(card).map((a) => [a.verb, a.data])).toEqual([
      [WAVE_VERBS.checkScope, pick(IDS, 'migrationId', 'actionId')],
      [WAVE_VERBS.rollback, pick(IDS, 'migrationId', 'waveId')],
    ]);
  });

  it('puts a Rollback button under a wave of /wave list only when asked to', () => {
    const wave = {
      name: 'Wave2',
      scheduledFor: null,
      ous: [{ input: 'ou=r\\,d', baseDn: RD, users: 3, error: null, disabled: 0 }],
    };
    const withButton = renderWavesCard({
      title: 'Waves',
      waves: [{ wave, warnings: [], rollback: pick(IDS, 'migrationId', 'waveId') }],
    });
    expect(cardProblems(withButton)).toEqual([]);
    expect(actions(withButton)).toEqual([
      {
        type: 'Action.Execute',
        title: 'Rollback Wave2',
        verb: WAVE_VERBS.rollback,
        data: pick(IDS, 'migrationId', 'waveId'),
      },
    ]);
    expect(JSON.stringify(renderWavesCard({ title: 'Waves', waves: [{ wave, warnings: [] }] }))).not.toContain(
      'Action.Execute',
    );
  });
});

function pick<T extends Record<string, string>, K extends keyof T>(o: T, ...keys: K[]): Pick<T, K> {
  return Object.fromEntries(keys.map((k) => [k, o[k]])) as Pick<T, K>;
}
