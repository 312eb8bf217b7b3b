import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { AGENT_ID, AGENT_SECRET } from './bot-harness';
import type { SambaEnv } from './samba';

export interface AgentProcess {
  child: ChildProcess;
  /** Everything the agent printed, for failure messages. */
  log(): string;
  stop(): void;
}

const CLI = join(__dirname, '../../src/agent/cli.ts');

/** Runs one `syncshift-agent` command (e.g. `enroll`) to completion. */
export function runAgentCommand(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    let output = '';
    const child = spawn(process.execPath, ['--require', 'ts-node/register/transpile-only', CLI, ...args], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
    child.on('close', (code) => resolve({ code, output }));
  });
}

/** The real `syncshift-agent` as a separate process (through ts-node), pointed at a test bot and Samba. */
export function spawnAgent(botUrl: string, samba: SambaEnv, extraEnv: Record<string, string> = {}): AgentProcess {
  let log = '';
  const child = spawn(process.execPath, ['--require', 'ts-node/register/transpile-only', CLI, 'run'], {
    env: {
      ...process.env,
      SYNCSHIFT_RELAY_URL: botUrl,
      SYNCSHIFT_AGENT_ID: AGENT_ID,
      SYNCSHIFT_AGENT_SECRET: AGENT_SECRET,
      LDAP_URL: samba.url,
      LDAP_BIND_DN: samba.bindDn,
      LDAP_PASSWORD: samba.password,
      LDAP_CA_PATH: samba.caPath,
      LOG_LEVEL: 'info',
      ...extraEnv,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.on('data', (d: Buffer) => (log += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (log += d.toString()));
  return { child, log: () => log, stop: () => void child.kill('SIGTERM') };
}
