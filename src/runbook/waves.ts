/**
 * Waves: the OUs that move to Cloud Sync together after the pilot (runbook step 14), and the
 * Cloud Sync limits a wave is checked against before it is scheduled. Pure: counts come in as data.
 */
import { canonicalDn, isWithin, parseDn } from './dn';

/**
 * Limits from Microsoft's Cloud Sync documentation (decision guide and prerequisites):
 * 150,000 objects per AD domain, and a scoping configuration of about 50 OUs or groups (4 MB).
 * One Cloud Sync configuration serves one domain, so the pilot and every wave of a domain add up.
 */
export const CLOUD_SYNC_LIMITS = { objectsPerDomain: 150_000, ousPerConfiguration: 50 } as const;

export const WAVE_NAME_PATTERN = /^[\p{L}\p{N}][\p{L}\p{N} ._-]{0,63}$/u;

export interface WaveOu {
  /** As typed. */
  input: string;
  /** Set once the agent resolved the OU. */
  baseDn: string | null;
  /** Users the agent counted in the OU subtree, or null while not counted. */
  users: number | null;
  /** Why the agent could not count it (OU missing, ambiguous…). */
  error: string | null;
}

export interface WavePlan {
  name: string;
  /** ISO date (YYYY-MM-DD) in the migration's summary time zone, or null when not scheduled. */
  scheduledFor: string | null;
  ous: WaveOu[];
}

export type WaveWarningCode =
  'OBJECTS_PER_DOMAIN' | 'OUS_PER_CONFIGURATION' | 'OVERLAP' | 'NOT_COUNTED' | 'DATE_IN_PAST';

export interface WaveWarning {
  code: WaveWarningCode;
  message: string;
}

export interface WaveCheckContext {
  /** Every other active wave of the migration. */
  otherWaves: readonly WavePlan[];
  /** The pilot OU (runbook step 5) with its count, when known. */
  pilot: { baseDn: string; users: number | null } | null;
  /** Today's date in the migration's time zone (YYYY-MM-DD). */
  today: string;
}

/**
 * The OUs a scoping configuration has to list: those not inside another one of the list. Cloud
 * Sync includes nested OUs with their parent, so only these count toward its limit of about 50.
 * Duplicates (compared as RFC 4514 DNs) count once; a DN that does not parse counts as itself.
 */
export function topLevelOus(dns: readonly string[]): string[] {
  const unique = new Map<string, { dn: string; keys: string[] | null }>();
  for (const dn of dns) {
    const keys = canonicalDn(dn);
    const id = keys ? keys.join(',') : dn;
    if (!unique.has(id)) unique.set(id, { dn, keys });
  }
  const all = [...unique.values()];
  return all
    .filter((a) => !a.keys || !all.some((b) => b !== a && b.keys !== null && isWithin(a.keys!, b.keys)))
    .map((a) => a.dn);
}

/** The domain part (the DC= components) of a DN, lower-cased, e.g. "dc=contoso,dc=com". */
export function domainOf(dn: string): string | null {
  const parsed = parseDn(dn);
  if (!parsed.ok) return null;
  const dcs = parsed.rdns
    .filter((rdn) => rdn.length === 1 && rdn[0]!.type.toLowerCase() === 'dc')
    .map((rdn) => `dc=${rdn[0]!.value.toLowerCase()}`);
  return dcs.length === 0 ? null : dcs.join(',');
}

/**
 * Warnings for one wave against the migration's other waves and pilot. A warning does not block
 * the wave: the team decides, but it must have seen it before the wave's date.
 */
export function checkWave(wave: WavePlan, context: WaveCheckContext): WaveWarning[] {
  const warnings: WaveWarning[] = [];
  const uncounted = wave.ous.filter((ou) => ou.users === null);
  if (uncounted.length > 0) {
    warnings.push({
      code: 'NOT_COUNTED',
      message: `${uncounted.length} OU(s) not counted yet (${uncounted.map((ou) => (ou.error ? `${ou.input}: ${ou.error}` : ou.input)).join('; ')}); the limits below leave them out.`,
    });
  }
  if (wave.scheduledFor !== null && wave.scheduledFor < context.today) {
    warnings.push({
      code: 'DATE_IN_PAST',
      message: `The wave is scheduled for ${wave.scheduledFor}, which has passed (today is ${context.today}).`,
    });
  }

  // Everything that will sit in the Cloud Sync configuration of each domain this wave touches.
  const scopes: { label: string; baseDn: string; users: number | null }[] = [];
  if (context.pilot) scopes.push({ label: 'the pilot', ...context.pilot });
  for (const other of context.otherWaves) {
    for (const ou of other.ous)
      if (ou.baseDn) scopes.push({ label: `wave ${other.name}`, baseDn: ou.baseDn, users: ou.users });
  }
  const own = wave.ous.filter((ou): ou is WaveOu & { baseDn: string } => ou.baseDn !== null);

  for (const [i, ou] of own.entries()) {
    const keys = canonicalDn(ou.baseDn);
    if (!keys) continue;
    // Two OUs of this wave where one holds the other count the nested users twice too.
    for (const other of own.slice(i + 1)) {
      const otherKeys = canonicalDn(other.baseDn);
      if (otherKeys && (isWithin(keys, otherKeys) || isWithin(otherKeys, keys))) {
        warnings.push({
          code: 'OVERLAP',
          message: `${ou.baseDn} and ${other.baseDn} of this wave overlap: one holds the other, so its users would be counted twice.`,
        });
      }
    }
    for (const scope of scopes) {
      const scopeKeys = canonicalDn(scope.baseDn);
      if (!scopeKeys) continue;
      if (isWithin(keys, scopeKeys) || isWithin(scopeKeys, keys)) {
        warnings.push({
          code: 'OVERLAP',
          message: `${ou.baseDn} overlaps ${scope.baseDn} of ${scope.label}: its users would be counted, and moved, twice.`,
        });
      }
    }
  }

  const domains = new Set(own.map((ou) => domainOf(ou.baseDn)).filter((d): d is string => d !== null));
  for (const domain of domains) {
    const inDomain = [
      ...scopes,
      ...own.map((ou) => ({ label: `wave ${wave.name}`, baseDn: ou.baseDn, users: ou.users })),
    ].filter((s) => domainOf(s.baseDn) === domain);
    // A nested OU is in its parent's subtree: neither listed in the configuration nor counted twice.
    const listed = new Set(topLevelOus(inDomain.map((s) => s.baseDn)));
    const topLevel = inDomain.filter((s) => listed.delete(s.baseDn));
    if (topLevel.length > CLOUD_SYNC_LIMITS.ousPerConfiguration) {
      warnings.push({
        code: 'OUS_PER_CONFIGURATION',
        message: `With this wave the Cloud Sync configuration for ${domain} would scope ${topLevel.length} separate OUs (nested OUs not counted); a configuration holds about ${CLOUD_SYNC_LIMITS.ousPerConfiguration}. Select parent OUs instead (nested OUs are included), or split the domain's OUs over more than one configuration.`,
      });
    }
    const users = topLevel.reduce((sum, s) => sum + (s.users ?? 0), 0);
    const limit = CLOUD_SYNC_LIMITS.objectsPerDomain.toLocaleString('en-US');
    // The agent counts users only; saying so keeps a near-limit domain from looking safe.
    const counted = `Users counted: ${users.toLocaleString('en-US')}; groups and contacts are not counted (the agent counts users only) and add to this.`;
    if (users > CLOUD_SYNC_LIMITS.objectsPerDomain) {
      warnings.push({
        code: 'OBJECTS_PER_DOMAIN',
        message: `With this wave ${users.toLocaleString('en-US')} users of ${domain} would be in Cloud Sync scope; Cloud Sync supports ${limit} objects per domain. ${counted}`,
      });
    } else if (users > CLOUD_SYNC_LIMITS.objectsPerDomain * 0.9) {
      warnings.push({
        code: 'OBJECTS_PER_DOMAIN',
        message: `With this wave ${users.toLocaleString('en-US')} users of ${domain} would be in Cloud Sync scope, over 90% of the ${limit} objects a domain supports. ${counted}`,
      });
    }
  }
  return warnings;
}

/** A calendar date YYYY-MM-DD that exists (no 2026-02-30). */
export function isCalendarDate(text: string): boolean {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text);
  if (!m) return false;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const date = new Date(Date.UTC(y, mo - 1, d));
  return date.getUTCFullYear() === y && date.getUTCMonth() === mo - 1 && date.getUTCDate() === d;
}
