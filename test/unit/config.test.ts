import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { X509Certificate } from 'node:crypto';
import { assertRelayUrlSafe } from '../../src/agent/agent-config';
import { loadConfig, startupWarnings } from '../../src/config';
import { readPem, selfSignedCertificate, type SelfSigned } from '../helpers/self-signed';

const APP_ID = '5b7e0b4c-0000-4000-8000-00000000b07a';
const TENANT = '7c1d2e3f-0000-4000-8000-0000000000aa';

describe('bot configuration', () => {
  let dir: string;
  let cert: SelfSigned;
  let other: SelfSigned;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'syncshift-config-'));
    cert = selfSignedCertificate(dir, 'bot');
    other = selfSignedCertificate(dir, 'other');
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const refusal = (env: Record<string, string>): string => {
    try {
      loadConfig(env);
    } catch (err) {
      return (err as Error).message;
    }
    throw new Error(`loadConfig accepted ${JSON.stringify(env)}`);
  };

  describe('app type and tenant', () => {
    it('the default SingleTenant without MICROSOFT_APP_TENANT_ID is refused, naming the variable (botbuilder would crash on the first activity)', () => {
      expect(refusal({ MICROSOFT_APP_ID: APP_ID, MICROSOFT_APP_PASSWORD: 'secret' })).toMatch(
        /MICROSOFT_APP_TENANT_ID is not set, but MICROSOFT_APP_TYPE=SingleTenant needs it \(SingleTenant is the default\)/,
      );
    });

    it('UserAssignedMSI without MICROSOFT_APP_TENANT_ID is refused, naming the variable', () => {
      expect(refusal({ MICROSOFT_APP_ID: APP_ID, MICROSOFT_APP_TYPE: 'UserAssignedMSI' })).toMatch(
        /MICROSOFT_APP_TENANT_ID is not set, but MICROSOFT_APP_TYPE=UserAssignedMSI needs it/,
      );
    });

    it('UserAssignedMSI with a tenant uses the managed identity, and refuses a password it would ignore', () => {
      const config = loadConfig({
        MICROSOFT_APP_ID: APP_ID,
        MICROSOFT_APP_TYPE: 'UserAssignedMSI',
        MICROSOFT_APP_TENANT_ID: TENANT,
      });
      expect(config.botAuth).toMatchObject({
        appId: APP_ID,
        tenantId: TENANT,
        appType: 'UserAssignedMSI',
        credential: { kind: 'managedIdentity' },
      });
      expect(
        refusal({
          MICROSOFT_APP_ID: APP_ID,
          MICROSOFT_APP_TYPE: 'UserAssignedMSI',
          MICROSOFT_APP_TENANT_ID: TENANT,
          MICROSOFT_APP_PASSWORD: 'x',
        }),
      ).toContain('MICROSOFT_APP_PASSWORD is set, but MICROSOFT_APP_TYPE=UserAssignedMSI');
    });

    it('SingleTenant with a tenant and MultiTenant without one are accepted', () => {
      expect(
        loadConfig({ MICROSOFT_APP_ID: APP_ID, MICROSOFT_APP_PASSWORD: 'secret', MICROSOFT_APP_TENANT_ID: TENANT })
          .botAuth,
      ).toMatchObject({
        appType: 'SingleTenant',
        tenantId: TENANT,
        credential: { kind: 'password', password: 'secret' },
      });
      expect(
        loadConfig({ MICROSOFT_APP_ID: APP_ID, MICROSOFT_APP_PASSWORD: 'secret', MICROSOFT_APP_TYPE: 'MultiTenant' })
          .botAuth,
      ).toMatchObject({ appType: 'MultiTenant', tenantId: undefined });
    });

    it('an app id without any credential is refused, and so is a credential without an app id', () => {
      expect(refusal({ MICROSOFT_APP_ID: APP_ID, MICROSOFT_APP_TYPE: 'MultiTenant' })).toContain(
        'neither MICROSOFT_APP_PASSWORD nor MICROSOFT_APP_CERTIFICATE_PATH',
      );
      expect(refusal({ MICROSOFT_APP_PASSWORD: 'secret' })).toContain(
        'MICROSOFT_APP_PASSWORD is set but MICROSOFT_APP_ID is not',
      );
    });
  });

  describe('certificate credential', () => {
    const base = { MICROSOFT_APP_ID: APP_ID, MICROSOFT_APP_TYPE: 'SingleTenant', MICROSOFT_APP_TENANT_ID: TENANT };

    it('a PEM bundle with certificate and key gives the thumbprint Entra shows and the key', () => {
      const config = loadConfig({ ...base, MICROSOFT_APP_CERTIFICATE_PATH: cert.bundlePath });
      const expected = new X509Certificate(readPem(cert.certPath)).fingerprint.replace(/:/g, '');
      expect(config.botAuth?.credential).toMatchObject({ kind: 'certificate', thumbprint: expected });
      const credential = config.botAuth!.credential as { privateKeyPem: string; thumbprint: string };
      expect(credential.thumbprint).toMatch(/^[0-9A-F]{40}$/);
      expect(credential.privateKeyPem).toContain('-----BEGIN PRIVATE KEY-----');
    });

    it('the key may sit in its own file (MICROSOFT_APP_CERTIFICATE_KEY_PATH)', () => {
      const config = loadConfig({
        ...base,
        MICROSOFT_APP_CERTIFICATE_PATH: cert.certPath,
        MICROSOFT_APP_CERTIFICATE_KEY_PATH: cert.keyPath,
      });
      expect(config.botAuth?.credential.kind).toBe('certificate');
    });

    it('a key that does not belong to the certificate, a missing key, an unreadable file and a second credential are refused', () => {
      expect(
        refusal({
          ...base,
          MICROSOFT_APP_CERTIFICATE_PATH: cert.certPath,
          MICROSOFT_APP_CERTIFICATE_KEY_PATH: other.keyPath,
        }),
      ).toContain('does not belong to the certificate');
      expect(refusal({ ...base, MICROSOFT_APP_CERTIFICATE_PATH: cert.certPath })).toContain(
        'holds no unencrypted PEM private key',
      );
      expect(refusal({ ...base, MICROSOFT_APP_CERTIFICATE_PATH: join(dir, 'missing.pem') })).toMatch(
        /MICROSOFT_APP_CERTIFICATE_PATH .*missing\.pem cannot be read/,
      );
      const notPem = join(dir, 'not.pem');
      writeFileSync(notPem, 'hello');
      expect(refusal({ ...base, MICROSOFT_APP_CERTIFICATE_PATH: notPem })).toContain('holds no PEM certificate');
      expect(
        refusal({ ...base, MICROSOFT_APP_CERTIFICATE_PATH: cert.bundlePath, MICROSOFT_APP_PASSWORD: 'secret' }),
      ).toContain('Both MICROSOFT_APP_PASSWORD and MICROSOFT_APP_CERTIFICATE_PATH are set');
    });

    it('a certificate that expires within 30 days is announced at start', () => {
      const soon = selfSignedCertificate(dir, 'soon', 2);
      const config = loadConfig({ ...base, MICROSOFT_APP_CERTIFICATE_PATH: soon.bundlePath });
      expect(startupWarnings(config, 'https://bot.example.com').join('\n')).toMatch(
        /The bot certificate \(thumbprint [0-9A-F]{40}\) expires in [12] day\(s\)/,
      );
    });
  });

  describe('OpenID metadata overrides', () => {
    const prod = { MICROSOFT_APP_ID: APP_ID, MICROSOFT_APP_PASSWORD: 'secret', MICROSOFT_APP_TYPE: 'MultiTenant' };

    it('a plain-http metadata URL off loopback is refused, naming the variable', () => {
      expect(
        refusal({
          ...prod,
          MICROSOFT_BOT_OPENID_METADATA_URL: 'http://login.example.com/v1/.well-known/openidconfiguration',
        }),
      ).toMatch(/^MICROSOFT_BOT_OPENID_METADATA_URL http:\/\/login\.example\.com\/.* is not HTTPS/);
      expect(refusal({ ...prod, MICROSOFT_BOT_EMULATOR_OPENID_METADATA_URL: 'http://10.0.0.5/meta' })).toMatch(
        /^MICROSOFT_BOT_EMULATOR_OPENID_METADATA_URL http:\/\/10\.0\.0\.5\/meta is not HTTPS/,
      );
    });

    it('https anywhere and http on loopback are accepted, and production mode warns loudly about each override', () => {
      const config = loadConfig({
        ...prod,
        MICROSOFT_BOT_OPENID_METADATA_URL: 'https://login.botframework.azure.us/v1/.well-known/openidconfiguration',
        MICROSOFT_BOT_EMULATOR_OPENID_METADATA_URL: 'http://127.0.0.1:9/meta',
      });
      const warnings = startupWarnings(config, 'https://bot.example.com');
      expect(warnings).toEqual([
        expect.stringMatching(
          /^OPENID METADATA OVERRIDDEN: MICROSOFT_BOT_OPENID_METADATA_URL=https:\/\/login\.botframework\.azure\.us\//,
        ),
        expect.stringMatching(
          /^OPENID METADATA OVERRIDDEN: MICROSOFT_BOT_EMULATOR_OPENID_METADATA_URL=http:\/\/127\.0\.0\.1:9\/meta/,
        ),
      ]);
      expect(
        loadConfig({ ...prod, MICROSOFT_BOT_OPENID_METADATA_URL: 'http://[::1]:8080/meta' }).botAuth?.openIdMetadataUrl,
      ).toBe('http://[::1]:8080/meta');
    });

    it('production mode without overrides starts without warnings', () => {
      expect(startupWarnings(loadConfig(prod), 'https://bot.example.com')).toEqual([]);
    });
  });

  describe('local mode', () => {
    it('without credentials HOST=0.0.0.0 is refused, and the default host is loopback', () => {
      expect(refusal({ HOST: '0.0.0.0' })).toContain(
        'HOST=0.0.0.0 without Bot Framework credentials would accept unauthenticated activities from the network',
      );
      expect(refusal({ HOST: '192.168.1.10' })).toContain('HOST=192.168.1.10 without Bot Framework credentials');
      expect(loadConfig({}).host).toBe('127.0.0.1');
      expect(loadConfig({ HOST: '::1' }).host).toBe('::1');
    });

    it('with credentials the default host is every interface', () => {
      expect(
        loadConfig({ MICROSOFT_APP_ID: APP_ID, MICROSOFT_APP_PASSWORD: 'secret', MICROSOFT_APP_TYPE: 'MultiTenant' })
          .host,
      ).toBe('0.0.0.0');
    });

    it('the start warning says loudly that tokens are not checked and names the loopback address', () => {
      const warnings = startupWarnings(loadConfig({}), 'http://127.0.0.1:3978');
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toMatch(
        /^LOCAL MODE: no MICROSOFT_APP_ID, so Bot Framework tokens are NOT checked\. Listening on loopback only \(http:\/\/127\.0\.0\.1:3978\)/,
      );
    });
  });

  describe('lease settings', () => {
    it('read-only retries default to 3 attempts and the sweep to 15 s; both are configurable', () => {
      expect(loadConfig({})).toMatchObject({ jobMaxAttempts: 3, leaseSweepMs: 15_000 });
      expect(loadConfig({ SYNCSHIFT_JOB_MAX_ATTEMPTS: '5', SYNCSHIFT_LEASE_SWEEP_SECONDS: '2' })).toMatchObject({
        jobMaxAttempts: 5,
        leaseSweepMs: 2000,
      });
      expect(refusal({ SYNCSHIFT_JOB_MAX_ATTEMPTS: '0' })).toContain('SYNCSHIFT_JOB_MAX_ATTEMPTS');
    });
  });

  describe('the no-flow check after a cycle', () => {
    it('reads again every 5 minutes for at most 2 hours by default; both are configurable within bounds', () => {
      expect(loadConfig({})).toMatchObject({ noFlowFollowUp: { intervalMs: 5 * 60_000, deadlineMs: 120 * 60_000 } });
      expect(
        loadConfig({ SYNCSHIFT_NO_FLOW_RECHECK_MINUTES: '10', SYNCSHIFT_NO_FLOW_DEADLINE_MINUTES: '240' }),
      ).toMatchObject({ noFlowFollowUp: { intervalMs: 10 * 60_000, deadlineMs: 240 * 60_000 } });
      expect(refusal({ SYNCSHIFT_NO_FLOW_RECHECK_MINUTES: '0' })).toContain('SYNCSHIFT_NO_FLOW_RECHECK_MINUTES');
      expect(refusal({ SYNCSHIFT_NO_FLOW_DEADLINE_MINUTES: '5' })).toContain('SYNCSHIFT_NO_FLOW_DEADLINE_MINUTES');
    });
  });

  describe('request bodies', () => {
    it('a body that sends nothing for 15 s is cut by default; the limit is configurable from 1 s to 300 s', () => {
      expect(loadConfig({})).toMatchObject({ bodyIdleMs: 15_000 });
      expect(loadConfig({ SYNCSHIFT_BODY_IDLE_SECONDS: '5' })).toMatchObject({ bodyIdleMs: 5000 });
      expect(refusal({ SYNCSHIFT_BODY_IDLE_SECONDS: '0' })).toContain('SYNCSHIFT_BODY_IDLE_SECONDS');
      expect(refusal({ SYNCSHIFT_BODY_IDLE_SECONDS: '301' })).toContain('SYNCSHIFT_BODY_IDLE_SECONDS');
    });
  });

  describe('proactive cards', () => {
    it('a post or update Teams does not answer fails after 30 s by default; 1 s to 5 minutes may be set', () => {
      expect(loadConfig({})).toMatchObject({ cardSendTimeoutMs: 30_000 });
      expect(loadConfig({ SYNCSHIFT_CARD_SEND_TIMEOUT_MS: '5000' })).toMatchObject({ cardSendTimeoutMs: 5000 });
      for (const bad of ['999', '300001', 'soon'])
        expect(refusal({ SYNCSHIFT_CARD_SEND_TIMEOUT_MS: bad })).toContain('SYNCSHIFT_CARD_SEND_TIMEOUT_MS');
    });
  });
});

describe('agent relay URL (TLS rule)', () => {
  it('plain http to another host is refused: the credential would cross the network in clear text', () => {
    expect(() => assertRelayUrlSafe('http://bot.example.com', 'SYNCSHIFT_RELAY_URL')).toThrow(
      /SYNCSHIFT_RELAY_URL http:\/\/bot\.example\.com is not HTTPS/,
    );
    expect(() => assertRelayUrlSafe('http://10.1.2.3:3978', 'SYNCSHIFT_RELAY_URL')).toThrow(/is not HTTPS/);
    expect(() => assertRelayUrlSafe('ftp://bot.example.com', '--url')).toThrow(
      /--url ftp:\/\/bot\.example\.com is not HTTPS/,
    );
  });

  it('https anywhere, and http on loopback, are accepted', () => {
    for (const url of [
      'https://bot.example.com',
      'https://10.1.2.3:8443/base',
      'http://127.0.0.1:3978',
      'http://localhost:3978',
      'http://[::1]:3978',
    ]) {
      expect(() => assertRelayUrlSafe(url, 'SYNCSHIFT_RELAY_URL')).not.toThrow();
    }
  });
});
