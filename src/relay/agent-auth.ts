import type { Request, RequestHandler, Response } from 'restify';
import type { Store } from '../store/types';
import { digestsEqual, sha256Hex } from './agent-credentials';
import { AGENT_ID_HEADER, AGENT_NAME, AGENT_VERSION_HEADER } from './protocol';

export interface AgentAuthOptions {
  store: Store;
  /**
   * Static agents from SYNCSHIFT_AGENT_SECRETS: agent id → shared secret; compared in constant time,
   * never logged. Enrolled agents are checked against the digests in the store instead.
   */
  agentSecrets: Map<string, string>;
  now: () => Date;
}

/** Who is calling the relay: every route but enrollment needs an agent credential. */
export class AgentAuth {
  private readonly secretDigests: Map<string, string>;

  constructor(private readonly options: AgentAuthOptions) {
    this.secretDigests = new Map([...options.agentSecrets].map(([id, secret]) => [id, sha256Hex(secret)]));
  }

  /** A route step that lets only an active agent through (see agentOf); `failed` answers the store's failure. */
  required(failed: (err: Error, req: Request, res: Response) => void): RequestHandler {
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
            res.send(403, {
              code: 'RELAY.AGENT_REVOKED',
              message: "This agent's credential was revoked.",
              hint: 'Ask an approver for /agent enroll <name> and run syncshift-agent enroll again.',
            });
            return next(false);
          }
          res.send(401, { code: 'RELAY.UNAUTHORIZED', message: 'Unknown agent or wrong secret.' });
          return next(false);
        },
        (err: Error) => {
          failed(err, req, res);
          next(false);
        },
      );
    };
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
    await this.options.store.agents.touch({
      name: agentId,
      version: version ? version.slice(0, 64) : null,
      now: this.options.now(),
    });
    return agentId;
  }

  /** Not revoked since its request was let through (a lease request waits up to 30 s). */
  async stillActive(agentId: string): Promise<boolean> {
    return (await this.options.store.agents.get(agentId))?.status !== 'revoked';
  }
}

/** The agent a request was let through for, by AgentAuth.required. */
export function agentOf(req: Request): string {
  return (req as Request & { agentId: string }).agentId;
}
