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

/** The static secret a fleet agent uses; list `${id}:${agentSecret(id)}` in the bot's SYNCSHIFT_AGENT_SECRETS. */
export const agentSecret = (id: string): string => `${id}-secret-0123456789-abcdefghij`;

/**
 * The agent processes one test file starts, each under its own name and static secret: killed
 * together, and their logs at hand for a wait that times out.
 */
export class AgentFleet {
  readonly running: AgentProcess[] = [];

  constructor(private readonly botUrl: () => string) {}

  start(id: string, samba: SambaEnv, env: Record<string, string> = {}): AgentProcess {
    const started = spawnAgent(this.botUrl(), samba, {
      SYNCSHIFT_AGENT_ID: id,
      SYNCSHIFT_AGENT_SECRET: agentSecret(id),
      ...env,
    });
    this.running.push(started);
    return started;
  }

  killAll(): void {
    for (const agent of this.running.splice(0)) agent.child.kill('SIGKILL');
  }

  /** The tail of every agent's log, for a failure message. */
  logs(tailChars = 2000): string {
    return `Agent logs:\n${this.running.map((a) => a.log().slice(-tailChars)).join('\n---\n')}`;
  }
}
