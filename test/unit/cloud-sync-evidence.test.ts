import { randomUUID } from 'node:crypto';
import {
  allUnconfirmed,
  anchorForms,
  confirmationProblems,
  confirmObjects,
  ConfirmationIndex,
  guidString,
  isConfirmingEntry,
  sourceIdForms,
  type InScopeObject,
  type ProvisioningLogEntry,
  unconfirmedLine,
} from '../../src/runbook/cloud-sync-evidence';
import { OuComparison, sourceAnchor } from '../../src/runbook/ou-comparison';

const JOB = 'AD2AADProvisioning.5a4d60c1.0b7e3c2a-5a4d-4b6e-9f10-000000000011';
const OTHER_JOB = 'AD2AADProvisioning.99999999.0b7e3c2a-5a4d-4b6e-9f10-000000000099';
const BASE = 'OU=Pilot,DC=contoso,DC=com';

/** A GUID whose bytes are 0..15 plus n, so byte order mistakes show. */
function guidBytes(n: number): Buffer {
  return Buffer.from(Array.from({ length: 16 }, (_, i) => (i + n) & 0xff));
}

function success(over: Partial<ProvisioningLogEntry> = {}): ProvisioningLogEntry {
  return { jobId: JOB, status: 'success', action: 'update', sourceId: null, targetId: null, ...over };
}

describe('guidString and anchorForms: the two forms an AD object id takes', () => {
  it('writes GUID bytes the way .NET Guid.ToByteArray() lays them out (first three fields little-endian)', () => {
    expect(guidString(guidBytes(0))).toBe('03020100-0504-0706-0809-0a0b0c0d0e0f');
    expect(() => guidString(Buffer.alloc(15))).toThrow('16 bytes');
  });

  it('gives the base64 anchor and, for 16 bytes, its GUID string', () => {
    const anchor = sourceAnchor(guidBytes(0), null);
    expect(anchorForms(anchor)).toEqual([anchor, '03020100-0504-0706-0809-0a0b0c0d0e0f']);
    // Not base64 of 16 bytes: compared as it is, never turned into a GUID.
    expect(anchorForms('odd-anchor')).toEqual(['odd-anchor']);
  });
});

describe('isConfirmingEntry: which log entries prove Cloud Sync provisioned an object', () => {
  const named = { sourceId: 'a', targetId: 'b' };

  it('counts successful create, update and other entries of the job that name both objects', () => {
    for (const action of ['create', 'update', 'other', 'Update'])
      expect(isConfirmingEntry(JOB, success({ ...named, action }))).toBe(true);
  });

  it('never counts another job, a failure, a removal, or an entry that does not name both objects', () => {
    expect(isConfirmingEntry(JOB, success({ ...named, jobId: OTHER_JOB }))).toBe(false);
    for (const status of ['failure', 'skipped', 'warning'])
      expect(isConfirmingEntry(JOB, success({ ...named, status }))).toBe(false);
    for (const action of ['delete', 'stagedDelete', 'disable', null])
      expect(isConfirmingEntry(JOB, success({ ...named, action }))).toBe(false);
    expect(isConfirmingEntry(JOB, success({ sourceId: 'a' }))).toBe(false);
    expect(isConfirmingEntry(JOB, success({ targetId: 'b' }))).toBe(false);
  });
});

describe('confirmObjects: the three numbers and the objects not yet confirmed', () => {
  const anchors = [1, 2, 3, 4, 5].map((n) => sourceAnchor(guidBytes(n), null));
  const cloudIds = [1, 2, 3, 4, 5].map(() => randomUUID());
  const objects: InScopeObject[] = [
    // Confirmed by an entry naming the objectGUID as a GUID string.
    { dn: `CN=Ann,${BASE}`, anchor: anchors[0]!, cloudId: cloudIds[0]!, anchorMatches: true },
    // Confirmed by an entry naming the anchor as base64.
    { dn: `CN=Bob,${BASE}`, anchor: anchors[1]!, cloudId: cloudIds[1]!, anchorMatches: true },
    // In Entra with the right anchor (Connect Sync put it there), no entry: not confirmed.
    { dn: `CN=Cy,${BASE}`, anchor: anchors[2]!, cloudId: cloudIds[2]!, anchorMatches: true },
    // An entry for its Entra object names another AD object.
    { dn: `CN=Di,${BASE}`, anchor: anchors[3]!, cloudId: cloudIds[3]!, anchorMatches: true },
    { dn: `CN=Ed,${BASE}`, anchor: anchors[4]!, cloudId: cloudIds[4]!, anchorMatches: false },
    { dn: `CN=Flo,${BASE}`, anchor: anchors[0]!, cloudId: null, anchorMatches: false },
  ];
  const index = new ConfirmationIndex(JOB, [
    success({ sourceId: `{${guidString(guidBytes(1)).toUpperCase()}}`, targetId: cloudIds[0]!.toUpperCase() }),
    success({ sourceId: anchors[1]!, targetId: cloudIds[1]!, action: 'create' }),
    // Cy: only a failure, an entry of another job, and a deletion.
    success({ sourceId: guidString(guidBytes(3)), targetId: cloudIds[2]!, status: 'failure' }),
    success({ sourceId: guidString(guidBytes(3)), targetId: cloudIds[2]!, jobId: OTHER_JOB }),
    success({ sourceId: guidString(guidBytes(3)), targetId: cloudIds[2]!, action: 'delete' }),
    success({ sourceId: guidString(guidBytes(9)), targetId: cloudIds[3]! }),
    // Ed's Entra object was provisioned, but Ed's anchor in Entra is not his.
    success({ sourceId: guidString(guidBytes(5)), targetId: cloudIds[4]! }),
  ]);

  it('counts on-premises, in Entra with the right anchor, and confirmed by Cloud Sync apart', () => {
    const c = confirmObjects(objects, index);
    expect(c).toEqual({
      jobId: JOB,
      onPrem: 6,
      inEntraWithAnchor: 4,
      confirmed: 2,
      unconfirmed: [
        { dn: `CN=Cy,${BASE}`, reason: 'no Cloud Sync log entry' },
        { dn: `CN=Di,${BASE}`, reason: 'log entry names another source object' },
        { dn: `CN=Ed,${BASE}`, reason: 'different anchor in Entra' },
        { dn: `CN=Flo,${BASE}`, reason: 'not in Entra' },
      ],
    });
    expect(confirmationProblems(c)).toEqual([
      `2 of 6 in-scope objects are confirmed by Cloud Sync (a successful entry of job ${JOB} in the provisioning logs); 4 are not yet (/verify list unconfirmed names them)`,
    ]);
  });

  it('has no problem when every in-scope object is confirmed, and one when there is nothing to confirm', () => {
    const c = confirmObjects(objects.slice(0, 2), index);
    expect(c).toMatchObject({ onPrem: 2, inEntraWithAnchor: 2, confirmed: 2, unconfirmed: [] });
    expect(confirmationProblems(c)).toEqual([]);
    expect(confirmationProblems(confirmObjects([], index))).toEqual([
      'the OU has no in-scope objects, so nothing shows that Cloud Sync provisions it',
    ]);
  });

  it('ignores entries of another job even when they name the object exactly', () => {
    const other = new ConfirmationIndex(OTHER_JOB, [success({ sourceId: anchors[0]!, targetId: cloudIds[0]! })]);
    expect(other.size).toBe(0);
    expect(confirmObjects(objects.slice(0, 1), other)).toMatchObject({ confirmed: 0 });
  });
});

describe('an object is named by either identifier read from AD: its anchor or its objectGUID', () => {
  // A user whose ms-DS-ConsistencyGuid (its anchor) is other bytes than its objectGUID.
  const anchor = sourceAnchor(guidBytes(40), guidBytes(41));
  const objectGuid = sourceAnchor(guidBytes(40), null);
  const cloudId = randomUUID();
  const object: InScopeObject = { dn: `CN=Moved,${BASE}`, anchor, objectGuid, cloudId, anchorMatches: true };
  const verdict = (sourceId: string, o: InScopeObject = object) =>
    new ConfirmationIndex(JOB, [success({ sourceId, targetId: cloudId })]).verdict(o.cloudId!, o.anchor, o.objectGuid);

  it('confirms an entry naming the anchor, as base64 or as its GUID string (any case, braces or not)', () => {
    expect(anchor).toBe(guidBytes(41).toString('base64'));
    expect(verdict(anchor)).toBe('confirmed');
    expect(verdict(guidString(guidBytes(41)))).toBe('confirmed');
    expect(verdict(`{${guidString(guidBytes(41)).toUpperCase()}}`)).toBe('confirmed');
  });

  it('confirms an entry naming the objectGUID, as base64 or as its GUID string', () => {
    expect(verdict(objectGuid)).toBe('confirmed');
    expect(verdict(guidString(guidBytes(40)))).toBe('confirmed');
    expect(verdict(guidString(guidBytes(40)).toUpperCase())).toBe('confirmed');
  });

  it('still calls an entry naming neither an entry for another AD object', () => {
    expect(verdict(guidString(guidBytes(42)))).toBe('other-source');
    expect(verdict(sourceAnchor(guidBytes(42), null))).toBe('other-source');
    // base64 is case-sensitive: a changed case is other bytes, not the same object.
    expect(verdict(objectGuid.toLowerCase())).toBe('other-source');
    // Without the objectGUID (an older agent's scan), an entry naming it cannot be told from another object's.
    const { objectGuid: _dropped, ...anchorOnly } = object;
    expect(verdict(guidString(guidBytes(40)), anchorOnly)).toBe('other-source');
    expect(sourceIdForms(anchor)).toEqual(anchorForms(anchor));
  });

  it('counts it among the confirmed, for groups and contacts as for users', () => {
    const index = new ConfirmationIndex(JOB, [success({ sourceId: guidString(guidBytes(40)), targetId: cloudId })]);
    const group: InScopeObject = { ...object, dn: `CN=Managers,${BASE}`, type: 'group', cloudRead: true };
    expect(confirmObjects([object, group], index)).toMatchObject({
      confirmed: 1,
      unconfirmed: [],
      groups: { onPrem: 1, confirmed: 1, unconfirmed: [] },
    });
  });
});

describe('OuComparison.inScope: what the evidence is checked against', () => {
  it('yields every in-scope user with the Entra object found under its DN, leaving unsynced critical objects out', () => {
    const c = new OuComparison(BASE);
    const [a, b, m, crit] = [1, 2, 3, 4].map((n) => sourceAnchor(guidBytes(n), null));
    c.addOnPrem({ dn: `CN=Ann,${BASE}`, anchor: a!, disabled: false });
    c.addOnPrem({ dn: `CN=Bob,${BASE}`, anchor: b!, disabled: false });
    c.addOnPrem({ dn: `CN=Mia,${BASE}`, anchor: m!, disabled: false });
    c.addOnPrem({ dn: `CN=krbtgt,${BASE}`, anchor: crit!, disabled: true, criticalSystemObject: true });
    c.addOnPrem({ dn: 'CN=Out,OU=Other,DC=contoso,DC=com', anchor: a!, disabled: false });
    const annId = randomUUID();
    c.addCloud({
      id: annId,
      userPrincipalName: null,
      onPremisesDistinguishedName: `CN=Ann,${BASE}`,
      onPremisesImmutableId: a!,
    });
    // Not a GUID: kept as it is.
    c.addCloud({
      id: 'Mia-Id',
      userPrincipalName: null,
      onPremisesDistinguishedName: `CN=Mia,${BASE}`,
      onPremisesImmutableId: 'BBBB',
    });
    expect([...c.inScope()]).toEqual([
      { dn: `CN=Ann,${BASE}`, anchor: a, cloudId: annId, anchorMatches: true },
      { dn: `CN=Bob,${BASE}`, anchor: b, cloudId: null, anchorMatches: false },
      { dn: `CN=Mia,${BASE}`, anchor: m, cloudId: 'Mia-Id', anchorMatches: false },
    ]);
    expect(c.report().onPrem.users).toBe(3);
  });

  it('leaves inetOrgPerson objects out, so the confirmed count is of users only and none gets a made-up Entra id', () => {
    const c = new OuComparison(BASE);
    const [a, b, i1, i2] = [1, 2, 3, 4].map((n) => sourceAnchor(guidBytes(n), null));
    c.addOnPrem({ dn: `CN=Ann,${BASE}`, anchor: a!, disabled: false });
    c.addOnPrem({ dn: `CN=Bob,${BASE}`, anchor: b!, disabled: false });
    c.addOnPrem({ dn: `CN=Inet 1,${BASE}`, anchor: i1!, disabled: false, type: 'inetOrgPerson' });
    c.addOnPrem({ dn: `CN=Inet 2,${BASE}`, anchor: i2!, disabled: true, type: 'inetOrgPerson' });
    const ids = [randomUUID(), randomUUID(), randomUUID()];
    // Connect Sync exports the inetOrgPersons as Entra users; one of them is even named in a log entry.
    for (const [n, dn, anchor] of [
      [0, `CN=Ann,${BASE}`, a],
      [1, `CN=Bob,${BASE}`, b],
      [2, `CN=Inet 1,${BASE}`, i1],
    ] as const)
      c.addCloud({
        id: ids[n]!,
        userPrincipalName: null,
        onPremisesDistinguishedName: dn,
        onPremisesImmutableId: anchor!,
      });
    const index = new ConfirmationIndex(JOB, [
      success({ sourceId: a!, targetId: ids[0]! }),
      success({ sourceId: b!, targetId: ids[1]! }),
      success({ sourceId: i1!, targetId: ids[2]! }),
    ]);
    expect([...c.inScope()].map((o) => o.dn)).toEqual([`CN=Ann,${BASE}`, `CN=Bob,${BASE}`]);
    const confirmation = confirmObjects(c.inScope(), index);
    expect(confirmation).toMatchObject({ onPrem: 2, inEntraWithAnchor: 2, confirmed: 2, unconfirmed: [] });
    expect(confirmationProblems(confirmation)).toEqual([]);
    // The report says the same: two users; the inetOrgPersons counted and listed on their own.
    const r = c.report();
    expect(r.onPrem).toEqual({ users: 2, disabled: 0 });
    expect(r.inetOrgPersons).toMatchObject({ onPrem: 2, inCloud: 1, dns: [`CN=Inet 1,${BASE}`, `CN=Inet 2,${BASE}`] });
  });

  it("carries a user's, group's or contact's objectGUID only when it differs from the anchor", () => {
    const c = new OuComparison(BASE);
    const own = sourceAnchor(guidBytes(50), guidBytes(51));
    const guid = sourceAnchor(guidBytes(50), null);
    c.addOnPrem({ dn: `CN=Own,${BASE}`, anchor: own, objectGuid: guid, disabled: false });
    // An agent that sends it although it is the anchor: nothing more is kept.
    c.addOnPrem({ dn: `CN=Same,${BASE}`, anchor: guid, objectGuid: guid, disabled: false });
    c.addOnPrem({ dn: `CN=Plain,${BASE}`, anchor: sourceAnchor(guidBytes(52), null), disabled: false });
    c.addOnPrem({
      dn: `CN=Mgrs,${BASE}`,
      anchor: own,
      objectGuid: guid,
      disabled: false,
      type: 'group',
      sid: 'S-1-5-9',
    });
    c.addOnPrem({ dn: `CN=Pat,${BASE}`, anchor: own, objectGuid: guid, disabled: false, type: 'contact', mail: 'p@x' });
    const seen = [...c.inScope()];
    expect(seen.map((o) => [o.dn.split(',')[0], o.objectGuid])).toEqual([
      ['CN=Own', guid],
      ['CN=Same', undefined],
      ['CN=Plain', undefined],
      ['CN=Mgrs', guid],
      ['CN=Pat', guid],
    ]);
    expect(seen.filter((o) => 'objectGuid' in o)).toHaveLength(3);
  });

  it('keeps each objectGUID with its own user as the comparison grows', () => {
    const c = new OuComparison(BASE);
    for (let i = 0; i < 700; i++)
      c.addOnPrem({
        dn: `CN=U${i},${BASE}`,
        anchor: sourceAnchor(guidBytes(i), i % 3 === 0 ? guidBytes(i + 1) : null),
        ...(i % 3 === 0 ? { objectGuid: sourceAnchor(guidBytes(i), null) } : {}),
        disabled: false,
      });
    const seen = [...c.inScope()];
    expect(seen.every((o, i) => o.objectGuid === (i % 3 === 0 ? sourceAnchor(guidBytes(i), null) : undefined))).toBe(
      true,
    );
  });

  it('keeps cloud ids right as the comparison grows past its first allocation', () => {
    const c = new OuComparison(BASE);
    const ids: string[] = [];
    for (let i = 0; i < 700; i++)
      c.addOnPrem({ dn: `CN=U${i},${BASE}`, anchor: sourceAnchor(guidBytes(i), null), disabled: false });
    for (let i = 0; i < 700; i++) {
      ids.push(randomUUID());
      c.addCloud({
        id: ids[i]!,
        userPrincipalName: null,
        onPremisesDistinguishedName: `CN=U${i},${BASE}`,
        onPremisesImmutableId: sourceAnchor(guidBytes(i), null),
      });
    }
    const seen = [...c.inScope()];
    expect(seen).toHaveLength(700);
    expect(seen.every((o, i) => o.cloudId === ids[i] && o.anchorMatches)).toBe(true);
  });
});

describe('confirmObjects for groups and contacts: the same rule, counted per type', () => {
  const [ga, gb, gc, gd, ca, cb] = [11, 12, 13, 14, 15, 16].map((n) => sourceAnchor(guidBytes(n), null));
  const [gaId, gbId, gcId, caId] = [1, 2, 3, 4].map(() => randomUUID());
  const user: InScopeObject = { dn: `CN=Ann,${BASE}`, anchor: ga!, cloudId: randomUUID(), anchorMatches: true };
  const objects: InScopeObject[] = [
    user,
    // Found by its SID and named, by its objectGUID, in a successful entry for that group.
    { dn: `CN=Team,${BASE}`, anchor: ga!, cloudId: gaId!, anchorMatches: true, type: 'group', cloudRead: true },
    // In Entra (Connect Sync put it there), but Cloud Sync has not logged it.
    { dn: `CN=Managers,${BASE}`, anchor: gb!, cloudId: gbId!, anchorMatches: true, type: 'group', cloudRead: true },
    // The entry for its Entra group names another AD object.
    { dn: `CN=Old,${BASE}`, anchor: gc!, cloudId: gcId!, anchorMatches: true, type: 'group', cloudRead: true },
    { dn: `CN=Gone,${BASE}`, anchor: gd!, cloudId: null, anchorMatches: false, type: 'group', cloudRead: true },
    { dn: `CN=Partner,${BASE}`, anchor: ca!, cloudId: caId!, anchorMatches: true, type: 'contact', cloudRead: true },
    // This bot could not list contacts: unknown, not "missing".
    { dn: `CN=Vendor,${BASE}`, anchor: cb!, cloudId: null, anchorMatches: false, type: 'contact', cloudRead: false },
  ];
  const index = new ConfirmationIndex(JOB, [
    success({ sourceId: anchors(user.anchor), targetId: user.cloudId! }),
    success({ sourceId: guidString(guidBytes(11)), targetId: gaId!, action: 'create' }),
    success({ sourceId: guidString(guidBytes(99)), targetId: gcId! }),
    success({ sourceId: guidString(guidBytes(15)), targetId: caId! }),
  ]);

  function anchors(anchor: string): string {
    return anchorForms(anchor)[1]!;
  }

  it('gives groups and contacts their own three numbers and leaves the users numbers as they were', () => {
    const c = confirmObjects(objects, index);
    expect(c).toMatchObject({ onPrem: 1, inEntraWithAnchor: 1, confirmed: 1, unconfirmed: [] });
    expect(c.groups).toEqual({
      onPrem: 4,
      inEntra: 3,
      confirmed: 1,
      matchedOn: 'onPremisesSecurityIdentifier',
      unconfirmed: [
        { dn: `CN=Gone,${BASE}`, reason: 'not in Entra', type: 'group' },
        { dn: `CN=Managers,${BASE}`, reason: 'no Cloud Sync log entry', type: 'group' },
        { dn: `CN=Old,${BASE}`, reason: 'log entry names another source object', type: 'group' },
      ],
    });
    expect(c.contacts).toEqual({
      onPrem: 2,
      inEntra: 1,
      confirmed: 1,
      matchedOn: 'mail',
      unconfirmed: [{ dn: `CN=Vendor,${BASE}`, reason: 'Entra side not read', type: 'contact' }],
    });
    expect(allUnconfirmed(c).map(unconfirmedLine)).toEqual([
      `group: CN=Gone,${BASE} (not in Entra)`,
      `group: CN=Managers,${BASE} (no Cloud Sync log entry)`,
      `group: CN=Old,${BASE} (log entry names another source object)`,
      `contact: CN=Vendor,${BASE} (Entra side not read)`,
    ]);
    const source = `(a successful entry of job ${JOB} in the provisioning logs)`;
    expect(confirmationProblems(c)).toEqual([
      `1 of 4 in-scope groups are confirmed by Cloud Sync ${source}; 3 are not yet (/verify list unconfirmed names them)`,
      `1 of 2 in-scope contacts are confirmed by Cloud Sync ${source}; 1 are not yet (/verify list unconfirmed names them)`,
    ]);
  });

  it('does not take an entry for a user as proof for a group, nor the other way round', () => {
    // The same anchor on both, but each entry names its own Entra object.
    const crossed = new ConfirmationIndex(JOB, [success({ sourceId: anchors(ga!), targetId: user.cloudId! })]);
    const c = confirmObjects(objects.slice(0, 2), crossed);
    expect(c.confirmed).toBe(1);
    expect(c.groups).toMatchObject({ confirmed: 0, unconfirmed: [{ reason: 'no Cloud Sync log entry' }] });
  });

  it('passes with every type confirmed, and counts an OU with only groups as having objects', () => {
    const group = objects[1]!;
    const c = confirmObjects([group], index);
    expect(c).toMatchObject({ onPrem: 0, confirmed: 0, groups: { onPrem: 1, confirmed: 1 } });
    expect(c.contacts).toBeUndefined();
    expect(confirmationProblems(c)).toEqual([]);
  });
});

describe('OuComparison.inScope for groups and contacts', () => {
  it('yields each exported group and contact with the Entra object found by SID or mail', () => {
    const c = new OuComparison(BASE);
    const [ga, gb, gf, ca, cb] = [21, 22, 23, 24, 25].map((n) => sourceAnchor(guidBytes(n), null));
    c.addOnPrem({ dn: `CN=Team,${BASE}`, anchor: ga!, disabled: false, type: 'group', sid: 'S-1-5-21-1-2-3-1101' });
    c.addOnPrem({ dn: `CN=Mgrs,${BASE}`, anchor: gb!, disabled: false, type: 'group', sid: 'S-1-5-21-1-2-3-1102' });
    // Filtered out by Connect Sync's rules and not in Entra: not in scope.
    c.addOnPrem({
      dn: `CN=Old,${BASE}`,
      anchor: gf!,
      disabled: false,
      type: 'group',
      sid: 'S-1-5-21-1-2-3-1103',
      filteredBy: ['distributionGroupNotMailEnabled'],
    });
    c.addOnPrem({ dn: `CN=Pat,${BASE}`, anchor: ca!, disabled: false, type: 'contact', mail: 'Pat@Partner.example' });
    c.addOnPrem({ dn: `CN=Vic,${BASE}`, anchor: cb!, disabled: false, type: 'contact', mail: 'vic@partner.example' });
    const teamId = randomUUID();
    const patId = randomUUID();
    c.addCloudGroup({ id: teamId, displayName: 'Team', onPremisesSecurityIdentifier: 's-1-5-21-1-2-3-1101' });
    c.addCloudGroup({ id: randomUUID(), displayName: 'Elsewhere', onPremisesSecurityIdentifier: 'S-1-5-21-9' });
    c.cloudTypeRead('group');
    c.addCloudContact({ id: patId, displayName: 'Pat', mail: 'pat@partner.example' });
    c.cloudTypeRead('contact');
    expect([...c.inScope()]).toEqual([
      { dn: `CN=Team,${BASE}`, anchor: ga, cloudId: teamId, anchorMatches: true, type: 'group', cloudRead: true },
      { dn: `CN=Mgrs,${BASE}`, anchor: gb, cloudId: null, anchorMatches: false, type: 'group', cloudRead: true },
      { dn: `CN=Pat,${BASE}`, anchor: ca, cloudId: patId, anchorMatches: true, type: 'contact', cloudRead: true },
      { dn: `CN=Vic,${BASE}`, anchor: cb, cloudId: null, anchorMatches: false, type: 'contact', cloudRead: true },
    ]);
    // The same objects the report counts.
    expect(c.report()).toMatchObject({ groups: { onPrem: 2, matched: 1 }, contacts: { onPrem: 2, matched: 1 } });
  });

  it('says when the Entra side of a type was not read', () => {
    const c = new OuComparison(BASE);
    c.addOnPrem({
      dn: `CN=Team,${BASE}`,
      anchor: sourceAnchor(guidBytes(1), null),
      disabled: false,
      type: 'group',
      sid: 'S-1-5-21-1',
    });
    expect([...c.inScope()]).toMatchObject([{ type: 'group', cloudId: null, cloudRead: false }]);
  });
});
