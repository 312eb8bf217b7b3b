import type { CloudDirectory } from '../../src/cloud/types';
import { OuComparison } from '../../src/runbook/ou-comparison';
import { AppError } from '../../src/shared/errors';
import { SyncedOtherTypes } from '../../src/services/synced-other-types';

const BASE = 'OU=Wave,DC=contoso,DC=com';
const ANCHOR = Buffer.alloc(16, 1).toString('base64');

function comparison(): OuComparison {
  const c = new OuComparison(BASE);
  c.addOnPrem({ dn: `CN=Team,${BASE}`, anchor: ANCHOR, disabled: false, type: 'group', sid: 'S-1-5-21-1-2-3-1101' });
  c.addOnPrem({ dn: `CN=Pat,${BASE}`, anchor: ANCHOR, disabled: false, type: 'contact', mail: 'pat@partner.example' });
  return c;
}

describe('SyncedOtherTypes: Entra groups and contacts for the wave summary', () => {
  it('reads each type once for all OUs and matches them by SID and mail', async () => {
    const listSyncedGroups = jest.fn(async (onPage: (page: never[]) => void) => {
      onPage([{ id: 'g1', displayName: 'Team', onPremisesSecurityIdentifier: 'S-1-5-21-1-2-3-1101' }] as never[]);
      return 1;
    });
    const listSyncedContacts = jest.fn(async (onPage: (page: never[]) => void) => {
      onPage([{ id: 'c1', displayName: 'Pat', mail: 'Pat@partner.example' }] as never[]);
      return 1;
    });
    const types = new SyncedOtherTypes({ listSyncedGroups, listSyncedContacts } as unknown as CloudDirectory);
    for (let i = 0; i < 2; i++) {
      const c = comparison();
      expect(await types.feed(c)).toEqual([]);
      expect([...c.inScope()].map((o) => [o.type, o.cloudId, o.cloudRead])).toEqual([
        ['group', 'g1', true],
        ['contact', 'c1', true],
      ]);
    }
    expect(listSyncedGroups).toHaveBeenCalledTimes(1);
    expect(listSyncedContacts).toHaveBeenCalledTimes(1);
  });

  it('says what Graph would not give, and leaves that type not read', async () => {
    const listSyncedGroups = async (): Promise<number> => {
      throw new AppError('CLOUD.FORBIDDEN', 'Microsoft Graph refused GET /groups (403).');
    };
    const types = new SyncedOtherTypes({ listSyncedGroups } as unknown as CloudDirectory);
    const c = comparison();
    expect(await types.feed(c)).toEqual([
      'the synced groups could not be read from Microsoft Graph (Microsoft Graph refused GET /groups (403).)',
    ]);
    // No contacts reader at all: that type stays not read too, without a problem line (as a verify).
    expect([...c.inScope()].map((o) => [o.type, o.cloudId, o.cloudRead])).toEqual([
      ['group', null, false],
      ['contact', null, false],
    ]);
  });
});
