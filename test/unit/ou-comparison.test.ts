import { canonicalDn, isWithin } from '../../src/runbook/dn';
import {
  NOT_SYNCED_CRITICAL,
  OuComparison,
  sourceAnchor,
  type CloudUserRef,
  type OnPremUser,
} from '../../src/runbook/ou-comparison';

const base = 'OU=Sales,DC=contoso,DC=com';
const guid = (n: number): Buffer => Buffer.alloc(16, n);

const onPrem: OnPremUser[] = [
  { dn: 'CN=Ann,OU=Sales,DC=contoso,DC=com', anchor: sourceAnchor(guid(1), null), disabled: false },
  { dn: 'CN=Smith\\, John,OU=Sales,DC=contoso,DC=com', anchor: sourceAnchor(guid(2), null), disabled: true },
  { dn: 'CN=Deep,OU=EMEA,OU=Sales,DC=contoso,DC=com', anchor: sourceAnchor(guid(3), guid(9)), disabled: false },
  { dn: 'CN=Gone,OU=Sales,DC=contoso,DC=com', anchor: sourceAnchor(guid(4), null), disabled: false },
  // outside the base: ignored
  { dn: 'CN=Ops,OU=SalesOps,DC=contoso,DC=com', anchor: 'x', disabled: false },
];

describe('OuComparison', () => {
  function build(): OuComparison {
    const c = new OuComparison(base);
    for (const user of onPrem) c.addOnPrem(user);
    return c;
  }

  it('matches component-wise, finds missing, extra and anchor mismatches', () => {
    const c = build();
    c.addCloud({
      id: 'c1',
      userPrincipalName: 'ann@x',
      onPremisesDistinguishedName: 'cn=ann,ou=sales,dc=contoso,dc=com',
      onPremisesImmutableId: guid(1).toString('base64'),
    });
    c.addCloud({
      id: 'c2',
      userPrincipalName: 'js@x',
      onPremisesDistinguishedName: 'CN=Smith\\2C John,OU=Sales,DC=contoso,DC=com',
      onPremisesImmutableId: guid(2).toString('base64'),
    });
    // consistency guid wins over objectGUID: cloud carrying objectGUID is a mismatch
    c.addCloud({
      id: 'c3',
      userPrincipalName: 'deep@x',
      onPremisesDistinguishedName: 'CN=Deep,OU=EMEA,OU=Sales,DC=contoso,DC=com',
      onPremisesImmutableId: guid(3).toString('base64'),
    });
    c.addCloud({
      id: 'c4',
      userPrincipalName: 'extra@x',
      onPremisesDistinguishedName: 'CN=Extra,OU=Sales,DC=contoso,DC=com',
      onPremisesImmutableId: 'zz',
    });
    c.addCloud({
      id: 'c5',
      userPrincipalName: 'ops@x',
      onPremisesDistinguishedName: 'CN=Ops,OU=SalesOps,DC=contoso,DC=com',
      onPremisesImmutableId: 'x',
    });
    c.addCloud({
      id: 'c6',
      userPrincipalName: 'co@x',
      onPremisesDistinguishedName: 'CN=Ann,OU=Sales,DC=contoso,DC=company',
      onPremisesImmutableId: 'x',
    });
    c.addCloud({
      id: 'c7',
      userPrincipalName: 'nodn@x',
      onPremisesDistinguishedName: null,
      onPremisesImmutableId: null,
    });
    c.addCloud({
      id: 'c8',
      userPrincipalName: 'bad@x',
      onPremisesDistinguishedName: 'garbage',
      onPremisesImmutableId: null,
    });
    const r = c.report();
    expect(r.onPrem).toEqual({ users: 4, disabled: 1 });
    expect(r.cloud).toEqual({ users: 4 });
    expect(r.matched).toBe(3);
    expect(r.missing).toEqual(['CN=Gone,OU=Sales,DC=contoso,DC=com']);
    expect(r.extra).toEqual([
      { dn: 'CN=Extra,OU=Sales,DC=contoso,DC=com', cloudId: 'c4', userPrincipalName: 'extra@x' },
    ]);
    expect(r.mismatched).toHaveLength(1);
    expect(r.mismatched[0]).toMatchObject({
      dn: 'CN=Deep,OU=EMEA,OU=Sales,DC=contoso,DC=com',
      expectedImmutableId: guid(9).toString('base64'),
      cloudImmutableId: guid(3).toString('base64'),
    });
    expect(r.unparsableCloudDns).toBe(1);
    expect(c.tally()).toEqual({
      onPrem: { users: 4, disabled: 1 },
      cloud: { users: 4 },
      matched: 3,
      missing: 1,
      mismatched: 1,
      extra: 1,
    });
  });

  it('counts a second cloud user with the same DN as extra, not as a second match', () => {
    const c = build();
    const dn = 'CN=Ann,OU=Sales,DC=contoso,DC=com';
    c.addCloud({
      id: 'a',
      userPrincipalName: null,
      onPremisesDistinguishedName: dn,
      onPremisesImmutableId: guid(1).toString('base64'),
    });
    c.addCloud({
      id: 'b',
      userPrincipalName: null,
      onPremisesDistinguishedName: dn,
      onPremisesImmutableId: guid(1).toString('base64'),
    });
    expect(c.report()).toMatchObject({ matched: 1, extra: [{ cloudId: 'b' }] });
  });

  it('compares anchors exactly: a non-canonical base64 of the same bytes is a mismatch, odd anchor text still matches itself', () => {
    const c = new OuComparison(base);
    const users: OnPremUser[] = [
      { dn: 'CN=A,OU=Sales,DC=contoso,DC=com', anchor: guid(5).toString('base64'), disabled: false },
      { dn: 'CN=B,OU=Sales,DC=contoso,DC=com', anchor: 'not-base64', disabled: false },
      { dn: 'CN=C,OU=Sales,DC=contoso,DC=com', anchor: guid(6).toString('base64'), disabled: false },
    ];
    for (const u of users) c.addOnPrem(u);
    // Same 16 bytes, but the unused low bits of the last character are not zero.
    const canonical = guid(5).toString('base64');
    const variant = canonical.slice(0, 21) + String.fromCharCode(canonical.charCodeAt(21) + 1) + '==';
    expect(Buffer.from(variant, 'base64')).toEqual(guid(5));
    c.addCloud({
      id: 'a',
      userPrincipalName: null,
      onPremisesDistinguishedName: users[0]!.dn,
      onPremisesImmutableId: variant,
    });
    c.addCloud({
      id: 'b',
      userPrincipalName: null,
      onPremisesDistinguishedName: users[1]!.dn,
      onPremisesImmutableId: 'not-base64',
    });
    c.addCloud({
      id: 'c',
      userPrincipalName: null,
      onPremisesDistinguishedName: users[2]!.dn,
      onPremisesImmutableId: null,
    });
    const r = c.report();
    expect(r.mismatched.map((m) => [m.cloudId, m.expectedImmutableId])).toEqual([
      ['a', canonical],
      ['c', guid(6).toString('base64')],
    ]);
    expect(r.matched).toBe(3);
  });

  it('counts a DN the scan reported twice once', () => {
    const c = new OuComparison(base);
    c.addOnPrem(onPrem[0]!);
    c.addOnPrem({ ...onPrem[0]!, dn: 'cn=ann,ou=sales,dc=contoso,dc=com' });
    expect(c.tally().onPrem.users).toBe(1);
  });

  it('names users by the DN the directory gave, non-ASCII and escapes included, across buffer growth', () => {
    const c = new OuComparison(base);
    const dns = Array.from(
      { length: 3000 },
      (_, i) => `CN=Zürich \\, Ünïcødé ${i} ${'x'.repeat(i % 40)},OU=Sales,DC=contoso,DC=com`,
    );
    for (const dn of dns) c.addOnPrem({ dn, anchor: guid(1).toString('base64'), disabled: false });
    expect(c.report().missing).toEqual([...dns].sort((a, b) => a.localeCompare(b)));
  });

  it('agrees with a plain map of canonical components on 20,000 users with drift, across table growth', () => {
    const users: OnPremUser[] = [];
    for (let i = 0; i < 20_000; i++) {
      const ou = i % 3 === 0 ? 'OU=EMEA,OU=Sales' : i % 3 === 1 ? 'OU=Sales' : 'OU=SalesOps';
      const cn = i % 97 === 0 ? `Lee\\, Ann ${i}` : `User ${i}`;
      users.push({
        dn: `CN=${cn},${ou},DC=contoso,DC=com`,
        anchor: guid(i % 251).toString('base64'),
        disabled: i % 20 === 0,
      });
    }
    const cloud: CloudUserRef[] = users
      .filter((_, i) => i % 50 !== 7)
      .map((u, i) => ({
        id: `c${i}`,
        userPrincipalName: null,
        onPremisesDistinguishedName: i % 41 === 0 ? u.dn.toUpperCase() : u.dn,
        onPremisesImmutableId: i % 333 === 0 ? guid(255).toString('base64') : u.anchor,
      }));
    for (let i = 0; i < 300; i++)
      cloud.push({
        id: `x${i}`,
        userPrincipalName: null,
        onPremisesDistinguishedName: `CN=Extra ${i},OU=Sales,DC=contoso,DC=com`,
        onPremisesImmutableId: null,
      });

    const c = new OuComparison(base);
    for (const u of users) c.addOnPrem(u);
    for (const u of cloud) c.addCloud(u);
    const r = c.report();

    // Reference: the straightforward comparison on canonicalDn components.
    const baseKeys = canonicalDn(base)!;
    const inBase = users.filter((u) => isWithin(canonicalDn(u.dn)!, baseKeys));
    const byKey = new Map(inBase.map((u) => [canonicalDn(u.dn)!.join('|'), u]));
    const seen = new Set<string>();
    let mismatched = 0;
    let extra = 0;
    for (const u of cloud) {
      const keys = canonicalDn(u.onPremisesDistinguishedName!)!;
      if (!isWithin(keys, baseKeys)) continue;
      const k = keys.join('|');
      const match = byKey.get(k);
      if (!match || seen.has(k)) {
        extra++;
        continue;
      }
      seen.add(k);
      if (match.anchor !== u.onPremisesImmutableId) mismatched++;
    }
    const missing = inBase
      .filter((u) => !seen.has(canonicalDn(u.dn)!.join('|')))
      .map((u) => u.dn)
      .sort((a, b) => a.localeCompare(b));

    expect(r.onPrem.users).toBe(inBase.length);
    expect(r.onPrem.disabled).toBe(inBase.filter((u) => u.disabled).length);
    expect(r.matched).toBe(seen.size);
    expect(r.missing).toEqual(missing);
    expect(r.mismatched).toHaveLength(mismatched);
    expect(r.extra).toHaveLength(extra);
    expect(missing.length).toBeGreaterThan(100);
    expect(mismatched).toBeGreaterThan(10);
  });

  it('lists critical system objects without a cloud user apart, with the reason, and never as missing', () => {
    const users = 'CN=Users,DC=contoso,DC=com';
    const c = new OuComparison(users);
    const critical = (cn: string, disabled: boolean, n: number): OnPremUser => ({
      dn: `CN=${cn},${users}`,
      anchor: sourceAnchor(guid(n), null),
      disabled,
      criticalSystemObject: true,
    });
    c.addOnPrem(critical('krbtgt', true, 1));
    c.addOnPrem(critical('Administrator', false, 2));
    c.addOnPrem(critical('Guest', true, 3));
    // A critical object synced all the same (a custom rule) is an ordinary, matched user.
    c.addOnPrem(critical('Synced Anyway', true, 4));
    c.addOnPrem({ dn: `CN=Pat,${users}`, anchor: sourceAnchor(guid(5), null), disabled: false });
    // A scan from an agent that does not send the flag: the user is ordinary, so missing.
    c.addOnPrem({ dn: `CN=Old Agent,${users}`, anchor: sourceAnchor(guid(6), null), disabled: false });
    c.addCloud({
      id: 's',
      userPrincipalName: null,
      onPremisesDistinguishedName: `CN=Synced Anyway,${users}`,
      onPremisesImmutableId: guid(4).toString('base64'),
    });
    c.addCloud({
      id: 'p',
      userPrincipalName: null,
      onPremisesDistinguishedName: `CN=Pat,${users}`,
      onPremisesImmutableId: guid(5).toString('base64'),
    });
    const r = c.report();
    expect(r.missing).toEqual([`CN=Old Agent,${users}`]);
    expect(r.notSynced).toEqual([
      { dn: `CN=Administrator,${users}`, reason: NOT_SYNCED_CRITICAL },
      { dn: `CN=Guest,${users}`, reason: NOT_SYNCED_CRITICAL },
      { dn: `CN=krbtgt,${users}`, reason: NOT_SYNCED_CRITICAL },
    ]);
    expect(NOT_SYNCED_CRITICAL).toBe('isCriticalSystemObject: not synced by Connect Sync or Cloud Sync');
    // The on-premises count is what the cloud should hold: Synced Anyway, Pat and Old Agent.
    expect(r.onPrem).toEqual({ users: 3, disabled: 1 });
    expect(r.matched).toBe(2);
    expect(c.tally()).toEqual({
      onPrem: { users: 3, disabled: 1 },
      cloud: { users: 2 },
      matched: 2,
      missing: 1,
      mismatched: 0,
      extra: 0,
    });
  });

  it('an OU of critical system objects alone has nothing missing', () => {
    const c = new OuComparison('CN=Users,DC=contoso,DC=com');
    for (const cn of ['Administrator', 'Guest', 'krbtgt'])
      c.addOnPrem({
        dn: `CN=${cn},CN=Users,DC=contoso,DC=com`,
        anchor: sourceAnchor(guid(1), null),
        disabled: false,
        criticalSystemObject: true,
      });
    expect(c.report()).toMatchObject({
      onPrem: { users: 0, disabled: 0 },
      matched: 0,
      missing: [],
      notSynced: [{ dn: 'CN=Administrator,CN=Users,DC=contoso,DC=com' }, {}, {}],
    });
    expect(c.tally().missing).toBe(0);
  });

  it("lists what Connect Sync's default rules filter out apart, with the reason, and never as missing", () => {
    const c = new OuComparison(base);
    c.addOnPrem({ dn: `CN=Pat,${base}`, anchor: sourceAnchor(guid(1), null), disabled: false });
    c.addOnPrem({
      dn: `CN=MSOL_0a1b2c3d4e5f,${base}`,
      anchor: sourceAnchor(guid(2), null),
      disabled: false,
      filteredBy: ['syncServiceAccount'],
    });
    c.addOnPrem({
      dn: `CN=Pat\\0ACNF:6c1f4b2e-8d3a-4f5e-9a7b-1c2d3e4f5a6b,${base}`,
      anchor: sourceAnchor(guid(3), null),
      disabled: true,
      filteredBy: ['replicationConflict'],
    });
    c.addCloud({
      id: 'p',
      userPrincipalName: 'pat@x',
      onPremisesDistinguishedName: `CN=Pat,${base}`,
      onPremisesImmutableId: guid(1).toString('base64'),
    });
    const r = c.report();
    expect(r.missing).toEqual([]);
    expect(r.onPrem).toEqual({ users: 1, disabled: 0 });
    expect(r.notSynced).toEqual([
      {
        dn: `CN=MSOL_0a1b2c3d4e5f,${base}`,
        reason: "sAMAccountName starts with AAD_ or MSOL_: Connect Sync's own service account",
        conditions: ['syncServiceAccount'],
      },
      {
        dn: `CN=Pat\\0ACNF:6c1f4b2e-8d3a-4f5e-9a7b-1c2d3e4f5a6b,${base}`,
        reason: 'its name holds \\0ACNF: a replication conflict ("victim") object',
        conditions: ['replicationConflict'],
      },
    ]);
    expect(c.tally()).toMatchObject({ onPrem: { users: 1, disabled: 0 }, missing: 0 });
  });

  describe('per type', () => {
    const sid = (rid: number) => `S-1-5-21-1-2-3-${rid}`;
    function typed(): OuComparison {
      const c = new OuComparison(base);
      c.addOnPrem({ dn: `CN=Pat,${base}`, anchor: sourceAnchor(guid(1), null), disabled: false });
      c.addOnPrem({
        dn: `CN=Team,${base}`,
        anchor: sourceAnchor(guid(2), null),
        disabled: false,
        type: 'group',
        sid: sid(1100),
      });
      c.addOnPrem({
        dn: `CN=Managers,${base}`,
        anchor: sourceAnchor(guid(3), guid(13)),
        disabled: false,
        type: 'group',
        sid: sid(1101),
        consistencyGuid: true,
      });
      c.addOnPrem({
        dn: `CN=Old List,${base}`,
        anchor: sourceAnchor(guid(4), null),
        disabled: false,
        type: 'group',
        sid: sid(1102),
        filteredBy: ['distributionGroupNotMailEnabled'],
      });
      c.addOnPrem({
        dn: `CN=Partner,${base}`,
        anchor: sourceAnchor(guid(5), null),
        disabled: false,
        type: 'contact',
        mail: 'P@Partner.example',
      });
      c.addOnPrem({
        dn: `CN=Other,${base}`,
        anchor: sourceAnchor(guid(6), null),
        disabled: false,
        type: 'contact',
        mail: 'o@partner.example',
      });
      c.addOnPrem({
        dn: `CN=No Mail,${base}`,
        anchor: sourceAnchor(guid(7), null),
        disabled: false,
        type: 'contact',
        filteredBy: ['contactWithoutMail'],
      });
      c.addOnPrem({
        dn: `CN=Inet,${base}`,
        anchor: sourceAnchor(guid(8), null),
        disabled: true,
        type: 'inetOrgPerson',
      });
      // Outside the OU: not this verify's, whatever its type.
      c.addOnPrem({
        dn: 'CN=Elsewhere,OU=SalesOps,DC=contoso,DC=com',
        anchor: 'x',
        disabled: false,
        type: 'group',
        sid: sid(9),
      });
      return c;
    }

    it('counts and matches groups on their SID and contacts on their mail, and lists the missing ones per type', () => {
      const c = typed();
      c.addCloud({
        id: 'pat',
        userPrincipalName: 'pat@x',
        onPremisesDistinguishedName: `CN=Pat,${base}`,
        onPremisesImmutableId: guid(1).toString('base64'),
      });
      c.addCloudGroup({ id: 'g1', displayName: 'Team', onPremisesSecurityIdentifier: sid(1100) });
      // A synced group of another OU: Graph gives no DN, so it is simply not this OU's.
      c.addCloudGroup({ id: 'g9', displayName: 'Elsewhere', onPremisesSecurityIdentifier: sid(9) });
      c.cloudTypeRead('group');
      c.addCloudContact({ id: 'c1', displayName: 'Partner', mail: 'p@partner.example' });
      c.cloudTypeRead('contact');
      const r = c.report();
      expect(r.groups).toEqual({
        onPrem: 2,
        matched: 1,
        missing: [`CN=Managers,${base}`],
        matchedOn: 'onPremisesSecurityIdentifier',
        cloudRead: true,
        withConsistencyGuid: 1,
      });
      expect(r.contacts).toEqual({
        onPrem: 2,
        matched: 1,
        missing: [`CN=Other,${base}`],
        matchedOn: 'mail',
        cloudRead: true,
      });
      expect(r.notSynced).toEqual([
        {
          dn: `CN=No Mail,${base}`,
          type: 'contact',
          reason: expect.stringContaining('no mail attribute') as string,
          conditions: ['contactWithoutMail'],
        },
        {
          dn: `CN=Old List,${base}`,
          type: 'group',
          reason: 'a distribution group that is not mail-enabled',
          conditions: ['distributionGroupNotMailEnabled'],
        },
      ]);
      // Users stay users: the groups, contacts and the inetOrgPerson are not in their counts.
      expect(r.onPrem).toEqual({ users: 1, disabled: 0 });
      expect(r.matched).toBe(1);
      expect(r.missing).toEqual([]);
    });

    it('counts inetOrgPerson objects as their own type, refused with the reason, also when Entra has them as users', () => {
      const c = typed();
      c.addCloud({
        id: 'inet',
        userPrincipalName: 'inet@x',
        onPremisesDistinguishedName: `CN=Inet,${base}`,
        onPremisesImmutableId: guid(8).toString('base64'),
      });
      const r = c.report();
      expect(r.inetOrgPersons).toEqual({
        onPrem: 1,
        inCloud: 1,
        dns: [`CN=Inet,${base}`],
        reason: expect.stringContaining('password hash sync does not support InetOrgPerson') as string,
      });
      expect(r.inetOrgPersons!.reason).toContain('not covered by the no-flow rules');
      // Not an extra cloud user, not a matched user, not a missing one.
      expect(r.extra).toEqual([]);
      expect(r.cloud.users).toBe(0);
      expect(r.missing).toEqual([`CN=Pat,${base}`]);
    });

    it("lists an inetOrgPerson Connect Sync's default rules filter out as not synced, not as refused, unless Entra has it", () => {
      const c = typed();
      c.addOnPrem({
        dn: `CN=MSOL_1a2b,${base}`,
        anchor: sourceAnchor(guid(20), null),
        disabled: false,
        type: 'inetOrgPerson',
        filteredBy: ['syncServiceAccount'],
      });
      c.addOnPrem({
        dn: `CN=System Inet,${base}`,
        anchor: sourceAnchor(guid(21), null),
        disabled: false,
        type: 'inetOrgPerson',
        criticalSystemObject: true,
      });
      // Filtered, yet synced all the same (a custom rule does that): then it is refused like the others.
      c.addCloud({
        id: 'sys',
        userPrincipalName: null,
        onPremisesDistinguishedName: `CN=System Inet,${base}`,
        onPremisesImmutableId: sourceAnchor(guid(21), null),
      });
      const r = c.report();
      expect(r.inetOrgPersons).toMatchObject({
        onPrem: 2,
        inCloud: 1,
        dns: [`CN=Inet,${base}`, `CN=System Inet,${base}`],
      });
      expect(r.notSynced).toContainEqual({
        dn: `CN=MSOL_1a2b,${base}`,
        type: 'inetOrgPerson',
        reason: expect.stringContaining('AAD_ or MSOL_') as string,
        conditions: ['syncServiceAccount'],
      });
      // Never users, whichever list they are in.
      expect(r.onPrem).toEqual({ users: 1, disabled: 0 });
      expect(r.cloud.users).toBe(0);
      expect(c.tally()).toMatchObject({ onPrem: { users: 1, disabled: 0 }, missing: 1, extra: 0 });
    });

    it('says when the cloud side of a type was not read, and leaves types out that the scan did not hold', () => {
      const c = typed();
      const r = c.report();
      expect(r.groups).toMatchObject({ onPrem: 2, matched: 0, cloudRead: false });
      expect(c.hasOnPrem('group')).toBe(true);
      const usersOnly = build().report();
      expect(usersOnly.groups).toBeUndefined();
      expect(usersOnly.contacts).toBeUndefined();
      expect(usersOnly.inetOrgPersons).toBeUndefined();
    });
  });

  it('refuses an unparsable base', () => {
    expect(() => new OuComparison('Sales')).toThrow(/cannot be parsed/);
  });
});

describe('sourceAnchor', () => {
  it('is base64 of the consistency guid when present, else of objectGUID', () => {
    expect(sourceAnchor(guid(1), null)).toBe(guid(1).toString('base64'));
    expect(sourceAnchor(guid(1), guid(2))).toBe(guid(2).toString('base64'));
    expect(sourceAnchor(guid(1), Buffer.alloc(0))).toBe(guid(1).toString('base64'));
  });
});
