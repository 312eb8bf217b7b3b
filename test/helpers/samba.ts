/**
 * Connection settings of the test Samba AD DC started by scripts/samba-up.sh.
 *
 * A missing or unreachable DC fails the calling test (serviceMissing), never skips it: a skipped
 * directory test would read as "the LDAP code works".
 */
import { sambaEnvFile } from '../../src/sandbox/samba-location';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { serviceMissing } from './require-service';

export interface SambaEnv {
  url: string;
  bindDn: string;
  password: string;
  caPath: string;
  baseDn: string;
}

export const SAMBA_ENV_FILE = sambaEnvFile();
const HOW_TO_FIX = 'Run `npm run samba:up` (or bash scripts/samba-up.sh) first.';

let cached: SambaEnv | undefined;

export function sambaEnv(): SambaEnv {
  if (cached) return cached;
  let env: Partial<SambaEnv>;
  try {
    env = JSON.parse(readFileSync(SAMBA_ENV_FILE, 'utf8')) as Partial<SambaEnv>;
  } catch (err) {
    return serviceMissing('Samba AD', `${SAMBA_ENV_FILE} is missing or unreadable. ${HOW_TO_FIX}`, err);
  }
  for (const key of ['url', 'bindDn', 'password', 'caPath', 'baseDn'] as const) {
    if (typeof env[key] !== 'string' || env[key] === '') {
      serviceMissing('Samba AD', `${SAMBA_ENV_FILE} has no "${key}". ${HOW_TO_FIX}`);
    }
  }
  const complete = env as SambaEnv;
  probeLdaps(complete);
  cached = complete;
  return complete;
}

// Callers are synchronous (describe bodies, test helpers), so the TLS handshake runs in a child
// process; it verifies against the CA exactly as the code under test will.
function probeLdaps(env: SambaEnv): void {
  const script = `
    const tls = require('node:tls');
    const fs = require('node:fs');
    const u = new URL(process.argv[1]);
    const s = tls.connect({ host: u.hostname, port: Number(u.port || 636), ca: fs.readFileSync(process.argv[2]), timeout: 5000 });
    s.once('secureConnect', () => { s.end(); process.exit(0); });
    s.once('timeout', () => { console.error('timed out after 5s'); process.exit(1); });
    s.once('error', (e) => { console.error(e.code || e.message); process.exit(1); });
  `;
  const result = spawnSync(process.execPath, ['-e', script, env.url, env.caPath], {
    encoding: 'utf8',
    timeout: 10_000,
  });
  if (result.status !== 0) {
    const why = (result.stderr || result.error?.message || 'no answer').trim();
    serviceMissing('Samba AD', `LDAPS at ${env.url} did not answer (${why}). ${HOW_TO_FIX}`);
  }
}
