/**
 * `npm run sandbox:add-user -- <OU> "<name>"`: adds an enabled user to the running sandbox's
 * simulated directory, for runbook step 12's "a new object in the OU gets provisioned". The agent
 * and simulated Cloud Sync read the forest file at every scan, so the user shows up in the next
 * verify at once and in the tenant at the next Cloud Sync cycle (if the OU is configured). The
 * sandbox writes a fresh forest at its next start, so the user lasts until then.
 */
import { join, resolve } from 'node:path';
import { resolveOu } from '../agent/resolve-ou';
import { readForestFile, SimulatedDirectory, writeForestFile } from '../directory/simulated-directory';
import { asAppError } from '../shared/errors';
import { addUserToForest } from './seeded-forest';

const USAGE = `Usage: npm run sandbox:add-user -- <OU> "<name>"
  e.g. npm run sandbox:add-user -- OU=SalesOps "Pat Newhire"
The OU is typed as in /verify pilot (OU=SalesOps, a full DN, or a bare name). Only for the
simulated directory (npm run sandbox without --directory samba); SANDBOX_DATA_DIR as for the sandbox.`;

async function main(argv: string[]): Promise<number> {
  if (argv.length !== 2 || argv.includes('--help') || argv.includes('-h')) {
    console.log(USAGE);
    return argv.length === 2 ? 0 : 2;
  }
  const [ouInput, name] = argv as [string, string];
  const dataDir = process.env.SANDBOX_DATA_DIR
    ? resolve(process.env.SANDBOX_DATA_DIR)
    : join(__dirname, '..', '..', '.data', 'sandbox');
  const file = join(dataDir, 'forest.json');
  const forest = readForestFile(file);
  const { baseDn } = await resolveOu(new SimulatedDirectory(forest), ouInput);
  const { forest: updated, user } = addUserToForest(forest, baseDn, name);
  writeForestFile(file, updated);
  console.log(`Added ${user.dn} (${user.userPrincipalName}, source anchor ${user.objectGuid}) to ${file}.`);
  console.log(
    'A verify of the OU counts it now; simulated Cloud Sync provisions it at its next cycle if the OU is in the Cloud Sync job scope (step 11 puts the pilot OU there).',
  );
  return 0;
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      const e = asAppError(err);
      console.error(`sandbox:add-user: ${e.message}${e.hint ? `\n${e.hint}` : ''}`);
      process.exit(1);
    },
  );
}
