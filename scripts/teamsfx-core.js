// Installs the Microsoft 365 Agents Toolkit's own library, @microsoft/teamsfx-core, into
// .cache/teamsfx-core for test/integration/agents-toolkit.test.ts, which runs its yml parser,
// placeholder resolution and lifecycle code on teamsapp*.yml and env/. About 300 MB and 420
// packages, so it is fetched on first use instead of being a devDependency that every `npm ci`
// would install. The version is the one the toolkit CLI (@microsoft/m365agentstoolkit-cli 1.1.17)
// pins; change both together.
//
//   node scripts/teamsfx-core.js          install when missing or of another version, print the folder
const { execFileSync } = require('node:child_process');
const { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } = require('node:fs');
const { join } = require('node:path');

const VERSION = '3.1.3';
const root = join(__dirname, '..');
const prefix = join(root, '.cache', 'teamsfx-core');
const packageDir = join(prefix, 'node_modules', '@microsoft', 'teamsfx-core');

function installedVersion() {
  try {
    return JSON.parse(readFileSync(join(packageDir, 'package.json'), 'utf8')).version;
  } catch {
    return undefined;
  }
}

if (installedVersion() !== VERSION) {
  rmSync(prefix, { recursive: true, force: true });
  mkdirSync(prefix, { recursive: true });
  // A package.json of its own keeps npm from walking up to the project's and touching its node_modules.
  writeFileSync(join(prefix, 'package.json'), JSON.stringify({ name: 'teamsfx-core-cache', private: true }) + '\n');
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  try {
    // --ignore-scripts: nothing it needs offline is built by an install script.
    execFileSync(
      npm,
      [
        'install',
        '--prefix',
        prefix,
        '--no-audit',
        '--no-fund',
        '--ignore-scripts',
        '--loglevel=error',
        `@microsoft/teamsfx-core@${VERSION}`,
      ],
      {
        stdio: ['ignore', 'ignore', 'inherit'],
        timeout: 15 * 60_000,
      },
    );
  } catch (error) {
    rmSync(prefix, { recursive: true, force: true });
    process.stderr.write(`npm could not install @microsoft/teamsfx-core@${VERSION} into ${prefix}: ${error.message}\n`);
    process.exit(1);
  }
  if (installedVersion() !== VERSION || !existsSync(join(packageDir, 'build', 'index.js'))) {
    process.stderr.write(`npm finished but ${packageDir} does not hold version ${VERSION}.\n`);
    process.exit(1);
  }
}
process.stdout.write(packageDir + '\n');
