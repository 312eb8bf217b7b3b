import { OuComparison, sourceAnchor } from '../../src/runbook/ou-comparison';

const base = 'OU=Sales,DC=contoso,DC=com';
const guid = (n: number): Buffer => Buffer.alloc(16, n);

describe('OuComparison', () => {
  function build(): OuComparison {
    const c = new OuComparison(base);
    c.addOnPrem({ dn: 'CN=Ann,OU=Sales,DC=contoso,DC=com', anchor: sourceAnchor(guid(1), null), disabled: false });
    c.addOnPrem({ dn: 'CN=Smith\\, John,OU=Sales,DC=contoso,DC=com', anchor: sourceAnchor(guid(2), null), disabled: true });
    c.addOnPrem({ dn: 'CN=Deep,OU=EMEA,OU=Sales,DC=contoso,DC=com', anchor: sourceAnchor(guid(3), guid(9)), disabled: false });
    c.addOnPrem({ dn: 'CN=Gone,OU=Sales,DC=contoso,DC=com', anchor: sourceAnchor(guid(4), null), disabled: false });
    // outside the base: ignored
    c.addOnPrem({ dn: 'CN=Ops,OU=SalesOps,DC=contoso,DC=com', anchor: 'x', disabled: false });
    return c;
  }

  it('matches component-wise, finds missing, extra and anchor mismatches', () => {
    const c = build();
    c.addCloud({ id: 'c1', userPrincipalName: 'ann@x', onPremisesDistinguishedName: 'cn=ann,ou=sales,dc=contoso,dc=com', onPremisesImmutableId: guid(1).toString('base64') });
    c.addCloud({ id: 'c2', userPrincipalName: 'js@x', onPremisesDistinguishedName: 'CN=Smith\\2C John,OU=Sales,DC=contoso,DC=com', onPremisesImmutableId: guid(2).toString('base64') });
    // consistency guid wins over objectGUID: cloud carrying objectGUID is a mismatch
    c.addCloud({ id: 'c3', userPrincipalName: 'deep@x', onPremisesDistinguishedName: 'CN=Deep,OU=EMEA,OU=Sales,DC=contoso,DC=com', onPremisesImmutableId: guid(3).toString('base64') });
    c.addCloud({ id: 'c4', userPrincipalName: 'extra@x', onPremisesDistinguishedName: 'CN=Extra,OU=Sales,DC=contoso,DC=com', onPremisesImmutableId: 'zz' });
    c.addCloud({ id: 'c5', userPrincipalName: 'ops@x', onPremisesDistinguishedName: 'CN=Ops,OU=SalesOps,DC=contoso,DC=com', onPremisesImmutableId: 'x' });
    c.addCloud({ id: 'c6', userPrincipalName: 'co@x', onPremisesDistinguishedName: 'CN=Ann,OU=Sales,DC=contoso,DC=company', onPremisesImmutableId: 'x' });
    c.addCloud({ id: 'c7', userPrincipalName: 'nodn@x', onPremisesDistinguishedName: null, onPremisesImmutableId: null });
    c.addCloud({ id: 'c8', userPrincipalName: 'bad@x', onPremisesDistinguishedName: 'garbage', onPremisesImmutableId: null });
    const r = c.report();
    expect(r.onPrem).toEqual({ users: 4, disabled: 1 });
    expect(r.cloud).toEqual({ users: 4 });
    expect(r.matched).toBe(3);
    expect(r.missing).toEqual(['CN=Gone,OU=Sales,DC=contoso,DC=com']);
    expect(r.extra).toEqual([{ dn: 'CN=Extra,OU=Sales,DC=contoso,DC=com', cloudId: 'c4', userPrincipalName: 'extra@x' }]);
    expect(r.mismatched).toHaveLength(1);
    expect(r.mismatched[0]).toMatchObject({ dn: 'CN=Deep,OU=EMEA,OU=Sales,DC=contoso,DC=com', expectedImmutableId: guid(9).toString('base64'), cloudImmutableId: guid(3).toString('base64') });
    expect(r.unparsableCloudDns).toBe(1);
  });

  it('counts a second cloud user with the same DN as extra, not as a second match', () => {
    const c = build();
    const dn = 'CN=Ann,OU=Sales,DC=contoso,DC=com';
    c.addCloud({ id: 'a', userPrincipalName: null, onPremisesDistinguishedName: dn, onPremisesImmutableId: guid(1).toString('base64') });
    c.addCloud({ id: 'b', userPrincipalName: null, onPremisesDistinguishedName: dn, onPremisesImmutableId: guid(1).toString('base64') });
    expect(c.report()).toMatchObject({ matched: 1, extra: [{ cloudId: 'b' }] });
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
