/**
 * Runs `atk provision`, `atk deploy` and `atk publish` the way @microsoft/teamsfx-core does, on a copy
 * of the project, with the toolkit's own code wherever it works offline: its env loader
 * (envUtil.readEnv, with .env.<env>.user), its yml parser with the bundled yml schema, its Lifecycle
 * (which fills each action's `${{X}}` just before the action and stops on any left empty), and these
 * actions for real: teamsApp/validateManifest (bundled manifest schema), teamsApp/zipAppPackage,
 * file/createOrUpdateEnvironmentFile, aadApp/create and arm/deploy up to their network calls
 * (arm/deploy's parameter-file expansion and placeholder check included).
 *
 * Only what needs a tenant or a subscription is replaced, at the narrowest seam:
 * - aadApp/create: the Developer Portal's createAADApp and Graph's generateClientSecret calls;
 * - arm/deploy: the Bicep compile (no Bicep CLI here: docs/deploy.md) and the deployment call, which
 *   answers with every `output` infra/azure.bicep declares, after checking the parameters against
 *   the Bicep's `param` declarations as ARM would (unknown, missing, wrong type, too short, not allowed);
 * - the Developer Portal, Bot Framework, App Service and npm actions: recorded with their resolved
 *   arguments, and the env values they would write made up.
 *
 * A child process (test/integration/agents-toolkit.test.ts starts it): the toolkit keeps its state in
 * process.env and module globals, and loads modules Jest's loader cannot. Input on stdin as JSON
 * ({ corePath, scenarios: [{ projectPath, env, commands }] }), one CommandReport[] per scenario on
 * stdout as JSON. Scenarios share the process (loading the toolkit takes seconds), not env values.
 */
import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

export interface Scenario {
  projectPath: string;
  env: string;
  commands: ('provision' | 'deploy' | 'publish')[];
}
interface Input {
  corePath: string;
  scenarios: Scenario[];
}

export interface ActionCall {
  uses: string;
  name?: string;
  with: unknown;
  /** What the replaced part noticed, e.g. a missing file or a parameter ARM would refuse. */
  problems: string[];
}

export interface CommandReport {
  command: string;
  ok: boolean;
  /** The action the lifecycle stopped at, and why. */
  failedAction?: string;
  unresolvedPlaceholders?: string[] | undefined;
  error?: { name: string; message: string };
  /** Values the command wrote to env/.env.<env> (SECRET_* masked). */
  written: Record<string, string>;
  calls: ActionCall[];
  /** Arguments the real aadApp/create passed to Graph's generateClientSecret. */
  clientSecrets: { expireDays: number; description: string }[];
  /** The parameters arm/deploy sent to ARM, after the toolkit filled the parameters file. */
  armParameters?: Record<string, unknown>;
}

type Result<T> = {
  isOk(): boolean;
  isErr(): boolean;
  value: T;
  error: { name: string; message: string; displayMessage?: string };
};
interface Lifecycle {
  driverDefs: { uses: string }[];
  resolvePlaceholders(): string[];
  execute(ctx: unknown): Promise<{
    result: Result<Map<string, string>> & {
      error: {
        kind: 'PartialSuccess' | 'Failure';
        error?: { name: string; message: string };
        reason?: {
          kind: string;
          failedDriver: { uses: string; name?: string };
          unresolvedPlaceHolders?: string[];
          error?: { name: string; message: string };
        };
      };
    };
  }>;
}
type ProjectModel = Partial<Record<'provision' | 'deploy' | 'publish', Lifecycle>>;
interface Driver {
  execute(
    args: unknown,
    ctx: unknown,
    outputs?: Map<string, string>,
  ): Promise<{ result: unknown; summaries: string[] }>;
}

const CLOUD_ONLY_ACTIONS = [
  'teamsApp/create',
  'teamsApp/validateAppPackage',
  'teamsApp/update',
  'teamsApp/publishAppPackage',
  'botFramework/create',
  'azureAppService/zipDeploy',
  'cli/runNpmCommand',
  'script',
];

/** Bicep `param` declarations with what ARM checks of them. */
interface BicepParam {
  type: string;
  hasDefault: boolean;
  minLength?: number;
  allowed?: string[];
}

function bicepDeclarations(source: string): { params: Map<string, BicepParam>; outputs: string[] } {
  const params = new Map<string, BicepParam>();
  const lines = source.split('\n');
  lines.forEach((line, i) => {
    const m = /^param (\w+) (\w+)( =)?/.exec(line);
    if (!m) return;
    const param: BicepParam = { type: m[2]!, hasDefault: m[3] !== undefined };
    for (let j = i - 1; j >= 0 && (lines[j]!.startsWith('@') || lines[j]!.startsWith('  ') || lines[j] === '])'); j--) {
      const min = /^@minLength\((\d+)\)/.exec(lines[j]!);
      if (min) param.minLength = Number(min[1]);
      if (lines[j]!.startsWith('@allowed([')) {
        param.allowed = lines
          .slice(j + 1, i)
          .filter((l) => /^ {2}'/.test(l))
          .map((l) => l.trim().slice(1, -1));
      }
    }
    params.set(m[1]!, param);
  });
  const outputs = [...source.matchAll(/^output (\w+) /gm)].map((m) => m[1]!);
  return { params, outputs };
}

/** What ARM would refuse in the parameters before creating anything. */
function armParameterProblems(declared: Map<string, BicepParam>, passed: Record<string, { value: unknown }>): string[] {
  const problems: string[] = [];
  for (const [name, { value }] of Object.entries(passed)) {
    const param = declared.get(name);
    if (!param) {
      problems.push(`parameter ${name} is not declared in the template`);
      continue;
    }
    const kind =
      param.type === 'int'
        ? 'number'
        : param.type === 'bool'
          ? 'boolean'
          : param.type === 'string'
            ? 'string'
            : 'object';
    if (typeof value !== kind) problems.push(`parameter ${name} is ${typeof value}, the template wants ${param.type}`);
    if (typeof value === 'string' && param.minLength !== undefined && value.length < param.minLength) {
      problems.push(`parameter ${name} is ${value.length} characters, the template wants at least ${param.minLength}`);
    }
    if (param.allowed && !param.allowed.includes(String(value)))
      problems.push(`parameter ${name} is "${String(value)}", allowed: ${param.allowed.join(', ')}`);
  }
  for (const [name, param] of declared) {
    if (!param.hasDefault && !(name in passed)) problems.push(`parameter ${name} has no default and is not passed`);
  }
  return problems;
}

function fakeValue(key: string): string {
  if (/secret|password/i.test(key)) return `fake-${randomUUID()}`;
  return randomUUID();
}

async function main(): Promise<void> {
  const input = JSON.parse(readFileSync(0, 'utf8')) as Input;
  // Modules resolved from the toolkit's folder: the lifecycle looks actions up in its own copy of typedi.
  const load = createRequire(join(input.corePath, 'package.json'));
  const build = (path: string): Record<string, unknown> => load(`./build/${path}`) as Record<string, unknown>;
  const { Container } = load('typedi') as { Container: { get(name: string): Driver; has(name: string): boolean } };
  build('component/driver/index');
  const { envUtil } = build('component/utils/envUtil') as {
    envUtil: {
      readEnv(p: string, e: string): Promise<Result<Record<string, string>>>;
      writeEnv(p: string, e: string, v: Record<string, string>): Promise<Result<unknown>>;
    };
  };
  const { pathUtils } = build('component/utils/pathUtils') as {
    pathUtils: { getYmlFilePath(p: string, e: string): string };
  };
  const { yamlParser } = build('component/configManager/parser') as {
    yamlParser: { parse(path: string, validateSchema: boolean): Promise<Result<ProjectModel>> };
  };
  const { ArmDeployImpl } = build('component/driver/arm/deployImpl') as {
    ArmDeployImpl: { prototype: Record<string, unknown> };
  };
  const { AadAppClient } = build('client/aadAppClient') as { AadAppClient: { prototype: Record<string, unknown> } };
  const { TeamsDevPortalClient } = build('client/teamsDevPortalClient') as {
    TeamsDevPortalClient: { prototype: Record<string, unknown> };
  };
  const { ok } = load('@microsoft/teamsfx-api') as { ok<T>(v: T): unknown };

  let report: CommandReport;
  const tenantId = randomUUID();

  // aadApp/create runs for real up to its two HTTP calls.
  TeamsDevPortalClient.prototype.createAADApp = async (_token: string, displayName: string) => ({
    appId: randomUUID(),
    id: randomUUID(),
    displayName,
  });
  AadAppClient.prototype.createAadApp = async (displayName: string) => ({
    appId: randomUUID(),
    id: randomUUID(),
    displayName,
  });
  AadAppClient.prototype.generateClientSecret = async (_objectId: string, expireDays: number, description: string) => {
    report.clientSecrets.push({ expireDays, description });
    return `fake-${randomUUID()}`;
  };

  // arm/deploy runs for real except compiling the Bicep and calling ARM.
  let scenario: Scenario;
  let bicep = { params: new Map<string, BicepParam>(), outputs: [] as string[] };
  ArmDeployImpl.prototype.ensureBicepCli = async () => 'bicep';
  ArmDeployImpl.prototype.compileBicepToJson = async () => ({ $schema: 'template', parameters: {}, resources: [] });
  ArmDeployImpl.prototype.innerExecuteDeployment = async (
    _template: unknown,
    deployment: { properties: { parameters: Record<string, { value: unknown }> | null } },
  ) => {
    const parameters = deployment.properties.parameters ?? {};
    report.armParameters = Object.fromEntries(Object.entries(parameters).map(([k, v]) => [k, v.value]));
    const problems = armParameterProblems(bicep.params, parameters);
    report.calls.push({ uses: 'arm/deploy (ARM)', with: report.armParameters, problems });
    if (problems.length > 0)
      throw Object.assign(new Error(`ARM would refuse the parameters: ${problems.join('; ')}`), {
        name: 'InvalidTemplateDeployment',
      });
    const outputs: Record<string, { type: string; value: string }> = {};
    for (const name of bicep.outputs)
      outputs[name] = {
        type: 'String',
        value: name.endsWith('_RESOURCE_ID')
          ? `/subscriptions/${process.env.AZURE_SUBSCRIPTION_ID}/resourceGroups/${process.env.AZURE_RESOURCE_GROUP_NAME}/providers/Microsoft.Web/sites/syncshift`
          : `fake-${name.toLowerCase()}`,
      };
    return ok(outputs);
  };

  for (const name of CLOUD_ONLY_ACTIONS) {
    const driver = Container.get(name);
    driver.execute = async (args, _ctx, outputNames) => {
      const problems: string[] = [];
      const packagePath = (args as { appPackagePath?: string }).appPackagePath;
      if (packagePath && !existsSync(join(scenario.projectPath, packagePath)))
        problems.push(`${packagePath} does not exist`);
      if (
        name === 'azureAppService/zipDeploy' &&
        !/^\/subscriptions\/[^/]+\/resourceGroups\/[^/]+\/providers\/Microsoft\.Web\/sites\/[^/]+$/.test(
          String((args as { resourceId?: string }).resourceId),
        )
      ) {
        problems.push(
          `resourceId "${String((args as { resourceId?: string }).resourceId)}" is not a Web App's resource id`,
        );
      }
      report.calls.push({ uses: name, with: args, problems });
      const written = new Map<string, string>();
      for (const envName of outputNames?.values() ?? [])
        written.set(envName, process.env[envName] || fakeValue(envName));
      return { result: ok(written), summaries: [] };
    };
  }

  const silent = () => undefined;
  const logProvider = {
    info: silent,
    warning: silent,
    error: silent,
    debug: silent,
    verbose: silent,
    log: silent,
    trace: silent,
  };
  const ctx = {
    projectPath: '',
    platform: 'cli',
    logProvider,
    ui: undefined,
    progressBar: undefined,
    m365TokenProvider: {
      getAccessToken: async () => ok('fake-token'),
      getJsonObject: async () => ok({ tid: tenantId, unique_name: 'admin@contoso.example' }),
    },
    azureAccountProvider: {
      getIdentityCredentialAsync: async () => ({
        getToken: async () => ({ token: 'fake', expiresOnTimestamp: Date.now() + 3_600_000 }),
      }),
      setSubscription: async () => undefined,
    },
  };

  // The toolkit's global tools (FxCore sets them at start): logger, UI, token providers, no telemetry.
  const { setTools } = build('common/globalVars') as { setTools(tools: unknown): void };
  setTools({
    logProvider,
    ui: undefined,
    tokenProvider: { m365TokenProvider: ctx.m365TokenProvider, azureAccountProvider: ctx.azureAccountProvider },
  });

  const all: CommandReport[][] = [];
  for (scenario of input.scenarios) {
    const bicepPath = join(scenario.projectPath, 'infra', 'azure.bicep');
    bicep = existsSync(bicepPath)
      ? bicepDeclarations(readFileSync(bicepPath, 'utf8'))
      : { params: new Map(), outputs: [] };
    ctx.projectPath = scenario.projectPath;
    const reports: CommandReport[] = [];
    all.push(reports);
    for (const command of scenario.commands) {
      report = { command, ok: false, written: {}, calls: [], clientSecrets: [] };
      reports.push(report);
      // Each command is a fresh `atk` run: env files read anew, process.env as before (EnvLoaderMW).
      const before = { ...process.env };
      try {
        const env = await envUtil.readEnv(scenario.projectPath, scenario.env);
        if (env.isErr()) throw env.error;
        const written: Record<string, string> = {};
        // coordinator.provision: the suffix defaults to the env name only when the file lacks the key.
        if (command === 'provision' && process.env.APP_NAME_SUFFIX === undefined)
          written.APP_NAME_SUFFIX = process.env.APP_NAME_SUFFIX = scenario.env;
        const model = await yamlParser.parse(pathUtils.getYmlFilePath(scenario.projectPath, scenario.env), true);
        if (model.isErr()) throw model.error;
        const cycle = model.value[command];
        if (!cycle)
          throw Object.assign(new Error(`The yml has no ${command} stage`), { name: 'LifeCycleUndefinedError' });
        if (command === 'provision' && cycle.driverDefs.some((d) => d.uses === 'arm/deploy')) {
          // What the toolkit asks for when these are empty: a subscription and a resource group.
          const unresolved = cycle.resolvePlaceholders();
          if (unresolved.includes('AZURE_SUBSCRIPTION_ID'))
            written.AZURE_SUBSCRIPTION_ID = process.env.AZURE_SUBSCRIPTION_ID = randomUUID();
          if (unresolved.includes('AZURE_RESOURCE_GROUP_NAME'))
            written.AZURE_RESOURCE_GROUP_NAME = process.env.AZURE_RESOURCE_GROUP_NAME = `rg-syncshift-${scenario.env}`;
        }
        const { result } = await cycle.execute(ctx);
        if (result.isOk()) {
          for (const [k, v] of result.value) written[k] = v;
          report.ok = true;
        } else if (result.error.kind === 'PartialSuccess') {
          const reason = result.error.reason!;
          report.failedAction = reason.failedDriver.name
            ? `${reason.failedDriver.uses} (${reason.failedDriver.name})`
            : reason.failedDriver.uses;
          if (reason.kind === 'UnresolvedPlaceholders') report.unresolvedPlaceholders = reason.unresolvedPlaceHolders;
          else
            report.error = {
              name: reason.error!.name,
              message: (reason.error as { displayMessage?: string }).displayMessage ?? reason.error!.message,
            };
        } else {
          report.error = { name: result.error.error!.name, message: result.error.error!.message };
        }
        const res = await envUtil.writeEnv(scenario.projectPath, scenario.env, written);
        if (res.isErr()) throw res.error;
        report.written = Object.fromEntries(
          Object.entries(written).map(([k, v]) => [k, k.startsWith('SECRET_') ? '***' : v]),
        );
      } catch (error) {
        const e = error as { name?: string; message?: string; displayMessage?: string };
        report.error = { name: e.name ?? 'Error', message: e.displayMessage ?? e.message ?? String(error) };
      } finally {
        for (const key of Object.keys(process.env)) if (!(key in before)) delete process.env[key];
        Object.assign(process.env, before);
      }
      if (!report.ok) break;
    }
  }
  process.stdout.write(JSON.stringify(all));
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
