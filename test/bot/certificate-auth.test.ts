import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ADELE, messageActivity } from '../helpers/activities';
import { startBotHarness, type BotHarness } from '../helpers/bot-harness';
import { OpenIdStub } from '../helpers/openid-stub';
import { selfSignedCertificate } from '../helpers/self-signed';

const APP_ID = '5b7e0b4c-0000-4000-8000-0000000ce47e';
const TENANT = '7c1d2e3f-0000-4000-8000-0000000000aa';

/** Production mode with a certificate instead of a client secret: tokens are still validated on every request. */
describe('bot signed in with a certificate', () => {
  let dir: string;
  let openId: OpenIdStub;
  let h: BotHarness;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'syncshift-cert-'));
    const cert = selfSignedCertificate(dir, 'syncshift-bot');
    openId = await new OpenIdStub().start();
    h = await startBotHarness({
      env: {
        HOST: '127.0.0.1',
        MICROSOFT_APP_ID: APP_ID,
        MICROSOFT_APP_TYPE: 'SingleTenant',
        MICROSOFT_APP_TENANT_ID: TENANT,
        MICROSOFT_APP_CERTIFICATE_PATH: cert.certPath,
        MICROSOFT_APP_CERTIFICATE_KEY_PATH: cert.keyPath,
        MICROSOFT_BOT_OPENID_METADATA_URL: openId.channelMetadataUrl,
        MICROSOFT_BOT_EMULATOR_OPENID_METADATA_URL: openId.emulatorMetadataUrl,
      },
    });
  });
  afterAll(async () => {
    await h?.close();
    await openId?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const post = (activity: Record<string, unknown>, headers: Record<string, string> = {}): Promise<Response> =>
    fetch(`${h.bot.url}/api/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify(activity),
    });

  it('starts in production mode', async () => {
    expect(await (await fetch(`${h.bot.url}/healthz`)).json()).toEqual({ ok: true, mode: 'production' });
  });

  it('refuses an activity without a token, and one signed by a forger, with 401; nothing runs', async () => {
    const activity = messageActivity({
      text: '/migration start "forged"',
      from: ADELE,
      conversationId: '19:cert@thread.tacv2',
      serviceUrl: h.connector.url,
    });
    const bare = await post(activity);
    expect(bare.status).toBe(401);
    expect(await bare.json()).toEqual({
      code: 'BOT.UNAUTHORIZED',
      message: 'The Bot Framework token is missing or not valid for this bot.',
    });
    const now = Math.floor(Date.now() / 1000);
    const forged = openId.sign(
      {
        iss: 'https://api.botframework.com',
        aud: APP_ID,
        iat: now - 60,
        nbf: now - 60,
        exp: now + 3600,
        serviceurl: h.connector.url,
      },
      { key: openId.forgerKey },
    );
    expect((await post(activity, { authorization: `Bearer ${forged}` })).status).toBe(401);
    expect(await h.store.migrations.findByConversation('19:cert@thread.tacv2')).toBeNull();
    expect(h.connector.calls).toHaveLength(0);
  });

  it('refuses a correctly signed token without exp, or wrong in time by more than 5 minutes of clock skew, before reading the body', async () => {
    const now = Math.floor(Date.now() / 1000);
    const claims = {
      iss: 'https://api.botframework.com',
      aud: APP_ID,
      iat: now - 60,
      nbf: now - 60,
      exp: now + 3600,
      serviceurl: h.connector.url,
    };
    const activity = messageActivity({
      text: '/migration start "timeless"',
      from: ADELE,
      conversationId: '19:cert-time@thread.tacv2',
      serviceUrl: h.connector.url,
    });
    const { exp: _exp, nbf: _nbf, iat: _iat, ...timeless } = claims;
    for (const refused of [
      timeless,
      { ...claims, exp: now - 301 - 60, nbf: now - 3600, iat: now - 3600 },
      { ...claims, nbf: now + 301 + 60 },
      { ...claims, iat: now + 301 + 60 },
    ]) {
      const res = await post(activity, { authorization: `Bearer ${openId.sign(refused)}` });
      expect(res.status).toBe(401);
      expect(await res.json()).toEqual({
        code: 'BOT.UNAUTHORIZED',
        message: 'The Bot Framework token is missing or not valid for this bot.',
      });
    }
    expect(await h.store.migrations.findByConversation('19:cert-time@thread.tacv2')).toBeNull();
    // Within the skew a clock slightly behind or ahead is no reason to refuse.
    const typing = { ...activity, type: 'typing', text: '' };
    expect((await post(typing, { authorization: `Bearer ${openId.sign({ ...claims, exp: now - 120 })}` })).status).toBe(
      200,
    );
    expect(
      (await post(typing, { authorization: `Bearer ${openId.sign({ ...claims, nbf: now + 120, iat: now + 120 })}` }))
        .status,
    ).toBe(200);
  });

  it('accepts a token signed with the published key for this app id', async () => {
    const now = Math.floor(Date.now() / 1000);
    const token = openId.sign({
      iss: 'https://api.botframework.com',
      aud: APP_ID,
      iat: now - 60,
      nbf: now - 60,
      exp: now + 3600,
      serviceurl: h.connector.url,
    });
    const typing = {
      ...messageActivity({
        text: '',
        from: ADELE,
        conversationId: '19:cert@thread.tacv2',
        serviceUrl: h.connector.url,
      }),
      type: 'typing',
    };
    expect((await post(typing, { authorization: `Bearer ${token}` })).status).toBe(200);
    // The same token for another bot's app id is refused: the audience is checked against the certificate's app.
    const other = openId.sign({
      iss: 'https://api.botframework.com',
      aud: '00000000-0000-4000-8000-000000000bad',
      iat: now - 60,
      nbf: now - 60,
      exp: now + 3600,
      serviceurl: h.connector.url,
    });
    expect((await post(typing, { authorization: `Bearer ${other}` })).status).toBe(401);
  });
});
