/**
 * Seeds the test Samba DC with the objects described in src/sandbox/forest-spec.ts.
 *
 *   npx ts-node --transpile-only scripts/seed-ad.ts
 *
 * Connection settings come from $SEED_ENV_FILE (scripts/samba-up.sh sets it) or $SYNCSHIFT_SAMBA_DIR/env.json (see src/sandbox/samba-location.ts).
 * Idempotent: a finished seed leaves a marker object and re-runs stop there; an interrupted seed is
 * resumed, objects that already exist are skipped.
 */
import { sambaEnvFile } from '../src/sandbox/samba-location';
import { readFileSync } from 'node:fs';
import { AlreadyExistsError, Attribute, Client, NoSuchObjectError } from 'ldapts';
import {
  computedExpected,
  EXPECTED,
  OU_CREATE_ORDER,
  SEED_COMPUTERS,
  SEED_CONTACTS,
  SEED_GROUPS,
  SEED_INETORGPERSONS,
  SEED_MARKER_DN,
  SEED_USERS,
  SEED_VERSION,
  OU,
  userDn,
} from '../src/sandbox/forest-spec';
import { escapeDnValue, parseDn } from '../src/runbook/dn';

// Samba serialises writes, so more in flight barely helps; a few hide the round-trip latency.
const CONCURRENCY = 4;
const UAC_NORMAL = 512;
const UAC_DISABLED = 514;
const UAC_WORKSTATION = 4096;

interface SeedEnv {
  url: string;
  bindDn: string;
  password: string;
  caPath: string;
}

function loadEnv(): SeedEnv {
  const file = process.env.SEED_ENV_FILE ?? sambaEnvFile();
  let raw: string;
  try {
    raw = readFileSync(file, 'utf8');
  } catch {
    throw new Error(`cannot read ${file}: start the test DC with bash scripts/samba-up.sh (it runs this seed itself)`);
  }
  const env = JSON.parse(raw) as Partial<SeedEnv>;
  for (const key of ['url', 'bindDn', 'password', 'caPath'] as const) {
    if (typeof env[key] !== 'string' || env[key] === '')
      throw new Error(`${file} has no "${key}"; re-run bash scripts/samba-up.sh`);
  }
  return env as SeedEnv;
}

function checkSpec(): void {
  const computed = computedExpected();
  for (const key of Object.keys(EXPECTED) as (keyof typeof EXPECTED)[]) {
    const want = EXPECTED[key];
    const got = computed[key];
    if (want.users !== got.users || want.disabled !== got.disabled) {
      throw new Error(
        `forest-spec EXPECTED.${key} says ${want.users} users/${want.disabled} disabled but the spec generates ` +
          `${got.users}/${got.disabled}; fix EXPECTED in src/sandbox/forest-spec.ts`,
      );
    }
  }
  for (const u of [...SEED_USERS, ...SEED_INETORGPERSONS]) {
    if (!parseDn(userDn(u)).ok)
      throw new Error(`spec user "${u.cn}" does not form a valid DN; fix src/sandbox/forest-spec.ts`);
  }
}

async function markerState(client: Client): Promise<'complete' | 'outdated' | 'absent'> {
  try {
    const { searchEntries } = await client.search(SEED_MARKER_DN, { scope: 'base', attributes: ['description'] });
    const description = String(searchEntries[0]?.description ?? '');
    return description === `complete; version ${SEED_VERSION}` ? 'complete' : 'outdated';
  } catch (err) {
    if (err instanceof NoSuchObjectError) return 'absent';
    throw err;
  }
}

type Job = { dn: string; attributes: Attribute[] };

function attr(type: string, ...values: string[] | Buffer[]): Attribute {
  return new Attribute({ type, values });
}

function jobs(): { ous: Job[]; rest: Job[] } {
  const ous = OU_CREATE_ORDER.map((dn) => {
    const first = parseDn(dn);
    if (!first.ok) throw new Error(`spec OU ${dn} is not a valid DN: ${first.reason}`);
    return { dn, attributes: [attr('objectClass', 'top', 'organizationalUnit'), attr('ou', first.rdns[0]![0]!.value)] };
  });
  const rest: Job[] = [];
  for (const u of [...SEED_USERS, ...SEED_INETORGPERSONS]) {
    const inetOrgPerson = SEED_INETORGPERSONS.includes(u);
    const attributes = [
      attr('objectClass', 'top', 'person', 'organizationalPerson', 'user', ...(inetOrgPerson ? ['inetOrgPerson'] : [])),
      attr('sAMAccountName', u.samAccountName),
      attr('userPrincipalName', u.userPrincipalName),
      attr('displayName', u.cn),
      // Samba (unlike Windows AD) accepts an enabled account without a password, which saves the
      // expensive password hashing on 1,300 adds.
      attr('userAccountControl', String(u.disabled ? UAC_DISABLED : UAC_NORMAL)),
    ];
    if (u.consistencyGuid) attributes.push(attr('mS-DS-ConsistencyGuid', u.consistencyGuid));
    rest.push({ dn: userDn(u), attributes });
  }
  for (const c of SEED_COMPUTERS) {
    rest.push({
      dn: `CN=${escapeDnValue(c.cn)},${OU.sales}`,
      attributes: [
        attr('objectClass', 'top', 'person', 'organizationalPerson', 'user', 'computer'),
        attr('sAMAccountName', c.samAccountName),
        attr('userAccountControl', String(UAC_WORKSTATION)),
      ],
    });
  }
  for (const c of SEED_CONTACTS) {
    rest.push({
      dn: `CN=${escapeDnValue(c.cn)},${OU.sales}`,
      attributes: [
        attr('objectClass', 'top', 'person', 'organizationalPerson', 'contact'),
        attr('displayName', c.cn),
        // mail and an SMTP: proxyAddress: mail-enabled, as Connect Sync's contact rule wants.
        ...(c.mail ? [attr('mail', c.mail), attr('proxyAddresses', `SMTP:${c.mail}`)] : []),
      ],
    });
  }
  return { ous, rest };
}

function groupJobs(): Job[] {
  const salesUsers = SEED_USERS.filter((u) => u.ou === OU.sales);
  return SEED_GROUPS.map((g) => {
    const attributes = [
      attr('objectClass', 'top', 'group'),
      attr('sAMAccountName', g.samAccountName),
      attr('groupType', String(g.groupType)),
    ];
    if (g.members > 0) attributes.push(attr('member', ...salesUsers.slice(0, g.members).map(userDn)));
    if (g.mail) attributes.push(attr('mail', g.mail), attr('proxyAddresses', `SMTP:${g.mail}`));
    if (g.consistencyGuid) attributes.push(attr('mS-DS-ConsistencyGuid', g.consistencyGuid));
    return { dn: `CN=${escapeDnValue(g.cn)},${OU.sales}`, attributes };
  });
}

async function addAll(client: Client, list: Job[], label: string, concurrency: number): Promise<void> {
  let next = 0;
  let added = 0;
  let skipped = 0;
  const started = Date.now();
  const report = () => {
    const secs = (Date.now() - started) / 1000;
    console.log(`[seed] ${label}: ${added + skipped}/${list.length} (${skipped} already there) in ${secs.toFixed(1)}s`);
  };
  const worker = async () => {
    while (next < list.length) {
      const job = list[next++]!;
      try {
        await client.add(job.dn, job.attributes);
        added++;
      } catch (err) {
        if (!(err instanceof AlreadyExistsError)) {
          throw new Error(`adding ${job.dn} failed: ${err instanceof Error ? err.message : String(err)}`, {
            cause: err,
          });
        }
        skipped++;
      }
      if ((added + skipped) % 250 === 0) report();
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, list.length) }, worker));
  report();
}

async function main(): Promise<void> {
  checkSpec();
  const env = loadEnv();
  const client = new Client({
    url: env.url,
    connectTimeout: 10_000,
    timeout: 60_000,
    tlsOptions: { ca: readFileSync(env.caPath) },
  });
  const started = Date.now();
  try {
    await client.bind(env.bindDn, env.password);
    const state = await markerState(client);
    if (state === 'complete') {
      console.log(`[seed] already seeded (version ${SEED_VERSION}); nothing to do`);
      return;
    }
    if (state === 'outdated') {
      throw new Error(
        `the directory holds a different seed version than ${SEED_VERSION}; recreate it: bash scripts/samba-down.sh --purge && bash scripts/samba-up.sh`,
      );
    }
    const { ous, rest } = jobs();
    // Parents must exist before children, so OUs go one at a time.
    await addAll(client, ous, 'OUs', 1);
    await addAll(client, rest, 'users, computers, contacts', CONCURRENCY);
    await addAll(client, groupJobs(), 'groups', 1);
    await client.add(SEED_MARKER_DN, [
      attr('objectClass', 'top', 'container'),
      attr('description', `complete; version ${SEED_VERSION}`),
    ]);
    console.log(
      `[seed] done in ${((Date.now() - started) / 1000).toFixed(1)}s: ${SEED_USERS.length} users, ` +
        `${SEED_INETORGPERSONS.length} inetOrgPersons, ${SEED_COMPUTERS.length} computers, ` +
        `${SEED_CONTACTS.length} contacts, ${SEED_GROUPS.length} groups, ${ous.length} OUs`,
    );
  } finally {
    await client.unbind().catch(() => undefined);
  }
}

main().catch((err: unknown) => {
  console.error(`[seed] ERROR: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
