/**
 * The Graph simulator in its own process for the benchmark, so that serving pages never competes with
 * the bot or the baseline client for one event loop.
 *
 *   node graph-sim-process.js <tenant.json> <token>
 */
import { readFileSync } from 'node:fs';
import { startGraphSimulator, type SimUser } from '../src/sandbox/graph-simulator';

async function main(): Promise<void> {
  const [file, token] = process.argv.slice(2);
  if (!file || !token) throw new Error('usage: graph-sim-process <tenant.json> <token>');
  const users = JSON.parse(readFileSync(file, 'utf8')) as SimUser[];
  const sim = await startGraphSimulator({ token, users });
  // The benchmark reads pages, not the request log; keeping 100+ entries per verify is harmless, but clear it anyway.
  setInterval(() => sim.reset(), 10_000).unref();
  console.log(`graph simulator listening ${sim.url} users=${users.length}`);
}

main().catch((err: unknown) => {
  console.error(`graph-sim-process: ${(err as Error).message}`);
  process.exit(1);
});
