import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { parse as parseYaml } from 'yaml';

/**
 * The Azure packaging without Azure: no Bicep compiler can be installed from the registries this
 * project reaches (docs/deploy.md, "Bicep CLI"), so these tests read infra/azure.bicep,
 * its parameters file, the Agents Toolkit project files and the docs, and check what a deployment
 * depends on: names within Azure's limits for any environment name, every parameter fed, the bot
 * registered in the tenant its app lives in, a supported Node stack, and Graph permissions that
 * match the calls the code makes.
 */

const ROOT = join(__dirname, '..', '..');
const read = (path: string): string => readFileSync(join(ROOT, path), 'utf8');
const BICEP = read('infra/azure.bicep');
const PARAMETERS = JSON.parse(read('infra/azure.parameters.json')) as {
  parameters: Record<string, { value: unknown }>;
};

interface BicepParam {
  name: string;
  hasDefault: boolean;
  minLength?: number;
  maxLength?: number;
}

function bicepParams(): BicepParam[] {
  const out: BicepParam[] = [];
  const lines = BICEP.split('\n');
  lines.forEach((line, i) => {
    const m = /^param (\w+) \w+( =)?/.exec(line);
    if (!m) return;
    const param: BicepParam = { name: m[1]!, hasDefault: m[2] !== undefined };
    // Decorators sit on the lines right above.
    for (let j = i - 1; j >= 0 && lines[j]!.startsWith('@'); j--) {
      const min = /^@minLength\((\d+)\)/.exec(lines[j]!);
      const max = /^@maxLength\((\d+)\)/.exec(lines[j]!);
      if (min) param.minLength = Number(min[1]);
      if (max) param.maxLength = Number(max[1]);
    }
    out.push(param);
  });
  return out;
}

function bicepVars(): Map<string, string> {
  const vars = new Map<string, string>();
  for (const m of BICEP.matchAll(/^var (\w+) = (.+)$/gm)) vars.set(m[1]!, m[2]!.trim());
  return vars;
}

/**
 * Evaluates the subset of Bicep expressions that the name variables use: string literals with
 * interpolation, numbers, params, vars and the functions toLower, take, replace, uniqueString and
 * resourceGroup(). uniqueString is a hash of 13 lowercase letters and digits, as Azure's is; its
 * exact value does not matter here, only its length and alphabet.
 */
class BicepNames {
  constructor(
    private readonly params: Record<string, string>,
    private readonly vars: Map<string, string>,
    private readonly resourceGroupId: string,
  ) {}

  value(name: string): string {
    const v = this.evaluate(name);
    if (typeof v !== 'string') throw new Error(`${name} is not a string`);
    return v;
  }

  evaluate(source: string): unknown {
    const parser = { text: source, pos: 0 };
    const value = this.expression(parser);
    skipSpace(parser);
    if (parser.pos !== source.length)
      throw new Error(`Cannot read "${source}" past position ${parser.pos}; extend the test's evaluator.`);
    return value;
  }

  private expression(p: { text: string; pos: number }): unknown {
    skipSpace(p);
    let value: unknown;
    const c = p.text[p.pos]!;
    if (c === "'") value = this.stringLiteral(p);
    else if (/\d/.test(c)) {
      const m = /^\d+/.exec(p.text.slice(p.pos))!;
      p.pos += m[0].length;
      value = Number(m[0]);
    } else {
      const m = /^[A-Za-z_]\w*/.exec(p.text.slice(p.pos));
      if (!m) throw new Error(`Unexpected "${p.text.slice(p.pos)}"`);
      p.pos += m[0].length;
      if (p.text[p.pos] === '(') {
        p.pos++;
        const args: unknown[] = [];
        skipSpace(p);
        while (p.text[p.pos] !== ')') {
          args.push(this.expression(p));
          skipSpace(p);
          if (p.text[p.pos] === ',') p.pos++;
        }
        p.pos++;
        value = this.call(m[0], args);
      } else value = this.identifier(m[0]);
    }
    while (p.text[p.pos] === '.') {
      const m = /^\.(\w+)/.exec(p.text.slice(p.pos))!;
      p.pos += m[0].length;
      value = (value as Record<string, unknown>)[m[1]!];
    }
    return value;
  }

  private stringLiteral(p: { text: string; pos: number }): string {
    p.pos++;
    let out = '';
    while (p.text[p.pos] !== "'") {
      if (p.pos >= p.text.length) throw new Error('Unterminated string');
      if (p.text.startsWith('${', p.pos)) {
        p.pos += 2;
        out += String(this.expression(p));
        skipSpace(p);
        if (p.text[p.pos] !== '}') throw new Error('Unterminated interpolation');
        p.pos++;
      } else out += p.text[p.pos++];
    }
    p.pos++;
    return out;
  }

  private identifier(name: string): unknown {
    if (name in this.params) return this.params[name];
    const source = this.vars.get(name);
    if (source === undefined) throw new Error(`Unknown name ${name}`);
    return this.evaluate(source);
  }

  private call(fn: string, args: unknown[]): unknown {
    switch (fn) {
      case 'toLower':
        return String(args[0]).toLowerCase();
      case 'take':
        return String(args[0]).slice(0, Number(args[1]));
      case 'replace':
        return String(args[0]).split(String(args[1])).join(String(args[2]));
      case 'uniqueString': {
        const digest = createHash('sha256').update(args.map(String).join('|')).digest();
        const alphabet = 'abcdefghijklmnopqrstuvwxyz234567';
        return Array.from(digest.subarray(0, 13), (b) => alphabet[b % 32]).join('');
      }
      case 'resourceGroup':
        return { id: this.resourceGroupId };
      default:
        throw new Error(`The test's evaluator does not know ${fn}(); extend it.`);
    }
  }
}

function skipSpace(p: { text: string; pos: number }): void {
  while (p.text[p.pos] === ' ') p.pos++;
}

/** Azure's naming rules per resource type (learn.microsoft.com, "Naming rules and restrictions for Azure resources"). */
const NAMING_RULES: Record<string, { min: number; max: number; pattern: RegExp }> = {
  'Microsoft.ManagedIdentity/userAssignedIdentities': { min: 3, max: 128, pattern: /^[A-Za-z0-9][A-Za-z0-9_-]*$/ },
  'Microsoft.KeyVault/vaults': { min: 3, max: 24, pattern: /^[A-Za-z](?!.*--)[A-Za-z0-9-]*[A-Za-z0-9]$/ },
  'Microsoft.DBforPostgreSQL/flexibleServers': { min: 3, max: 63, pattern: /^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$/ },
  'Microsoft.Web/serverfarms': { min: 1, max: 60, pattern: /^[A-Za-z0-9-]+$/ },
  'Microsoft.Web/sites': { min: 2, max: 60, pattern: /^[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?$/ },
  'Microsoft.BotService/botServices': { min: 2, max: 64, pattern: /^[A-Za-z0-9][A-Za-z0-9_.-]*$/ },
};

/** Top-level resources (children name themselves after `parent:`) with the expression of their name. */
function namedResources(): { symbol: string; type: string; nameExpr: string }[] {
  return [...BICEP.matchAll(/^resource (\w+) '([^'@]+)@[^']+' = (?:if \(.*\) )?\{\n {2}name: (.+)$/gm)].map((m) => ({
    symbol: m[1]!,
    type: m[2]!,
    nameExpr: m[3]!.trim(),
  }));
}

/** The Bicep block from `start` (a line) to the line that closes it at the same indentation. */
function bicepBlock(start: RegExp): string {
  const m = start.exec(BICEP);
  if (!m) throw new Error(`infra/azure.bicep has no ${start}`);
  const rest = BICEP.slice(m.index);
  const indent = /^ */.exec(rest)![0];
  const end = rest.search(new RegExp(`\\n${indent}[}\\]]`));
  return rest.slice(0, end);
}

/** The value expression of a Web App setting (`NAME: value` in the appsettings variables). */
function appSetting(name: string): string | undefined {
  const m = new RegExp(`^ +${name}: (.+)$`, 'm').exec(BICEP);
  return m?.[1]!.trim();
}

function parameterFor(placeholder: string): string | undefined {
  return Object.entries(PARAMETERS.parameters).find(([, p]) => p.value === `\${{${placeholder}}}`)?.[0];
}

interface ToolkitAction {
  uses: string;
  with?: Record<string, unknown>;
  writeToEnvironmentFile?: Record<string, string>;
}
function toolkitProject(path: string): { provision: ToolkitAction[]; deploy: ToolkitAction[] } {
  return parseYaml(read(path)) as { provision: ToolkitAction[]; deploy: ToolkitAction[] };
}

function envFileKeys(path: string): Set<string> {
  // Keys set in the file, and SECRET_* keys its comments ask for in the matching .user file.
  return new Set([...read(path).matchAll(/^#?\s*([A-Z][A-Z0-9_]*)=/gm)].map((m) => m[1]!));
}

describe('infra/azure.bicep and its parameters', () => {
  const params = bicepParams();

  it('every parameter without a default is passed by azure.parameters.json, and nothing else is', () => {
    const declared = new Set(params.map((p) => p.name));
    const required = params.filter((p) => !p.hasDefault).map((p) => p.name);
    const passed = Object.keys(PARAMETERS.parameters);
    expect(passed.filter((n) => !declared.has(n))).toEqual([]);
    expect(required.filter((n) => !passed.includes(n))).toEqual([]);
  });

  it('every ${{...}} in the parameters file is written by provision before arm/deploy or set in env/.env.dev', () => {
    const project = toolkitProject('teamsapp.yml');
    const deployAt = project.provision.findIndex((a) => a.uses === 'arm/deploy');
    expect(deployAt).toBeGreaterThan(0);
    const written = new Set(
      project.provision.slice(0, deployAt).flatMap((a) => Object.values(a.writeToEnvironmentFile ?? {})),
    );
    const known = new Set([...written, ...envFileKeys('env/.env.dev')]);
    const used = [...JSON.stringify(PARAMETERS).matchAll(/\$\{\{(\w+)\}\}/g)].map((m) => m[1]!);
    expect(used.filter((name) => !known.has(name))).toEqual([]);
  });

  it.each([
    'dev',
    'local',
    'staging',
    'production',
    'prod-westeurope-2',
    'customer_acceptance_testing_for_the_emea_region',
  ])('resource names stay within Azure\'s limits for the environment "%s"', (envName) => {
    const baseValue = String(PARAMETERS.parameters.resourceBaseName!.value).replace('${{TEAMSFX_ENV}}', envName);
    const base = params.find((p) => p.name === 'resourceBaseName')!;
    // The parameter's own decorators must accept what teamsapp.yml builds, or provisioning stops there.
    expect(baseValue.length).toBeGreaterThanOrEqual(base.minLength ?? 0);
    expect(baseValue.length).toBeLessThanOrEqual(base.maxLength ?? Infinity);

    const names = new BicepNames(
      { resourceBaseName: baseValue },
      bicepVars(),
      `/subscriptions/0000/resourceGroups/rg-syncshift-${envName}`,
    );
    const resources = namedResources().filter((r) => r.type !== 'Microsoft.Authorization/roleAssignments');
    expect(resources.map((r) => r.type).sort()).toEqual(Object.keys(NAMING_RULES).sort());
    for (const r of resources) {
      const name = String(names.evaluate(r.nameExpr));
      const rule = NAMING_RULES[r.type]!;
      expect({
        resource: r.symbol,
        name,
        ok: name.length >= rule.min && name.length <= rule.max && rule.pattern.test(name),
      }).toEqual({ resource: r.symbol, name, ok: true });
    }
  });

  it("the Azure Bot and the bot's settings use the tenant the app registration was created in, not the subscription's", () => {
    const tenantParam = parameterFor('BOT_TENANT_ID');
    expect(tenantParam).toBeDefined();
    expect(params.find((p) => p.name === tenantParam)).toMatchObject({ hasDefault: false });
    expect(/msaAppTenantId: (\w+)/.exec(BICEP)?.[1]).toBe(tenantParam);
    expect(appSetting('MICROSOFT_APP_TENANT_ID')).toBe(tenantParam);
    expect(appSetting('MICROSOFT_APP_TYPE')).toBe("'SingleTenant'");
    const aad = toolkitProject('teamsapp.yml').provision.find((a) => a.uses === 'aadApp/create')!;
    expect(aad.with?.signInAudience).toBe('AzureADMyOrg');
    expect(aad.writeToEnvironmentFile?.tenantId).toBe('BOT_TENANT_ID');
  });

  it('the bot connects to PostgreSQL as its own login, which infra/postgres-app-role.sql creates, not as the administrator', () => {
    const databaseUrl = /name: 'database-url'[\s\S]*?value: '(.+)'/.exec(BICEP)![1]!;
    expect(databaseUrl).toContain('${postgresAppLogin}:${uriComponent(postgresAppPassword)}@');
    expect(databaseUrl).not.toMatch(/postgresAdmin/);
    const appLogin = /^param postgresAppLogin string = '(\w+)'$/m.exec(BICEP)![1]!;
    const sql = read('infra/postgres-app-role.sql').replace(/--.*$/gm, '');
    const roles = new Set([...sql.matchAll(/ROLE (\w+)|TO (\w+)|rolname = '(\w+)'/g)].map((m) => m[1] ?? m[2] ?? m[3]));
    expect([...roles]).toEqual([appLogin]);
    expect(sql).not.toMatch(/SUPERUSER|CREATEDB|CREATEROLE|azure_pg_admin|GRANT ALL/);
    expect(sql).toMatch(/REVOKE ALL ON DATABASE syncshift FROM PUBLIC/);
    expect(parameterFor('SECRET_POSTGRES_APP_PASSWORD')).toBe('postgresAppPassword');
  });

  it('turns off FTP and SCM basic-auth publishing', () => {
    for (const endpoint of ['ftp', 'scm']) {
      const policy = bicepBlock(
        new RegExp(
          `^resource \\w+ 'Microsoft\\.Web/sites/basicPublishingCredentialsPolicies@[^']+' = \\{\\n  parent: webApp\\n  name: '${endpoint}'$`,
          'm',
        ),
      );
      expect(policy).toMatch(/allow: false/);
    }
    expect(bicepBlock(/^resource webApp /m)).toMatch(/ftpsState: 'Disabled'/);
  });

  it("sets PUBLIC_URL from the host name Azure gave the site, in settings that replace the portal's", () => {
    expect(appSetting('PUBLIC_URL')).toBe("'https://${webApp.properties.defaultHostName}'");
    expect(bicepBlock(/^resource webApp /m)).not.toMatch(/appSettings/);
    expect(bicepBlock(/^resource webAppSettings 'Microsoft\.Web\/sites\/config@[^']+' = \{$/m)).toMatch(
      /name: 'appsettings'\n {2}properties: union\(baseSettings, graphSettings, agentSettings\)/,
    );
  });

  it('Graph for another tenant is a parameter: an app registration there, its secret a Key Vault reference no provision overwrites', () => {
    expect(parameterFor('GRAPH_CLIENT_ID')).toBe('graphClientId');
    expect(PARAMETERS.parameters.graphTenantId!.value).toBe('${{BOT_TENANT_ID}}');
    const graph = /^var graphSettings = [\s\S]*?\n {4}\}\n {2}: \{[\s\S]*?\n {4}\}\n/m.exec(BICEP)![0];
    expect(graph).toMatch(
      /graphUsesManagedIdentity\n {2}\? \{\n {6}GRAPH_TENANT_ID: tenant\(\)\.tenantId\n {6}GRAPH_CLIENT_ID: identity\.properties\.clientId\n {4}\}/,
    );
    expect(graph).toMatch(
      /GRAPH_TENANT_ID: graphTenantId\n {6}GRAPH_CLIENT_ID: graphClientId\n {6}GRAPH_CLIENT_SECRET: '@Microsoft\.KeyVault\(SecretUri=\$\{keyVault\.properties\.vaultUri\}secrets\/graph-client-secret\)'/,
    );
    // The template never writes that secret, so a provision cannot replace what the officer set.
    expect(BICEP).not.toMatch(/name: 'graph-client-secret'/);
    expect(/^var graphUsesManagedIdentity = graphClientId == '(.+)'$/m.exec(BICEP)![1]).toBe(
      read('env/.env.dev').match(/^GRAPH_CLIENT_ID=(.*)$/m)![1],
    );
  });

  it('static agent secrets are optional: no parameter passed, no secret and no setting unless given', () => {
    expect(params.find((p) => p.name === 'agentSecrets')).toMatchObject({ hasDefault: true });
    expect(PARAMETERS.parameters).not.toHaveProperty('agentSecrets');
    expect(BICEP).toMatch(/^resource agentSecretsSecret '[^']+' = if \(!empty\(agentSecrets\)\) \{$/m);
    expect(BICEP).toMatch(/^var agentSettings = empty\(agentSecrets\)\n {2}\? \{\}/m);
  });

  it('someone can always rotate the secrets: the Key Vault officer is required and always assigned', () => {
    expect(params.find((p) => p.name === 'keyVaultSecretsOfficerPrincipalId')).toMatchObject({ hasDefault: false });
    expect(BICEP).toMatch(/^resource officerManagesSecrets '[^']+' = \{$/m);
  });

  it('every Bicep output lands in the env files under its own name, and none overwrites a setting', () => {
    const outputs = [...BICEP.matchAll(/^output (\w+) /gm)].map((m) => m[1]!);
    for (const env of ['env/.env.dev', 'env/.env.prod']) {
      const text = read(env);
      const written = text.slice(text.indexOf('# Written by provision'));
      const settings = text.slice(0, text.indexOf('# Written by provision'));
      for (const name of outputs) {
        expect({ env, name, listed: written.includes(`\n${name}=`) }).toEqual({ env, name, listed: true });
        expect({ env, name, setting: new RegExp(`^${name}=`, 'm').test(settings) }).toEqual({
          env,
          name,
          setting: false,
        });
      }
    }
  });

  it('runs on a Node LTS stack App Service still offers (22 or later) that package.json supports', () => {
    const stack = /linuxFxVersion: 'NODE\|(\d+)-lts'/.exec(BICEP);
    expect(stack).not.toBeNull();
    const major = Number(stack![1]);
    // Node 20 reached end of life on 2026-04-30; App Service offers no end-of-life stack to new apps.
    expect(major).toBeGreaterThanOrEqual(22);
    const engines = (JSON.parse(read('package.json')) as { engines: { node: string } }).engines.node;
    const range = /^>=(\d+) <(\d+)$/.exec(engines)!;
    expect(major).toBeGreaterThanOrEqual(Number(range[1]));
    expect(major).toBeLessThan(Number(range[2]));
  });

  it('production, package.json, the Node types and the set-up scripts name one Node line, so tests run on what production runs', () => {
    const production = Number(/linuxFxVersion: 'NODE\|(\d+)-lts'/.exec(BICEP)![1]);
    const setUp = Number(/^SYNCSHIFT_NODE_MAJOR=(\d+)$/m.exec(read('scripts/use-node.sh'))![1]);
    const pkg = JSON.parse(read('package.json')) as {
      engines: { node: string };
      devDependencies: Record<string, string>;
    };
    expect(setUp).toBe(production);
    expect(pkg.engines.node).toBe(`>=${production} <${production + 1}`);
    expect(pkg.devDependencies['@types/node']).toMatch(new RegExp(`^\\^${production}\\.`));
    for (const script of ['scripts/test-all.sh', 'scripts/sandbox.sh', 'bench/bench.sh']) {
      expect({ script, usesNode: /^source "\$REPO\/scripts\/use-node\.sh"\nuse_node$/m.test(read(script)) }).toEqual({
        script,
        usesNode: true,
      });
    }
    expect(read('README.md')).toContain(`Node.js ${production}`);
  });

  it('the toolkit downloads a published Bicep CLI of 2025 or later, not the 2022 v0.9.1', () => {
    const arm = toolkitProject('teamsapp.yml').provision.find((a) => a.uses === 'arm/deploy')!;
    const version = /^v0\.(\d+)\.\d+$/.exec(String(arm.with?.bicepCliVersion));
    expect(version).not.toBeNull();
    // v0.39.26 was released in November 2025 (github.com/Azure/bicep/releases/tag/v0.39.26).
    expect(Number(version![1])).toBeGreaterThanOrEqual(39);
  });
});

describe('teamsapp.local.yml', () => {
  it('registers a single-tenant bot (new multi-tenant registrations are refused since 2025-07-31) and tells the bot its tenant', () => {
    const project = toolkitProject('teamsapp.local.yml');
    const aad = project.provision.find((a) => a.uses === 'aadApp/create')!;
    expect(aad.with?.signInAudience).toBe('AzureADMyOrg');
    expect(aad.writeToEnvironmentFile?.tenantId).toBe('BOT_TENANT_ID');
    const envFile = project.deploy.find((a) => a.uses === 'file/createOrUpdateEnvironmentFile')!;
    const envs = envFile.with?.envs as Record<string, unknown>;
    expect(envs.MICROSOFT_APP_TYPE).toBe('SingleTenant');
    expect(envs.MICROSOFT_APP_TENANT_ID).toBe('${{BOT_TENANT_ID}}');
    expect(envFileKeys('env/.env.local').has('BOT_TENANT_ID')).toBe(true);
  });
});

/** Which application permission each Graph path the bot calls needs (domain notes, sections 3 and 4). */
const PERMISSION_FOR_PATH: [RegExp, string][] = [
  [/^\/users(\/delta)?$/, 'User.Read.All'],
  // Least privilege of "List groups" / "group: delta" and "List orgContacts" / "orgContact: delta"
  // (Graph v1.0 API pages): the delta queries need nothing more than the lists.
  [/^\/groups(\/delta)?$/, 'GroupMember.Read.All'],
  [/^\/contacts(\/delta)?$/, 'OrgContact.Read.All'],
  [/^\/auditLogs\/provisioning$/, 'ProvisioningLog.Read.All'],
  [/^\/servicePrincipals\/.*\/synchronization/, 'Synchronization.Read.All'],
];

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((entry) => {
    const path = join(dir, entry);
    return statSync(path).isDirectory() ? sourceFiles(path) : path.endsWith('.ts') ? [path] : [];
  });
}

describe('Microsoft Graph permissions in the deployment steps', () => {
  it("grant exactly what the bot's Graph calls need, in one place", () => {
    // The sandbox's simulator serves paths the bot never calls in production.
    const files = sourceFiles(join(ROOT, 'src')).filter((f) => !relative(ROOT, f).startsWith(join('src', 'sandbox')));
    const paths = new Set(
      files.flatMap((f) => [...readFileSync(f, 'utf8').matchAll(/\.api\('([^']+)'\)/g)].map((m) => m[1]!)),
    );
    expect(paths.size).toBeGreaterThan(0);
    const needed = new Set<string>();
    for (const path of paths) {
      const permission = PERMISSION_FOR_PATH.find(([pattern]) => pattern.test(path))?.[1];
      if (!permission)
        throw new Error(
          `src calls Graph ${path}, which this test has no permission for; add it to PERMISSION_FOR_PATH and to the grant script.`,
        );
      needed.add(permission);
    }

    const withScript = ['README.md', 'docs/deploy.md'].filter((doc) =>
      read(doc).includes('New-MgServicePrincipalAppRoleAssignment'),
    );
    expect(withScript).toHaveLength(1);
    const script = /foreach \(\$name in ([^)]+)\)/.exec(read(withScript[0]!));
    expect(script).not.toBeNull();
    const granted = [...script![1]!.matchAll(/"([^"]+)"/g)].map((m) => m[1]!);
    expect(granted.sort()).toEqual([...needed].sort());
  });
});
