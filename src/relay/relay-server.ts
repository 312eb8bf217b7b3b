import { randomUUID } from 'node:crypto';
import { type Request, type RequestHandler, type Response, type Server } from 'restify';
import type { z } from 'zod';
import { dispatchByPurpose, type JobConsumers } from '../jobs/job-consumers';
import type { JobQueue } from '../jobs/job-queue';
import { agentActor, ANONYMOUS_ACTOR, SYSTEM_ACTOR } from '../runbook/actor';
import type { Logger } from '../shared/logger';
import type { OnPremUser } from '../runbook/ou-comparison';
import type { JobRecord, Store } from '../store/types';
import { FailedAttemptLimiter } from './failed-attempt-limiter';
import { digestsEqual, newAgentSecret, normalizeEnrollmentCode, sha256Hex } from './agent-credentials';
import { LostLeases, type RequeueReason } from './lost-leases';
import { jsonBody } from './json-body';
import { ndjsonLines } from './ndjson-lines';
import { AGENT_ID_HEADER, AGENT_NAME, AGENT_VERSION_HEADER, SCAN_STREAM_CONTENT_TYPE, STARTING_PHASE, enrollRequest, jobPayload, leaseRequest, progressRequest, resultRequest, runnableActions, scanStreamEnd, scanStreamHead, scannedUsersProblem, type EnrollResponse, type LeasedJob, type ScanOuHead } from './protocol';
import { ResultApplier, type Timers } from './result-applier';

/**
 * A scan streamed as lines (SCAN_STREAM_CONTENT_TYPE) carries every user of an OU, about 120 bytes
 * each: 256 MB is two million users, and only one line of it is held at a time. A result sent as
 * one JSON document is parsed whole, so it gets much less room.
 */
const MAX_STREAMED_RESULT_BYTES = 256 * 1024 * 1024;
const MAX_RESULT_LINE_BYTES = 8 * 1024 * 1024;
const MAX_JSON_RESULT_BYTES = 16 * 1024 * 1024;
/** Users per stored piece when a scan arrives as one JSON document. */
const USERS_PER_PIECE = 1000;
const MAX_REQUEST_BYTES = 64 * 1024;
const smallBody = (): RequestHandler[] => jsonBody(MAX_REQUEST_BYTES);

/** Sees a streamed scan's users as they arrive, after each line is stored. */
export interface ScanLineSink {
  users(users: OnPremUser[]): void;
  /** `complete`: the end line came and the job is being finished; otherwise the upload was refused or cut. */
  end(complete: boolean): void;
}

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
  private readonly secretDigests: Map<string, string>;
  private readonly now: () => Date;
  private readonly enrollLimiter: FailedAttemptLimiter;
  private readonly applier: ResultApplier;
  private readonly maxAttempts: number;
  private readonly applyClaimMs: number;
  private stopping = false;
  private readonly lostLeases: LostLeases;

  constructor(private readonly options: RelayServerOptions) {
    this.now = options.now ?? (() => new Date());
    this.maxAttempts = options.maxAttempts ?? 3;
    this.applyClaimMs = options.applyClaimMs ?? 2 * 60_000;
    this.applier = new ResultApplier({
      store: options.store,
      consume: dispatchByPurpose(options.consumers),
      logger: options.logger,
      now: this.now,
      claimMs: this.applyClaimMs,
      retryAfterMs: options.applyRetryMs ?? 60_000,
      maxFailures: 5,
      ...(options.timers ? { timers: options.timers } : {}),
    });
    const limit = options.enrollFailures ?? { max: 10, windowMs: 60_000 };
    this.enrollLimiter = new FailedAttemptLimiter({ maxFailures: limit.max, windowMs: limit.windowMs });
    this.secretDigests = new Map([...options.agentSecrets].map(([id, secret]) => [id, sha256Hex(secret)]));
    this.lostLeases = new LostLeases({ store: options.store, logger: options.logger, now: this.now, expire: () => this.expireLeases(), ...(options.cutGraceMs !== undefined ? { cutGraceMs: options.cutGraceMs } : {}) });
  }

  /**
   * The bot is shutting down: every open long poll is answered "no job" now, and so is any lease
   * request still to come, instead of holding the shutdown up for the rest of its wait (up to 30 s).
   */
  stopLeasing(): void {
    this.stopping = true;
    this.lostLeases.stop();
    this.options.jobs.wakeAgents();
  }

  register(server: Server): void {
    // The one endpoint without an agent credential: the one-time code is the credential.
    server.post('/relay/v1/agents/enroll', smallBody(), async (req: Request, res: Response) => this.enroll(req, res).catch((err: Error) => this.failed(err, req, res)));
    // Authentication comes before the body is read: a stranger cannot make the bot buffer 256 MB.
    server.post('/relay/v1/jobs/lease', this.authenticated(), smallBody(), async (req: Request, res: Response) => this.handle(req, res, () => this.lease(req, res)));
    server.post('/relay/v1/jobs/:id/progress', this.authenticated(), smallBody(), async (req: Request, res: Response) => this.handle(req, res, () => this.progress(req, res)));
    // A streamed scan is read line by line in result(); everything else is one small JSON document.
    server.post('/relay/v1/jobs/:id/result', this.authenticated(), unlessStreamed(jsonBody(MAX_JSON_RESULT_BYTES)), async (req: Request, res: Response) => this.handle(req, res, () => this.result(req, res)));
  }

  private authenticated(): RequestHandler {
    return (req, res, next) => {
      this.authenticate(req).then(
        (auth) => {
          if (auth !== null && auth !== 'revoked') {
            (req as Request & { agentId?: string }).agentId = auth;
            return next();
          }
          // A refused request's body is never read: close the connection rather than let Node
          // drain a stranger's upload (a streamed one has no deadline) to keep it alive.
          if (!req.complete) {
            res.header('connection', 'close');
            res.once('finish', () => req.destroy());
          }
          if (auth === 'revoked') {
            res.send(403, { code: 'RELAY.AGENT_REVOKED', message: 'This agent\'s credential was revoked.', hint: 'Ask an approver for /agent enroll <name> and run syncshift-agent enroll again.' });
            return next(false);
          }
          res.send(401, { code: 'RELAY.UNAUTHORIZED', message: 'Unknown agent or wrong secret.' });
          return next(false);
        },
        (err: Error) => {
          this.failed(err, req, res);
          next(false);
        },
      );
    };
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
    if (!res.headersSent) res.send(500, { code: 'INTERNAL', message: 'The bot could not handle this request; it has been logged.' });
  }

  /**
   * Enrolled credential (digest in the store) or, for an agent that never enrolled or rotated, its
   * static secret (SYNCSHIFT_AGENT_SECRETS); a revoked agent is refused on its very next request.
   */
  private async authenticate(req: Request): Promise<string | 'revoked' | null> {
    const agentId = req.header(AGENT_ID_HEADER);
    const auth = req.header('authorization');
    if (!agentId || !AGENT_NAME.test(agentId) || !auth?.startsWith('Bearer ')) return null;
    const presented = sha256Hex(auth.slice('Bearer '.length));
    const stored = await this.options.store.agents.get(agentId);
    const staticDigest = this.secretDigests.get(agentId);
    // Once an agent holds an enrolled credential (enrolled or rotated), that is its only one: a
    // static secret left in SYNCSHIFT_AGENT_SECRETS must not outlive a rotation.
    const expected = stored?.secretSha256 ?? staticDigest;
    const matches = expected ? digestsEqual(expected, presented) : false;
    if (!matches) return null;
    if (stored?.status === 'revoked') return 'revoked';
    const version = req.header(AGENT_VERSION_HEADER);
    await this.options.store.agents.touch({ name: agentId, version: version ? version.slice(0, 64) : null, now: this.now() });
    return agentId;
  }

  private async stillActive(agentId: string): Promise<boolean> {
    return (await this.options.store.agents.get(agentId))?.status !== 'revoked';
  }

  private async enroll(req: Request, res: Response): Promise<void> {
    // The socket's address, not X-Forwarded-For: a header would let the guesser pick a new address per try.
    const client = req.socket.remoteAddress ?? 'unknown';
    const waitMs = this.enrollLimiter.retryAfterMs(client, Date.now());
    if (waitMs > 0) {
      res.header('Retry-After', String(Math.ceil(waitMs / 1000)));
      res.send(429, { code: 'RELAY.ENROLLMENT_RATE_LIMITED', message: 'Too many refused enrollment codes from this address.', hint: `Wait ${Math.ceil(waitMs / 1000)} s, then run syncshift-agent enroll again with a code from /agent enroll <name>.` });
      return;
    }
    const body = this.parse(enrollRequest, req, res);
    if (!body) return;
    const secret = newAgentSecret();
    const redeemed = await this.options.store.agents.redeemEnrollmentCode({ codeSha256: sha256Hex(normalizeEnrollmentCode(body.code)), secretSha256: sha256Hex(secret), now: this.now() });
    if (!redeemed) {
      // One audit row for the first refusal and one when the limit is hit, per address and window:
      // enough to see a guessing attempt, without letting a stranger fill the audit log.
      const failure = this.enrollLimiter.recordFailure(client, Date.now());
      if (failure.first || failure.limitReached) {
        const reason = failure.limitReached ? 'too many refused codes; further tries from this address get 429 until the window ends' : 'unknown, used or expired code';
        await this.options.store.audit.record(ANONYMOUS_ACTOR, { action: 'agent.enroll', target: null, outcome: failure.limitReached ? 'rate-limited' : 'refused', details: { reason, client }, conversationId: null });
      }
      res.send(401, { code: 'RELAY.ENROLLMENT_REFUSED', message: 'The enrollment code is unknown, already used or expired.', hint: 'Ask an approver to type /agent enroll <name> for a new code; a code works once, for a few minutes (10 by default).' });
      return;
    }
    await this.options.store.audit.record(agentActor(redeemed.agentName), { action: `agent.${redeemed.purpose}`, target: redeemed.agentName, outcome: 'credential-issued', details: { codeFrom: redeemed.createdBy, agentVersion: body.agentVersion ?? null }, conversationId: null });
    const response: EnrollResponse = { agentId: redeemed.agentName, secret };
    res.send(200, response);
  }

  private async lease(req: Request, res: Response): Promise<void> {
    const body = this.parse(leaseRequest, req, res);
    if (!body) return;
    const agentId = agentOf(req);
    // What the agent says it can run; read-only is enforced here too, whatever the list says. An
    // agent that says nothing runs nothing: offered every job, it could "finish" step 8 unrun.
    const actions = runnableActions(body);
    if (actions.length === 0) {
      this.options.logger.warn({ agentId, declared: body.actions?.slice(0, 8) ?? null, agentVersion: body.agentVersion }, 'refused a lease request that declares no action this bot knows');
      res.send(400, NO_ACTIONS_DECLARED);
      return;
    }
    await this.options.store.agents.declareCapabilities({ name: agentId, actions, readOnly: body.readOnly ?? false });
    // Once, as the request arrives: a poll left open by a process that has since died must not take
    // back what its successor was given.
    if (body.holding !== undefined) await this.lostLeases.agentHolds(agentId, body.holding);
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
      if (!(await this.stillActive(agentId))) {
        res.send(403, { code: 'RELAY.AGENT_REVOKED', message: 'This agent\'s credential was revoked.' });
        return;
      }
      await this.expireLeases();
      const job = await this.options.store.jobs.lease({ agentId, leaseMs: this.options.leaseMs ?? 5 * 60_000, now: this.now(), maxAttempts: this.maxAttempts, actions });
      if (job) {
        const payload = jobPayload.safeParse(job.payload);
        if (!payload.success) {
          // A job the protocol cannot express would be refused by every agent; fail it here, visibly.
          const failed = await this.options.store.jobs.finish({ jobId: job.id, agentId, outcome: 'failed', result: null, error: { code: 'RELAY.BAD_REQUEST', message: 'The job could not be encoded for the agent.' }, now: this.now(), claimMs: this.applyClaimMs });
          if (failed) void this.apply(failed);
          continue;
        }
        const leased: LeasedJob = { id: job.id, payload: payload.data, leaseExpiresAt: (job.leaseExpiresAt ?? this.now()).toISOString() };
        await this.options.store.audit.record(agentActor(agentId), { action: 'job.leased', target: job.id, outcome: 'leased', details: { action: payload.data.action, attempt: job.attempts }, conversationId: job.conversationId });
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

  /**
   * Leases that ran out. A started mutating job is not retried: it fails as "outcome unknown" and
   * its card asks a person to check. A read-only one (or a mutating one never started) goes back to
   * the queue, until it has been leased maxAttempts times; then it fails with RELAY.AGENT_LOST. Run
   * on every lease poll and by the bot's sweep timer, on any number of instances: the store's UPDATEs
   * hand each expired job to exactly one caller.
   */
  async expireLeases(): Promise<void> {
    const { outcomeUnknown, exhausted, requeued } = await this.options.store.jobs.expireLeases({ now: this.now(), maxAttempts: this.maxAttempts, claimMs: this.applyClaimMs });
    for (const job of requeued) {
      const reason = this.lostLeases.reasonFor(job.id);
      await this.options.store.audit.record(SYSTEM_ACTOR, { action: 'job.requeued', target: job.id, outcome: reason, details: { kind: job.kind, agentId: job.agentId, attempts: job.attempts, maxAttempts: this.maxAttempts }, conversationId: job.conversationId });
      void this.options.listener.onJobRequeued?.(job, { used: job.attempts, max: this.maxAttempts }, reason).catch((err: Error) => this.options.logger.warn({ err: err.message, jobId: job.id }, 'reporting a requeued job failed'));
    }
    if (requeued.length > 0) this.options.jobs.wakeAgents();
    for (const [jobs, outcome] of [[outcomeUnknown, 'outcome-unknown'], [exhausted, 'agent-lost']] as const) {
      for (const job of jobs) {
        await this.options.store.audit.record(SYSTEM_ACTOR, { action: 'job.expired', target: job.id, outcome, details: { kind: job.kind, agentId: job.agentId, attempts: job.attempts }, conversationId: job.conversationId });
        void this.apply(job);
      }
    }
  }

  /**
   * The bot's periodic check, also run at start: expired leases, then every finished job whose
   * result was never applied (the bot stopped between storing it and acting on it, or a consumer failed).
   */
  async sweep(): Promise<void> {
    await this.expireLeases();
    await this.applier.applyPending();
  }

  /** Hands a finished job (claimed by this instance) to its consumer; never throws. */
  private apply(job: JobRecord): Promise<void> {
    return this.applier.apply(job).catch((err: Error) => this.options.logger.error({ err: err.message, jobId: job.id }, 'applying the job result failed; the sweep tries again'));
  }

  private async waitForJob(ms: number): Promise<void> {
    if (this.stopping) return;
    await this.options.jobs.waitForWork(ms);
  }

  private async progress(req: Request, res: Response): Promise<void> {
    const body = this.parse(progressRequest, req, res);
    if (!body) return;
    const agentId = agentOf(req);
    const jobId = String(req.params.id);
    // Before a change starts: an agent that holds a job it never said it runs must not make it.
    const refused = body.phase === STARTING_PHASE ? await this.undeclaredJob(agentId, jobId) : null;
    if (refused) {
      res.send(refused.status, refused.body);
      return;
    }
    const ok = await this.options.store.jobs.reportProgress({ jobId, agentId, progress: body, leaseMs: this.options.leaseMs ?? 5 * 60_000, now: this.now(), starting: body.phase === STARTING_PHASE });
    if (!ok) {
      res.send(409, { code: 'RELAY.NOT_LEASED', message: 'This job is not leased by this agent.' });
      return;
    }
    res.send(200, { ok: true });
    const job = await this.options.store.jobs.get(jobId);
    if (job) void this.options.listener.onProgress(job, body.scanned).catch((err: Error) => this.options.logger.warn({ err: err.message }, 'progress handler failed'));
  }

  private async result(req: Request, res: Response): Promise<void> {
    if (isStreamed(req)) {
      await this.streamedResult(req, res);
      return;
    }
    const body = this.parse(resultRequest, req, res);
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
        if (!(await this.options.store.jobs.putResultPiece({ jobId, agentId, upload, seq: i / USERS_PER_PIECE, usersJson: JSON.stringify(users.slice(i, i + USERS_PER_PIECE)) }))) {
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
   * A scan sent as lines: the head, then arrays of users, then the end line. Each user line is
   * checked and stored as it arrives, so the bot never holds more than one line of the body; the
   * job is finished only after the end line, whose count proves nothing was cut off. The pieces are
   * stored under an id of this upload alone: an agent retrying before the bot noticed that its
   * first connection broke sends a second upload beside the first, never into it.
   */
  private async streamedResult(req: Request, res: Response): Promise<void> {
    const agentId = agentOf(req);
    const jobId = String(req.params.id);
    const upload = randomUUID();
    let head: z.infer<typeof scanStreamHead> | null = null;
    let seq = 0;
    let sink: ScanLineSink | null = null;
    // Whatever happens to an upload that does not finish its job, nothing of it is kept.
    const discard = async (): Promise<void> => {
      sink?.end(false);
      sink = null;
      if (seq > 0) await this.options.store.jobs.dropResultUpload({ jobId, upload });
    };
    // A refused upload leaves nothing behind, and the job stays leased for the agent to send again.
    const refuse = async (status: number, body: { code: string; message: string }): Promise<void> => {
      await discard();
      this.refuseStream(req, res, status, body);
    };
    const invalid = (message: string): Promise<void> => refuse(400, { code: 'RELAY.BAD_REQUEST', message: `Invalid scan stream: ${message}.` });
    const undeclared = await this.undeclaredJob(agentId, jobId, 'directory.scanOu');
    if (undeclared) return this.refuseStream(req, res, undeclared.status, undeclared.body);
    let users = 0;
    let ended = false;
    let totals: ScanOuHead['totals'] | null = null;
    let lineNo = 0;
    req.setTimeout(this.options.streamIdleMs ?? 5 * 60_000, () => req.destroy(new Error('the agent sent nothing for too long')));
    try {
      // Not destroyed on an early stop: a refusal must reach the agent before the connection closes.
      const body = req.iterator({ destroyOnReturn: false }) as AsyncIterable<Buffer>;
      for await (const line of ndjsonLines(body, { maxLineBytes: MAX_RESULT_LINE_BYTES, maxTotalBytes: MAX_STREAMED_RESULT_BYTES })) {
        lineNo++;
        if (ended) return await invalid(`line ${lineNo} comes after the end line`);
        let value: unknown;
        try {
          value = JSON.parse(line);
        } catch {
          return await invalid(`line ${lineNo} is not JSON`);
        }
        if (head === null) {
          const parsed = scanStreamHead.safeParse(value);
          if (!parsed.success) return await invalid(`the first line must be the scan's head (${describeIssue(parsed.error)})`);
          head = parsed.data;
          sink = (await this.options.listener.onScanArriving?.(jobId, head.result)) ?? null;
          continue;
        }
        if (Array.isArray(value)) {
          const problem = scannedUsersProblem(value);
          if (problem) return await invalid(`line ${lineNo}: ${problem}`);
          // Indexed before the store is awaited, so the parsed users die young instead of being
          // promoted while the insert runs: 100,000 of them in the old generation cost the cloud
          // side's paging a major collection later.
          (sink as ScanLineSink | null)?.users(value as OnPremUser[]);
          users += value.length;
          value = undefined;
          if (!(await this.options.store.jobs.putResultPiece({ jobId, agentId, upload, seq, usersJson: line }))) return await refuse(409, NOT_LEASED);
          seq++;
          continue;
        }
        const end = scanStreamEnd.safeParse(value);
        if (!end.success) return await invalid(`line ${lineNo} is neither users nor the end line`);
        if (end.data.users !== users) return await invalid(`the end line counts ${end.data.users} users but ${users} arrived`);
        if (end.data.totals.users !== users) return await invalid(`the totals count ${end.data.totals.users} users but ${users} arrived`);
        totals = end.data.totals;
        ended = true;
      }
      if (head === null) return await invalid('the body is empty');
      if (!ended || !totals) return await invalid('the body ended before its end line, so it was cut short');
      const result = { ...head.result, totals, storedUsers: users };
      // The index is declared complete only once the job is really finished with this upload, and
      // before the result is applied (which takes it); a refused finish must not leave it behind.
      await this.finishJob(res, { jobId, agentId, outcome: 'succeeded', result, error: null, resultUpload: upload }, (finished) => {
        (sink as ScanLineSink | null)?.end(finished);
        sink = null;
      });
    } catch (err) {
      if ((err as { code?: unknown }).code === 'RELAY.TOO_LARGE') return refuse(413, { code: 'RELAY.TOO_LARGE', message: (err as Error).message });
      await discard().catch((dropErr: Error) => this.options.logger.warn({ jobId, err: dropErr.message }, 'the pieces of an unfinished upload could not be dropped; the job\'s finish drops them'));
      if (connectionGone(req, res)) {
        // Most often the agent's directory read failed and it cut the upload off on purpose; it
        // reports that failure next.
        this.options.logger.warn({ jobId, agentId, err: (err as Error).message, lines: lineNo }, 'a streamed scan was cut off before its end line');
        // Or the agent died: then nothing more comes, and the job is taken back after a short grace.
        if (!this.stopping) this.lostLeases.uploadCut(jobId, agentId);
        return;
      }
      // The bot's own failure (the store, say) while the agent is still connected: it must hear so,
      // or it waits for an answer that never comes while its heartbeat keeps the lease.
      this.options.logger.error({ jobId, agentId, err: (err as Error).message, lines: lineNo }, 'a streamed scan could not be stored');
      if (!res.headersSent) this.refuseStream(req, res, 500, { code: 'INTERNAL', message: 'The bot could not store this scan; it has been logged. Nothing of this upload was kept, and the job is still leased to this agent.' });
    }
  }

  /**
   * Why `agentId` may not report on `jobId`: the job was not last leased to it, or it is for an
   * action the agent never declared (leased before the bot checked), or `resultAction` is another
   * action's result. Null when it may; the store's finish still decides whether it is accepted.
   */
  private async undeclaredJob(agentId: string, jobId: string, resultAction: string | null = null): Promise<{ status: number; body: { code: string; message: string; hint?: string } } | null> {
    const job = await this.options.store.jobs.get(jobId);
    if (!job || job.agentId !== agentId) return { status: 409, body: NOT_LEASED };
    const action = String((job.payload as { action?: unknown } | null)?.action ?? job.kind).slice(0, 64);
    const declared = (await this.options.store.agents.get(agentId))?.actions ?? [];
    if (!declared.includes(action)) {
      return { status: 409, body: { code: 'RELAY.ACTION_NOT_DECLARED', message: `This agent has not declared that it runs ${action}, so nothing it reports for this job is taken.`, hint: 'Update syncshift-agent on the agent host to the bot\'s version and check its configuration (SYNCSHIFT_ADSYNC_EXPORT_DIR, SYNCSHIFT_READ_ONLY); the job goes back to the queue or, if a change may have started, is marked "outcome unknown".' } };
    }
    if (resultAction !== null && resultAction !== action) return { status: 400, body: { code: 'RELAY.BAD_REQUEST', message: `Invalid request: the result is for ${resultAction} but the job is ${action}.` } };
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
  private async finishJob(res: Response, input: { jobId: string; agentId: string; outcome: 'succeeded' | 'failed'; result: unknown; error: { code: string } | null; resultUpload?: string | null }, settled?: (finished: boolean) => void): Promise<void> {
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
    await this.options.store.audit.record(agentActor(agentId), { action: 'job.result', target: jobId, outcome, details: input.error ? { code: input.error.code } : {}, conversationId: job.conversationId });
    res.send(200, { ok: true });
    // The agent is answered first; the cloud read and card update can take a while. The result is
    // stored, so if this instance stops before it is applied, the next sweep (here or elsewhere) applies it.
    void this.apply(job);
  }

  private parse<T extends z.ZodTypeAny>(schema: T, req: Request, res: Response): z.infer<T> | null {
    const parsed = schema.safeParse(req.body ?? {});
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      res.send(400, { code: 'RELAY.BAD_REQUEST', message: `Invalid request: ${issue ? `${issue.path.join('.')} ${issue.message}` : 'unreadable body'}.` });
      return null;
    }
    return parsed.data as z.infer<T>;
  }
}

const NOT_LEASED = { code: 'RELAY.NOT_LEASED', message: 'This job is not leased by this agent, or its result was already recorded.' };
const NO_ACTIONS_DECLARED = {
  code: 'RELAY.NO_ACTIONS_DECLARED',
  message: 'This agent did not say which actions it runs (or named none this bot knows), so it is offered no job.',
  hint: 'Update syncshift-agent on the agent host to the bot\'s version: it declares its actions in every lease request.',
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
  return req.method === 'POST' && /^\/relay\/v1\/jobs\/[^/]+\/result\/?$/.test((req.url ?? '').split('?')[0]!) && isStreamed(req);
}

function isStreamed(req: Request): boolean {
  return (req.header('content-type') ?? '').split(';')[0]!.trim().toLowerCase() === SCAN_STREAM_CONTENT_TYPE;
}

function describeIssue(error: z.ZodError): string {
  const issue = error.issues[0];
  return issue ? `${issue.path.join('.') || 'line'}: ${issue.message}` : 'invalid';
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

function agentOf(req: Request): string {
  return (req as Request & { agentId: string }).agentId;
}
