import { canonicalDn, isWithin } from './dn';

/**
 * Cloud Sync's OU scope as the synchronization API holds it: each synchronizationRule of the
 * AD2AADProvisioning job has `containerFilter.includedContainers`, a list of OU distinguished names;
 * an empty list means no container filter, so the whole domain is in scope (containerFilter resource,
 * Graph beta). Pure: the service reads and writes the schema, this decides what the list becomes.
 */

/** What a read of the job's schema says about its OU scope. */
export interface CloudSyncScope {
  /** One entry per synchronizationRule, in the schema's order. */
  rules: { id: string; includedContainers: string[] }[];
}

/** True when no rule filters by container: Cloud Sync covers every OU of the domain. */
export function coversWholeDomain(scope: CloudSyncScope): boolean {
  return scope.rules.some((r) => r.includedContainers.length === 0);
}

/**
 * The OUs every rule includes (a rule that filters nothing includes everything). A DN is taken as
 * it stands in the schema; the comparison is AD's (case-insensitive, escapes resolved).
 */
export function includedOus(scope: CloudSyncScope): string[] {
  const filtering = scope.rules.filter((r) => r.includedContainers.length > 0);
  if (filtering.length === 0) return [];
  const [first, ...others] = filtering;
  return first!.includedContainers.filter((dn) => others.every((r) => containsDn(r.includedContainers, dn)));
}

/**
 * Does Cloud Sync provision objects of this OU? Yes when every rule includes it, an OU above it, or
 * filters nothing. A rule without the OU means part of its objects stay out, which counts as no.
 */
export function scopeCovers(scope: CloudSyncScope, ouDn: string): boolean {
  if (scope.rules.length === 0) return false;
  const keys = canonicalDn(ouDn);
  if (!keys) return false;
  return scope.rules.every(
    (r) =>
      r.includedContainers.length === 0 ||
      r.includedContainers.some((dn) => {
        const inc = canonicalDn(dn);
        return inc !== null && isWithin(keys, inc);
      }),
  );
}

/** True when `dns` holds this DN itself (not merely a parent), compared as AD compares DNs. */
export function containsDn(dns: readonly string[], dn: string): boolean {
  const keys = canonicalDn(dn);
  if (!keys) return false;
  return dns.some((d) => {
    const k = canonicalDn(d);
    return k !== null && k.length === keys.length && isWithin(k, keys);
  });
}

export type ScopeChange =
  { ok: true; changed: boolean; rules: { id: string; includedContainers: string[] }[] } | { ok: false; reason: string };

/**
 * The scope with `ouDn` added to every rule's includedContainers, written exactly as given (the
 * caller passes the DN as AD wrote it). A rule that filtered nothing now filters to the listed OUs:
 * the reason is shown on the approval card, because that narrows Cloud Sync's scope.
 */
export function scopeWithOu(scope: CloudSyncScope, ouDn: string): ScopeChange {
  if (scope.rules.length === 0)
    return {
      ok: false,
      reason:
        'The Cloud Sync job has no synchronization rule in its schema, so there is no scope to add the OU to; check that the job is the AD2AADProvisioning job of the configuration.',
    };
  if (!canonicalDn(ouDn)) return { ok: false, reason: `${ouDn} is not a distinguished name.` };
  let changed = false;
  const rules = scope.rules.map((r) => {
    if (containsDn(r.includedContainers, ouDn)) return { ...r, includedContainers: [...r.includedContainers] };
    changed = true;
    return { ...r, includedContainers: [...r.includedContainers, ouDn] };
  });
  return { ok: true, changed, rules };
}

/**
 * The scope without `ouDn`. Refused when that would leave a rule's list empty: an empty list is no
 * filter, so taking out the last OU would put the whole domain into Cloud Sync's scope. Pausing the
 * job is the way to stop Cloud Sync for its last OU.
 */
export function scopeWithoutOu(scope: CloudSyncScope, ouDn: string): ScopeChange {
  let changed = false;
  const rules = scope.rules.map((r) => {
    const kept = r.includedContainers.filter((dn) => !containsDn([dn], ouDn));
    if (kept.length !== r.includedContainers.length) changed = true;
    return { ...r, includedContainers: kept };
  });
  if (changed && rules.some((r) => r.includedContainers.length === 0))
    return {
      ok: false,
      reason: `${ouDn} is the only OU in Cloud Sync's scope; an empty list means no filter (the whole domain), so it cannot be taken out. Pause the Cloud Sync job instead.`,
    };
  return { ok: true, changed, rules };
}

/**
 * The value SyncShift writes into Cloud Sync's scope for an OU: the distinguishedName the agent read
 * from AD and stored with the OU's scan, never the text a person typed. Null when no scan stored one.
 */
export function scopeValueFromEvidence(evidence: unknown): string | null {
  const e = evidence as { pilotOu?: unknown; baseDn?: unknown } | null | undefined;
  const value = typeof e?.pilotOu === 'string' ? e.pilotOu : typeof e?.baseDn === 'string' ? e.baseDn : null;
  return value !== null && value !== '' && canonicalDn(value) !== null ? value : null;
}
