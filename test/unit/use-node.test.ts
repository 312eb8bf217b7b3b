import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * scripts/use-node.sh, the set-up step that gives test-all, the sandbox and the benchmark Node 24. It
 * runs here against stand-ins: a `node` that only reports a version and an `npm` that records its
 * arguments and "installs" the node package the way the real one lays it out. PATH holds nothing else
 * but the few tools the script calls, so the machine's own node and npm stay out of it.
 */

const SCRIPT = join(__dirname, '..', '..', 'scripts', 'use-node.sh');
const TOOLS = ['mkdir', 'rm', 'mv', 'tail'];

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
  npmCalls: string[];
}

let root: string;
beforeEach(() => (root = mkdtempSync(join(tmpdir(), 'syncshift-use-node-'))));
afterEach(() => rmSync(root, { recursive: true, force: true }));

function executable(path: string, body: string): void {
  writeFileSync(path, `#!/bin/bash\n${body}\n`);
  chmodSync(path, 0o755);
}

/** A machine with `node` at version `systemNode` (none when null) and an npm whose install succeeds or fails. */
function machine(
  systemNode: string | null,
  npm: 'works' | 'fails' | 'missing' = 'works',
): { repo: string; path: string; npmLog: string } {
  const repo = join(root, 'repo');
  const bin = join(root, 'bin');
  const npmLog = join(root, 'npm.log');
  mkdirSync(repo, { recursive: true });
  mkdirSync(bin, { recursive: true });
  for (const tool of TOOLS) {
    const found = ['/usr/bin', '/bin'].map((dir) => join(dir, tool)).find((p) => existsSync(p));
    if (!found) throw new Error(`${tool} is not in /usr/bin or /bin`);
    symlinkSync(found, join(bin, tool));
  }
  if (systemNode !== null) executable(join(bin, 'node'), `echo v${systemNode}`);
  if (npm !== 'missing') {
    // Like `npm install --prefix DIR node@24`: node_modules/node/bin/node (the official build the
    // package's install step fetched) and node_modules/.bin/node pointing at it.
    executable(
      join(bin, 'npm'),
      `echo "$*" >> '${npmLog}'
${npm === 'fails' ? 'echo "npm error network request to the registry failed" >&2; exit 1' : ''}
while [ $# -gt 0 ]; do [ "$1" = --prefix ] && prefix="$2"; shift; done
mkdir -p "$prefix/node_modules/node/bin" "$prefix/node_modules/.bin"
printf '#!/bin/bash\\necho v24.21.0\\n' > "$prefix/node_modules/node/bin/node"
chmod +x "$prefix/node_modules/node/bin/node"
ln -s ../node/bin/node "$prefix/node_modules/.bin/node"
echo "package.json npm saw: $(cat "$prefix/package.json")" >> '${npmLog}'`,
    );
    for (const tool of ['chmod', 'ln', 'cat']) {
      const found = ['/usr/bin', '/bin'].map((dir) => join(dir, tool)).find((p) => existsSync(p))!;
      symlinkSync(found, join(bin, tool));
    }
  }
  return { repo, path: bin, npmLog };
}

function useNode(m: { repo: string; path: string; npmLog: string }): Run {
  const script = `set -euo pipefail
say() { printf '[t] %s\\n' "$*"; }
die() { printf '[t] ERROR: %s\\n' "$*" >&2; exit 1; }
source '${SCRIPT}'
use_node
echo "node=$(command -v node) version=$(node --version)"`;
  const r = spawnSync('/bin/bash', ['--norc', '--noprofile', '-c', script], {
    env: { PATH: m.path, REPO: m.repo },
    encoding: 'utf8',
  });
  const npmCalls = existsSync(m.npmLog) ? readFileSync(m.npmLog, 'utf8').trim().split('\n') : [];
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, npmCalls };
}

describe('scripts/use-node.sh', () => {
  it('keeps a Node 24 already on PATH and fetches nothing', () => {
    const m = machine('24.3.0');
    const run = useNode(m);
    expect(run.status).toBe(0);
    expect(run.stdout.trim()).toBe(`node=${join(m.path, 'node')} version=v24.3.0`);
    expect(run.npmCalls).toEqual([]);
    expect(existsSync(join(m.repo, '.cache'))).toBe(false);
  });

  it('installs node@24 from the npm registry into .cache/node24 once when the machine has Node 20, and puts it first on PATH', () => {
    const m = machine('20.20.2');
    const first = useNode(m);
    expect(first.status).toBe(0);
    const cacheBin = join(m.repo, '.cache', 'node24', 'node_modules', '.bin', 'node');
    expect(first.stdout).toContain(
      'this machine has Node.js 20; installing Node.js 24 from the npm registry into .cache/node24 (once)',
    );
    expect(first.stdout.trim().split('\n').at(-1)).toBe(`node=${cacheBin} version=v24.21.0`);
    expect(first.npmCalls).toHaveLength(2);
    expect(first.npmCalls[0]).toMatch(
      /^install --prefix \S+\/\.cache\/node24\.partial\.\d+ --no-save --no-audit --no-fund node@24$/,
    );
    // npm runs dependency install scripts only when approved; the node package's one fetches the binary.
    expect(first.npmCalls[1]).toBe('package.json npm saw: { "private": true, "allowScripts": { "node": true } }');
    expect(readdirSync(join(m.repo, '.cache')).sort()).toEqual(['node24', 'node24-install.log']);

    rmSync(m.npmLog);
    const second = useNode(m);
    expect(second.status).toBe(0);
    expect(second.stdout.trim().split('\n').at(-1)).toBe(`node=${cacheBin} version=v24.21.0`);
    expect(second.npmCalls).toEqual([]);
  });

  it('fetches Node 24 when the machine has no node at all but an npm', () => {
    const m = machine(null);
    const run = useNode(m);
    expect(run.status).toBe(0);
    expect(run.stdout).toContain('this machine has no node; installing Node.js 24');
    expect(run.stdout).toContain('version=v24.21.0');
  });

  it('stops with what to do, and leaves no half-installed Node behind, when the registry cannot be reached', () => {
    const m = machine('20.20.2', 'fails');
    const run = useNode(m);
    expect(run.status).toBe(1);
    expect(run.stderr).toContain('npm error network request to the registry failed');
    expect(run.stderr).toContain(
      '[t] ERROR: could not install Node.js 24 from the npm registry (npm install node@24, log in .cache/node24-install.log); check access to the npm registry, or install Node.js 24 yourself and re-run',
    );
    expect(run.stdout).not.toContain('node=');
    expect(readdirSync(join(m.repo, '.cache'))).toEqual(['node24-install.log']);
  });

  it('stops with what to do when there is neither Node 24 nor an npm to fetch it with', () => {
    const m = machine('20.20.2', 'missing');
    const run = useNode(m);
    expect(run.status).toBe(1);
    expect(run.stderr.trim()).toBe(
      '[t] ERROR: SyncShift runs on Node.js 24 and this machine has no npm to fetch it with; install Node.js 24 (or any Node.js with npm: the set-up then fetches Node.js 24 itself) and re-run',
    );
  });
});
