import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseEnv } from 'node:util';
import { loadConfig } from '../../src/config';
import type { CommandReport, Scenario } from '../helpers/agents-toolkit';
import { serviceMissing } from '../helpers/require-service';

/**
 * `atk provision`, `deploy` and `publish` as the Microsoft 365 Agents Toolkit runs them: the
 * toolkit's own library (@microsoft/teamsfx-core, installed on first use by scripts/teamsfx-core.js
 * into .cache/) parses teamsapp*.yml, loads env/.env.<env> and .env.<env>.user, and fills every
 * `${{X}}` just before each action, refusing any X that is empty. test/helpers/agents-toolkit.ts says
 * what runs for real and what stands in for Azure and Microsoft 365.
 *
 * The env files are filled the way docs/deploy.md's "Deploy to Azure" step 3 tells a person to, read
 * from that page itself, so the steps and this test cannot drift apart.
 */

const ROOT = join(__dirname, '..', '..');
const DEPLOY_DOC = readFileSync(join(ROOT, 'docs', 'deploy.md'), 'utf8');
let corePath = '';
const workDirs: string[] = [];

beforeAll(() => {
  const install = spawnSync(process.execPath, [join(ROOT, 'scripts', 'teamsfx-core.js')], {
    encoding: 'utf8',
    timeout: 16 * 60_000,
  });
  if (install.status !== 0) {
    serviceMissing(
      '@microsoft/teamsfx-core (the Agents Toolkit library)',
      'Run `node scripts/teamsfx-core.js` with access to the npm registry; it installs into .cache/teamsfx-core.',
      new Error(install.stderr || install.error?.message || `exit ${install.status}`),
    );
  }
  corePath = install.stdout.trim();
}, 17 * 60_000);

afterAll(() => {
  for (const dir of workDirs) rmSync(dir, { recursive: true, force: true });
});

/** The `KEY=<hint>` lines of the code block that follows `after` in docs/deploy.md's "Deploy to Azure". */
function stepLines(after: string): [string, string][] {
  const start = DEPLOY_DOC.indexOf('\n## Deploy to Azure\n');
  if (start < 0)
    throw new Error('docs/deploy.md has no "## Deploy to Azure" section; update this test with the steps.');
  const end = DEPLOY_DOC.indexOf('\n## ', start + 1);
  const section = DEPLOY_DOC.slice(start, end < 0 ? undefined : end);
  const at = section.indexOf(after);
  if (at < 0)
    throw new Error(`docs/deploy.md's "Deploy to Azure" no longer mentions ${after}; update this test with the steps.`);
  const block = /```\n([\s\S]*?)```/.exec(section.slice(at))![1]!;
  return block
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .map((l) => {
      const m = /^([A-Z][A-Z0-9_]*)=(.*)$/.exec(l);
      if (!m) throw new Error(`Deploy step 3 line "${l}" is not KEY=value`);
      return [m[1]!, m[2]!];
    });
}
const STEP3_SECRETS = stepLines('Create `env/.env.dev.user`');
const STEP3_SETTINGS = stepLines('and fill these in `env/.env.dev`');

let counter = 0;
/** What a person types for each hint in step 3. */
function valueFor(hint: string): string {
  counter++;
  const id = (n: number) => `3f2504e0-4f89-41d3-9a0c-${String(n).padStart(12, '0')}`;
  switch (hint) {
    case '<password>':
      return `Pw${counter}+${'x'.repeat(30)}/=`;
    case '<object id>':
      return id(counter);
    case '<object id>,<object id>':
      return `${id(counter)},${id(counter + 100)}`;
    case '<https URL>':
      return `https://contoso.example/syncshift/${counter}`;
    default:
      throw new Error(
        `Deploy step 3 has the hint ${hint}, which this test does not know how to fill; add it to valueFor().`,
      );
  }
}

function setEnvLine(file: string, key: string, value: string): void {
  const text = readFileSync(file, 'utf8');
  const line = new RegExp(`^${key}=.*$`, 'm');
  if (!line.test(text)) throw new Error(`${file} has no ${key}= line for deploy step 3 to fill`);
  writeFileSync(file, text.replace(line, `${key}=${value}`));
}

/** A copy of the project's toolkit files with the env filled as deploy step 3 says, then `tweak`ed. */
function project(env: string, tweak: (dir: string) => void = () => undefined): string {
  const dir = mkdtempSync(join(tmpdir(), 'syncshift-atk-'));
  workDirs.push(dir);
  for (const path of ['teamsapp.yml', 'teamsapp.local.yml', 'env', 'infra', 'appPackage'])
    cpSync(join(ROOT, path), join(dir, path), { recursive: true });
  if (env !== 'local') {
    writeFileSync(
      join(dir, 'env', `.env.${env}.user`),
      STEP3_SECRETS.map(([k, hint]) => `${k}=${valueFor(hint)}`).join('\n') + '\n',
    );
    for (const [key, hint] of STEP3_SETTINGS) setEnvLine(join(dir, 'env', `.env.${env}`), key, valueFor(hint));
  }
  tweak(dir);
  return dir;
}

function runToolkit(scenarios: Scenario[]): CommandReport[][] {
  const child = spawnSync(
    process.execPath,
    ['--require', 'ts-node/register/transpile-only', join(ROOT, 'test', 'helpers', 'agents-toolkit.ts')],
    {
      cwd: ROOT,
      input: JSON.stringify({ corePath, scenarios }),
      encoding: 'utf8',
      timeout: 5 * 60_000,
      maxBuffer: 64 * 1024 * 1024,
    },
  );
  if (child.status !== 0) throw new Error(`The toolkit runner failed (exit ${child.status}):\n${child.stderr}`);
  return JSON.parse(child.stdout) as CommandReport[][];
}

/** A command that stopped, said the way the toolkit says it. */
function failure(report: CommandReport): string {
  if (report.ok) return 'ok';
  return `${report.command} stopped at ${report.failedAction ?? '(before any action)'}: ${report.unresolvedPlaceholders ? `unresolved ${report.unresolvedPlaceholders.join(',')}` : `${report.error?.name}: ${report.error?.message}`}`;
}

function envFile(dir: string, name: string): Record<string, string> {
  return parseEnv(readFileSync(join(dir, name), 'utf8')) as Record<string, string>;
}

describe('Agents Toolkit on the documented env files', () => {
  const dev = project('dev');
  const prod = project('prod');
  const local = project('local', (dir) => {
    // teamsapp.local.yml step 1 (a tunnel), and env/.env.local's Graph simulator URL.
    setEnvLine(join(dir, 'env', '.env.local'), 'BOT_ENDPOINT', 'https://abc123-3978.euw.devtunnels.ms');
    setEnvLine(join(dir, 'env', '.env.local'), 'BOT_DOMAIN', 'abc123-3978.euw.devtunnels.ms');
    setEnvLine(join(dir, 'env', '.env.local'), 'GRAPH_BASE_URL', 'http://127.0.0.1:5990');
  });
  // Every value deploy step 3 asks for, left empty in turn: the toolkit must refuse each.
  const blanks = STEP3_SETTINGS.map(([key]) => ({
    key,
    dir: project('dev', (dir) => setEnvLine(join(dir, 'env', '.env.dev'), key, '')),
  }));
  const secretBlanks = STEP3_SECRETS.map(([key]) => ({
    key,
    dir: project('dev', (dir) =>
      writeFileSync(
        join(dir, 'env', '.env.dev.user'),
        readFileSync(join(dir, 'env', '.env.dev.user'), 'utf8').replace(new RegExp(`^${key}=.*$`, 'm'), `${key}=`),
      ),
    ),
  }));
  const badLink = project('dev', (dir) =>
    setEnvLine(join(dir, 'env', '.env.dev'), 'DEVELOPER_PRIVACY_URL', 'privacy statement'),
  );
  let results: CommandReport[][] = [];

  beforeAll(() => {
    results = runToolkit([
      { projectPath: dev, env: 'dev', commands: ['provision', 'deploy', 'publish'] },
      { projectPath: prod, env: 'prod', commands: ['provision', 'deploy', 'publish'] },
      { projectPath: local, env: 'local', commands: ['provision', 'deploy'] },
      ...[...blanks, ...secretBlanks].map(({ dir }) => ({
        projectPath: dir,
        env: 'dev',
        commands: ['provision'] as Scenario['commands'],
      })),
      { projectPath: badLink, env: 'dev', commands: ['provision'] },
    ]);
  }, 6 * 60_000);

  it('deploy step 3 asks for exactly the values env/.env.dev and env/.env.prod leave empty for a person', () => {
    for (const env of ['dev', 'prod']) {
      const text = readFileSync(join(ROOT, 'env', `.env.${env}`), 'utf8');
      // Above "# Written by provision": built-ins the toolkit fills, then settings.
      const settings = text.slice(text.indexOf('# Settings'), text.indexOf('# Written by provision'));
      const empty = [...settings.matchAll(/^([A-Z][A-Z0-9_]*)=$/gm)].map((m) => m[1]!);
      expect(empty.sort()).toEqual(STEP3_SETTINGS.map(([k]) => k).sort());
      const secretsAsked = [...text.matchAll(/^#\s+(SECRET_[A-Z0-9_]+)=/gm)].map((m) => m[1]!);
      expect(secretsAsked.sort()).toEqual(STEP3_SECRETS.map(([k]) => k).sort());
    }
  });

  it('dev: provision, deploy and publish run through without an unresolved placeholder', () => {
    expect(results[0]!.map(failure)).toEqual(['ok', 'ok', 'ok']);
    for (const report of results[0]!)
      for (const call of report.calls)
        expect({ uses: call.uses, problems: call.problems }).toEqual({ uses: call.uses, problems: [] });
    const [provision, deploy, publish] = results[0]!;
    // Defaults where the person sets nothing; the Graph client is the managed identity.
    expect(provision!.armParameters).toMatchObject({
      requiredApprovals: '1',
      approvalTtlMinutes: '60',
      graphClientId: 'managed-identity',
      resourceBaseName: 'syncshiftdev',
    });
    expect(provision!.armParameters).not.toHaveProperty('agentSecrets');
    expect(deploy!.calls.find((c) => c.uses === 'azureAppService/zipDeploy')!.with).toMatchObject({
      resourceId: expect.stringMatching(/^\/subscriptions\//),
    });
    expect(publish!.calls.map((c) => c.uses)).toContain('teamsApp/publishAppPackage');
    const written = envFile(dev, 'env/.env.dev');
    expect(written.TEAMS_APP_PUBLISHED_APP_ID).toMatch(/\S/);
    for (const key of [
      'BOT_DOMAIN',
      'SYNCSHIFT_RELAY_URL',
      'MANAGED_IDENTITY_PRINCIPAL_ID',
      'POSTGRES_SERVER_FQDN',
      'GRAPH_READS_TENANT_ID',
      'AZURE_APP_SERVICE_RESOURCE_ID',
    ])
      expect({ key, value: written[key] }).toEqual({ key, value: expect.stringMatching(/\S/) });
  });

  it("the bot's client secret gets the lifetime teamsapp.yml states, not the toolkit's unspoken default", () => {
    expect(results[0]![0]!.clientSecrets).toEqual([{ expireDays: 180, description: expect.stringMatching(/rotate/) }]);
    expect(DEPLOY_DOC).toMatch(/client secret valid for 180 days/);
  });

  it('the manifest and app package are validated before arm/deploy creates anything', () => {
    const order = readFileSync(join(ROOT, 'teamsapp.yml'), 'utf8');
    expect(order.indexOf('teamsApp/validateAppPackage')).toBeLessThan(order.indexOf('uses: arm/deploy'));
    const [provision] = results[results.length - 1]!;
    expect(failure(provision!)).toMatch(/^provision stopped at teamsApp\/validateManifest/);
    expect(provision!.calls.map((c) => c.uses)).not.toContain('arm/deploy (ARM)');
  });

  it('the manifest gets the links from the env file, and nothing is left unfilled', () => {
    const manifest = readFileSync(join(dev, 'appPackage', 'build', 'manifest.dev.json'), 'utf8');
    expect(manifest).not.toMatch(/\$\{\{/);
    const links = JSON.parse(manifest) as { developer: Record<string, string>; name: { short: string } };
    const env = envFile(dev, 'env/.env.dev');
    expect(links.developer).toMatchObject({
      websiteUrl: env.DEVELOPER_WEBSITE_URL,
      privacyUrl: env.DEVELOPER_PRIVACY_URL,
      termsOfUseUrl: env.DEVELOPER_TERMS_OF_USE_URL,
    });
    expect(links.name.short).toBe('SyncShift-dev');
  });

  it('prod: the same steps, and the app is called SyncShift without a suffix', () => {
    expect(results[1]!.map(failure)).toEqual(['ok', 'ok', 'ok']);
    expect(results[1]![0]!.calls.find((c) => c.uses === 'teamsApp/create')!.with).toEqual({ name: 'SyncShift' });
    const manifest = JSON.parse(readFileSync(join(prod, 'appPackage', 'build', 'manifest.prod.json'), 'utf8')) as {
      name: { short: string };
    };
    expect(manifest.name.short).toBe('SyncShift');
    expect(results[1]![0]!.armParameters).toMatchObject({ resourceBaseName: 'syncshiftprod' });
  });

  it('the committed projectId keeps the toolkit from rewriting teamsapp.yml', () => {
    expect(readFileSync(join(dev, 'teamsapp.yml'), 'utf8')).toBe(readFileSync(join(ROOT, 'teamsapp.yml'), 'utf8'));
  });

  it("an empty required value stops provision with the toolkit's own error, naming it", () => {
    const reports = results.slice(3, 3 + blanks.length + secretBlanks.length);
    [...blanks, ...secretBlanks].forEach(({ key }, i) => {
      const [provision] = reports[i]!;
      expect({ key, ok: provision!.ok }).toEqual({ key, ok: false });
      const said = `${provision!.unresolvedPlaceholders?.join(',') ?? ''} ${provision!.error?.message ?? ''}`;
      expect({ key, said }).toEqual({ key, said: expect.stringContaining(key) });
    });
  });

  it(
    'local with the Graph simulator: provision and deploy run, and the bot accepts the file deploy writes',
    () => {
      expect(results[2]!.map(failure)).toEqual(['ok', 'ok']);
      // A line the person added (the simulator's token) survives a second deploy.
      writeFileSync(
        join(local, '.data', 'teams-local.env'),
        readFileSync(join(local, '.data', 'teams-local.env'), 'utf8') + '\nGRAPH_STATIC_TOKEN=sandbox-token\n',
      );
      const [again] = runToolkit([{ projectPath: local, env: 'local', commands: ['deploy'] }]);
      expect(again!.map(failure)).toEqual(['ok']);
      const settings = envFile(local, '.data/teams-local.env');
      expect(settings).toMatchObject({
        GRAPH_BASE_URL: 'http://127.0.0.1:5990',
        GRAPH_STATIC_TOKEN: 'sandbox-token',
        PUBLIC_URL: 'https://abc123-3978.euw.devtunnels.ms',
        MICROSOFT_APP_TYPE: 'SingleTenant',
      });
      const config = loadConfig(settings);
      expect(config.botAuth).toMatchObject({ appType: 'SingleTenant', tenantId: settings.MICROSOFT_APP_TENANT_ID });
      expect(config.graph).toMatchObject({ baseUrl: 'http://127.0.0.1:5990', staticToken: 'sandbox-token' });
    },
    2 * 60_000,
  );
});
