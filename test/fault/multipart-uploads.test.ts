import { readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { AGENT_ID, AGENT_SECRET, startBotHarness, type BotHarness } from '../helpers/bot-harness';

/**
 * restify's combined bodyParser hands multipart bodies to formidable, which writes every file part
 * to the temp folder and never removes it: an unauthenticated disk filler on the routes that read a
 * body before any credential (enrollment, and /api/messages in local mode). Every route now parses
 * JSON only; a multipart body is refused as a body that is not the expected JSON.
 */
describe('multipart uploads leave nothing on disk', () => {
  let h: BotHarness;
  // formidable writes each file part to os.tmpdir() as upload_<hex>. (Setting TMPDIR here would not
  // reach it: Jest gives a test file its own copy of process.env.)
  const uploads = (): string[] => readdirSync(tmpdir()).filter((name) => name.startsWith('upload_'));

  beforeAll(async () => {
    h = await startBotHarness({ env: { SYNCSHIFT_AGENT_SECRETS: `${AGENT_ID}:${AGENT_SECRET}` } });
  });

  afterAll(async () => {
    await h.close();
  });

  function multipart(): FormData {
    const form = new FormData();
    form.append('code', 'AAAA-BBBB-CCCC-DDDD-EEEE');
    form.append('file', new Blob([Buffer.alloc(32 * 1024, 0x61)]), 'filler.bin');
    return form;
  }

  it.each([
    ['enrollment, which has no credential but the code in its body', '/relay/v1/agents/enroll', {}],
    ['/api/messages in local mode', '/api/messages', {}],
    [
      'a lease from a valid agent',
      '/relay/v1/jobs/lease',
      { 'x-syncshift-agent': AGENT_ID, authorization: `Bearer ${AGENT_SECRET}` },
    ],
  ])('%s: refused with 400, no file written', async (_name, path, headers) => {
    const before = uploads();
    const res = await fetch(`${h.bot.url}${path}`, { method: 'POST', headers, body: multipart() });
    const written = uploads().filter((name) => !before.includes(name));
    expect(written).toEqual([]);
    expect(res.status).toBe(400);
  });
});
