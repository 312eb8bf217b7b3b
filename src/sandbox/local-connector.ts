/**
 * A Bot Framework connector on loopback for the sandbox check without the Playground: the bot sends
 * its replies and card updates to the activity's serviceUrl, and this records them the way Teams
 * would show them (a PUT replaces the message it names).
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { z } from 'zod';

const activityBody = z
  .object({
    type: z.string(),
    text: z.string().optional(),
    attachments: z.array(z.object({ contentType: z.string(), content: z.unknown() })).optional(),
  })
  .passthrough();

export interface ConnectorMessage {
  /** The message's id in the conversation (what a later PUT names). */
  id: string;
  conversationId: string;
  /** Adaptive card contents of this version of the message. */
  cards: unknown[];
}

export class LocalConnector {
  /** Every version of every message, in arrival order. */
  readonly versions: ConnectorMessage[] = [];
  private server: Server | undefined;
  private counter = 0;
  url = '';

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      this.handle(req).then(
        ({ status, body }) => {
          res.writeHead(status, { 'content-type': 'application/json' });
          res.end(JSON.stringify(body));
        },
        (err: Error) => {
          res.writeHead(400, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ error: { code: 'BadRequest', message: err.message } }));
        },
      );
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/`;
    return this;
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  private async handle(req: IncomingMessage): Promise<{ status: number; body: unknown }> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const path = new URL(req.url ?? '/', 'http://connector').pathname;
    if (req.method === 'POST' && /^\/v3\/conversations\/?$/.test(path)) {
      // A 1:1 chat the bot opens (e.g. for an enrollment code): it gets an id and nothing more.
      return { status: 200, body: { id: `a:${randomUUID()}` } };
    }
    const match = /^\/v3\/conversations\/([^/]+)\/activities(?:\/([^/]+))?$/.exec(path);
    if (!match || (req.method !== 'POST' && req.method !== 'PUT'))
      return { status: 404, body: { error: { code: 'NotFound', message: `${req.method} ${path}` } } };
    const activity = activityBody.parse(JSON.parse(Buffer.concat(chunks).toString('utf8')));
    const conversationId = decodeURIComponent(match[1]!);
    const id = req.method === 'PUT' ? decodeURIComponent(match[2]!) : `sandbox-${++this.counter}`;
    const cards = (activity.attachments ?? [])
      .filter((a) => a.contentType === 'application/vnd.microsoft.card.adaptive')
      .map((a) => a.content);
    this.versions.push({ id, conversationId, cards });
    return { status: 200, body: { id } };
  }
}
