import { canonicalDn, isWithin } from './dn';

/** One on-premises user as the agent reports it. `anchor` is base64(ms-DS-ConsistencyGuid ?? objectGUID). */
export interface OnPremUser {
  dn: string;
  anchor: string;
  disabled: boolean;
}

/** One synced cloud user; only the fields the comparison needs. */
export interface CloudUserRef {
  id: string;
  userPrincipalName: string | null;
  onPremisesDistinguishedName: string | null;
  onPremisesImmutableId: string | null;
}

export interface MismatchedUser {
  dn: string;
  cloudId: string;
  userPrincipalName: string | null;
  expectedImmutableId: string;
  cloudImmutableId: string | null;
}

export interface ExtraUser {
  dn: string;
  cloudId: string;
  userPrincipalName: string | null;
}

export interface ComparisonReport {
  baseDn: string;
  onPrem: { users: number; disabled: number };
  cloud: { users: number };
  matched: number;
  missing: string[];
  extra: ExtraUser[];
  mismatched: MismatchedUser[];
  /** Cloud users whose onPremisesDistinguishedName could not be parsed; shown, never silently dropped. */
  unparsableCloudDns: number;
}

interface Pending {
  dn: string;
  anchor: string;
  /** A cloud user with this DN was seen; a flag rather than a second set of 100,000 keys. */
  seen: boolean;
}

/**
 * Compares an OU subtree on-premises with the synced users in the cloud.
 *
 * On-premises users are added first, then cloud users page by page, so neither side has to be held
 * whole as entries: only a map of canonical DN to anchor for the OU. Matching is by canonical DN
 * (component-wise, case-insensitive, escapes resolved) because that is what both sides carry; the
 * anchor is then compared, since a wrong onPremisesImmutableId is what breaks Cloud Sync's hard match.
 */
export class OuComparison {
  private readonly baseKeys: string[];
  private readonly pending = new Map<string, Pending>();
  private onPremUsers = 0;
  private onPremDisabled = 0;
  private cloudUsers = 0;
  private matched = 0;
  private unparsable = 0;
  private readonly extra: ExtraUser[] = [];
  private readonly mismatched: MismatchedUser[] = [];

  constructor(readonly baseDn: string) {
    const keys = canonicalDn(baseDn);
    if (keys === null) throw new Error(`The base DN "${baseDn}" cannot be parsed; resolve the OU before comparing.`);
    this.baseKeys = keys;
  }

  addOnPrem(user: OnPremUser): void {
    const keys = canonicalDn(user.dn);
    // The agent read this DN from AD, so it parses; a failure here is a bug worth surfacing loudly.
    if (keys === null) throw new Error(`The directory returned a DN that cannot be parsed: ${user.dn}`);
    if (!isWithin(keys, this.baseKeys)) return;
    this.onPremUsers++;
    if (user.disabled) this.onPremDisabled++;
    this.pending.set(keys.join(','), { dn: user.dn, anchor: user.anchor, seen: false });
  }

  addCloud(user: CloudUserRef): void {
    const dn = user.onPremisesDistinguishedName;
    if (!dn) return;
    const keys = canonicalDn(dn);
    if (keys === null) {
      this.unparsable++;
      return;
    }
    if (!isWithin(keys, this.baseKeys)) return;
    this.cloudUsers++;
    const onPrem = this.pending.get(keys.join(','));
    if (!onPrem || onPrem.seen) {
      this.extra.push({ dn, cloudId: user.id, userPrincipalName: user.userPrincipalName });
      return;
    }
    onPrem.seen = true;
    this.matched++;
    if (user.onPremisesImmutableId !== onPrem.anchor) {
      this.mismatched.push({
        dn: onPrem.dn,
        cloudId: user.id,
        userPrincipalName: user.userPrincipalName,
        expectedImmutableId: onPrem.anchor,
        cloudImmutableId: user.onPremisesImmutableId,
      });
    }
  }

  report(): ComparisonReport {
    const missing: string[] = [];
    for (const user of this.pending.values()) if (!user.seen) missing.push(user.dn);
    const byDn = (a: { dn: string }, b: { dn: string }): number => a.dn.localeCompare(b.dn);
    return {
      baseDn: this.baseDn,
      onPrem: { users: this.onPremUsers, disabled: this.onPremDisabled },
      cloud: { users: this.cloudUsers },
      matched: this.matched,
      missing: missing.sort((a, b) => a.localeCompare(b)),
      extra: [...this.extra].sort(byDn),
      mismatched: [...this.mismatched].sort(byDn),
      unparsableCloudDns: this.unparsable,
    };
  }
}

/** base64 of the 16 raw GUID bytes, as Connect Sync and Cloud Sync compute onPremisesImmutableId. */
export function sourceAnchor(objectGuid: Uint8Array, consistencyGuid: Uint8Array | null): string {
  const bytes = consistencyGuid && consistencyGuid.length === 16 ? consistencyGuid : objectGuid;
  return Buffer.from(bytes).toString('base64');
}
