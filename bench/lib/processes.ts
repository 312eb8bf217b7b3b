import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** The compiled product (bench/tsconfig.json builds src into here), so RSS is measured without ts-node. */
export const BUILD_DIR = join(__dirname, '..', '..');

export interface NodeProcess {
  child: ChildProcess;
  pid: number;
  log(): string;
  /** Peak resident set size so far (VmHWM), in bytes. */
  peakRss(): number;
  /** Current resident set size (VmRSS), in bytes. */
  rss(): number;
  stop(): Promise<void>;
}

export function spawnNode(script: string, args: string[], env: Record<string, string>): NodeProcess {
  let log = '';
  const child = spawn(process.execPath, [join(BUILD_DIR, script), ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const keep = (d: Buffer): void => {
    // Only the tail matters for failure messages; a long run must not grow this process's memory.
    log = (log + d.toString()).slice(-200_000);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const pid = child.pid;
  if (pid === undefined) throw new Error(`Could not start ${script}: no pid.`);
  return {
    child,
    pid,
    log: () => log,
    peakRss: () => procStatusBytes(pid, 'VmHWM'),
    rss: () => procStatusBytes(pid, 'VmRSS'),
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

function procStatusBytes(pid: number, field: 'VmHWM' | 'VmRSS'): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status);
  if (!match) throw new Error(`/proc/${pid}/status has no ${field}; the benchmark needs Linux procfs.`);
  return Number(match[1]) * 1024;
}

/** Resolves with the first match of `pattern` in the process's output. */
export async function waitForOutput(proc: NodeProcess, pattern: RegExp, timeoutMs: number): Promise<RegExpExecArray> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const match = pattern.exec(proc.log());
    if (match) return match;
    if (proc.child.exitCode !== null)
      throw new Error(
        `The process exited (code ${proc.child.exitCode}) before printing ${pattern}:\n${proc.log().slice(-3000)}`,
      );
    if (Date.now() > deadline) throw new Error(`No ${pattern} within ${timeoutMs} ms:\n${proc.log().slice(-3000)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
