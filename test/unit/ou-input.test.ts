import { parseOuInput } from '../../src/runbook/ou-input';

describe('parseOuInput', () => {
  it('classifies relative, absolute and bare names', () => {
    expect(parseOuInput('OU=Sales')).toMatchObject({ ok: true, target: { kind: 'relative', text: 'OU=Sales' } });
    expect(parseOuInput('OU=EMEA,OU=Sales')).toMatchObject({ ok: true, target: { kind: 'relative' } });
    expect(parseOuInput('ou=Sales,dc=contoso,dc=com')).toMatchObject({ ok: true, target: { kind: 'absolute', text: 'ou=Sales,dc=contoso,dc=com' } });
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
});
