/**
 * Preloaded into the bot (NODE_OPTIONS=--require) by the benchmark: on SIGUSR2 it writes the files
 * the bot has loaded from node_modules, in load order, to BENCH_MODULE_LIST. The stack-floor process
 * loads exactly those, so the bot's own memory can be told apart from its libraries'.
 */
import { writeFileSync } from 'node:fs';

const target = process.env.BENCH_MODULE_LIST;
if (target) {
  process.on('SIGUSR2', () => {
    const files = Object.keys(require.cache).filter((f) => f.includes('/node_modules/'));
    writeFileSync(target, JSON.stringify(files));
  });
}
