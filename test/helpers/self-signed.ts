import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface SelfSigned {
  certPath: string;
  keyPath: string;
  /** Certificate and key in one PEM file, as `openssl pkcs12 -nodes` writes them. */
  bundlePath: string;
}

/** A throwaway self-signed certificate made with openssl, as an app registration's certificate would be. */
export function selfSignedCertificate(dir: string, name: string, days = 30): SelfSigned {
  const certPath = join(dir, `${name}.crt.pem`);
  const keyPath = join(dir, `${name}.key.pem`);
  const bundlePath = join(dir, `${name}.pem`);
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      keyPath,
      '-out',
      certPath,
      '-days',
      String(days),
      '-subj',
      `/CN=${name}`,
    ],
    { stdio: 'ignore' },
  );
  execFileSync('sh', ['-c', 'cat "$1" "$2" > "$3"', 'sh', certPath, keyPath, bundlePath]);
  return { certPath, keyPath, bundlePath };
}

export function readPem(path: string): string {
  return readFileSync(path, 'utf8');
}
