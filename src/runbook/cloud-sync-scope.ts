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

/** One read of the Cloud Sync job: which job, its status code, and its scope. */
export interface ScopeReading {
  servicePrincipalId: string;
  jobId: string;
  /** synchronizationStatus.code: Active, Paused, Quarantine, NotRun, NotConfigured. */
  statusCode: string;
  scope: CloudSyncScope;
}

/** The scope as a card and an approval hash hold it: each rule's list, in order. */
export function scopeLists(scope: CloudSyncScope): string[][] {
  return scope.rules.map((r) => [...r.includedContainers]);
}

/** Cloud Sync provisions this OU now: the job runs (not paused or quarantined) and its scope covers the OU. */
export function cloudSyncCovers(reading: Pick<ScopeReading, 'statusCode' | 'scope'>, ouDn: string): boolean {
  return reading.statusCode === 'Active' && scopeCovers(reading.scope, ouDn);
}

/**
 * What an approval to add `value` to the scope rests on: the job and the scope read now. The hash
 * of this evidence is what the approvers approve; a different read before it runs voids it.
 */
export function scopeAddApproval(
  value: string | null,
  reading: ScopeReading,
): { evidence: Record<string, unknown> } | { refusal: string } {
  if (value === null)
    return { refusal: 'no OU distinguishedName is stored for it yet; let the agent resolve and count the OU first' };
  const change = scopeWithOu(reading.scope, value);
  if (!change.ok) return { refusal: change.reason };
  return {
    evidence: {
      scopeValue: value,
      servicePrincipalId: reading.servicePrincipalId,
      jobId: reading.jobId,
      jobStatus: reading.statusCode,
      scopeBefore: scopeLists(reading.scope),
      // Told apart on the card: adding the first OU narrows a configuration that covered everything.
      wholeDomainBefore: coversWholeDomain(reading.scope),
      alreadyInScope: !change.changed,
    },
  };
}

/** The evidence an approval was given on still matches what is read now (same job, status and scope). */
export function sameScopeAsApproved(approved: unknown, reading: ScopeReading): boolean {
  const a = approved as { jobId?: unknown; jobStatus?: unknown; scopeBefore?: unknown } | null;
  return (
    a?.jobId === reading.jobId &&
    a.jobStatus === reading.statusCode &&
    JSON.stringify(a.scopeBefore) === JSON.stringify(scopeLists(reading.scope))
  );
}

/** A read after the change: does Cloud Sync now cover (or no longer cover) the OU? */
export function scopeReadBack(
  value: string,
  reading: ScopeReading,
  want: 'covered' | 'uncovered',
): { ok: boolean; evidence: Record<string, unknown>; reason: string } {
  const covered = cloudSyncCovers(reading, value);
  const evidence = {
    scopeValue: value,
    jobId: reading.jobId,
    jobStatus: reading.statusCode,
    scopeAfter: scopeLists(reading.scope),
    coveredByCloudSync: covered,
  };
  if (want === 'covered' && !covered)
    return {
      ok: false,
      evidence,
      reason:
        reading.statusCode !== 'Active'
          ? `the Cloud Sync job is ${reading.statusCode}, not Active`
          : `the scope read back does not include ${value}`,
    };
  if (want === 'uncovered' && covered) return { ok: false, evidence, reason: `Cloud Sync still covers ${value}` };
  return { ok: true, evidence, reason: '' };
}
