import { mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readCredentialFile, writeCredentialFile } from '../../src/agent/credential-file';

const credential = {
  agentId: 'dc-1',
  secret: 's'.repeat(40),
  relayUrl: 'https://bot.example.com',
  enrolledAt: '2026-11-26T00:00:00.000Z',
};

describe('agent credential file', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'syncshift-credential-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('writes the credential owner-only and replaces an older one', () => {
    const path = join(dir, 'agent.json');
    writeCredentialFile(path, credential);
    writeCredentialFile(path, { ...credential, secret: 't'.repeat(40) });
    expect(readCredentialFile(path).secret).toBe('t'.repeat(40));
    if (process.platform !== 'win32') expect(statSync(path).mode & 0o777).toBe(0o600);
  });

  it('refuses to write through a symlink planted at the temporary path, and the secret goes nowhere', () => {
    const path = join(dir, 'agent.json');
    const victim = join(dir, 'elsewhere.txt');
    writeFileSync(victim, 'untouched');
    symlinkSync(victim, `${path}.${process.pid}.tmp`);
    expect(() => writeCredentialFile(path, credential)).toThrow(/already exists/);
    expect(readFileSync(victim, 'utf8')).toBe('untouched');
    expect(() => statSync(path)).toThrow();
  });
});
