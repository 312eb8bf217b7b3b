/**
 * The Graph simulator in its own process for the benchmark, so that serving pages never competes with
 * the bot or the baseline client for one event loop.
 *
 *   node graph-sim-process.js <tenant.json> <token> [latencyMs] [jitterMs] [throttleEvery] [retryAfterSeconds]
 *
 * It also serves POST /bench/change?count=N&under=<DN> on its own origin (no token: loopback, benchmark
 * only), which changes N synced users under that DN as a sync engine would (9 in 10 get a new UPN,
 * 1 in 10 is deleted), for the repeat verify with 1% of the users changed. Answers {"updated":…,"deleted":…}.
 */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { startGraphSimulator, type SimUser } from '../src/sandbox/graph-simulator';

async function main(): Promise<void> {
  const [file, token, latencyMs, jitterMs, throttleEvery, retryAfter] = process.argv.slice(2);
  if (!file || !token)
    throw new Error(
      'usage: graph-sim-process <tenant.json> <token> [latencyMs] [jitterMs] [throttleEvery] [retryAfterSeconds]',
    );
  const users = JSON.parse(readFileSync(file, 'utf8')) as SimUser[];
  const fixedMs = Number(latencyMs ?? 0);
  const sim = await startGraphSimulator({
    token,
    users,
    ...(fixedMs > 0 ? { latency: { fixedMs, jitterMs: Number(jitterMs ?? 0) } } : {}),
    ...(Number(throttleEvery ?? 0) > 0
      ? { throttle: { every: Number(throttleEvery), retryAfterSeconds: Number(retryAfter ?? 1) } }
      : {}),
  });
  // The benchmark reads pages, not the request log; keeping 100+ entries per verify is harmless, but clear it anyway.
  setInterval(() => sim.requests.splice(0), 10_000).unref();

  let changed = 0;
  const control = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (req.method !== 'POST' || url.pathname !== '/bench/change') {
      res.writeHead(404).end();
      return;
    }
    const count = Number(url.searchParams.get('count') ?? 0);
    const under = `,${url.searchParams.get('under') ?? ''}`.toLowerCase();
    // Spread over the OU, never the same user twice across calls.
    const synced = sim
      .users()
      .filter((u) => u.onPremisesSyncEnabled === true && u.onPremisesDistinguishedName?.toLowerCase().endsWith(under));
    const step = Math.max(1, Math.floor(synced.length / (count + changed + 1)));
    let updated = 0;
    let deleted = 0;
    for (let i = 0; i < count; i++) {
      const user = synced[((i + changed) * step + 7) % synced.length]!;
      if (i % 10 === 9) {
        if (sim.removeUser(user.id)) deleted++;
      } else if (sim.updateUser(user.id, { userPrincipalName: `changed${changed + i}.${user.userPrincipalName}` })) {
        updated++;
      }
    }
    changed += count;
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ updated, deleted }));
  });
  await new Promise<void>((resolve) => control.listen(0, '127.0.0.1', resolve));
  const controlUrl = `http://127.0.0.1:${(control.address() as AddressInfo).port}`;
  console.log(`graph simulator listening ${sim.url} control ${controlUrl} users=${users.length}`);
}

main().catch((err: unknown) => {
  console.error(`graph-sim-process: ${(err as Error).message}`);
  process.exit(1);
});
