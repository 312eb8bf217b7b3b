import {
  CONNECT_SYNC_SCOPE,
  DEFAULT_CONFIGURATION_PAGE,
  connectSyncFilters,
  filterReason,
  mailEnabled,
  SCOPE_CONDITION_IDS,
  type ScopeFacts,
} from '../../src/runbook/connect-sync-scope';

const OU = 'OU=Sales,DC=contoso,DC=com';
const user = (facts: Partial<ScopeFacts> = {}): ScopeFacts => ({
  type: 'user',
  dn: `CN=Pat,${OU}`,
  samAccountName: 'pat',
  ...facts,
});

describe("Connect Sync's default scope", () => {
  it('exports an ordinary user, inetOrgPerson, mail-enabled contact and security group', () => {
    expect(connectSyncFilters(user())).toEqual([]);
    expect(connectSyncFilters(user({ type: 'inetOrgPerson' }))).toEqual([]);
    expect(
      connectSyncFilters({
        type: 'contact',
        dn: `CN=Partner,${OU}`,
        mail: 'p@partner.example',
        proxyAddresses: ['SMTP:p@partner.example'],
      }),
    ).toEqual([]);
    expect(
      connectSyncFilters({ type: 'group', dn: `CN=Team,${OU}`, samAccountName: 'Team', groupType: -2147483646 }),
    ).toEqual([]);
  });

  it.each<[string, Partial<ScopeFacts>, string]>([
    ['isCriticalSystemObject', { criticalSystemObject: true }, 'criticalSystemObject'],
    ['no sAMAccountName (an NT4 upgrade)', { samAccountName: null }, 'noSamAccountName'],
    ['an MSOL_ service account', { samAccountName: 'MSOL_0a1b2c3d4e5f' }, 'syncServiceAccount'],
    ['an AAD_ service account', { samAccountName: 'AAD_6f7e8d9c0b1a' }, 'syncServiceAccount'],
    ['SUPPORT_388945a0', { samAccountName: 'SUPPORT_388945a0' }, 'exchangeSupportAccount'],
    ['a SystemMailbox{ nickname', { mailNickname: 'SystemMailbox{1f05a927-8e0c-4f2c-9c5e}' }, 'systemMailbox'],
    ['a CAS_ nickname with }', { mailNickname: 'CAS_{c0ffee}' }, 'casMailNickname'],
    ['a CAS_ sAMAccountName with }', { samAccountName: 'CAS_{c0ffee}' }, 'casSamAccountName'],
    [
      'a discovery mailbox (msExchRecipientTypeDetails 536870912)',
      { recipientTypeDetails: 536870912 },
      'exchangeRecipientType',
    ],
    ['a public folder (4096)', { recipientTypeDetails: 4096 }, 'exchangeRecipientType'],
    [
      'a replication conflict',
      { dn: `CN=Pat\\0ACNF:6c1f4b2e-8d3a-4f5e-9a7b-1c2d3e4f5a6b,${OU}` },
      'replicationConflict',
    ],
  ])('filters out a user with %s', (_, facts, id) => {
    expect(connectSyncFilters(user(facts))).toEqual([id]);
    // "These rules also apply to the iNetOrgPerson object type."
    expect(connectSyncFilters(user({ ...facts, type: 'inetOrgPerson' }))).toEqual([id]);
  });

  it('keeps what only looks like a filtered name', () => {
    // CAS_ without a closing brace, a mailbox (1) and a linked mailbox (2), CNF in a parent OU's name.
    expect(connectSyncFilters(user({ mailNickname: 'CAS_team' }))).toEqual([]);
    expect(connectSyncFilters(user({ recipientTypeDetails: 1 }))).toEqual([]);
    expect(connectSyncFilters(user({ recipientTypeDetails: 2 }))).toEqual([]);
    expect(connectSyncFilters(user({ dn: 'CN=Pat,OU=Old\\0ACNF:x,DC=contoso,DC=com' }))).toEqual([]);
    expect(connectSyncFilters(user({ samAccountName: 'msolo' }))).toEqual([]);
  });

  it('reports every condition an object trips', () => {
    expect(connectSyncFilters(user({ criticalSystemObject: true, samAccountName: 'MSOL_x' }))).toEqual([
      'criticalSystemObject',
      'syncServiceAccount',
    ]);
  });

  it('applies the contact rules: mail, mail-enabled, (MSOL) hidden, CAS_, conflicts', () => {
    const contact = (facts: Partial<ScopeFacts>): ScopeFacts => ({ type: 'contact', dn: `CN=C,${OU}`, ...facts });
    expect(connectSyncFilters(contact({}))).toEqual(['contactWithoutMail']);
    expect(connectSyncFilters(contact({ mail: 'c@partner.example' }))).toEqual(['notMailEnabled']);
    expect(connectSyncFilters(contact({ mail: 'nobody', proxyAddresses: ['X500:/o=x'] }))).toEqual(['notMailEnabled']);
    expect(
      connectSyncFilters(
        contact({
          mail: 'c@partner.example',
          proxyAddresses: ['SMTP:c@partner.example'],
          displayName: 'Sync (MSOL)',
          hideFromAddressLists: true,
        }),
      ),
    ).toEqual(['msolHiddenContact']);
    // The user-only conditions do not apply to contacts.
    expect(
      connectSyncFilters(contact({ mail: 'c@p.example', proxyAddresses: ['SMTP:c@p.example'], samAccountName: null })),
    ).toEqual([]);
  });

  it('applies the group rules: DirSync group, role group, unmailed distribution group', () => {
    const group = (facts: Partial<ScopeFacts>): ScopeFacts => ({
      type: 'group',
      dn: `CN=G,${OU}`,
      samAccountName: 'G',
      groupType: -2147483646,
      ...facts,
    });
    expect(connectSyncFilters(group({ samAccountName: 'MSOL_AD_Sync_RichCoexistence' }))).toEqual([
      'richCoexistenceGroup',
    ]);
    expect(connectSyncFilters(group({ recipientTypeDetails: 0x40000000 }))).toEqual(['roleGroup']);
    expect(connectSyncFilters(group({ groupType: 2 }))).toEqual(['distributionGroupNotMailEnabled']);
    expect(
      connectSyncFilters(group({ groupType: 2, mail: 'dl@contoso.com', proxyAddresses: ['SMTP:dl@contoso.com'] })),
    ).toEqual([]);
    // A group named like a sync account is still exported: that condition is for users.
    expect(connectSyncFilters(group({ samAccountName: 'MSOL_admins' }))).toEqual([]);
  });

  it('mail-enabled means proxyAddresses set and an @ in its SMTP: address or in mail', () => {
    expect(mailEnabled({ mail: 'a@b', proxyAddresses: [] })).toBe(false);
    expect(mailEnabled({ mail: null, proxyAddresses: ['SMTP:a@b'] })).toBe(true);
    expect(mailEnabled({ mail: 'a@b', proxyAddresses: ['smtp:x'] })).toBe(true);
    expect(mailEnabled({ mail: null, proxyAddresses: ['smtp:a@b'] })).toBe(false);
  });

  it('names the page each condition comes from, and every id once', () => {
    for (const c of CONNECT_SYNC_SCOPE) expect(c.source.startsWith(`${DEFAULT_CONFIGURATION_PAGE}#`)).toBe(true);
    expect(new Set(SCOPE_CONDITION_IDS).size).toBe(CONNECT_SYNC_SCOPE.length);
    expect(filterReason(['syncServiceAccount'])).toContain('AAD_ or MSOL_');
    expect(filterReason(['fromANewerAgent'])).toBe('filtered by condition "fromANewerAgent"');
  });
});
