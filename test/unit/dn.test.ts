import {
  canonicalDn,
  canonicalDnFull,
  canonicalPlainDn,
  dnKey,
  escapeDnValue,
  escapeFilterValue,
  formatDn,
  isDnWithin,
  keyWithin,
  parseDn,
} from '../../src/runbook/dn';

describe('parseDn', () => {
  it('parses plain components', () => {
    const r = parseDn('OU=Sales,DC=contoso,DC=com');
    expect(r).toEqual({
      ok: true,
      rdns: [[{ type: 'OU', value: 'Sales' }], [{ type: 'DC', value: 'contoso' }], [{ type: 'DC', value: 'com' }]],
    });
  });

  it('unescapes special characters and hex pairs, including multi-byte UTF-8', () => {
    const r = parseDn('CN=Smith\\, John,OU=R\\2CD,OU=Z\\C3\\BCrich,DC=x');
    expect(r.ok && r.rdns.map((x) => x[0]!.value)).toEqual(['Smith, John', 'R,D', 'Zürich', 'x']);
  });

  it('keeps escaped leading and trailing spaces but drops unescaped ones', () => {
    const r = parseDn('CN=\\ a b\\ , OU=x ');
    expect(r.ok && r.rdns.map((x) => x[0]!.value)).toEqual([' a b ', 'x']);
  });

  it('parses multi-valued RDNs', () => {
    const r = parseDn('CN=a+UID=b,DC=x');
    expect(r.ok && r.rdns[0]).toEqual([
      { type: 'CN', value: 'a' },
      { type: 'UID', value: 'b' },
    ]);
  });

  it.each([
    ['', 'empty'],
    ['Sales', 'no "="'],
    ['OU=', 'empty value'],
    ['OU=Sales,', 'ends with ","'],
    ['OU=Sales;DC=x', '";"'],
    ['O U=Sales', 'not an attribute type'],
    ['OU=a\\', 'lone'],
    ['OU=a\\q', 'not a valid escape'],
    ['OU=a"b', 'must be escaped'],
    ['OU=#04', 'BER'],
  ])('rejects %p (%s)', (input, why) => {
    const r = parseDn(input);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reason).toContain(why);
  });

  it('in strict mode refuses filter syntax that AD would have escaped', () => {
    expect(parseDn('OU=Sales)(objectClass=*', { strict: true }).ok).toBe(false);
    expect(parseDn('OU=*', { strict: true }).ok).toBe(false);
    expect(parseDn('OU=a)(b', { strict: true }).ok).toBe(false);
    expect(parseDn('OU=Sales (EMEA),DC=x', { strict: true }).ok).toBe(true);
    expect(parseDn('OU=a\\=b,DC=x', { strict: true }).ok).toBe(true);
  });
});

describe('formatDn / escapeDnValue', () => {
  it('round-trips tricky values', () => {
    for (const value of [
      'Smith, John',
      ' lead',
      'trail ',
      '#hash',
      'a+b',
      'a\\b',
      'a=b',
      "O'Brien (Sales)",
      'star*',
      'Zürich',
      'q"<>;',
    ]) {
      const dn = formatDn([[{ type: 'CN', value }], [{ type: 'DC', value: 'x' }]]);
      const back = parseDn(dn, { strict: true });
      expect(back.ok && back.rdns[0]![0]!.value).toBe(value);
    }
  });

  it('escapes only what must be escaped', () => {
    expect(escapeDnValue('Sales (EMEA)')).toBe('Sales (EMEA)');
    expect(escapeDnValue('R,D')).toBe('R\\,D');
  });
});

describe('isDnWithin', () => {
  const base = 'OU=Sales,DC=contoso,DC=com';
  it.each([
    ['CN=a,OU=Sales,DC=contoso,DC=com', true],
    ['cn=a,ou=SALES,dc=Contoso,dc=COM', true],
    ['CN=a,OU=EMEA,OU=Sales,DC=contoso,DC=com', true],
    ['OU=Sales,DC=contoso,DC=com', true],
    ['CN=a,OU=SalesOps,DC=contoso,DC=com', false],
    ['CN=a,OU=Sales,DC=contoso,DC=company', false],
    ['CN=a,OU=Pre-Sales,DC=contoso,DC=com', false],
    ['CN=OU=Sales,OU=x,DC=contoso,DC=com', false],
    ['CN=a,OU=Sales\\,DC=contoso,DC=com', false],
    ['DC=contoso,DC=com', false],
    ['not a dn', false],
  ])('%s → %p', (child, expected) => {
    expect(isDnWithin(child, base)).toBe(expected);
  });

  it('compares hex-escaped and plain forms as equal', () => {
    expect(isDnWithin('CN=x,OU=R\\2CD,DC=contoso,DC=com', 'OU=R\\,D,DC=contoso,DC=com')).toBe(true);
    expect(canonicalDn('OU=R\\2cD')).toEqual(canonicalDn('ou=r\\,d'));
  });
});

describe('escapeFilterValue', () => {
  it('escapes the RFC 4515 specials', () => {
    expect(escapeFilterValue('a*b(c)d\\e\u0000')).toBe('a\\2ab\\28c\\29d\\5ce\\00');
    expect(escapeFilterValue('*)(objectClass=*')).toBe('\\2a\\29\\28objectClass=\\2a');
    expect(escapeFilterValue('Zürich')).toBe('Zürich');
  });
});

describe('canonicalDn fast path for plain DNs', () => {
  const tricky = [
    'CN=Bench User 000001,OU=Dept001,OU=Bench100k,DC=contoso,DC=com',
    'cn=a,ou=SALES,dc=Contoso,dc=COM',
    'CN=a,OU=Sales,DC=contoso,DC=com',
    'CN=a,OU=SalesOps,DC=contoso,DC=com',
    '  CN=a , OU = Sales ,DC=contoso,DC=com  ',
    'CN=  padded  ,DC=x',
    'CN=\ttab\t,DC=x',
    'CN=Zürich ÄÖÜ,OU=İstanbul,DC=x',
    'CN=a=b,DC=x',
    'CN=Sales (EMEA),DC=x',
    'CN=a*,DC=x',
    '2.5.4.3=a,DC=x',
    'CN=Smith\\, John,OU=Sales,DC=contoso,DC=com',
    'CN=a\\2CSales,DC=x',
    'CN=Z\\C3\\BCrich,DC=x',
    'CN=\\ lead,DC=x',
    'CN=trail\\ ,DC=x',
    'CN=a+UID=b,DC=x',
    'UID=b+CN=a,DC=x',
    'CN=a\\+b,DC=x',
    'CN=#04,DC=x',
    'CN=a#b,DC=x',
    'CN=\\#a,DC=x',
    'CN="quoted",DC=x',
    'CN=a\\"b,DC=x',
    'CN=a;DC=x',
    'CN=a<b,DC=x',
    'CN=a\u0000b,DC=x',
    '',
    '   ',
    'Sales',
    'OU=',
    'OU=   ,DC=x',
    'OU=Sales,',
    ',OU=Sales',
    'OU=a,,DC=x',
    'OU=a,b,DC=x',
    'O U=Sales',
    '=Sales',
    '1OU=Sales',
    'OU=a\\',
    'OU=a\\q',
  ];

  it.each(tricky)('%p gives the same keys as the full parser', (dn) => {
    expect(canonicalDn(dn)).toEqual(canonicalDnFull(dn));
  });

  it('takes the fast path only for plain DNs and agrees with the full parser there', () => {
    const plain = tricky.filter((dn) => canonicalPlainDn(dn) !== undefined);
    expect(plain).toContain('CN=Bench User 000001,OU=Dept001,OU=Bench100k,DC=contoso,DC=com');
    for (const dn of plain) expect(canonicalPlainDn(dn)).toEqual(canonicalDnFull(dn));
    for (const dn of [
      'CN=a\\2CSales,DC=x',
      'CN=a+UID=b,DC=x',
      'CN=a#b,DC=x',
      'CN="quoted",DC=x',
      'OU=Sales,',
      'OU=   ,DC=x',
    ]) {
      expect(canonicalPlainDn(dn)).toBeUndefined();
    }
  });

  it('dnKey makes two DNs equal exactly when the full parser gives them the same components', () => {
    const all = [
      ...tricky,
      'CN=a,OU=b,DC=x',
      'CN=a\\,OU=b,DC=x',
      'CN=a\\+UID=b,DC=x',
      'CN=a+UID=b,DC=x',
      'CN=a\\\\,DC=x',
      'cn=SMITH\\2c john,ou=sales,dc=contoso,dc=com',
      'CN=Smith\\, John,OU=Sales,DC=contoso,DC=com',
      'uid=b+cn=a,dc=x',
    ];
    for (const a of all) {
      expect([a, dnKey(a) === null]).toEqual([a, canonicalDnFull(a) === null]);
      for (const b of all) {
        const same =
          canonicalDnFull(a) !== null && JSON.stringify(canonicalDnFull(a)) === JSON.stringify(canonicalDnFull(b));
        expect([a, b, dnKey(a) !== null && dnKey(a) === dnKey(b)]).toEqual([a, b, same]);
      }
    }
    expect(dnKey('CN=Bench User 000001,OU=Dept001,OU=Bench100k,DC=contoso,DC=com')).toBe(
      'cn=bench user 000001,ou=dept001,ou=bench100k,dc=contoso,dc=com',
    );
    expect(dnKey('CN=a\\,OU=b,DC=x')).toBe('cn=a\\,ou=b,dc=x');
  });

  it('keyWithin tests whole components: Sales is not SalesOps, an escaped comma does not split', () => {
    const sales = dnKey('OU=Sales,DC=contoso,DC=com')!;
    const within = (dn: string): boolean => keyWithin(dnKey(dn)!, sales);
    expect(within('OU=Sales,DC=contoso,DC=com')).toBe(true);
    expect(within('CN=a,OU=EMEA,OU=Sales,DC=contoso,DC=com')).toBe(true);
    expect(within('cn=a,ou=SALES,dc=Contoso,dc=COM')).toBe(true);
    expect(within('CN=a,OU=SalesOps,DC=contoso,DC=com')).toBe(false);
    expect(within('CN=a,OU=Sales,DC=contoso,DC=company')).toBe(false);
    expect(within('CN=a,OU=Big Sales,DC=contoso,DC=com')).toBe(false);
    // One component "CN=x,OU=Sales" under DC=contoso,DC=com: not inside OU=Sales.
    expect(within('CN=x\\,OU=Sales,DC=contoso,DC=com')).toBe(false);
    expect(keyWithin(dnKey('CN=x\\,OU=Sales,DC=contoso,DC=com')!, dnKey('DC=contoso,DC=com')!)).toBe(true);
    // A value ending in a backslash: the comma after the escaped backslash does separate.
    expect(within('CN=a\\\\,OU=Sales,DC=contoso,DC=com')).toBe(true);
    expect(keyWithin(sales, dnKey('CN=a,OU=Sales,DC=contoso,DC=com')!)).toBe(false);
  });

  it('keeps Sales and SalesOps apart and an escaped comma inside the value', () => {
    const sales = canonicalDn('OU=Sales,DC=contoso,DC=com')!;
    expect(canonicalDn('CN=a,OU=SalesOps,DC=contoso,DC=com')!.slice(-3)).not.toEqual(sales);
    expect(canonicalDn('CN=a,OU=Sales,DC=contoso,DC=com')!.slice(-3)).toEqual(sales);
    expect(canonicalDn('CN=a\\,OU=Sales,DC=contoso,DC=com')).toEqual(['CN=a,ou=sales', 'DC=contoso', 'DC=com']);
  });
});
