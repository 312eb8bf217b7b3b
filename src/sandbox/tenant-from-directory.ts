import { createHash } from 'node:crypto';
import type { Directory } from '../directory/types';
import { canonicalDn, isWithin, parseDn } from '../runbook/dn';
import { connectSyncFilters } from '../runbook/connect-sync-scope';
import { sourceAnchor } from '../runbook/ou-comparison';
import type { SimContact, SimGroup, SimUser } from './graph-simulator';

/**
 * Deliberate differences between the directory and the simulated tenant, so a verify has something
 * to find. Users are picked deterministically (sorted by DN) so tests can name them.
 */
export interface TenantDrift {
  /** The OU whose users get the drift. */
  baseDn: string;
  /** On-premises users left out of the tenant. */
  missing: number;
  /** Synced cloud users under the OU that AD does not have. */
  extra: number;
  /** Users whose onPremisesImmutableId is wrong. */
  mismatched: number;
}

export interface BuiltTenant {
  users: SimUser[];
  /** The directory's groups and contacts that Connect Sync's default rules export (no drift). */
  groups: SimGroup[];
  contacts: SimContact[];
  /** DNs as AD spells them, for assertions. */
  missingDns: string[];
  extraDns: string[];
  mismatchedDns: string[];
}

/**
 * Builds the tenant Connect Sync would have produced for a directory: one synced cloud user per AD
 * user (and inetOrgPerson, which Connect Sync exports as a user) with the same DN and source anchor,
 * one synced group per AD group with its SID, one contact per AD contact with its mail, none for
 * what its default rules filter out (src/runbook/connect-sync-scope.ts); then applies the drift to
 * users. Also adds cloud-only users and synced users from another forest whose DNs look
 * confusingly similar.
 */
export async function buildTenantFromDirectory(directory: Directory, drift: TenantDrift): Promise<BuiltTenant> {
  const nc = await directory.defaultNamingContext();
  const entries: { dn: string; anchor: string; sam: string | null; upn: string | null }[] = [];
  const groups: SimGroup[] = [];
  const contacts: SimContact[] = [];
  await directory.scanUsers(nc, {
    pageSize: 1000,
    objectTypes: 'all',
    onPage: (page) => {
      for (const u of page) {
        const type = u.objectType ?? 'user';
        if (connectSyncFilters({ ...u, type }).length > 0) continue;
        if (type === 'group') {
          groups.push({
            id: idFor(`group:${u.dn}`),
            displayName: u.samAccountName ?? u.dn,
            onPremisesSyncEnabled: true,
            onPremisesSecurityIdentifier: u.sid ?? null,
            onPremisesSamAccountName: u.samAccountName,
            securityEnabled: typeof u.groupType === 'number' && (u.groupType & 0x80000000) !== 0,
            mailEnabled: !!u.mail,
            mail: u.mail ?? null,
          });
        } else if (type === 'contact') {
          contacts.push({
            id: idFor(`contact:${u.dn}`),
            displayName: u.displayName ?? u.dn,
            mail: u.mail ?? null,
            onPremisesSyncEnabled: true,
          });
        } else {
          entries.push({
            dn: u.dn,
            anchor: sourceAnchor(u.objectGuid, u.consistencyGuid),
            sam: u.samAccountName,
            upn: u.userPrincipalName,
          });
        }
      }
    },
  });
  entries.sort((a, b) => a.dn.localeCompare(b.dn));
  const baseKeys = canonicalDn(drift.baseDn);
  if (!baseKeys) throw new Error(`Drift base ${drift.baseDn} is not a DN.`);
  const inBase = entries.filter((e) => isWithin(canonicalDn(e.dn) ?? [], baseKeys));
  if (inBase.length < drift.missing + drift.mismatched)
    throw new Error(
      `${drift.baseDn} has only ${inBase.length} users; cannot drift ${drift.missing} + ${drift.mismatched}.`,
    );
  // Spread the picks through the OU rather than taking the first few, so they are not all on one page.
  const step = Math.max(1, Math.floor(inBase.length / (drift.missing + drift.mismatched + 1)));
  const picked = Array.from({ length: drift.missing + drift.mismatched }, (_, i) => inBase[(i + 1) * step]!);
  const missing = new Set(picked.slice(0, drift.missing).map((e) => e.dn));
  const mismatched = new Set(picked.slice(drift.missing).map((e) => e.dn));
  const domain = domainOf(nc);

  const users: SimUser[] = [];
  for (const e of entries) {
    if (missing.has(e.dn)) continue;
    users.push({
      id: idFor(e.dn),
      userPrincipalName: e.upn ?? `${e.sam ?? idFor(e.dn).slice(0, 8)}@${domain}`,
      accountEnabled: true,
      onPremisesSyncEnabled: true,
      onPremisesDistinguishedName: e.dn,
      onPremisesImmutableId: mismatched.has(e.dn)
        ? Buffer.from(createHash('md5').update(`wrong:${e.dn}`).digest()).toString('base64')
        : e.anchor,
      onPremisesSamAccountName: e.sam,
      onPremisesLastSyncDateTime: '2026-11-24T06:00:00Z',
    });
  }
  const extraDns = Array.from({ length: drift.extra }, (_, i) => `CN=Departed User ${i + 1},${drift.baseDn}`);
  for (const dn of extraDns) {
    users.push({
      id: idFor(dn),
      userPrincipalName: `departed${extraDns.indexOf(dn) + 1}@${domain}`,
      onPremisesSyncEnabled: true,
      onPremisesDistinguishedName: dn,
      onPremisesImmutableId: Buffer.from(createHash('md5').update(dn).digest()).toString('base64'),
    });
  }
  // Look-alikes that a substring or regex match would wrongly count.
  const firstRdn = drift.baseDn.split(',')[0] ?? '';
  users.push(
    {
      id: idFor('lookalike-1'),
      userPrincipalName: `lookalike1@${domain}`,
      onPremisesSyncEnabled: true,
      onPremisesDistinguishedName: `CN=Look Alike,${drift.baseDn}pany`,
      onPremisesImmutableId: 'AAAAAAAAAAAAAAAAAAAAAA==',
    },
    {
      id: idFor('lookalike-2'),
      userPrincipalName: `lookalike2@${domain}`,
      onPremisesSyncEnabled: true,
      onPremisesDistinguishedName: `CN=Look Alike,${firstRdn}Ops,${nc}`,
      onPremisesImmutableId: 'AAAAAAAAAAAAAAAAAAAAAA==',
    },
    {
      id: idFor('cloud-only-1'),
      userPrincipalName: `cloudonly1@${domain}`,
      onPremisesSyncEnabled: null,
      onPremisesDistinguishedName: null,
      onPremisesImmutableId: null,
    },
  );
  return { users, groups, contacts, missingDns: [...missing], extraDns, mismatchedDns: [...mismatched] };
}

/** Stable GUID-shaped id per DN, so reruns produce the same tenant. */
export function idFor(key: string): string {
  const h = createHash('sha1').update(key).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

export function domainOf(nc: string): string {
  const parsed = parseDn(nc);
  return parsed.ok ? parsed.rdns.map((r) => r[0]!.value).join('.') : 'contoso.com';
}
