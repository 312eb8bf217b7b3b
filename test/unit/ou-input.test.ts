import { notASearchBase, parseOuInput } from '../../src/runbook/ou-input';

describe('parseOuInput', () => {
  it('classifies relative, absolute and bare names', () => {
    expect(parseOuInput('OU=Sales')).toMatchObject({ ok: true, target: { kind: 'relative', text: 'OU=Sales' } });
    expect(parseOuInput('OU=EMEA,OU=Sales')).toMatchObject({ ok: true, target: { kind: 'relative' } });
    expect(parseOuInput('ou=Sales,dc=contoso,dc=com')).toMatchObject({
      ok: true,
      target: { kind: 'absolute', text: 'ou=Sales,dc=contoso,dc=com' },
    });
    expect(parseOuInput('Sales')).toMatchObject({ ok: true, target: { kind: 'name', name: 'Sales' } });
    expect(parseOuInput('"OU=R\\,D"')).toMatchObject({ ok: true, target: { kind: 'relative', text: 'OU=R\\,D' } });
    expect(parseOuInput('CN=Users,DC=contoso,DC=com')).toMatchObject({ ok: true, target: { kind: 'absolute' } });
  });

  it.each([
    'OU=Sales)(objectClass=*',
    '*)(uid=*))(|(uid=*',
    '*',
    'Sales)(cn=*',
    '(objectClass=*)',
    'OU=*',
    'OU=a)(|(b=c)',
  ])('refuses the filter injection %p', (input) => {
    const r = parseOuInput(input);
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.code).toBe('INPUT.FILTER_INJECTION');
      expect(r.hint).toContain('OU=Sales');
    }
  });

  it.each([
    ['', 'No OU'],
    ['OU=', 'empty value'],
    ['OU=Sales,', 'ends with'],
    ['DC=contoso,DC=com', 'whole domain'],
    ['OU=Sales,DC=contoso,OU=x', 'must be last'],
    ['UID=x,DC=y', 'only OU=, CN= and DC='],
    ['OU=a+CN=b', 'multi-valued'],
    ['Sales,Marketing', 'commas'],
    ['OU=' + 'a'.repeat(3000), 'longer than'],
  ])('refuses the malformed DN %p', (input, why) => {
    const r = parseOuInput(input);
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.code).toBe('INPUT.BAD_DN');
      expect(r.reason).toContain(why);
    }
  });

  it('takes a quoted name with a comma as one OU name, and keeps the quotes for the agent', () => {
    const r = parseOuInput('"Sales, Inc"');
    expect(r).toEqual({ ok: true, target: { kind: 'name', name: 'Sales, Inc', text: '"Sales, Inc"' } });
    // The agent parses the text it is sent again and must read the same name.
    if (r.ok) expect(parseOuInput(r.target.text)).toEqual(r);
    expect(parseOuInput('\u201cR,D\u201d')).toMatchObject({ ok: true, target: { kind: 'name', name: 'R,D' } });
    // Without commas nothing changes: the text is the bare name.
    expect(parseOuInput('"Sales"')).toEqual({ ok: true, target: { kind: 'name', name: 'Sales', text: 'Sales' } });
  });

  it('says how to type an unquoted name with a comma: quoted, or as a DN with "\\,"', () => {
    const r = parseOuInput('Sales, Inc');
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.reason).toContain('commas');
      expect(r.hint).toContain('("Sales, Inc")');
      expect(r.hint).toContain('OU=Sales\\, Inc');
    }
    // What the hint offers parses as the one OU.
    expect(parseOuInput('OU=Sales\\, Inc')).toMatchObject({
      ok: true,
      target: { kind: 'relative', rdns: [[{ type: 'OU', value: 'Sales, Inc' }]] },
    });
  });
});

describe('notASearchBase', () => {
  it.each([
    [['top', 'organizationalUnit']],
    [['top', 'container']],
    [['top', 'builtinDomain']],
    [['top', 'domain', 'domainDNS']],
    [['TOP', 'ORGANIZATIONALUNIT']],
  ])('accepts %p as a search base', (classes) => {
    expect(notASearchBase(classes)).toBeNull();
  });

  it.each([
    [['top', 'person', 'organizationalPerson', 'user'], 'user'],
    [['top', 'person', 'organizationalPerson', 'user', 'computer'], 'computer'],
    // Order does not matter: the most specific known class wins.
    [['computer', 'user', 'organizationalPerson', 'person', 'top'], 'computer'],
    [['top', 'person', 'organizationalPerson', 'user', 'inetOrgPerson'], 'inetOrgPerson'],
    [['top', 'person', 'organizationalPerson', 'contact'], 'contact'],
    [['top', 'group'], 'group'],
    [
      ['top', 'person', 'organizationalPerson', 'user', 'computer', 'msDS-GroupManagedServiceAccount'],
      'msDS-GroupManagedServiceAccount',
    ],
    [['top', 'printQueue'], 'printQueue'],
    [['top'], 'object'],
  ])('names %p as a %s', (classes, kind) => {
    expect(notASearchBase(classes)).toBe(kind);
  });
});
