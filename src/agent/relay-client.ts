import { postStream } from './stream-upload';
import {
  AGENT_ID_HEADER,
  AGENT_VERSION_HEADER,
  KNOWN_ACTIONS,
  SCAN_STREAM_CONTENT_TYPE,
  jobPayload,
  leaseEnvelope,
  type JobError,
  type LeasedJob,
  type ProgressRequest,
  type ResultRequest,
} from '../relay/protocol';

export interface RelayClientOptions {
  /** Bot base URL, e.g. https://syncshift.example.com; the agent only ever connects outward to it. */
  url: string;
  agentId: string;
  secret: string;
  agentVersion: string;
  fetchImpl?: typeof fetch;
  /** How long a streamed upload may see no traffic at all before it is given up and sent again; default 5 minutes. */
  streamIdleMs?: number;
}

export class RelayHttpError extends Error {
  /**
   * `code` and `reason` are the bot's own (RELAY.TOO_LARGE, "The body is over 256 MB."); both are
   * undefined when something else answered, a proxy's HTML error page, say.
   */
  constructor(
    readonly status: number,
    message: string,
    readonly code?: string,
    readonly reason?: string,
  ) {
    super(message);
    this.name = 'RelayHttpError';
  }
}

/**
 * The bot leased this agent a job it cannot read: an action it does not know (the bot is newer) or
 * parameters its schema refuses. The lease is real, so the agent answers it with `error`.
 */
export class UnreadableJobError extends Error {
  constructor(
    readonly jobId: string,
    readonly error: JobError,
  ) {
    super(error.message);
    this.name = 'UnreadableJobError';
  }
}

/** What the agent tells the bot it can run, in every lease request. */
export interface AgentCapabilities {
  actions: readonly string[];
  readOnly: boolean;
}

/** The agent's side of the relay: lease, progress, result. Every call is authenticated. */
export class RelayClient {
  private readonly base: string;
  private readonly fetchImpl: typeof fetch;

  constructor(private readonly options: RelayClientOptions) {
    this.base = options.url.replace(/\/+$/, '');
    this.fetchImpl = options.fetchImpl ?? fetch;
  }

  /**
   * Waits up to `waitMs` for a job. The envelope (job id, lease) is read apart from the payload, so
   * a payload this agent cannot read still names the job: UnreadableJobError carries its id and the
   * failure to report for it. `holding`: the jobs this process is still working on (see leaseRequest).
   */
  async lease(
    waitMs: number,
    signal: AbortSignal | undefined,
    capabilities: AgentCapabilities,
    holding?: readonly string[],
  ): Promise<LeasedJob | null> {
    const request = {
      agentVersion: this.options.agentVersion,
      waitMs,
      actions: [...capabilities.actions],
      readOnly: capabilities.readOnly,
      ...(holding ? { holding: [...holding] } : {}),
    };
    const body = await this.post('/relay/v1/jobs/lease', request, signal);
    const envelope = leaseEnvelope.safeParse(body);
    if (!envelope.success)
      throw new RelayHttpError(
        0,
        `The bot's answer to a lease request is not one this agent can read: ${envelope.error.issues[0]?.message ?? 'invalid'}. Check that SYNCSHIFT_RELAY_URL points at the SyncShift bot.`,
      );
    const job = envelope.data.job;
    if (job === null) return null;
    const payload = jobPayload.safeParse(job.payload);
    if (payload.success) return { id: job.id, leaseExpiresAt: job.leaseExpiresAt, payload: payload.data };
    const action = (job.payload as { action?: unknown } | null)?.action;
    const version = this.options.agentVersion;
    if (typeof action === 'string' && !KNOWN_ACTIONS.includes(action)) {
      throw new UnreadableJobError(job.id, {
        code: 'AGENT.UNKNOWN_ACTION',
        message: `This agent (version ${version}) does not know the action ${action.slice(0, 64)}, so it did nothing.`,
        hint: "Update syncshift-agent on the agent host to the bot's version, then run it again.",
      });
    }
    const issue = payload.error.issues[0];
    throw new UnreadableJobError(job.id, {
      code: 'AGENT.BAD_PARAMETERS',
      message: `This agent (version ${version}) cannot read the parameters of ${typeof action === 'string' ? action.slice(0, 64) : 'the job'} (${issue ? `${issue.path.join('.') || 'payload'}: ${issue.message}` : 'invalid'}), so it did nothing.`,
      hint: "Update syncshift-agent on the agent host to the bot's version; if it is current, report this as a bug.",
    });
  }

  async progress(jobId: string, progress: ProgressRequest): Promise<void> {
    await this.post(`/relay/v1/jobs/${encodeURIComponent(jobId)}/progress`, progress);
  }

  /** A result as one JSON document: failures, Connect Sync results and counts (a full scan goes through streamResult). */
  async result(jobId: string, result: ResultRequest): Promise<void> {
    await this.post(`/relay/v1/jobs/${encodeURIComponent(jobId)}/result`, result);
  }

  /** A scan written into `body` while it is read (SCAN_STREAM_CONTENT_TYPE); resolves once the bot has stored it. */
  async streamResult(jobId: string, body: ReadableStream<Uint8Array>): Promise<void> {
    const path = `/relay/v1/jobs/${encodeURIComponent(jobId)}/result`;
    const res = await postStream(
      this.base + path,
      this.headers(SCAN_STREAM_CONTENT_TYPE),
      body,
      this.options.streamIdleMs ? { idleMs: this.options.streamIdleMs } : {},
    );
    answer(path, res.status, res.text);
  }

  private post(path: string, payload: unknown, signal?: AbortSignal): Promise<unknown> {
    return this.send(path, { body: JSON.stringify(payload), ...(signal ? { signal } : {}) });
  }

  private async send(path: string, init: { body: string; signal?: AbortSignal }): Promise<unknown> {
    const res = await this.fetchImpl(this.base + path, {
      method: 'POST',
      headers: this.headers('application/json'),
      ...init,
    });
    return answer(path, res.status, await res.text());
  }

  private headers(contentType: string): Record<string, string> {
    return {
      'content-type': contentType,
      authorization: `Bearer ${this.options.secret}`,
      [AGENT_ID_HEADER]: this.options.agentId,
      [AGENT_VERSION_HEADER]: this.options.agentVersion,
    };
  }
}

/** The bot's answer: its JSON on success, a RelayHttpError with the bot's own message otherwise. */
function answer(path: string, status: number, text: string): unknown {
  if (status < 200 || status >= 300) {
    let code: string | undefined;
    let reason: string | undefined;
    try {
      const body = JSON.parse(text) as { code?: unknown; message?: unknown };
      if (typeof body.code === 'string') code = body.code.slice(0, 64);
      if (typeof body.message === 'string') reason = body.message.slice(0, 1000);
    } catch {
      // not JSON: keep the raw text
    }
    throw new RelayHttpError(status, `Relay ${path} answered ${status}: ${reason ?? text.slice(0, 500)}`, code, reason);
  }
  return text === '' ? null : (JSON.parse(text) as unknown);
}
