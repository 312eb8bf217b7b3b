import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EXPECTED, EXPECTED_SYNCED } from '../../src/sandbox/forest-spec';

const ROOT = join(__dirname, '..', '..');

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/**
 * `npm run sandbox -- --check --no-playground`, as a person (or CI) runs it on a machine without a
 * browser: the real script, its own ports and data folder so it cannot meet a sandbox someone else
 * is running, and the check's messages sent straight to the bot over HTTP.
 */
describe('the sandbox check without the Playground', () => {
  it('starts everything, verifies OU=Sales through the agent, counts and summarises a wave, and reports OK', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'syncshift-sandbox-check-'));
    try {
      const env = {
        ...process.env,
        PORT: String(await freePort()),
        SANDBOX_GRAPH_PORT: String(await freePort()),
        SANDBOX_PLAYGROUND_PORT: String(await freePort()),
        SANDBOX_DATA_DIR: dataDir,
      };
      const child = spawn('bash', ['scripts/sandbox.sh', '--check', '--no-playground'], {
        cwd: ROOT,
        env,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let output = '';
      child.stdout.on('data', (d: Buffer) => (output += d.toString()));
      child.stderr.on('data', (d: Buffer) => (output += d.toString()));
      const code = await new Promise<number | null>((resolve) => child.on('close', resolve));

      expect({ code, output }).toEqual({
        code: 0,
        output: expect.stringContaining('sandbox check: OK (simulated directory'),
      });
      expect(output).toContain("help card with every command arrived through the bot's HTTP endpoint (no Playground)");
      expect(output).toContain(
        `On-premises users: ${EXPECTED_SYNCED.sales.users.toLocaleString('en-US')} (${EXPECTED_SYNCED.sales.disabled} disabled)`,
      );
      expect(output).toMatch(
        new RegExp(
          `wave Check\\w+ counted by the agent \\(${EXPECTED.salesOps.users} users\\) and the wave summary posted`,
        ),
      );
      // Nothing was started that would need a browser.
      expect(output).not.toContain('Agents Playground on');
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  }, 90_000);
});
