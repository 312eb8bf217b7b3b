import { join } from 'node:path';

/**
 * Where scripts/samba-up.sh keeps the test DC. One per machine: its LDAP ports are machine-wide,
 * so every checkout shares it. Keep in step with SYNCSHIFT_SAMBA_DIR in scripts/samba-up.sh.
 */
export function sambaDir(): string {
  return process.env.SYNCSHIFT_SAMBA_DIR ?? '/var/tmp/syncshift-samba';
}

export function sambaEnvFile(): string {
  return join(sambaDir(), 'env.json');
}
