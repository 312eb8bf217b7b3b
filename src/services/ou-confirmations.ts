import type { WaveSummary } from '../runbook/wave-summary';
import { confirmationsByOu, type OuConfirmation, type PostedWaveSummary } from '../runbook/ou-confirmations';
import type { Store } from '../store/types';

/**
 * The ledger's confirmation input from what the store already holds: step 12's evidence, the
 * migration's reported verifies and its latest posted wave summary. No new scan and no Graph call:
 * each of those read Cloud Sync's provisioning logs when it ran, and the card says which one and when.
 */
export function storedConfirmations(
  store: Store,
): (migrationId: string) => Promise<ReadonlyMap<string, OuConfirmation>> {
  return async (migrationId) => {
    const [steps, verifies, summaries] = await Promise.all([
      store.runbook.listSteps(migrationId),
      store.verifications.listConfirmations(migrationId),
      store.summaries.listSummaries(migrationId),
    ]);
    const posted = summaries
      .filter((r) => r.status === 'posted' && r.content && r.postedAt)
      .sort((a, b) => b.postedAt!.getTime() - a.postedAt!.getTime())[0];
    const waveSummary: PostedWaveSummary | null = posted
      ? {
          localDate: posted.localDate,
          postedAt: posted.postedAt!,
          waves: (posted.content as WaveSummary).waves.map((w) => ({
            wave: w.name,
            ous: w.ous ?? [],
            expected: w.expected ?? null,
            // Summaries stored before the confirmation existed have none: not read, not zero.
            confirmed: w.confirmed ?? null,
          })),
        }
      : null;
    return confirmationsByOu({ steps, verifies, waveSummary });
  };
}
