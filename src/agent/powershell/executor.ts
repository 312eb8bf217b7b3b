import { spawn } from 'node:child_process';
import { z, type ZodType, type ZodTypeDef } from 'zod';
import { AdsyncError, type AdsyncErrorCode } from '../../runbook/sync-rules';
import type { FixedScript } from './scripts';

export { AdsyncError, type AdsyncErrorCode } from '../../runbook/sync-rules';

export const PARAMS_ENV_VAR = 'SYNCSHIFT_PARAMS';

/**
 * `-Command -` is the documented way for Windows PowerShell 5.1 to take a script on stdin. It
 * reads stdin like a console prompt, which is why every fixed script is one `& { }` statement
 * followed by an empty line (see scripts.ts). `-File -` was rejected: in 5.1 it behaves the same
 * way and additionally echoes a prompt before each statement. `-EncodedCommand` would avoid stdin
 * but is what EDR products flag as malware tradecraft, which is a poor look on a Tier 0 server.
 */
export const POWERSHELL_ARGS: readonly string[] = Object.freeze([
  '-NoProfile',
  '-NonInteractive',
  '-ExecutionPolicy',
  'Bypass',
  '-Command',
  '-',
]);

const DEFAULT_TIMEOUT_MS = 120_000;
// Windows caps one environment variable at 32,767 characters.
const MAX_PARAMS_CHARS = 30_000;
const MAX_STDOUT_BYTES = 16 * 1024 * 1024;
const MAX_STDERR_CHARS = 64 * 1024;
const EXCERPT_CHARS = 500;

// Inherited variables the child must not see: the agent's own credentials and anything that
// looks like a secret. PowerShell only needs the ordinary system variables.
const SECRET_ENV_NAME =
  /SECRET|PASSWORD|PASSWD|TOKEN|CREDENTIAL|API_?KEY|PRIVATE_?KEY|CONNECTION_?STRING|^SYNCSHIFT_|^PG|^DATABASE_URL$/i;

export interface RunPowerShellOptions<T> {
  script: FixedScript;
  /** Sent as JSON data in SYNCSHIFT_PARAMS; never becomes part of the script text. */
  params: Record<string, unknown>;
  resultSchema: ZodType<T, ZodTypeDef, unknown>;
  timeoutMs?: number;
  /** Defaults to `powershell` from PATH (powershell.exe on Windows). */
  executable?: string;
  /** Added to the inherited environment after secrets are removed from it. */
  env?: Record<string, string | undefined>;
}

const scriptEnvelope = z.union([
  z.object({ ok: z.literal(true), result: z.unknown() }),
  z.object({
    ok: z.literal(false),
    error: z.object({
      message: z.string(),
      type: z.string().nullish(),
      cmdlet: z.string().nullish(),
      code: z.string().nullish(),
    }),
  }),
]);
type ScriptEnvelope = z.infer<typeof scriptEnvelope>;

export async function runPowerShellScript<T>(options: RunPowerShellOptions<T>): Promise<T> {
  const { script } = options;
  const paramsJson = JSON.stringify(options.params);
  if (paramsJson.length > MAX_PARAMS_CHARS) {
    // A programming error, not an operator one: no caller should send this much.
    throw new Error(
      `Parameters for ${script.id} are ${paramsJson.length} characters; the limit is ${MAX_PARAMS_CHARS}.`,
    );
  }
  const executable = options.executable ?? 'powershell';
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const inherited = scrubEnv(process.env);
  const env: Record<string, string> = { ...inherited.env };
  for (const [k, v] of Object.entries(options.env ?? {})) if (v !== undefined) env[k] = v;
  env[PARAMS_ENV_VAR] = paramsJson;
  const redact = (text: string): string => redactSecrets(text, inherited.secrets);

  const run = await new Promise<{ stdout: string; stderr: string; exitCode: number | null }>((resolve, reject) => {
    let settled = false;
    const settle = (fn: () => void): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      fn();
    };
    const child = spawn(executable, [...POWERSHELL_ARGS], { env, stdio: ['pipe', 'pipe', 'pipe'], windowsHide: true });
    const stdoutChunks: Buffer[] = [];
    let stdoutBytes = 0;
    let stderr = '';

    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      settle(() =>
        reject(
          new AdsyncError(
            'ADSYNC.TIMEOUT',
            `PowerShell script ${script.id} did not finish within ${Math.round(timeoutMs / 1000)} s and was stopped.`,
            {
              hint: 'Check the Connect Sync server (Synchronization Service Manager, ADSync service) and try again; an operation may have completed partly, so check its state first.',
              details: { scriptId: script.id, timeoutMs },
            },
          ),
        ),
      );
    }, timeoutMs);

    child.on('error', (err: NodeJS.ErrnoException) => {
      settle(() =>
        reject(
          new AdsyncError(
            'ADSYNC.NOT_AVAILABLE',
            `Could not start PowerShell (${executable}): ${err.code ?? err.message}.`,
            {
              hint: 'Run the agent on the Connect Sync server, where Windows PowerShell 5.1 and the ADSync module are installed, or set the PowerShell executable path.',
              details: { scriptId: script.id, executable },
              cause: err,
            },
          ),
        ),
      );
    });
    child.stdout.on('data', (chunk: Buffer) => {
      stdoutBytes += chunk.length;
      if (stdoutBytes > MAX_STDOUT_BYTES) {
        child.kill('SIGKILL');
        settle(() =>
          reject(
            new AdsyncError(
              'ADSYNC.BAD_OUTPUT',
              `PowerShell script ${script.id} wrote more than ${MAX_STDOUT_BYTES} bytes; the output was discarded.`,
              { details: { scriptId: script.id } },
            ),
          ),
        );
        return;
      }
      stdoutChunks.push(chunk);
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString('utf8')).slice(-MAX_STDERR_CHARS);
    });
    // The child may exit before reading everything (e.g. when it cannot start properly); that
    // surfaces as a missing result line, not as an EPIPE crash.
    child.stdin.on('error', () => undefined);
    child.stdin.end(script.text, 'utf8');
    child.on('close', (exitCode) => {
      settle(() => resolve({ stdout: Buffer.concat(stdoutChunks).toString('utf8'), stderr, exitCode }));
    });
  });

  const envelope = lastEnvelope(run.stdout);
  if (!envelope) {
    throw new AdsyncError(
      'ADSYNC.BAD_OUTPUT',
      `PowerShell script ${script.id} ended (exit code ${run.exitCode ?? 'none'}) without writing a result line.`,
      {
        hint: 'Run the agent with LOG_LEVEL=debug on the Connect Sync server to see the PowerShell output; the ADSync module or PowerShell itself may have failed to load.',
        details: {
          scriptId: script.id,
          exitCode: run.exitCode,
          stderr: excerpt(redact(run.stderr)),
          stdout: excerpt(redact(run.stdout)),
        },
      },
    );
  }
  if (!envelope.ok) throw scriptFailure(script, envelope.error, redact);
  const parsed = options.resultSchema.safeParse(envelope.result);
  if (!parsed.success) {
    // Paths and messages only: the values may be large or hold directory data.
    const issues = parsed.error.issues.slice(0, 5).map((i) => `${i.path.join('.') || '(result)'}: ${i.message}`);
    throw new AdsyncError(
      'ADSYNC.BAD_OUTPUT',
      `PowerShell script ${script.id} returned a result of an unexpected shape (${issues.join('; ')}).`,
      {
        hint: 'This ADSync version may report fields differently; send the agent log to the SyncShift maintainers.',
        details: { scriptId: script.id, issues },
      },
    );
  }
  return parsed.data;
}

/** The last line that is a result envelope; warnings and banners before it are ignored. */
function lastEnvelope(stdout: string): ScriptEnvelope | undefined {
  const lines = stdout.split(/\r?\n/);
  for (let i = lines.length - 1; i >= 0; i--) {
    const line = lines[i]!.trim();
    if (!line.startsWith('{')) continue;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      continue;
    }
    const parsed = scriptEnvelope.safeParse(value);
    if (parsed.success) return parsed.data;
  }
  return undefined;
}

const SCRIPT_CODE_MAP: Record<string, { code: AdsyncErrorCode; hint: string }> = {
  NOT_AVAILABLE: {
    code: 'ADSYNC.NOT_AVAILABLE',
    hint: 'Run the agent on the Connect Sync server under an account in the ADSyncAdmins group, and check that the ADSync service is installed and running.',
  },
  SYNC_IN_PROGRESS: {
    code: 'ADSYNC.SYNC_IN_PROGRESS',
    hint: 'Wait for the running sync cycle to finish (Synchronization Service Manager shows it), then try again.',
  },
  RULE_CONFLICT: {
    code: 'ADSYNC.RULE_CONFLICT',
    hint: 'The sync rules changed since the plan was made; list the rules and plan again.',
  },
  STAGING_SERVER: {
    code: 'ADSYNC.STAGING_SERVER',
    hint: "Check /server: the migration's Connect Sync server must be the active one (Get-ADSyncScheduler shows StagingModeEnabled False there). A staging server needs the same rules, made by hand, or decommissioning.",
  },
};

function scriptFailure(
  script: FixedScript,
  error: Extract<ScriptEnvelope, { ok: false }>['error'],
  redact: (t: string) => string,
): AdsyncError {
  const mapped = error.code ? SCRIPT_CODE_MAP[error.code] : undefined;
  const message = redact(error.message).slice(0, 2000);
  const details = {
    scriptId: script.id,
    ...(error.cmdlet ? { cmdlet: error.cmdlet } : {}),
    ...(error.type ? { type: error.type } : {}),
    ...(error.code ? { scriptCode: error.code } : {}),
  };
  if (mapped) return new AdsyncError(mapped.code, message, { hint: mapped.hint, details });
  const who = error.cmdlet ? `${error.cmdlet} failed` : `PowerShell script ${script.id} failed`;
  return new AdsyncError('ADSYNC.CMDLET_FAILED', `${who}: ${message}`, {
    hint:
      error.code === 'NOT_FOUND' || error.code === 'REFUSED' || error.code === 'INVALID_PARAMS'
        ? 'Check the values sent to the agent; nothing was changed.'
        : 'Check the message above on the Connect Sync server (event log, Synchronization Service Manager); the step can be retried once the cause is fixed.',
    details,
  });
}

function scrubEnv(source: NodeJS.ProcessEnv): { env: Record<string, string>; secrets: string[] } {
  const env: Record<string, string> = {};
  const secrets: string[] = [];
  for (const [k, v] of Object.entries(source)) {
    if (v === undefined) continue;
    if (SECRET_ENV_NAME.test(k)) {
      // Short values would redact ordinary words; real secrets are longer.
      if (v.length >= 8) secrets.push(v);
      continue;
    }
    env[k] = v;
  }
  return { env, secrets };
}

function redactSecrets(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const s of secrets) if (out.includes(s)) out = out.split(s).join('[redacted]');
  return out;
}

function excerpt(text: string): string {
  const t = text.trim();
  return t.length <= EXCERPT_CHARS
    ? t
    : `${t.slice(0, EXCERPT_CHARS)}... (${t.length - EXCERPT_CHARS} more characters)`;
}
