import { runAgent } from '../../src/agent/agent';
import {
  assertActionAllowed,
  assertDnAllowed,
  assertRulePlanAllowed,
  parseAllowedBaseDns,
} from '../../src/agent/agent-policy';
import { planNoFlowRules } from '../../src/runbook/sync-rules';
import { planWaveRules } from '../../src/runbook/wave-engine';
import type { RelayClient } from '../../src/agent/relay-client';
import { loadAgentConfig } from '../../src/agent/agent-config';
import type { LeasedJob, ResultRequest } from '../../src/relay/protocol';
import { AppError } from '../../src/shared/errors';
import { createLogger } from '../../src/shared/logger';

const policy = {
  allowedBaseDns: parseAllowedBaseDns('OU=Sales,DC=contoso,DC=com; OU=R\\,D,DC=contoso,DC=com'),
  readOnly: false,
};

function codeOf(fn: () => void): string | null {
  try {
    fn();
    return null;
  } catch (err) {
    return err instanceof AppError ? err.code : 'not an AppError';
  }
}

describe('agent policy', () => {
  it.each([
    ['OU=Sales,DC=contoso,DC=com', null],
    ['ou=sales,dc=CONTOSO,dc=com', null],
    ['OU=EMEA,OU=Sales,DC=contoso,DC=com', null],
    ['OU=R\\,D,DC=contoso,DC=com', null],
    ['OU=R\\2cD,DC=contoso,DC=com', null],
    ['OU=SalesOps,DC=contoso,DC=com', 'POLICY.DN_NOT_ALLOWED'],
    ['OU=Sales,DC=contoso,DC=company', 'POLICY.DN_NOT_ALLOWED'],
    ['OU=Sales,DC=contoso,DC=com,DC=evil', 'POLICY.DN_NOT_ALLOWED'],
    ['DC=contoso,DC=com', 'POLICY.DN_NOT_ALLOWED'],
    ['OU=R,DC=contoso,DC=com', 'POLICY.DN_NOT_ALLOWED'],
    ['not a dn', 'POLICY.DN_NOT_ALLOWED'],
  ])('%s → %s (component-wise, not a string suffix)', (dn, expected) => {
    expect(codeOf(() => assertDnAllowed(policy, dn))).toBe(expected);
  });

  it('an empty allow-list allows every DN; read-only refuses exactly the mutating actions', () => {
    expect(codeOf(() => assertDnAllowed({ allowedBaseDns: [], readOnly: false }, 'OU=Anything,DC=x'))).toBeNull();
    const readOnly = { allowedBaseDns: [], readOnly: true };
    expect(codeOf(() => assertActionAllowed(readOnly, 'directory.scanOu'))).toBeNull();
    expect(codeOf(() => assertActionAllowed(readOnly, 'adsync.getScheduler'))).toBeNull();
    for (const action of [
      'adsync.stopScheduler',
      'adsync.startScheduler',
      'adsync.createNoFlowRules',
      'adsync.setRulesDisabled',
      'adsync.stopService',
      'adsync.startService',
    ]) {
      expect(codeOf(() => assertActionAllowed(readOnly, action))).toBe('POLICY.READ_ONLY');
    }
  });

  it('the agent configuration reads the allow-list and the read-only switch, and refuses a malformed base DN', () => {
    const env = {
      SYNCSHIFT_RELAY_URL: 'http://127.0.0.1:1',
      SYNCSHIFT_AGENT_ID: 'a',
      SYNCSHIFT_AGENT_SECRET: 'x'.repeat(24),
      LDAP_URL: 'ldaps://dc:636',
      LDAP_BIND_DN: 'CN=x',
      LDAP_PASSWORD: 'p',
    };
    expect(loadAgentConfig(env).policy).toEqual({ allowedBaseDns: [], readOnly: false });
    expect(
      loadAgentConfig({
        ...env,
        SYNCSHIFT_ALLOWED_BASE_DNS: 'OU=Sales,DC=contoso,DC=com;OU=Pilot,DC=contoso,DC=com',
        SYNCSHIFT_READ_ONLY: 'true',
      }).policy,
    ).toEqual({
      allowedBaseDns: ['OU=Sales,DC=contoso,DC=com', 'OU=Pilot,DC=contoso,DC=com'],
      readOnly: true,
    });
    expect(() => loadAgentConfig({ ...env, SYNCSHIFT_ALLOWED_BASE_DNS: 'OU=Sales)(objectClass=*' })).toThrow(
      /SYNCSHIFT_ALLOWED_BASE_DNS/,
    );
    expect(() => loadAgentConfig({ ...env, SYNCSHIFT_READ_ONLY: 'maybe' })).toThrow(/SYNCSHIFT_READ_ONLY/);
  });

  it('a refused job is reported to the bot as a failure with the policy code, and nothing runs', async () => {
    const jobs: LeasedJob[] = [
      {
        id: '00000000-0000-4000-8000-000000000001',
        payload: { action: 'adsync.stopScheduler' },
        leaseExpiresAt: new Date().toISOString(),
      },
      {
        id: '00000000-0000-4000-8000-000000000002',
        payload: { action: 'adsync.createNoFlowRules', plan: [{ ouDn: 'OU=SalesOps,DC=contoso,DC=com' }] },
        leaseExpiresAt: new Date().toISOString(),
      },
    ];
    const results: [string, ResultRequest][] = [];
    const relay = {
      lease: async () => jobs.shift() ?? null,
      progress: async () => undefined,
      result: async (id: string, r: ResultRequest) => void results.push([id, r]),
    } as unknown as RelayClient;
    let connected = 0;
    await runAgent({
      relay,
      logger: createLogger('test', 'silent'),
      maxJobs: 2,
      policy: { ...policy, readOnly: true },
      connectDirectory: async () => {
        connected++;
        throw new Error('must not connect');
      },
      // Where a real run would find PowerShell: a refusal must happen before it is ever started.
      adsync: { exportDir: '/nonexistent', executable: '/nonexistent/powershell' },
    });
    expect(connected).toBe(0);
    expect(results.map(([id, r]) => [id, r.outcome, r.outcome === 'failed' ? r.error.code : null])).toEqual([
      ['00000000-0000-4000-8000-000000000001', 'failed', 'POLICY.READ_ONLY'],
      ['00000000-0000-4000-8000-000000000002', 'failed', 'POLICY.READ_ONLY'],
    ]);
    const dnOnly = { ...policy, readOnly: false };
    const refusedDn: ResultRequest[] = [];
    jobs.push({
      id: '00000000-0000-4000-8000-000000000003',
      payload: { action: 'adsync.createNoFlowRules', plan: [{ ouDn: 'OU=SalesOps,DC=contoso,DC=com' }] },
      leaseExpiresAt: new Date().toISOString(),
    });
    await runAgent({
      relay: {
        ...relay,
        lease: async () => jobs.shift() ?? null,
        result: async (_id: string, r: ResultRequest) => void refusedDn.push(r),
      } as unknown as RelayClient,
      logger: createLogger('test', 'silent'),
      maxJobs: 1,
      policy: dnOnly,
      connectDirectory: async () => {
        throw new Error('must not connect');
      },
      adsync: { exportDir: '/nonexistent', executable: '/nonexistent/powershell' },
    });
    expect(refusedDn[0]).toMatchObject({ outcome: 'failed', error: { code: 'POLICY.DN_NOT_ALLOWED' } });
    expect((refusedDn[0] as { error: { hint: string } }).error.hint).toContain('OU=Sales,DC=contoso,DC=com');
  });

  describe('no-flow rule scope', () => {
    const plan = () =>
      planNoFlowRules({
        ouDn: 'OU=Sales,DC=contoso,DC=com',
        usedPrecedences: [],
        objectTypes: ['user'],
      }) as unknown as Record<string, unknown>[];
    const withScope = (index: number, scope: unknown) => plan().map((r, i) => (i === index ? { ...r, scope } : r));

    it('accepts the plan SyncShift makes, also when the scope DN differs only in case or escaping', () => {
      expect(codeOf(() => assertRulePlanAllowed(policy, plan()))).toBeNull();
      expect(
        codeOf(() =>
          assertRulePlanAllowed(
            policy,
            withScope(0, [{ attribute: 'dn', value: 'ou=sales,dc=CONTOSO,dc=com', operator: 'ENDSWITH' }]),
          ),
        ),
      ).toBeNull();
    });

    it.each([
      [
        'an allowed ouDn with a domain-wide scope',
        0,
        [{ attribute: 'dn', value: 'DC=contoso,DC=com', operator: 'ENDSWITH' }],
        'POLICY.DN_NOT_ALLOWED',
      ],
      [
        'a scope inside the allow-list that is not the pilot OU',
        0,
        [{ attribute: 'dn', value: 'OU=EMEA,OU=Sales,DC=contoso,DC=com', operator: 'ENDSWITH' }],
        'POLICY.RULE_SCOPE_REFUSED',
      ],
      [
        'a second, foreign attribute',
        0,
        [
          { attribute: 'dn', value: 'OU=Sales,DC=contoso,DC=com', operator: 'ENDSWITH' },
          { attribute: 'department', value: 'x', operator: 'EQUAL' },
        ],
        'POLICY.RULE_SCOPE_REFUSED',
      ],
      [
        'dn EQUAL instead of ENDSWITH',
        0,
        [{ attribute: 'dn', value: 'OU=Sales,DC=contoso,DC=com', operator: 'EQUAL' }],
        'POLICY.RULE_SCOPE_REFUSED',
      ],
      ['an inbound rule without scope', 0, [], 'POLICY.RULE_SCOPE_REFUSED'],
      [
        'an inbound rule scoped like the outbound one',
        0,
        [{ attribute: 'cloudNoFlow', value: 'true', operator: 'EQUAL' }],
        'POLICY.RULE_SCOPE_REFUSED',
      ],
      [
        'an outbound rule scoped by dn',
        1,
        [{ attribute: 'dn', value: 'OU=Sales,DC=contoso,DC=com', operator: 'ENDSWITH' }],
        'POLICY.RULE_SCOPE_REFUSED',
      ],
      [
        'an outbound rule with cloudNoFlow EQUAL false',
        1,
        [{ attribute: 'cloudNoFlow', value: 'false', operator: 'EQUAL' }],
        'POLICY.RULE_SCOPE_REFUSED',
      ],
    ])('refuses %s', (_what, index, scope, expected) => {
      expect(codeOf(() => assertRulePlanAllowed(policy, withScope(index, scope)))).toBe(expected);
    });

    it("allows a wave's plan for exactly its OUs, each rule scoped to its own OU inside the allow-list", () => {
      const wave = (dns: string[]) => planWaveRules('Wave2', dns, []) as unknown as Record<string, unknown>[];
      expect(codeOf(() => assertRulePlanAllowed(policy, wave(['OU=Sales,DC=contoso,DC=com'])))).toBeNull();
      // An OU of the wave outside the agent's allow-list refuses the whole plan.
      expect(
        codeOf(() =>
          assertRulePlanAllowed(policy, wave(['OU=Sales,DC=contoso,DC=com', 'OU=Finance,DC=contoso,DC=com'])),
        ),
      ).toBe('POLICY.DN_NOT_ALLOWED');
      // A rule whose scope names another OU of the plan than its own is refused too.
      const swapped = wave(['OU=Sales,DC=contoso,DC=com', 'OU=EMEA,OU=Sales,DC=contoso,DC=com']).map((r, i) =>
        i === 0
          ? { ...r, scope: [{ attribute: 'dn', value: 'OU=EMEA,OU=Sales,DC=contoso,DC=com', operator: 'ENDSWITH' }] }
          : r,
      );
      expect(codeOf(() => assertRulePlanAllowed(policy, swapped))).toBe('POLICY.RULE_SCOPE_REFUSED');
    });

    it('with an empty allow-list the scope must still be the pilot OU', () => {
      const open = { allowedBaseDns: [], readOnly: false };
      expect(codeOf(() => assertRulePlanAllowed(open, plan()))).toBeNull();
      expect(
        codeOf(() =>
          assertRulePlanAllowed(
            open,
            withScope(0, [{ attribute: 'dn', value: 'DC=contoso,DC=com', operator: 'ENDSWITH' }]),
          ),
        ),
      ).toBe('POLICY.RULE_SCOPE_REFUSED');
    });

    it('the agent reports the refusal as a failed job and never starts PowerShell', async () => {
      const results: ResultRequest[] = [];
      const jobs: LeasedJob[] = [
        {
          id: '00000000-0000-4000-8000-000000000004',
          payload: {
            action: 'adsync.createNoFlowRules',
            plan: withScope(0, [{ attribute: 'dn', value: 'DC=contoso,DC=com', operator: 'ENDSWITH' }]),
          },
          leaseExpiresAt: new Date().toISOString(),
        },
      ];
      await runAgent({
        relay: {
          lease: async () => jobs.shift() ?? null,
          progress: async () => undefined,
          result: async (_id: string, r: ResultRequest) => void results.push(r),
        } as unknown as RelayClient,
        logger: createLogger('test', 'silent'),
        maxJobs: 1,
        policy,
        connectDirectory: async () => {
          throw new Error('must not connect');
        },
        adsync: { exportDir: '/nonexistent', executable: '/nonexistent/powershell' },
      });
      expect(results).toEqual([
        expect.objectContaining({
          outcome: 'failed',
          error: expect.objectContaining({ code: 'POLICY.DN_NOT_ALLOWED' }),
        }),
      ]);
    });
  });
});
