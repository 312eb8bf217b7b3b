import { AGENT_ID_HEADER, AGENT_VERSION_HEADER, leaseResponse, type LeasedJob, type ProgressRequest, type ResultRequest } from '../relay/protocol';
import { resultBodyStream } from './result-body';

export interface RelayClientOptions {
  /** Bot base URL, e.g. https://syncshift.example.com; the agent only ever connects outward to it. */
  url: string;
  agentId: string;
  secret: string;
  agentVersion: string;
  fetchImpl?: typeof fetch;
}

export class RelayHttpError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
    this.name = 'RelayHttpError';
  }
}

/** The agent's side of the relay: lease, progress, result. Every call is authenticated. */
export class RelayClient {
  private readonly base: string;
  private readonly fetchImpl: typeof fetch;

  constructor(private readonly options: RelayClientOptions) {
    this.base = options.url.replace(/\/+$/, '');
    this.fetchImpl = options.fetchImpl ?? fetch;
  }

  async lease(waitMs: number, signal?: AbortSignal): Promise<LeasedJob | null> {
    const body = await this.post('/relay/v1/jobs/lease', { agentVersion: this.options.agentVersion, waitMs }, signal);
    const parsed = leaseResponse.safeParse(body);
    if (!parsed.success) throw new RelayHttpError(0, `The bot sent a job this agent does not understand: ${parsed.error.issues[0]?.message ?? 'invalid'}. Update the agent.`);
    return parsed.data.job;
  }

  async progress(jobId: string, progress: ProgressRequest): Promise<void> {
    await this.post(`/relay/v1/jobs/${encodeURIComponent(jobId)}/progress`, progress);
  }

  async result(jobId: string, result: ResultRequest): Promise<void> {
    // Streamed (chunked), so a large scan is never held as one JSON string; same JSON as before.
    await this.send(`/relay/v1/jobs/${encodeURIComponent(jobId)}/result`, { body: resultBodyStream(result), duplex: 'half' });
  }

  private post(path: string, payload: unknown, signal?: AbortSignal): Promise<unknown> {
    return this.send(path, { body: JSON.stringify(payload), ...(signal ? { signal } : {}) });
  }

  private async send(path: string, init: { body: string | ReadableStream<Uint8Array>; duplex?: 'half'; signal?: AbortSignal }): Promise<unknown> {
    const res = await this.fetchImpl(this.base + path, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        authorization: `Bearer ${this.options.secret}`,
        [AGENT_ID_HEADER]: this.options.agentId,
        [AGENT_VERSION_HEADER]: this.options.agentVersion,
      },
      ...init,
    } as RequestInit);
    const text = await res.text();
    if (!res.ok) {
      let message = text.slice(0, 500);
      try {
        message = (JSON.parse(text) as { message?: string }).message ?? message;
      } catch {
        // not JSON: keep the raw text
      }
      throw new RelayHttpError(res.status, `Relay ${path} answered ${res.status}: ${message}`);
    }
    return text === '' ? null : (JSON.parse(text) as unknown);
  }
}
