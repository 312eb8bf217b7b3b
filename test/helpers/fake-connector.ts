import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One call the bot made to the Bot Framework connector (what Teams would receive). */
export interface ConnectorCall {
  method: 'POST' | 'PUT';
  conversationId: string;
  /** The activity id for updates and replies, from the URL. */
  activityId: string | undefined;
  /** The id this fake assigned (POST) or the one updated (PUT). */
  id: string;
  /** performance.now() when the request body had arrived, for latency measurements in the benchmark. */
  receivedAt: number;
  activity: {
    type: string;
    text?: string;
    attachments?: { contentType: string; content: Record<string, unknown> }[];
    [key: string]: unknown;
  };
}

/**
 * A local stand-in for the Bot Framework connector at the activity's serviceUrl: it records every
 * activity the bot sends or updates and answers like the real service, with a new activity id.
 */
/** A failure injected into a POST of a new activity; see FakeConnector.failPosts. */
export type PostFailure = { status: number; accepted?: boolean; retryAfterSeconds?: number } | 'reset';

export class FakeConnector {
  readonly calls: ConnectorCall[] = [];
  /** Every POST/PUT of an activity as it arrived, including ones that were failed on purpose. */
  readonly postAttempts: { activity: ConnectorCall['activity']; failed: boolean }[] = [];
  /** Conversations the bot opened (POST /v3/conversations), e.g. a 1:1 chat for a private message. */
  readonly createdConversations: { id: string; parameters: Record<string, unknown> }[] = [];
  /** Answer createConversation with 403, as Teams does when the app is not installed for that user. */
  refuseConversations = false;
  /** Failures for the next new-activity POSTs whose activity matches, in order (see failPosts). */
  private readonly postFailures: { failure: PostFailure; match: (activity: ConnectorCall['activity']) => boolean }[] =
    [];
  /** Updates (PUTs) left unanswered on purpose (see hangUpdates); `closed` once the bot gave up on the request. */
  readonly hungUpdates: { activity: ConnectorCall['activity']; closed: boolean; answer: () => void }[] = [];
  private readonly updateHangs: ((activity: ConnectorCall['activity']) => boolean)[] = [];
  private server: Server | undefined;
  private counter = 0;
  private waiters: (() => void)[] = [];
  url = '';

  async start(): Promise<this> {
    this.server = createServer(
      (req, res) =>
        void this.handle(
          req,
          res.writeHead.bind(res),
          res.end.bind(res),
          () => res.socket?.destroy(),
          (onClose) => res.on('close', onClose),
        ),
    );
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/`;
    return this;
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => this.server?.close(() => resolve()) ?? resolve());
  }

  /** Latest version of every card message in a conversation, keyed by activity id, in posting order. */
  cards(conversationId: string): Map<string, Record<string, unknown>> {
    const out = new Map<string, Record<string, unknown>>();
    for (const call of this.calls) {
      if (call.conversationId !== conversationId) continue;
      const content = call.activity.attachments?.find(
        (a) => a.contentType === 'application/vnd.microsoft.card.adaptive',
      )?.content;
      if (content) out.set(call.id, content);
    }
    return out;
  }

  /**
   * The next `count` POSTs of new activities that `match` fail. `status` alone: refused, not in
   * the chat. `accepted`: the message lands in the chat (recorded) and the answer is still the
   * error status, as when Teams' gateway answers 502/504 after handing the message on. `reset`:
   * recorded, then the connection is dropped without an answer.
   */
  failPosts(
    count: number,
    failure: PostFailure,
    match: (activity: ConnectorCall['activity']) => boolean = () => true,
  ): void {
    for (let i = 0; i < count; i++) this.postFailures.push({ failure, match });
  }

  /**
   * The next update (PUT) whose activity matches gets no answer until `answer()` is called on its
   * entry in `hungUpdates`; the update is recorded (shown) only then, as a Teams endpoint that hangs.
   */
  hangUpdate(match: (activity: ConnectorCall['activity']) => boolean = () => true): void {
    this.updateHangs.push(match);
  }

  /** Resolves with the first call (after `from`) that satisfies the predicate. */
  async waitFor(
    predicate: (call: ConnectorCall) => boolean,
    options: { timeoutMs?: number; from?: number } = {},
  ): Promise<ConnectorCall> {
    const deadline = Date.now() + (options.timeoutMs ?? 30_000);
    for (;;) {
      const found = this.calls.slice(options.from ?? 0).find(predicate);
      if (found) return found;
      const remaining = deadline - Date.now();
      if (remaining <= 0) {
        const seen = this.calls
          .map((c) => `${c.method} ${c.id}: ${JSON.stringify(c.activity).slice(0, 300)}`)
          .join('\n');
        throw new Error(`No matching connector call within ${options.timeoutMs ?? 30_000} ms. Calls so far:\n${seen}`);
      }
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.min(remaining, 200));
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  private async handle(
    req: IncomingMessage,
    writeHead: (s: number, h: Record<string, string>) => unknown,
    end: (b?: string) => unknown,
    drop: () => void,
    onClose: (listener: () => void) => void,
  ): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks).toString('utf8');
    const receivedAt = performance.now();
    if (req.method === 'POST' && /^\/v3\/conversations\/?$/.test(req.url ?? '') && this.refuseConversations) {
      writeHead(403, { 'content-type': 'application/json' });
      end(JSON.stringify({ error: { code: 'Forbidden', message: 'The bot is not installed for this user.' } }));
      return;
    }
    if (req.method === 'POST' && /^\/v3\/conversations\/?$/.test(req.url ?? '')) {
      // Like Teams: a personal conversation id per member; asking again returns the same one.
      const parameters = JSON.parse(body) as Record<string, unknown>;
      const member = ((parameters.members as { id?: string }[] | undefined) ?? [])[0]?.id ?? 'nobody';
      const id = `a:personal-${member}`;
      this.createdConversations.push({ id, parameters });
      writeHead(200, { 'content-type': 'application/json' });
      end(JSON.stringify({ id }));
      return;
    }
    const match = /\/v3\/conversations\/([^/]+)\/activities(?:\/([^/?]+))?/.exec(req.url ?? '');
    if (!match || (req.method !== 'POST' && req.method !== 'PUT')) {
      writeHead(404, { 'content-type': 'application/json' });
      end(JSON.stringify({ error: { code: 'NotFound', message: `${req.method} ${req.url}` } }));
      return;
    }
    const conversationId = decodeURIComponent(match[1]!);
    const activityId = match[2] ? decodeURIComponent(match[2]) : undefined;
    const id = req.method === 'PUT' ? activityId! : `act-${++this.counter}`;
    const activity = JSON.parse(body) as ConnectorCall['activity'];
    const hangAt = req.method === 'PUT' ? this.updateHangs.findIndex((m) => m(activity)) : -1;
    if (hangAt >= 0) {
      this.updateHangs.splice(hangAt, 1);
      const hung = {
        activity,
        closed: false,
        answer: () => {
          if (hung.closed) return;
          this.calls.push({ method: 'PUT', conversationId, activityId, id, receivedAt, activity });
          writeHead(200, { 'content-type': 'application/json' });
          end(JSON.stringify({ id }));
        },
      };
      onClose(() => (hung.closed = true));
      this.hungUpdates.push(hung);
      return;
    }
    const failureAt = req.method === 'POST' ? this.postFailures.findIndex((f) => f.match(activity)) : -1;
    const failure = failureAt >= 0 ? this.postFailures.splice(failureAt, 1)[0]!.failure : undefined;
    this.postAttempts.push({ activity, failed: failure !== undefined });
    if (failure === undefined || failure === 'reset' || failure.accepted) {
      this.calls.push({ method: req.method, conversationId, activityId, id, receivedAt, activity });
      for (const w of this.waiters.splice(0)) w();
    }
    if (failure === 'reset') {
      drop();
      return;
    }
    if (failure !== undefined) {
      writeHead(failure.status, {
        'content-type': 'application/json',
        ...(failure.retryAfterSeconds !== undefined ? { 'retry-after': String(failure.retryAfterSeconds) } : {}),
      });
      end(JSON.stringify({ error: { code: 'ServiceError', message: `injected ${failure.status}` } }));
      return;
    }
    writeHead(200, { 'content-type': 'application/json' });
    end(JSON.stringify({ id }));
  }
}

export { cardText } from '../../src/cards/card-text';
