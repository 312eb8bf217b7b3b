import { OU, EXPECTED_SYNCED } from '../fixtures/ad-seed-spec';
import { ADELE, MEGAN } from '../helpers/activities';
import { AgentFleet, agentSecret as secretOf, type AgentProcess } from '../helpers/agent-process';
import { AGENT_ID, AGENT_SECRET, startBotHarness, type BotHarness } from '../helpers/bot-harness';
import { cardProblems } from '../helpers/card-check';
import { eventually } from '../helpers/eventually';
import { cardText } from '../helpers/fake-connector';
import { sambaEnv, type SambaEnv } from '../helpers/samba';
import { TcpProxy } from '../helpers/tcp-proxy';
import { buildTenantFromDirectory } from '../../src/sandbox/tenant-from-directory';
import { connectLdapDirectory } from '../../src/directory/ldap-directory';

/**
 * An agent killed in the middle of a scan, with the default 5-minute lease: the bot must not wait
 * for the lease to run out when it can tell the agent is gone. Real agent processes, the shared
 * Samba DC behind a TCP proxy that stalls the first agent's LDAP reads part-way (Samba itself is
 * never touched), the Graph simulator, the bot over HTTP.
 */
const AGENTS = ['agent-lost-a', 'agent-lost-b', 'agent-lost-c'] as const;
jest.setTimeout(120_000);

describe('a lost agent: its scan goes back to the queue long before the lease runs out', () => {
  const samba = sambaEnv();
  let h: BotHarness;
  let proxy: TcpProxy;
  let proxied: SambaEnv;
  const fleet = new AgentFleet(() => h.bot.url);

  beforeAll(async () => {
    const directory = await connectLdapDirectory({
      url: samba.url,
      bindDn: samba.bindDn,
      password: samba.password,
      caPath: samba.caPath,
    });
    const tenant = await buildTenantFromDirectory(directory, {
      baseDn: OU.sales,
      missing: 0,
      extra: 0,
      mismatched: 0,
    }).finally(() => directory.close());
    h = await startBotHarness({
      env: {
        SYNCSHIFT_JOB_LEASE_SECONDS: '300',
        // Every card update goes out, so the test sees each state the card passes through.
        SYNCSHIFT_PROGRESS_INTERVAL_MS: '0',
        SYNCSHIFT_APPROVERS: `${ADELE.aadObjectId},${MEGAN.aadObjectId}`,
        SYNCSHIFT_AGENT_SECRETS: [`${AGENT_ID}:${AGENT_SECRET}`, ...AGENTS.map((id) => `${id}:${secretOf(id)}`)].join(
          ',',
        ),
      },
    });
    h.graph.setUsers(tenant.users);
    const target = new URL(samba.url);
    proxy = await new TcpProxy(target.hostname, Number(target.port || 636)).start();
    proxied = { ...samba, url: `ldaps://${target.hostname}:${proxy.port}` };
  });

  afterEach(() => {
    fleet.killAll();
    proxy.release();
  });

  afterAll(async () => {
    fleet.killAll();
    await proxy?.stop();
    await h?.close();
  });

  function agent(id: (typeof AGENTS)[number], directory: SambaEnv, env: Record<string, string> = {}): AgentProcess {
    return fleet.start(id, directory, env);
  }

  const until = <T>(
    what: string,
    probe: () => Promise<T | null | undefined | false>,
    timeoutMs = 60_000,
  ): Promise<Exclude<T, false | null | undefined | 0 | ''>> =>
    eventually(probe, {
      what,
      timeoutMs,
      detail: () => fleet.logs(),
    });

  const jobRow = async (
    id: string,
  ): Promise<{ state: string; agent_id: string | null; attempts: number; progress: { scanned?: number } | null }> =>
    (
      await h.store.db.query<{
        state: string;
        agent_id: string | null;
        attempts: number;
        progress: { scanned?: number } | null;
      }>('SELECT state, agent_id, attempts, progress FROM jobs WHERE id = $1', [id])
    )[0]!;
  const jobAudit = async (jobId: string): Promise<string[]> =>
    (
      await h.store.db.query<{ action: string; outcome: string; actor: string }>(
        "SELECT action, outcome, actor FROM audit_log WHERE target = $1 AND action LIKE 'job.%' ORDER BY seq",
        [jobId],
      )
    ).map((a) => `${a.action}:${a.outcome}:${a.actor}`);
  const cardsOf = (cardId: string, from: number): string[] =>
    h.connector.calls
      .slice(from)
      .filter((c) => c.method === 'PUT' && c.id === cardId)
      .map((c) => cardText(c.activity.attachments![0]!.content));

  /** `/verify pilot OU=Sales` with the first agent on the stalling proxy, killed (SIGKILL) once its scan is under way. */
  async function verifyAndKillMidScan(
    first: (typeof AGENTS)[number],
  ): Promise<{ cardId: string; jobId: string; from: number }> {
    // Bind, the OU lookup and the first pages pass; then the DC "stalls" and the scan waits there.
    proxy.holdAfterServerBytes(60_000);
    const victim = agent(first, proxied, { LDAP_PAGE_SIZE: '100' });
    const replies = await h.say('/verify pilot OU=Sales');
    expect(replies).toHaveLength(1);
    const jobId = (await h.store.verifications.listByConversation(h.conversationId, 1))[0]!.jobId;
    const from = h.connector.calls.indexOf(replies[0]!) + 1;
    // Users counted, so the head of the upload went out before them: the bot is reading the scan.
    await until('the scan to be under way', async () => ((await jobRow(jobId)).progress?.scanned ?? 0) > 0);
    await new Promise((resolve) => setTimeout(resolve, 300));
    victim.child.kill('SIGKILL');
    await new Promise((resolve) => victim.child.once('exit', resolve));
    return { cardId: replies[0]!.id, jobId, from };
  }

  async function finalCard(started: { cardId: string; from: number }): Promise<string> {
    const call = await h.connector.waitFor(
      (c) =>
        c.method === 'PUT' &&
        c.id === started.cardId &&
        !cardText(c.activity.attachments![0]!.content).includes('Verifying…'),
      { from: started.from, timeoutMs: 90_000 },
    );
    expect(cardProblems(call.activity.attachments![0]!.content)).toEqual([]);
    return cardText(call.activity.attachments![0]!.content);
  }

  it('an agent killed mid-scan and restarted 2 s later: the job is taken back on its first poll and the restarted agent finishes it', async () => {
    const started = await verifyAndKillMidScan('agent-lost-a');
    await new Promise((resolve) => setTimeout(resolve, 2000));
    // The same agent, started again (the DC answers it directly): it holds nothing.
    agent('agent-lost-a', samba);
    const text = await finalCard(started);
    expect(text).toContain(
      `On-premises users: ${EXPECTED_SYNCED.sales.users.toLocaleString('en-US')} (${EXPECTED_SYNCED.sales.disabled} disabled)`,
    );
    expect(await jobRow(started.jobId)).toMatchObject({ state: 'succeeded', agent_id: 'agent-lost-a', attempts: 2 });
    expect(await jobAudit(started.jobId)).toEqual([
      'job.leased:leased:agent:agent-lost-a',
      'job.requeued:agent-restarted:syncshift',
      'job.leased:leased:agent:agent-lost-a',
      'job.result:succeeded:agent:agent-lost-a',
    ]);
    // While it was lost, the card said so instead of counting on; the second attempt's progress keeps saying why.
    const cards = cardsOf(started.cardId, started.from);
    expect(cards).toContainEqual(
      expect.stringContaining(
        'Verifying… The agent was lost: it restarted in the middle of the scan (attempt 1 of 3). The scan restarted and is queued for an agent.',
      ),
    );
    expect(cards).toContainEqual(
      expect.stringMatching(
        /Verifying… [\d,]+ on-premises objects scanned so far\. The agent was lost \(it restarted in the middle of the scan\); the scan restarted \(attempt 2\)\./,
      ),
    );
  });

  it('an agent killed mid-scan that does not come back: after a short grace the job goes to another agent', async () => {
    const started = await verifyAndKillMidScan('agent-lost-b');
    // Another agent is polling all along; the lost agent's job is not its to take until the bot gives it back.
    agent('agent-lost-c', samba);
    const text = await finalCard(started);
    expect(text).toContain(
      `On-premises users: ${EXPECTED_SYNCED.sales.users.toLocaleString('en-US')} (${EXPECTED_SYNCED.sales.disabled} disabled)`,
    );
    expect(await jobRow(started.jobId)).toMatchObject({ state: 'succeeded', agent_id: 'agent-lost-c', attempts: 2 });
    expect(await jobAudit(started.jobId)).toEqual([
      'job.leased:leased:agent:agent-lost-b',
      'job.requeued:upload-cut:syncshift',
      'job.leased:leased:agent:agent-lost-c',
      'job.result:succeeded:agent:agent-lost-c',
    ]);
    expect(cardsOf(started.cardId, started.from)).toContainEqual(
      expect.stringContaining(
        'Verifying… The agent was lost: its upload was cut off and it did not come back (attempt 1 of 3). The scan restarted and is queued for an agent.',
      ),
    );
  });
});
