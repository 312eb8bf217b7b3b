import { connectLdapDirectory } from '../../src/directory/ldap-directory';
import { buildTenantFromDirectory } from '../../src/sandbox/tenant-from-directory';
import { EXPECTED, OU, EXPECTED_SYNCED, EXPECTED_OTHER_TYPES } from '../fixtures/ad-seed-spec';
import { spawnAgent, type AgentProcess } from '../helpers/agent-process';
import { startBotHarness, type BotHarness } from '../helpers/bot-harness';
import { cardText } from '../helpers/fake-connector';
import { sambaEnv } from '../helpers/samba';

const PROGRESS = /Verifying… ([\d,]+) on-premises objects scanned so far\./;

/**
 * A verify of a large OU (OU=Sales, 1,243 users on the shared Samba DC) shows its progress on the
 * card before the result: the real agent process scans in small pages and reports after each, the
 * bot paces the card updates, and the finished card is the last thing Teams receives for it.
 * The intervals are lowered (agent: every page; bot: 100 ms instead of 5 s) so a scan that takes
 * about a second here still shows several steps.
 */
describe('/verify progress on the card', () => {
  const samba = sambaEnv();
  let h: BotHarness;
  let agent: AgentProcess;

  beforeAll(async () => {
    const directory = await connectLdapDirectory({
      url: samba.url,
      bindDn: samba.bindDn,
      password: samba.password,
      caPath: samba.caPath,
    });
    const tenant = await buildTenantFromDirectory(directory, {
      baseDn: OU.sales,
      missing: 3,
      extra: 2,
      mismatched: 2,
    }).finally(() => directory.close());
    h = await startBotHarness({ env: { SYNCSHIFT_PROGRESS_INTERVAL_MS: '100' } });
    h.graph.setUsers(tenant.users);
    agent = spawnAgent(h.bot.url, samba, { LDAP_PAGE_SIZE: '10', SYNCSHIFT_PROGRESS_INTERVAL_MS: '0' });
  });

  afterAll(async () => {
    agent?.stop();
    await h?.close();
  });

  it('counts up "N on-premises objects scanned so far" with growing N, then ends with the result', async () => {
    const [posted] = await h.say('/verify pilot OU=Sales');
    expect(posted).toBeDefined();
    const isFinal = (text: string): boolean => text.includes('Verify pilot') && text.includes('Missing in cloud');
    const cardUpdates = () =>
      h.connector.calls
        .filter((c) => c.method === 'PUT' && c.id === posted!.id)
        .map((c) => cardText(c.activity.attachments![0]!.content));
    await h.connector
      .waitFor(
        (c) => c.method === 'PUT' && c.id === posted!.id && isFinal(cardText(c.activity.attachments![0]!.content)),
        { timeoutMs: 60_000 },
      )
      .catch((err: Error) => {
        throw new Error(`${err.message}\nAgent log:\n${agent.log().slice(-3000)}`);
      });
    // Anything still queued or being retried would land now, after the result.
    await new Promise((r) => setTimeout(r, 1500));

    const updates = cardUpdates();
    const finalAt = updates.findIndex(isFinal);
    expect(finalAt).toBe(updates.length - 1);
    expect(updates[finalAt]).toContain(`On-premises users: ${EXPECTED_SYNCED.sales.users.toLocaleString('en-US')}`);

    const counts = updates.slice(0, finalAt).flatMap((text) => {
      const m = PROGRESS.exec(text);
      return m ? [Number(m[1]!.replace(/,/g, ''))] : [];
    });
    expect(new Set(counts).size).toBeGreaterThanOrEqual(2);
    for (let i = 1; i < counts.length; i++) expect(counts[i]).toBeGreaterThanOrEqual(counts[i - 1]!);
    // The scan counts every object it reads: users, inetOrgPersons, groups and contacts.
    const objects =
      EXPECTED.sales.users +
      EXPECTED_OTHER_TYPES.sales.inetOrgPersons +
      EXPECTED_OTHER_TYPES.sales.groups +
      EXPECTED_OTHER_TYPES.sales.contacts;
    expect(Math.max(...counts)).toBeLessThanOrEqual(objects);
  });
});
