import { renderHelpCard, renderMessageCard } from '../../src/cards/message-cards';
import { renderVerifyCard } from '../../src/cards/verify-card';
import { INETORGPERSON_REFUSAL } from '../../src/runbook/connect-sync-scope';
import type { ComparisonReport } from '../../src/runbook/ou-comparison';
import { cardProblems } from '../helpers/card-check';

const at = new Date('2026-11-25T10:00:00Z');

function report(n: number): ComparisonReport {
  const dns = Array.from({ length: n }, (_, i) => `CN=User ${i}\\, Test,OU=Sales,DC=contoso,DC=com`);
  return {
    baseDn: 'OU=Sales,DC=contoso,DC=com',
    onPrem: { users: 1238, disabled: 13 },
    cloud: { users: 1237 },
    matched: 1235,
    missing: dns,
    extra: dns.map((dn, i) => ({ dn, cloudId: `id-${i}`, userPrincipalName: `u${i}@contoso.com` })),
    mismatched: dns.map((dn, i) => ({
      dn,
      cloudId: `id-${i}`,
      userPrincipalName: null,
      expectedImmutableId: 'AAAAAAAAAAAAAAAAAAAAAA==',
      cloudImmutableId: 'BBBBBBBBBBBBBBBBBBBBBB==',
    })),
    unparsableCloudDns: 0,
  };
}

describe('cards', () => {
  it('help and message cards are valid Adaptive Cards 1.5', () => {
    expect(cardProblems(renderHelpCard())).toEqual([]);
    expect(cardProblems(renderHelpCard('"x" is not a command'))).toEqual([]);
    expect(
      cardProblems(
        renderMessageCard({
          title: 't',
          text: 'x',
          hint: 'h',
          tone: 'attention',
          facts: [{ title: 'a', value: 'b' }],
          items: ['1', '2'],
        }),
      ),
    ).toEqual([]);
    expect(cardProblems(renderMessageCard({ title: 't', text: 'x' }))).toEqual([]);
  });

  it('a message card shows each paragraph of its text as its own block, and a link as a button', () => {
    const card = renderMessageCard({
      title: 't',
      text: "run:\n\nsyncshift-agent enroll --url <this bot's https URL> --code X",
      link: { title: 'Download', url: 'https://bot.example.invalid/exports/audit?a=1&b=2' },
    });
    expect(cardProblems(card)).toEqual([]);
    const blocks = (card.body as { type: string; inlines?: { text: string }[] }[])
      .filter((e) => e.type === 'RichTextBlock')
      .map((e) => e.inlines!.map((r) => r.text).join(''));
    expect(blocks).toEqual(['t', 'run:', "syncshift-agent enroll --url <this bot's https URL> --code X"]);
    expect(card.actions).toEqual([
      { type: 'Action.OpenUrl', title: 'Download', url: 'https://bot.example.invalid/exports/audit?a=1&b=2' },
    ]);
    expect(renderMessageCard({ title: 't', text: 'x' }).actions).toEqual([]);
  });

  it('help lists every command with its example', () => {
    const text = JSON.stringify(renderHelpCard());
    for (const c of ['/help', '/migration start', '/verify pilot OU=Sales', '/verify list']) expect(text).toContain(c);
  });

  it.each([
    ['queued', { kind: 'queued' as const }],
    ['running', { kind: 'running' as const, scanned: 1500, phase: 'directory' as const }],
    [
      'failed',
      {
        kind: 'failed' as const,
        code: 'DIRECTORY.OU_AMBIGUOUS',
        message: '2 OUs match',
        hint: 'type the DN',
        candidates: ['OU=a,DC=x', 'OU=b,DC=x'],
      },
    ],
  ])('verify card %s is valid', (_name, state) => {
    const card = renderVerifyCard({
      ou: 'OU=Sales',
      shortId: 'abcd1234',
      requestedBy: 'Adele',
      requestedAt: at,
      state,
      listLimit: 15,
    });
    expect(cardProblems(card)).toEqual([]);
  });

  it('a result with thousands of differences stays small and points to the full list', () => {
    const card = renderVerifyCard({
      ou: 'OU=Sales',
      shortId: 'abcd1234',
      requestedBy: 'Adele',
      requestedAt: at,
      state: { kind: 'done', report: report(5000) },
      listLimit: 15,
    });
    expect(cardProblems(card)).toEqual([]);
    const text = JSON.stringify(card);
    expect(text).toContain('1,238 (13 disabled)');
    expect(text).toContain('…and 4,985 more. Type /verify list missing #abcd1234');
    expect(text).toContain('/verify list mismatched #abcd1234');
    expect(text.length).toBeLessThan(20_000);
  });

  it('a clean result says so', () => {
    const clean = { ...report(0), cloud: { users: 1238 }, matched: 1238 };
    const text = JSON.stringify(
      renderVerifyCard({
        ou: 'OU=Sales',
        shortId: 'abcd1234',
        requestedBy: 'A',
        requestedAt: at,
        state: { kind: 'done', report: clean },
        listLimit: 15,
      }),
    );
    expect(text).toContain('Everything in this OU matches the cloud.');
    expect(text).not.toContain('Missing in the cloud (');
  });

  it('counts inetOrgPerson objects on their own row and list, with why they are refused, apart from the users', () => {
    const clean = { ...report(0), cloud: { users: 1238 }, matched: 1238 };
    const dns = ['CN=Inet Person 1,OU=Sales,DC=contoso,DC=com', 'CN=Inet Person 2,OU=Sales,DC=contoso,DC=com'];
    const card = renderVerifyCard({
      ou: 'OU=Sales',
      shortId: 'abcd1234',
      requestedBy: 'A',
      requestedAt: at,
      state: {
        kind: 'done',
        report: { ...clean, inetOrgPersons: { onPrem: 2, inCloud: 2, dns, reason: INETORGPERSON_REFUSAL } },
        cloudSync: {
          jobId: 'AD2AADProvisioning.1.2',
          onPrem: 1238,
          inEntraWithAnchor: 1238,
          confirmed: 1238,
          unconfirmed: [],
        },
      },
      listLimit: 15,
    });
    expect(cardProblems(card)).toEqual([]);
    const text = JSON.stringify(card);
    expect(text).toContain('1,238 (13 disabled)');
    expect(text).toContain('1,238 of 1,238 (provisioning logs of AD2AADProvisioning.1.2)');
    expect(text).toContain('inetOrgPerson (refused)');
    expect(text).toContain('2 on-premises, 2 of them in Entra as users');
    expect(text).toContain(`inetOrgPerson objects, refused (${INETORGPERSON_REFUSAL}) (2)`);
    for (const dn of dns) expect(text).toContain(dn);
    expect(text).not.toContain('Not yet confirmed by Cloud Sync');
  });

  it('shows the three numbers per type and names unconfirmed groups and contacts with why', () => {
    const clean = { ...report(0), cloud: { users: 1238 }, matched: 1238 };
    const card = renderVerifyCard({
      ou: 'OU=Sales',
      shortId: 'abcd1234',
      requestedBy: 'A',
      requestedAt: at,
      state: {
        kind: 'done',
        report: clean,
        cloudSync: {
          jobId: 'AD2AADProvisioning.1.2',
          onPrem: 1238,
          inEntraWithAnchor: 1238,
          confirmed: 1238,
          unconfirmed: [],
          groups: {
            onPrem: 3,
            inEntra: 3,
            confirmed: 2,
            matchedOn: 'onPremisesSecurityIdentifier',
            unconfirmed: [
              { dn: 'CN=Sales Managers,OU=Sales,DC=contoso,DC=com', reason: 'no Cloud Sync log entry', type: 'group' },
            ],
          },
          contacts: { onPrem: 9, inEntra: 9, confirmed: 9, matchedOn: 'mail', unconfirmed: [] },
        },
      },
      listLimit: 15,
    });
    expect(cardProblems(card)).toEqual([]);
    const text = JSON.stringify(card);
    expect(text).toContain('1,238 of 1,238 (provisioning logs of AD2AADProvisioning.1.2)');
    expect(text).toContain('Groups confirmed by Cloud Sync');
    expect(text).toContain('2 of 3 on-premises (3 in Entra, found by onPremisesSecurityIdentifier)');
    expect(text).toContain('Contacts confirmed by Cloud Sync');
    expect(text).toContain('9 of 9 on-premises (9 in Entra, found by mail)');
    expect(text).toContain('group: CN=Sales Managers,OU=Sales,DC=contoso,DC=com (no Cloud Sync log entry)');
  });
});
