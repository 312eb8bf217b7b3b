import { normalizeEnrollmentCode, sha256Hex } from '../../src/relay/agent-credentials';
import { startBotHarness, type BotHarness } from '../helpers/bot-harness';

/** The enroll endpoint takes no credential: guessing codes must be slowed down and must not flood the audit log. */
describe('refused enrollment codes are rate-limited per client address', () => {
  let h: BotHarness;

  beforeAll(async () => {
    h = await startBotHarness();
  });
  afterAll(async () => {
    await h?.close();
  });

  const tryCode = (code: string): Promise<Response> =>
    fetch(`${h.bot.url}/relay/v1/agents/enroll`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ code }),
    });
  const enrollAudit = async (): Promise<string[]> =>
    (await h.store.audit.latest(500)).filter((e) => e.action === 'agent.enroll').map((e) => e.outcome);

  it('ten refused codes get 401, the eleventh 429 with Retry-After; the audit log gets two rows, not one per guess', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 10; i++)
      statuses.push((await tryCode(`AAAA-BBBB-CCCC-DDDD-${String(i).padStart(4, '0')}`)).status);
    expect(statuses).toEqual(Array(10).fill(401));

    // Also a code that would be valid: a blocked address must not get to test codes at all.
    const valid = 'QQQQ-RRRR-SSSS-TTTT-UUUU';
    await h.store.agents.addEnrollmentCode({
      codeSha256: sha256Hex(normalizeEnrollmentCode(valid)),
      agentName: 'dc-limited',
      purpose: 'enroll',
      createdBy: 'test',
      expiresAt: new Date(Date.now() + 600_000),
    });
    const limited = await tryCode(valid);
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(((await limited.json()) as { code: string }).code).toBe('RELAY.ENROLLMENT_RATE_LIMITED');

    for (let i = 0; i < 5; i++) expect((await tryCode('AAAA-BBBB-CCCC-DDDD-EEEE')).status).toBe(429);
    expect((await enrollAudit()).sort()).toEqual(['rate-limited', 'refused']);
    expect(await h.store.db.query('SELECT used_at FROM agent_enrollment_codes')).toEqual([{ used_at: null }]);
  });
});
