import { createSign, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A local stand-in for the Bot Framework's OpenID metadata and signing keys, so the bot's token
 * validation runs for real without reaching login.botframework.com or login.microsoftonline.com.
 * Tokens signed with `sign` validate; anything else must not.
 */
export class OpenIdStub {
  readonly requests: string[] = [];
  readonly kid = 'syncshift-test-key';
  private readonly keys = generateKeyPairSync('rsa', { modulusLength: 2048 });
  /** A second key with the same kid: what a forger who guessed the kid would sign with. */
  readonly forgerKey: KeyObject = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
  private server: Server | undefined;
  url = '';

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      this.requests.push(req.url ?? '');
      const jwk = this.keys.publicKey.export({ format: 'jwk' }) as { n: string; e: string };
      const bodies: Record<string, unknown> = {
        '/channel/.well-known/openidconfiguration': {
          issuer: 'https://api.botframework.com',
          jwks_uri: `${this.url}/keys`,
          id_token_signing_alg_values_supported: ['RS256'],
        },
        '/emulator/.well-known/openid-configuration': {
          issuer: 'https://login.microsoftonline.com/test/v2.0',
          jwks_uri: `${this.url}/keys`,
        },
        '/keys': { keys: [{ kty: 'RSA', use: 'sig', kid: this.kid, n: jwk.n, e: jwk.e, endorsements: ['msteams'] }] },
      };
      const body = bodies[req.url ?? ''];
      res.writeHead(body ? 200 : 404, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body ?? { error: 'not found' }));
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  get channelMetadataUrl(): string {
    return `${this.url}/channel/.well-known/openidconfiguration`;
  }

  get emulatorMetadataUrl(): string {
    return `${this.url}/emulator/.well-known/openid-configuration`;
  }

  /** An RS256 JWT over `claims`; `key` defaults to the key the stub publishes. */
  sign(claims: Record<string, unknown>, options: { key?: KeyObject; header?: Record<string, unknown> } = {}): string {
    const encode = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');
    const header = options.header ?? { alg: 'RS256', typ: 'JWT', kid: this.kid };
    const input = `${encode(header)}.${encode(claims)}`;
    const signature = createSign('RSA-SHA256')
      .update(input)
      .sign(options.key ?? this.keys.privateKey)
      .toString('base64url');
    return `${input}.${signature}`;
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => this.server?.close(() => resolve()) ?? resolve());
  }
}
