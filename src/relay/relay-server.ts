import { randomUUID } from 'node:crypto';
import { type Request, type RequestHandler, type Response, type Server } from 'restify';
import type { JobConsumers } from '../jobs/job-consumers';
import type { JobQueue } from '../jobs/job-queue';
import { Leases } from '../jobs/leases';
import type { RequeueReason } from '../jobs/lost-leases';
import type { Timers } from '../jobs/result-applier';
import { agentActor } from '../runbook/actor';
import type { Logger } from '../shared/logger';
import type { JobRecord, Store } from '../store/types';
import { AgentAuth, agentOf } from './agent-auth';
import { Enrollment } from './enrollment';
import { jsonBody, parseBody, smallBody } from './json-body';
import { ndjsonLines } from './ndjson-lines';
import {
  SCAN_STREAM_CONTENT_TYPE,
  STARTING_PHASE,
  jobPayload,
  leaseRequest,
  progressRequest,
  resultRequest,
  runnableActions,
  type LeasedJob,
  type ScanOuHead,
} from './protocol';
import { NOT_LEASED, readScanStream, SCAN_STREAM_LIMITS, type ScanLineSink } from './scan-stream-reader';

/** A result sent as one JSON document is parsed whole, so it gets much less room than a streamed scan (SCAN_STREAM_LIMITS). */
const MAX_JSON_RESULT_BYTES = 16 * 1024 * 1024;
/** Users per stored piece when a scan arrives as one JSON document. */
const USERS_PER_PIECE = 1000;

export interface RelayListener {
  onProgress(job: JobRecord, scanned: number): Promise<void>;
  /**
   * A scan for `jobId` is arriving as lines. Return a sink to see its users as they come (a verify
   * indexes them while the agent is still sending), or null. The stored pieces stay the record.
   */
  onScanArriving?(jobId: string, head: Pick<ScanOuHead, 'baseDn'>): Promise<ScanLineSink | null>;
  /** A job whose agent went quiet (or was lost: `reason`) is back in the queue for another attempt. */
  onJobRequeued?(job: JobRecord, attempts: { used: number; max: number }, reason: RequeueReason): Promise<void>;
}

export interface RelayServerOptions {
  store: Store;
  /** Where lease requests wait for work, and are woken when a job is queued or requeued. */
  jobs: JobQueue;
  /** Who applies a finished job's result, by the job's purpose. */
  consumers: JobConsumers;
  /**
   * Static agents from SYNCSHIFT_AGENT_SECRETS: agent id → shared secret; compared in constant time,
   * never logged. Enrolled agents are checked against the digests in the store instead.
   */
  agentSecrets: Map<string, string>;
  listener: RelayListener;
  logger: Logger;
  leaseMs?: number;
  /** Leases one retryable job may lose before it fails with RELAY.AGENT_LOST; default 3. */
  maxAttempts?: number;
  /** How often a waiting lease request re-checks the store, for jobs queued by another bot instance. */
  pollIntervalMs?: number;
  now?: () => Date;
  /** How long applying a result may go unrenewed before another instance takes it over; default 2 minutes. */
  applyClaimMs?: number;
  /** Pause before a result whose consumer failed is tried again; default 1 minute. */
  applyRetryMs?: number;
  timers?: Timers;
  /** Refused enrollment codes allowed per client address and window before it gets 429; default 10 per minute. */
  enrollFailures?: { max: number; windowMs: number };
  /**
   * How long a streamed scan may send nothing before it is dropped as cut off; default 5 minutes.
   * The agent sends a page of users as soon as the directory returns it, so only a stalled agent
   * or network is silent that long.
   */
  streamIdleMs?: number;
  /** How long an agent whose scan upload was cut off has to show it is alive before its job is taken back; default 5 s. */
  cutGraceMs?: number;
}

/**
 * The bot's side of the relay. Agents connect out to it and long-poll for jobs; there is no
 * endpoint that works without an agent credential.
 */
export class RelayServer {
  private readonly now: () => Date;
  private readonly auth: AgentAuth;
  private readonly enrollment: Enrollment;
  private readonly leases: Leases;
  private readonly maxAttempts: number;
  private readonly applyClaimMs: number;
  private stopping = false;

  constructor(private readonly options: RelayServerOptions) {
    this.now = options.now ?? (() => new Date());
    this.maxAttempts = options.maxAttempts ?? 3;
    this.applyClaimMs = options.applyClaimMs ?? 2 * 60_000;
    this.leases = new Leases({
      store: options.store,
      jobs: options.jobs,
      consumers: options.consumers,
      logger: options.logger,
      now: this.now,
      maxAttempts: this.maxAttempts,
      applyClaimMs: this.applyClaimMs,
      ...(options.applyRetryMs !== undefined ? { applyRetryMs: options.applyRetryMs } : {}),
      ...(options.timers ? { timers: options.timers } : {}),
      ...(options.cutGraceMs !== undefined ? { cutGraceMs: options.cutGraceMs } : {}),
      onJobRequeued: async (job, attempts, reason) => options.listener.onJobRequeued?.(job, attempts, reason),
    });
    this.auth = new AgentAuth({ store: options.store, agentSecrets: options.agentSecrets, now: this.now });
    this.enrollment = new Enrollment({
      store: options.store,
      now: this.now,
      ...(options.enrollFailures ? { enrollFailures: options.enrollFailures } : {}),
    });
  }

  /**
   * The bot is shutting down: every open long poll is answered "no job" now, and so is any lease
   * request still to come, instead of holding the shutdown up for the rest of its wait (up to 30 s).
   */
  stopLeasing(): void {
    this.stopping = true;
    this.leases.lost.stop();
    this.options.jobs.wakeAgents();
  }

  register(server: Server): void {
    // The one endpoint without an agent credential: the one-time code is the credential.
    server.post('/relay/v1/agents/enroll', smallBody(), async (req: Request, res: Response) =>
      this.enrollment.enroll(req, res).catch((err: Error) => this.failed(err, req, res)),
    );
    // Authentication comes before the body is read: a stranger cannot make the bot buffer 256 MB.
    const authenticated = (): RequestHandler => this.auth.required((err, req, res) => this.failed(err, req, res));
    server.post('/relay/v1/jobs/lease', authenticated(), smallBody(), async (req: Request, res: Response) =>
      this.handle(req, res, () => this.lease(req, res)),
    );
    server.post('/relay/v1/jobs/:id/progress', authenticated(), smallBody(), async (req: Request, res: Response) =>
      this.handle(req, res, () => this.progress(req, res)),
    );
    // A streamed scan is read line by line in result(); everything else is one small JSON document.
    server.post(
      '/relay/v1/jobs/:id/result',
      authenticated(),
      unlessStreamed(jsonBody(MAX_JSON_RESULT_BYTES)),
      async (req: Request, res: Response) => this.handle(req, res, () => this.result(req, res)),
    );
  }

  private async handle(req: Request, res: Response, fn: () => Promise<void>): Promise<void> {
    try {
      await fn();
    } catch (err) {
      this.failed(err as Error, req, res);
    }
  }

  private failed(err: Error, req: Request, res: Response): void {
    this.options.logger.error({ err: err.message, path: req.path() }, 'relay request failed');
    if (!res.headersSent)
      res.send(500, { code: 'INTERNAL', message: 'The bot could not handle this request; it has been logged.' });
  }

  private async lease(req: Request, res: Response): Promise<void> {
    const body = parseBody(leaseRequest, req, res);
    if (!body) return;
    const agentId = agentOf(req);
    // What the agent says it can run; read-only is enforced here too, whatever the list says. An
    // agent that says nothing runs nothing: offered every job, it could "finish" step 8 unrun.
    const actions = runnableActions(body);
    if (actions.length === 0) {
      this.options.logger.warn(
        { agentId, declared: body.actions?.slice(0, 8) ?? null, agentVersion: body.agentVersion },
        'refused a lease request that declares no action this bot knows',
      );
      res.send(400, NO_ACTIONS_DECLARED);
      return;
    }
    await this.options.store.agents.declareCapabilities({ name: agentId, actions, readOnly: body.readOnly ?? false });
    // Once, as the request arrives: a poll left open by a process that has since died must not take
    // back what its successor was given.
    if (body.holding !== undefined) await this.leases.lost.agentHolds(agentId, body.holding);
    const deadline = Date.now() + body.waitMs;
    let closed = false;
    // The response, not the request: a request's 'close' fires as soon as its body has been read.
    res.once('close', () => (closed = true));
    for (;;) {
      // The agent hung up: a job leased now would go to nobody. Node does not always notice a dead
      // client while the response is pending, which is why mutating jobs also need a start confirmation.
      if (closed) return;
      if (this.stopping) {
        // The agent polls again at once; the connection closes so that poll finds the bot gone.
        res.header('connection', 'close');
        res.send(200, { job: null });
        return;
      }
      // Revoked while this request waited: say so. (The lease UPDATE itself refuses a revoked agent too.)
      if (!(await this.auth.stillActive(agentId))) {
        res.send(403, { code: 'RELAY.AGENT_REVOKED', message: "This agent's credential was revoked." });
        return;
      }
      await this.expireLeases();
      const job = await this.options.store.jobs.lease({
        agentId,
        leaseMs: this.options.leaseMs ?? 5 * 60_000,
        now: this.now(),
        maxAttempts: this.maxAttempts,
        actions,
      });
      if (job) {
        const payload = jobPayload.safeParse(job.payload);
        if (!payload.success) {
          // A job the protocol cannot express would be refused by every agent; fail it here, visibly.
          const failed = await this.options.store.jobs.finish({
            jobId: job.id,
            agentId,
            outcome: 'failed',
            result: null,
            error: { code: 'RELAY.BAD_REQUEST', message: 'The job could not be encoded for the agent.' },
            now: this.now(),
            claimMs: this.applyClaimMs,
          });
          if (failed) void this.apply(failed);
          continue;
        }
        const leased: LeasedJob = {
          id: job.id,
          payload: payload.data,
          leaseExpiresAt: (job.leaseExpiresAt ?? this.now()).toISOString(),
        };
        await this.options.store.audit.record(agentActor(agentId), {
          action: 'job.leased',
          target: job.id,
          outcome: 'leased',
          details: { action: payload.data.action, attempt: job.attempts },
          conversationId: job.conversationId,
        });
        res.send(200, { job: leased });
        return;
      }
      const remaining = deadline - Date.now();
      if (remaining <= 0 || closed) {
        res.send(200, { job: null });
        return;
      }
      await this.waitForJob(Math.min(remaining, this.options.pollIntervalMs ?? 1000));
    }
  }

  /** Leases that ran out are taken back (Leases.expire); the bot's other instances and its sweep do this too. */
  expireLeases(): Promise<void> {
    return this.leases.expire();
  }

  /** Expired leases, then results stored but never applied (Leases.sweep). */
  sweep(): Promise<void> {
    return this.leases.sweep();
  }

  private apply(job: JobRecord): Promise<void> {
    return this.leases.apply(job);
  }

  private async waitForJob(ms: number): Promise<void> {
    if (this.stopping) return;
    await this.options.jobs.waitForWork(ms);
  }

  private async progress(req: Request, res: Response): Promise<void> {
    const body = parseBody(progressRequest, req, res);
    if (!body) return;
    const agentId = agentOf(req);
    const jobId = String(req.params.id);
    // Before a change starts: an agent that holds a job it never said it runs must not make it.
    const refused = body.phase === STARTING_PHASE ? await this.undeclaredJob(agentId, jobId) : null;
    if (refused) {
      res.send(refused.status, refused.body);
      return;
    }
    const ok = await this.options.store.jobs.reportProgress({
      jobId,
      agentId,
      progress: body,
      leaseMs: this.options.leaseMs ?? 5 * 60_000,
      now: this.now(),
      starting: body.phase === STARTING_PHASE,
    });
    if (!ok) {
      res.send(409, { code: 'RELAY.NOT_LEASED', message: 'This job is not leased by this agent.' });
      return;
    }
    res.send(200, { ok: true });
    const job = await this.options.store.jobs.get(jobId);
    if (job)
      void this.options.listener
        .onProgress(job, body.scanned)
        .catch((err: Error) => this.options.logger.warn({ err: err.message }, 'progress handler failed'));
  }

  private async result(req: Request, res: Response): Promise<void> {
    if (isStreamed(req)) {
      await this.streamedResult(req, res);
      return;
    }
    const body = parseBody(resultRequest, req, res);
    if (!body) return;
    const agentId = agentOf(req);
    const jobId = String(req.params.id);
    const refused = await this.undeclaredJob(agentId, jobId, body.outcome === 'succeeded' ? body.result.action : null);
    if (refused) {
      res.send(refused.status, refused.body);
      return;
    }
    let result: unknown = body.outcome === 'succeeded' ? body.result : null;
    let resultUpload: string | null = null;
    if (body.outcome === 'succeeded' && body.result.action === 'directory.scanOu') {
      // Stored like a streamed scan, so every reader finds the users in one place.
      const { users, ...head } = body.result;
      const upload = randomUUID();
      for (let i = 0; i < users.length; i += USERS_PER_PIECE) {
        if (
          !(await this.options.store.jobs.putResultPiece({
            jobId,
            agentId,
            upload,
            seq: i / USERS_PER_PIECE,
            usersJson: JSON.stringify(users.slice(i, i + USERS_PER_PIECE)),
          }))
        ) {
          await this.options.store.jobs.dropResultUpload({ jobId, upload });
          this.notLeased(res);
          return;
        }
      }
      result = { ...head, storedUsers: users.length };
      resultUpload = upload;
    }
    const error = body.outcome === 'failed' ? body.error : null;
    await this.finishJob(res, { jobId, agentId, outcome: body.outcome, result, error, resultUpload });
  }

  /**
   * A scan sent as lines, read by readScanStream: the bot never holds more than one line of the
   * body, and the job is finished only after the end line. The pieces are stored under an id of
   * this upload alone: an agent retrying before the bot noticed that its first connection broke
   * sends a second upload beside the first, never into it.
   */
  private async streamedResult(req: Request, res: Response): Promise<void> {
    const agentId = agentOf(req);
    const jobId = String(req.params.id);
    const upload = randomUUID();
    let stored = 0;
    let sink: ScanLineSink | null = null;
    // Whatever happens to an upload that does not finish its job, nothing of it is kept.
    const discard = async (): Promise<void> => {
      sink?.end(false);
      sink = null;
      if (stored > 0) await this.options.store.jobs.dropResultUpload({ jobId, upload });
    };
    const undeclared = await this.undeclaredJob(agentId, jobId, 'directory.scanOu');
    if (undeclared) return this.refuseStream(req, res, undeclared.status, undeclared.body);
    let lineNo = 0;
    req.setTimeout(this.options.streamIdleMs ?? 5 * 60_000, () =>
      req.destroy(new Error('the agent sent nothing for too long')),
    );
    try {
      // Not destroyed on an early stop: a refusal must reach the agent before the connection closes.
      const body = req.iterator({ destroyOnReturn: false }) as AsyncIterable<Buffer>;
      const lines = ndjsonLines(body, SCAN_STREAM_LIMITS);
      const outcome = await readScanStream(
        counted(lines, () => lineNo++),
        {
          head: async (head) => {
            sink = (await this.options.listener.onScanArriving?.(jobId, head.result)) ?? null;
          },
          users: (users) => (sink as ScanLineSink | null)?.users(users),
          storePiece: async (line, seq) => {
            const ok = await this.options.store.jobs.putResultPiece({ jobId, agentId, upload, seq, usersJson: line });
            if (ok) stored = seq + 1;
            return ok;
          },
        },
      );
      if (!outcome.ok) {
        // A refused upload leaves nothing behind, and the job stays leased for the agent to send again.
        await discard();
        return this.refuseStream(req, res, outcome.status, { code: outcome.code, message: outcome.message });
      }
      const result = { ...outcome.head.result, totals: outcome.totals, storedUsers: outcome.users };
      // The index is declared complete only once the job is really finished with this upload, and
      // before the result is applied (which takes it); a refused finish must not leave it behind.
      await this.finishJob(
        res,
        { jobId, agentId, outcome: 'succeeded', result, error: null, resultUpload: upload },
        (finished) => {
          (sink as ScanLineSink | null)?.end(finished);
          sink = null;
        },
      );
    } catch (err) {
      await discard().catch((dropErr: Error) =>
        this.options.logger.warn(
          { jobId, err: dropErr.message },
          "the pieces of an unfinished upload could not be dropped; the job's finish drops them",
        ),
      );
      if (connectionGone(req, res)) {
        // Most often the agent's directory read failed and it cut the upload off on purpose; it
        // reports that failure next.
        this.options.logger.warn(
          { jobId, agentId, err: (err as Error).message, lines: lineNo },
          'a streamed scan was cut off before its end line',
        );
        // Or the agent died: then nothing more comes, and the job is taken back after a short grace.
        if (!this.stopping) this.leases.lost.uploadCut(jobId, agentId);
        return;
      }
      // The bot's own failure (the store, say) while the agent is still connected: it must hear so,
      // or it waits for an answer that never comes while its heartbeat keeps the lease.
      this.options.logger.error(
        { jobId, agentId, err: (err as Error).message, lines: lineNo },
        'a streamed scan could not be stored',
      );
      if (!res.headersSent)
        this.refuseStream(req, res, 500, {
          code: 'INTERNAL',
          message:
            'The bot could not store this scan; it has been logged. Nothing of this upload was kept, and the job is still leased to this agent.',
        });
    }
  }

  /**
   * Why `agentId` may not report on `jobId`: the job was not last leased to it, or it is for an
   * action the agent never declared (leased before the bot checked), or `resultAction` is another
   * action's result. Null when it may; the store's finish still decides whether it is accepted.
   */
  private async undeclaredJob(
    agentId: string,
    jobId: string,
    resultAction: string | null = null,
  ): Promise<{ status: number; body: { code: string; message: string; hint?: string } } | null> {
    const job = await this.options.store.jobs.get(jobId);
    if (!job || job.agentId !== agentId) return { status: 409, body: NOT_LEASED };
    const action = String((job.payload as { action?: unknown } | null)?.action ?? job.kind).slice(0, 64);
    const declared = (await this.options.store.agents.get(agentId))?.actions ?? [];
    if (!declared.includes(action)) {
      return {
        status: 409,
        body: {
          code: 'RELAY.ACTION_NOT_DECLARED',
          message: `This agent has not declared that it runs ${action}, so nothing it reports for this job is taken.`,
          hint: 'Update syncshift-agent on the agent host to the bot\'s version and check its configuration (SYNCSHIFT_ADSYNC_EXPORT_DIR, SYNCSHIFT_READ_ONLY); the job goes back to the queue or, if a change may have started, is marked "outcome unknown".',
        },
      };
    }
    if (resultAction !== null && resultAction !== action)
      return {
        status: 400,
        body: {
          code: 'RELAY.BAD_REQUEST',
          message: `Invalid request: the result is for ${resultAction} but the job is ${action}.`,
        },
      };
    return null;
  }

  /** Answers before the body has been read to its end, and stops reading it. */
  private refuseStream(req: Request, res: Response, status: number, body: { code: string; message: string }): void {
    res.header('connection', 'close');
    res.send(status, body);
    res.once('finish', () => req.destroy());
  }

  private notLeased(res: Response): void {
    res.send(409, NOT_LEASED);
  }

  /**
   * `settled` hears whether the job was finished, before its result is applied: a streamed scan's
   * live index must be complete (or gone) by then.
   */
  private async finishJob(
    res: Response,
    input: {
      jobId: string;
      agentId: string;
      outcome: 'succeeded' | 'failed';
      result: unknown;
      error: { code: string } | null;
      resultUpload?: string | null;
    },
    settled?: (finished: boolean) => void,
  ): Promise<void> {
    const { jobId, agentId, outcome } = input;
    let job: JobRecord | null;
    try {
      job = await this.options.store.jobs.finish({ ...input, now: this.now(), claimMs: this.applyClaimMs });
    } catch (err) {
      settled?.(false);
      throw err;
    }
    settled?.(job !== null);
    if (!job) {
      if (input.resultUpload) await this.options.store.jobs.dropResultUpload({ jobId, upload: input.resultUpload });
      this.notLeased(res);
      return;
    }
    await this.options.store.agents.countResult(agentId);
    await this.options.store.audit.record(agentActor(agentId), {
      action: 'job.result',
      target: jobId,
      outcome,
      details: input.error ? { code: input.error.code } : {},
      conversationId: job.conversationId,
    });
    res.send(200, { ok: true });
    // The agent is answered first; the cloud read and card update can take a while. The result is
    // stored, so if this instance stops before it is applied, the next sweep (here or elsewhere) applies it.
    void this.apply(job);
  }
}

const NO_ACTIONS_DECLARED = {
  code: 'RELAY.NO_ACTIONS_DECLARED',
  message: 'This agent did not say which actions it runs (or named none this bot knows), so it is offered no job.',
  hint: "Update syncshift-agent on the agent host to the bot's version: it declares its actions in every lease request.",
};

/** The agent hung up or the answer is already out: nothing more can reach it on this request. */
function connectionGone(req: Request, res: Response): boolean {
  return res.writableEnded || res.destroyed || req.socket === null || req.socket.destroyed;
}

/**
 * A scan streamed to the result route: exempt from the bot's body deadline (start-bot), since it
 * is as long as the directory read. Authenticated before its body is read, and idle-limited.
 */
export function isStreamedResult(req: Request): boolean {
  return (
    req.method === 'POST' &&
    /^\/relay\/v1\/jobs\/[^/]+\/result\/?$/.test((req.url ?? '').split('?')[0]!) &&
    isStreamed(req)
  );
}

function isStreamed(req: Request): boolean {
  return (req.header('content-type') ?? '').split(';')[0]!.trim().toLowerCase() === SCAN_STREAM_CONTENT_TYPE;
}

/** `lines` as they are, telling `seen` of each: for the log of a scan cut off part way. */
async function* counted(lines: AsyncIterable<string>, seen: () => void): AsyncGenerator<string> {
  for await (const line of lines) {
    seen();
    yield line;
  }
}

/** Runs `handlers` (a body parser) in turn, except for a streamed scan, which result() reads itself. */
function unlessStreamed(handlers: RequestHandler[]): RequestHandler {
  return (req, res, next) => {
    if (isStreamed(req)) return next();
    let i = 0;
    const step = (err?: unknown): void => {
      if (err !== undefined && err !== null) return void next(err as Error);
      const handler = handlers[i++];
      if (!handler) return void next();
      void handler(req, res, step as never);
    };
    step();
  };
}
