import type { Request, Response } from 'restify';
import { agentActor, ANONYMOUS_ACTOR } from '../runbook/actor';
import type { Store } from '../store/types';
import { newAgentSecret, normalizeEnrollmentCode, sha256Hex } from './agent-credentials';
import { FailedAttemptLimiter } from './failed-attempt-limiter';
import { parseBody } from './json-body';
import { enrollRequest, type EnrollResponse } from './protocol';

export interface EnrollmentOptions {
  store: Store;
  now: () => Date;
  /** Refused enrollment codes allowed per client address and window before it gets 429; default 10 per minute. */
  enrollFailures?: { max: number; windowMs: number };
}

/**
 * An agent trades a one-time code from /agent enroll for its own secret. The one endpoint without
 * an agent credential: the code is the credential, so refused codes are limited per address.
 */
export class Enrollment {
  private readonly limiter: FailedAttemptLimiter;

  constructor(private readonly options: EnrollmentOptions) {
    const limit = options.enrollFailures ?? { max: 10, windowMs: 60_000 };
    this.limiter = new FailedAttemptLimiter({ maxFailures: limit.max, windowMs: limit.windowMs });
  }

  async enroll(req: Request, res: Response): Promise<void> {
    // The socket's address, not X-Forwarded-For: a header would let the guesser pick a new address per try.
    const client = req.socket.remoteAddress ?? 'unknown';
    const waitMs = this.limiter.retryAfterMs(client, Date.now());
    if (waitMs > 0) {
      res.header('Retry-After', String(Math.ceil(waitMs / 1000)));
      res.send(429, {
        code: 'RELAY.ENROLLMENT_RATE_LIMITED',
        message: 'Too many refused enrollment codes from this address.',
        hint: `Wait ${Math.ceil(waitMs / 1000)} s, then run syncshift-agent enroll again with a code from /agent enroll <name>.`,
      });
      return;
    }
    const body = parseBody(enrollRequest, req, res);
    if (!body) return;
    const secret = newAgentSecret();
    const redeemed = await this.options.store.agents.redeemEnrollmentCode({
      codeSha256: sha256Hex(normalizeEnrollmentCode(body.code)),
      secretSha256: sha256Hex(secret),
      now: this.options.now(),
    });
    if (!redeemed) {
      // One audit row for the first refusal and one when the limit is hit, per address and window:
      // enough to see a guessing attempt, without letting a stranger fill the audit log.
      const failure = this.limiter.recordFailure(client, Date.now());
      if (failure.first || failure.limitReached) {
        const reason = failure.limitReached
          ? 'too many refused codes; further tries from this address get 429 until the window ends'
          : 'unknown, used or expired code';
        await this.options.store.audit.record(ANONYMOUS_ACTOR, {
          action: 'agent.enroll',
          target: null,
          outcome: failure.limitReached ? 'rate-limited' : 'refused',
          details: { reason, client },
          conversationId: null,
        });
      }
      res.send(401, {
        code: 'RELAY.ENROLLMENT_REFUSED',
        message: 'The enrollment code is unknown, already used or expired.',
        hint: 'Ask an approver to type /agent enroll <name> for a new code; a code works once, for a few minutes (10 by default).',
      });
      return;
    }
    await this.options.store.audit.record(agentActor(redeemed.agentName), {
      action: `agent.${redeemed.purpose}`,
      target: redeemed.agentName,
      outcome: 'credential-issued',
      details: { codeFrom: redeemed.createdBy, agentVersion: body.agentVersion ?? null },
      conversationId: null,
    });
    const response: EnrollResponse = { agentId: redeemed.agentName, secret };
    res.send(200, response);
  }
}
