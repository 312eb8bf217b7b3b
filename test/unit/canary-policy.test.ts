import {
  assertCanaryCreateAllowed,
  assertCanaryDeleteAllowed,
  parseAllowedBaseDns,
  type AgentPolicy,
} from '../../src/agent/agent-policy';
import { createCanary, deleteCanary } from '../../src/agent/actions/canary';
import { SimulatedDirectory, type SimulatedForest } from '../../src/directory/simulated-directory';
import { canaryPayload, jobPayload } from '../../src/relay/protocol';
import { guidToBytes, guidToString } from '../../src/runbook/canary';
import { AppError } from '../../src/shared/errors';

const policy: AgentPolicy = {
  allowedBaseDns: parseAllowedBaseDns('OU=Pilot,DC=contoso,DC=com'),
  readOnly: false,
};
const NAME = 'syncshift-canary-0a1b2c3d';

function codeOf(fn: () => void): string | null {
  try {
    fn();
    return null;
  } catch (err) {
    return err instanceof AppError ? err.code : 'not an AppError';
  }
}

async function codeOfAsync(p: Promise<unknown>): Promise<string | null> {
  try {
    await p;
    return null;
  } catch (err) {
    return err instanceof AppError ? err.code : `not an AppError: ${String(err)}`;
  }
}

function forest(): SimulatedForest {
  return {
    defaultNamingContext: 'DC=contoso,DC=com',
    containers: ['OU=Pilot,DC=contoso,DC=com', 'OU=Sales,DC=contoso,DC=com', 'CN=Users,DC=contoso,DC=com'],
    users: [
      {
        dn: 'CN=Ann,OU=Pilot,DC=contoso,DC=com',
        objectGuid: Buffer.alloc(16, 7).toString('base64'),
        consistencyGuid: null,
        samAccountName: 'ann',
        userPrincipalName: 'ann@contoso.com',
        disabled: true,
      },
    ],
    otherObjects: [],
  };
}

describe('canary policy on the agent', () => {
  it('creates only prefixed names in an allowed OU, and nothing at all when read-only', () => {
    expect(codeOf(() => assertCanaryCreateAllowed(policy, 'OU=Pilot,DC=contoso,DC=com', NAME))).toBeNull();
    expect(codeOf(() => assertCanaryCreateAllowed(policy, 'ou=pilot,dc=CONTOSO,dc=com', NAME))).toBeNull();
    // Another OU of the domain, a sibling with a longer name, and the domain root are refused.
    for (const ou of ['OU=Sales,DC=contoso,DC=com', 'OU=PilotX,DC=contoso,DC=com', 'DC=contoso,DC=com'])
      expect(codeOf(() => assertCanaryCreateAllowed(policy, ou, NAME))).toBe('POLICY.DN_NOT_ALLOWED');
    for (const name of ['Administrator', 'syncshift-canary-', 'syncshift-canary-0A1B2C3D', `${NAME}x`])
      expect(codeOf(() => assertCanaryCreateAllowed(policy, 'OU=Pilot,DC=contoso,DC=com', name))).toBe(
        'POLICY.CANARY_REFUSED',
      );
    expect(
      codeOf(() => assertCanaryCreateAllowed({ ...policy, readOnly: true }, 'OU=Pilot,DC=contoso,DC=com', NAME)),
    ).toBe('POLICY.READ_ONLY');
  });

  it('deletes only a disabled, group-less user named exactly as the canary, inside the allow-list', () => {
    const canary = {
      dn: `CN=${NAME},OU=Pilot,DC=contoso,DC=com`,
      objectClasses: ['top', 'person', 'organizationalPerson', 'user'],
      samAccountName: 'syncshift-c-0a1b2c3d',
      disabled: true,
      memberOf: [] as string[],
    };
    expect(codeOf(() => assertCanaryDeleteAllowed(policy, NAME, canary))).toBeNull();
    const refused: [string, Partial<typeof canary>][] = [
      ['another account', { samAccountName: 'ann', dn: 'CN=Ann,OU=Pilot,DC=contoso,DC=com' }],
      ['another canary', { samAccountName: 'syncshift-c-ffffffff' }],
      ['the full name as account name', { samAccountName: NAME }],
      ['a cn that differs', { dn: 'CN=Someone,OU=Pilot,DC=contoso,DC=com' }],
      ['an enabled user', { disabled: false }],
      ['a group member', { memberOf: ['CN=Admins,DC=contoso,DC=com'] }],
      ['a computer', { objectClasses: ['top', 'user', 'computer'] }],
    ];
    for (const [, change] of refused)
      expect(codeOf(() => assertCanaryDeleteAllowed(policy, NAME, { ...canary, ...change }))).toBe(
        'POLICY.CANARY_REFUSED',
      );
    expect(
      codeOf(() => assertCanaryDeleteAllowed(policy, NAME, { ...canary, dn: `CN=${NAME},OU=Sales,DC=contoso,DC=com` })),
    ).toBe('POLICY.DN_NOT_ALLOWED');
    expect(codeOf(() => assertCanaryDeleteAllowed(policy, 'ann', canary))).toBe('POLICY.CANARY_REFUSED');
  });

  it('the wire refuses a canary job without the prefix or with a malformed objectGUID', () => {
    expect(
      canaryPayload.safeParse({ action: 'directory.createCanary', ouDn: 'OU=Pilot,DC=x', name: NAME }).success,
    ).toBe(true);
    expect(jobPayload.safeParse({ action: 'directory.createCanary', ouDn: 'OU=Pilot,DC=x', name: 'bob' }).success).toBe(
      false,
    );
    expect(
      jobPayload.safeParse({ action: 'directory.deleteCanary', objectGuid: 'not-a-guid', name: NAME }).success,
    ).toBe(false);
  });

  it('objectGUID strings round-trip with AD byte order', () => {
    const bytes = Buffer.from('00112233445566778899aabbccddeeff', 'hex');
    expect(guidToString(bytes)).toBe('33221100-5544-7766-8899-aabbccddeeff');
    expect(guidToBytes(guidToString(bytes)).equals(bytes)).toBe(true);
  });

  it('creates a disabled canary in the simulated directory, deletes exactly it, and refuses other objects', async () => {
    const dir = new SimulatedDirectory(forest());
    const created = await createCanary(dir, policy, {
      action: 'directory.createCanary',
      ouDn: 'OU=Pilot,DC=contoso,DC=com',
      name: NAME,
    });
    expect(created).toMatchObject({ name: NAME, dn: `CN=${NAME},OU=Pilot,DC=contoso,DC=com`, disabled: true });
    expect(JSON.stringify(created)).not.toMatch(/password|aA1!/i);
    let users = 0;
    await dir.scanUsers('OU=Pilot,DC=contoso,DC=com', { onPage: (page) => void (users += page.length) });
    expect(users).toBe(2);
    // Outside the allowed OU nothing is created.
    expect(
      await codeOfAsync(
        createCanary(dir, policy, { action: 'directory.createCanary', ouDn: 'OU=Sales,DC=contoso,DC=com', name: NAME }),
      ),
    ).toBe('POLICY.DN_NOT_ALLOWED');
    // Ann's objectGUID under the canary's name: refused, Ann stays.
    const ann = guidToString(Buffer.alloc(16, 7));
    expect(
      await codeOfAsync(deleteCanary(dir, policy, { action: 'directory.deleteCanary', objectGuid: ann, name: NAME })),
    ).toBe('POLICY.CANARY_REFUSED');
    await deleteCanary(dir, policy, { action: 'directory.deleteCanary', objectGuid: created.objectGuid, name: NAME });
    users = 0;
    await dir.scanUsers('OU=Pilot,DC=contoso,DC=com', { onPage: (page) => void (users += page.length) });
    expect(users).toBe(1);
    expect(
      await codeOfAsync(
        deleteCanary(dir, policy, { action: 'directory.deleteCanary', objectGuid: created.objectGuid, name: NAME }),
      ),
    ).toBe('DIRECTORY.NOT_FOUND');
  });
});
