/**
 * The stack's own floor: a process that loads the same library files as the bot (the list
 * bench/lib/module-list.ts wrote) and nothing of SyncShift, then idles. Its RSS is what the chosen
 * libraries cost before the bot does anything.
 *
 *   node stack-floor.js <module-list.json>
 */
import { readFileSync } from 'node:fs';

function main(): void {
  const [list] = process.argv.slice(2);
  if (!list) throw new Error('usage: stack-floor <module-list.json>');
  const files = JSON.parse(readFileSync(list, 'utf8')) as string[];
  let failed = 0;
  for (const file of files) {
    try {
      // The files the bot loaded, by path, in its order: a static import cannot name them.
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      require(file);
    } catch {
      // A file that only loads through its package's entry point was loaded by that entry point anyway.
      failed++;
    }
  }
  console.log(`stack floor loaded ${files.length - failed} of ${files.length} files`);
  setInterval(() => undefined, 60_000);
}

main();
