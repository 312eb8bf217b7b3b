import { canonicalDn, escapeDnValue, escapeFilterValue, formatDn, isDnWithin, parseDn } from '../../src/runbook/dn';

describe('parseDn', () => {
  it('parses plain components', () => {
    const r = parseDn('OU=Sales,DC=contoso,DC=com');
    expect(r).toEqual({ ok: true, rdns: [[{ type: 'OU', value: 'Sales' }], [{ type: 'DC', value: 'contoso' }], [{ type: 'DC', value: 'com' }]] });
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
    expect(r.ok && r.rdns[0]).toEqual([{ type: 'CN', value: 'a' }, { type: 'UID', value: 'b' }]);
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
    for (const value of ['Smith, John', ' lead', 'trail ', '#hash', 'a+b', 'a\\b', 'a=b', 'O\'Brien (Sales)', 'star*', 'Zürich', 'q"<>;']) {
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
