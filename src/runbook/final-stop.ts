/**
 * Step 16 (stop the ADSync service for good) on the ownership ledger: Connect Sync may stop only
 * when Cloud Sync provably owns every object of every OU the migration moves. Stopped earlier, an
 * OU still owned by Connect Sync (or only in Cloud Sync's scope, with objects no Cloud Sync log
 * entry names) would have nobody writing it. The staging-server half of step 16's safety is
 * connect-sync-servers.ts; this is the ledger half. Pure.
 */

import { confirmationOriginText } from './ou-confirmations';
import { LEDGER_STATE_TEXT, type LedgerEntry } from './ou-ledger';

function entryLine(e: LedgerEntry): string {
  const c = e.facts.confirmation;
  const counts = c
    ? `${c.confirmed} of ${c.inScope} in-scope objects confirmed by Cloud Sync (${confirmationOriginText(c)})`
    : 'confirmation not read yet';
  return `${e.owner} ${e.dn}: ${LEDGER_STATE_TEXT[e.state]}, ${counts}`;
}

/**
 * Why step 16 may not be requested (or, when asked again at its approval, run) yet, or null when every
 * ledger OU is confirmed by Cloud Sync (or already past it). An empty ledger refuses: nothing then
 * shows that Cloud Sync owns anything.
 */
export function finalStopLedgerRefusal(entries: readonly LedgerEntry[]): string | null {
  if (entries.length === 0)
    return 'No OU is in the ownership ledger, so nothing shows that Cloud Sync owns any object. Set the pilot OU (step 5), then /ou status shows the ledger.';
  const open = entries.filter((e) => e.state !== 'confirmedByCloudSync' && e.state !== 'connectSyncStopped');
  if (open.length === 0) return null;
  return `Connect Sync may be stopped only when Cloud Sync has confirmed every object of every OU in the ledger, and ${open.length} of ${entries.length} OUs are not confirmed: ${open
    .map(entryLine)
    .join(
      '; ',
    )}. Run /verify pilot <OU> for each (it reads Cloud Sync's provisioning logs) or /summary now for the waves, see /ou status, then ask again.`;
}
