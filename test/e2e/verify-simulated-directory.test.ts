import { SimulatedDirectory, writeForestFile } from '../../src/directory/simulated-directory';
import { buildSeededForest } from '../../src/sandbox/seeded-forest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OU, EXPECTED_SYNCED } from '../../src/sandbox/forest-spec';
import { buildTenantFromDirectory } from '../../src/sandbox/tenant-from-directory';
import { spawnAgent, type AgentProcess } from '../helpers/agent-process';
import { firstCard, startBotHarness, type BotHarness } from '../helpers/bot-harness';
import { cardText } from '../helpers/fake-connector';

/**
 * The sandbox's default path without Samba: the real `syncshift-agent` process, configured with
 * SYNCSHIFT_DIRECTORY=simulated, reads the forest file and answers a verify through the bot.
 */
describe('/verify pilot through the agent process on the simulated directory', () => {
  let dir: string;
  let h: BotHarness;
  let agent: AgentProcess;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'syncshift-simdir-'));
    const forestFile = join(dir, 'forest.json');
    const forest = buildSeededForest();
    writeForestFile(forestFile, forest);
    const tenant = await buildTenantFromDirectory(new SimulatedDirectory(forest), {
      baseDn: OU.sales,
      missing: 3,
      extra: 2,
      mismatched: 2,
    });
    h = await startBotHarness();
    h.graph.setUsers(tenant.users);
    // No LDAP settings at all: the agent must not need them in this mode.
    const noLdap = { url: '', bindDn: '', password: '', caPath: '', baseDn: '' };
    agent = spawnAgent(h.bot.url, noLdap, {
      SYNCSHIFT_DIRECTORY: 'simulated',
      SYNCSHIFT_SIMULATED_FOREST: forestFile,
      LDAP_PAGE_SIZE: '200',
    });
  });

  afterAll(async () => {
    agent?.stop();
    await h?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('reports the same numbers as against Samba AD', async () => {
    const calls = await h.say('/verify pilot OU=Sales');
    const initial = calls[0]!;
    expect(cardText(firstCard(calls))).toContain('Verifying…');
    const final = await h.connector
      .waitFor(
        (c) =>
          c.method === 'PUT' &&
          c.id === initial.id &&
          !cardText(c.activity.attachments![0]!.content).includes('Verifying…'),
        { timeoutMs: 60_000 },
      )
      .catch((err: Error) => {
        throw new Error(`${err.message}\nAgent log:\n${agent.log().slice(-3000)}`);
      });
    const text = cardText(final.activity.attachments![0]!.content);
    expect(text).toContain(
      `On-premises users: ${EXPECTED_SYNCED.sales.users.toLocaleString('en-US')} (${EXPECTED_SYNCED.sales.disabled} disabled)`,
    );
    expect(text).toContain('Missing in cloud: 3');
    expect(text).toContain('Extra in cloud: 2');
    expect(text).toContain('ImmutableId differs: 2');
    expect(agent.log()).toContain('"directory":"simulated"');
  });

  it('resolves an ambiguous name on the agent side and asks which', async () => {
    const calls = await h.say('/verify pilot Marketing');
    const initial = calls[0]!;
    const final = await h.connector.waitFor(
      (c) =>
        c.method === 'PUT' &&
        c.id === initial.id &&
        !cardText(c.activity.attachments![0]!.content).includes('Verifying…'),
      { timeoutMs: 60_000 },
    );
    const text = cardText(final.activity.attachments![0]!.content);
    expect(text).toContain(OU.marketingEmea);
    expect(text).toContain(OU.marketingApac);
  });
});
