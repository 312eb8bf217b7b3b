import { initialSteps, type StepState } from '../../src/runbook/runbook';
import { finalStopLedgerRefusal } from '../../src/runbook/final-stop';
import { confirmationsByOu, pilotCheckConfirmation } from '../../src/runbook/ou-confirmations';
import { buildLedger, ledgerFacts } from '../../src/runbook/ou-ledger';
import { OU } from '../../src/sandbox/forest-spec';

const T = (iso: string): Date => new Date(`2026-12-0${iso}Z`);
const JOB = 'AD2AADProvisioning.5a4d60c1.x';

/** Steps 5, 9 and 11 done (pilot set, rules created, scope added), step 12 as given. */
function pilotSteps(step12?: Partial<StepState>): StepState[] {
  return initialSteps().map((s) => {
    if (s.n === 5) return { ...s, status: 'done', evidence: { pilotOu: OU.rAndD }, updatedAt: T('1T08:00:00') };
    if (s.n === 9 || s.n === 11) return { ...s, status: 'done', evidence: {}, updatedAt: T('1T09:00:00') };
    if (s.n === 12 && step12) return { ...s, ...step12 };
    return s;
  });
}

const step12 = (confirmed: number, unconfirmed: number, at = T('2T10:00:00')): Partial<StepState> => ({
  status: confirmed > 0 && unconfirmed === 0 ? 'done' : 'failed',
  evidence: { ou: OU.rAndD, confirmedByCloudSync: confirmed, unconfirmed, cloudSyncJob: JOB },
  updatedAt: at,
});

describe('confirmations read from stored evidence', () => {
  it("reads the pilot check's counts from step 12's evidence, with where and when", () => {
    expect(pilotCheckConfirmation(pilotSteps(step12(7, 0)))).toEqual({
      dn: OU.rAndD,
      confirmation: {
        inScope: 7,
        confirmed: 7,
        origin: {
          from: `the pilot check (step 12, done) reading job ${JOB}'s provisioning logs`,
          at: T('2T10:00:00'),
        },
      },
    });
    // Logs that could not be read leave no counts: not read, never zero of zero.
    expect(
      pilotCheckConfirmation(
        pilotSteps({ evidence: { ou: OU.rAndD, confirmedByCloudSync: null }, updatedAt: T('2T10:00:00') }),
      ),
    ).toBeNull();
    expect(pilotCheckConfirmation(pilotSteps())).toBeNull();
  });

  it('takes the newest of the pilot check, the verifies and the wave summary for each OU', () => {
    const byOu = confirmationsByOu({
      steps: pilotSteps(step12(7, 0, T('2T10:00:00'))),
      verifies: [
        // A later verify found a new pilot user Cloud Sync has not logged yet: it wins.
        { baseDn: OU.rAndD.toLowerCase(), at: T('3T10:00:00'), jobId: JOB, inScope: 8, confirmed: 7 },
        { baseDn: OU.salesOps, at: T('1T10:00:00'), jobId: JOB, inScope: 4, confirmed: 0 },
      ],
      waveSummary: {
        localDate: '2026-12-04',
        postedAt: T('4T07:00:00'),
        waves: [
          { wave: 'W1', ous: [OU.salesOps, OU.sales], expected: 10, confirmed: 10 },
          { wave: 'W2', ous: [OU.legacy], expected: 3, confirmed: null },
        ],
      },
    });
    expect([...byOu.keys()]).toEqual([OU.rAndD.toLowerCase(), OU.salesOps, OU.sales]);
    expect(byOu.get(OU.rAndD.toLowerCase())).toMatchObject({ inScope: 8, confirmed: 7 });
    expect(byOu.get(OU.rAndD.toLowerCase())!.origin!.from).toBe(
      `the verify of ${OU.rAndD.toLowerCase()} reading job ${JOB}'s provisioning logs`,
    );
    // The wave's numbers stand for each of its OUs, and say they count the whole wave.
    expect(byOu.get(OU.salesOps)).toEqual({
      inScope: 10,
      confirmed: 10,
      origin: { from: 'the wave summary of 2026-12-04 (wave W1, counted over its 2 OUs)', at: T('4T07:00:00') },
    });
    // A wave without a Cloud Sync job set has no confirmation at all.
    expect(byOu.has(OU.legacy)).toBe(false);
  });

  it('feeds the ledger: the pilot is confirmed by Cloud Sync only with every object confirmed', () => {
    const ledgerOf = (verifies: Parameters<typeof confirmationsByOu>[0]['verifies']) => {
      const steps = pilotSteps();
      return buildLedger(
        ledgerFacts({
          steps,
          waveOus: [],
          reading: null,
          confirmations: confirmationsByOu({ steps, verifies, waveSummary: null }),
        }),
      );
    };
    const partly = ledgerOf([{ baseDn: OU.rAndD, at: T('3T10:00:00'), jobId: JOB, inScope: 7, confirmed: 6 }]);
    expect(partly[0]!.state).toBe('cloudSyncScope');
    expect(partly[0]!.next).toBe(
      `next: confirmation: 6 of 7 objects confirmed by Cloud Sync (read from the verify of ${OU.rAndD} reading job ${JOB}'s provisioning logs, 2026-12-03T10:00:00.000Z)`,
    );
    const all = ledgerOf([{ baseDn: OU.rAndD, at: T('3T10:00:00'), jobId: JOB, inScope: 7, confirmed: 7 }]);
    expect(all[0]!.state).toBe('confirmedByCloudSync');
    expect(all[0]!.next).toContain('all 7 objects confirmed (read from the verify of');
  });
});

describe('step 16 waits for the ledger', () => {
  const ledger = (confirmed: number, waveOus: { wave: string; baseDn: string }[] = []) => {
    const steps = pilotSteps(step12(confirmed, 7 - confirmed));
    return buildLedger(
      ledgerFacts({
        steps,
        waveOus,
        reading: null,
        confirmations: confirmationsByOu({ steps, verifies: [], waveSummary: null }),
      }),
    );
  };

  it('refuses while an OU is not confirmed, naming it and its counts', () => {
    const refusal = finalStopLedgerRefusal(ledger(5));
    expect(refusal).toContain('1 of 1 OUs are not confirmed');
    expect(refusal).toContain(
      `pilot ${OU.rAndD}: in Cloud Sync scope, 5 of 7 in-scope objects confirmed by Cloud Sync`,
    );
    expect(refusal).toContain('/verify pilot <OU>');
  });

  it('refuses for a wave OU with no confirmation read, and for an empty ledger', () => {
    const refusal = finalStopLedgerRefusal(ledger(7, [{ wave: 'W1', baseDn: OU.salesOps }]));
    expect(refusal).toContain('1 of 2 OUs are not confirmed');
    expect(refusal).toContain(`W1 ${OU.salesOps}: owned by Connect Sync, confirmation not read yet`);
    expect(refusal).not.toContain(`pilot ${OU.rAndD}`);
    expect(finalStopLedgerRefusal([])).toContain('No OU is in the ownership ledger');
  });

  it('allows the request once every ledger OU is confirmed by Cloud Sync', () => {
    expect(ledger(7).map((e) => e.state)).toEqual(['confirmedByCloudSync']);
    expect(finalStopLedgerRefusal(ledger(7))).toBeNull();
  });
});
