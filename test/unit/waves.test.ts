import { parseCommand, splitArgs } from '../../src/runbook/commands';
import {
  CLOUD_SYNC_LIMITS,
  checkWave,
  domainOf,
  isCalendarDate,
  topLevelOus,
  type WavePlan,
} from '../../src/runbook/waves';

const ou = (baseDn: string, users: number | null, input = baseDn) => ({ input, baseDn, users, error: null });
const wave = (name: string, ous: WavePlan['ous'], scheduledFor: string | null = '2026-12-07'): WavePlan => ({
  name,
  scheduledFor,
  ous,
});
const context = { otherWaves: [] as WavePlan[], pilot: null, today: '2026-11-25' };

describe('/wave and /summary commands', () => {
  test('wave add with several OUs, quoted names and a date', () => {
    expect(parseCommand('/wave add Wave1 OU=Marketing OU=R\\,D on 2026-12-07')).toEqual({
      kind: 'wave.add',
      name: 'Wave1',
      ous: ['OU=Marketing', 'OU=R\\,D'],
      scheduledFor: '2026-12-07',
    });
    expect(parseCommand('/wave add "Wave 2" "OU=Sales Team,DC=contoso,DC=com"')).toEqual({
      kind: 'wave.add',
      name: 'Wave 2',
      ous: ['OU=Sales Team,DC=contoso,DC=com'],
      scheduledFor: null,
    });
    expect(splitArgs('a “b c” d')).toEqual(['a', 'b c', 'd']);
    expect(parseCommand('/wave list')).toEqual({ kind: 'wave.list' });
    expect(parseCommand('/wave remove Wave1')).toEqual({ kind: 'wave.remove', name: 'Wave1' });
  });

  test.each([
    ['/wave add', 'needs a name'],
    ['/wave add Wave1', 'at least one OU'],
    ['/wave add Wave1 OU=Sales on 2026-02-30', 'not a date'],
    ['/wave add Wave1 OU=Sales on tomorrow', 'not a date'],
    ['/wave add ../../etc OU=Sales', 'not a usable wave name'],
    [
      `/wave add Big ${Array.from({ length: CLOUD_SYNC_LIMITS.ousPerConfiguration + 1 }, (_, i) => `OU=O${i}`).join(' ')}`,
      'more than one Cloud Sync configuration',
    ],
    ['/wave move Wave1', 'not a wave command'],
    ['/wave remove', 'Name one wave'],
    ['/summary at 8am Europe/Berlin', 'not a time'],
    ['/summary at 08:00 Europe/Atlantis', 'not an IANA time zone'],
    ['/summary at 24:00 UTC', 'not a time'],
    ['/summary job', 'Cloud Sync job id'],
    ['/summary job bad;id', 'Cloud Sync job id'],
    ['/summary later', 'not a summary command'],
  ])('%s is refused with a reason', (text, reason) => {
    const command = parseCommand(text);
    expect(command.kind).toBe('invalid');
    expect(command.kind === 'invalid' && command.reason).toContain(reason);
  });

  test('summary commands', () => {
    expect(parseCommand('/summary now')).toEqual({ kind: 'summary.now' });
    expect(parseCommand('/summary at 07:30 America/New_York')).toEqual({
      kind: 'summary.schedule',
      localTime: '07:30',
      timeZone: 'America/New_York',
    });
    expect(parseCommand('/summary job AD2AADProvisioning.1a2b.3c4d')).toEqual({
      kind: 'summary.job',
      jobId: 'AD2AADProvisioning.1a2b.3c4d',
    });
  });

  test('calendar dates', () => {
    expect(isCalendarDate('2028-02-29')).toBe(true);
    expect(isCalendarDate('2026-02-29')).toBe(false);
    expect(isCalendarDate('2026-1-5')).toBe(false);
  });
});

describe('wave checks against Cloud Sync limits', () => {
  test('domain of a DN', () => {
    expect(domainOf('OU=Sales,DC=Contoso,DC=com')).toBe('dc=contoso,dc=com');
    expect(domainOf('OU=Sales')).toBeNull();
  });

  test('a small wave in a fresh migration has no warnings', () => {
    expect(checkWave(wave('W1', [ou('OU=Sales,DC=contoso,DC=com', 1243)]), context)).toEqual([]);
  });

  test('objects per domain add up across the pilot and every wave of that domain only', () => {
    const others = [
      wave('W1', [ou('OU=A,DC=contoso,DC=com', 90_000)]),
      wave('Other', [ou('OU=A,DC=fabrikam,DC=com', 140_000)]),
    ];
    const warnings = checkWave(wave('W2', [ou('OU=B,DC=contoso,DC=com', 50_000)]), {
      ...context,
      otherWaves: others,
      pilot: { baseDn: 'OU=Pilot,DC=contoso,DC=com', users: 20_000 },
    });
    expect(warnings.map((w) => w.code)).toEqual(['OBJECTS_PER_DOMAIN']);
    expect(warnings[0]!.message).toContain('160,000 users of dc=contoso,dc=com');
    // The agent counts users only, and the warning says so rather than calling them objects.
    expect(warnings[0]!.message).toContain('Users counted: 160,000; groups and contacts are not counted');
    // 90% of the limit already warns.
    expect(checkWave(wave('W3', [ou('OU=C,DC=contoso,DC=com', 136_000)]), context).map((w) => w.code)).toEqual([
      'OBJECTS_PER_DOMAIN',
    ]);
  });

  test('OUs per configuration: the pilot and all waves of a domain share one configuration', () => {
    const others = [
      wave(
        'W1',
        Array.from({ length: 30 }, (_, i) => ou(`OU=A${i},DC=contoso,DC=com`, 10)),
      ),
    ];
    const own = wave(
      'W2',
      Array.from({ length: 21 }, (_, i) => ou(`OU=B${i},DC=contoso,DC=com`, 10)),
    );
    expect(checkWave(own, { ...context, otherWaves: others }).map((w) => w.code)).toEqual(['OUS_PER_CONFIGURATION']);
    expect(checkWave(wave('W2', own.ous.slice(0, 20)), { ...context, otherWaves: others })).toEqual([]);
  });

  test('nested OUs ride with their parent: they count neither toward the OU limit nor twice toward the objects', () => {
    const parents = [
      wave(
        'W1',
        Array.from({ length: 30 }, (_, i) => ou(`OU=A${i},DC=contoso,DC=com`, 4_000)),
      ),
    ];
    // 21 more OUs, all inside W1's: 51 OUs typed, 30 in the configuration.
    const nested = wave(
      'W2',
      Array.from({ length: 21 }, (_, i) => ou(`OU=Team,OU=A${i},DC=contoso,DC=com`, 3_000)),
    );
    const warnings = checkWave(nested, { ...context, otherWaves: parents });
    expect(warnings.map((w) => w.code).filter((c) => c !== 'OVERLAP')).toEqual([]);
    expect(warnings.filter((w) => w.code === 'OVERLAP')).toHaveLength(21);
    expect(topLevelOus(['OU=B,OU=A,DC=x', 'OU=A,DC=x', 'ou=a,dc=X', 'OU=C,DC=x', 'not a dn'])).toEqual([
      'OU=A,DC=x',
      'OU=C,DC=x',
      'not a dn',
    ]);
    // A wave command may list nested OUs beyond 50, as long as the separate ones fit.
    const many = Array.from({ length: CLOUD_SYNC_LIMITS.ousPerConfiguration + 5 }, (_, i) => `OU=T${i},OU=Parent`);
    expect(parseCommand(`/wave add Nested OU=Parent ${many.join(' ')}`)).toMatchObject({ kind: 'wave.add' });
  });

  test('overlap with the pilot or another wave (nested either way), but not a look-alike name', () => {
    const others = [wave('W1', [ou('OU=EMEA,OU=Sales,DC=contoso,DC=com', 35)])];
    const overlapping = checkWave(wave('W2', [ou('OU=Sales,DC=contoso,DC=com', 1243)]), {
      ...context,
      otherWaves: others,
      pilot: { baseDn: 'OU=Deep,OU=EMEA,OU=Sales,DC=contoso,DC=com', users: 5 },
    });
    expect(overlapping.map((w) => w.code)).toEqual(['OVERLAP', 'OVERLAP']);
    expect(
      checkWave(wave('W3', [ou('OU=SalesOps,DC=contoso,DC=com', 40)]), {
        ...context,
        otherWaves: [wave('W2', [ou('OU=Sales,DC=contoso,DC=com', 1243)])],
      }),
    ).toEqual([]);
  });

  test('two OUs of the same wave where one holds the other overlap', () => {
    const warnings = checkWave(
      wave('W1', [
        ou('OU=A,DC=contoso,DC=com', 10),
        ou('OU=B,OU=A,DC=contoso,DC=com', 5),
        ou('OU=C,DC=contoso,DC=com', 1),
      ]),
      context,
    );
    expect(warnings.map((w) => w.code)).toEqual(['OVERLAP']);
    expect(warnings[0]!.message).toContain('of this wave overlap');
  });

  test('uncounted OUs and past dates are called out', () => {
    const warnings = checkWave(
      wave(
        'W1',
        [{ input: 'Marketing', baseDn: null, users: null, error: 'ambiguous: 2 OUs are called Marketing' }],
        '2026-11-01',
      ),
      context,
    );
    expect(warnings.map((w) => w.code)).toEqual(['NOT_COUNTED', 'DATE_IN_PAST']);
    expect(warnings[0]!.message).toContain('Marketing: ambiguous');
  });
});
