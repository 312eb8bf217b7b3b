/**
 * A request to Graph that got no HTTP answer at all: fetch throws "fetch failed" and the reason is
 * a code on its cause (ECONNREFUSED, UND_ERR_SOCKET, ENOTFOUND, a certificate error). Tells what
 * happened in words a person can act on, and whether another try may help.
 */
export interface ConnectionFailure {
  /** The system's own code, kept for the log and the message: ECONNREFUSED, UND_ERR_SOCKET, … */
  code: string;
  /** What happened, as a clause: "the connection was refused". */
  cause: string;
  kind: 'refused' | 'reset' | 'timeout' | 'dns' | 'unreachable' | 'tls';
  /** The request never left this machine, so even a request that changes something may be sent again. */
  notSent: boolean;
  /** An outage that may be over in seconds (not a misspelt host or an untrusted certificate). */
  transient: boolean;
}

const KINDS: Record<string, Pick<ConnectionFailure, 'cause' | 'kind' | 'notSent' | 'transient'>> = {
  ECONNREFUSED: { kind: 'refused', cause: 'the connection was refused', notSent: true, transient: true },
  ECONNRESET: { kind: 'reset', cause: 'the connection was reset', notSent: false, transient: true },
  EPIPE: { kind: 'reset', cause: 'the connection was reset', notSent: false, transient: true },
  ECONNABORTED: { kind: 'reset', cause: 'the connection was reset', notSent: false, transient: true },
  UND_ERR_SOCKET: {
    kind: 'reset',
    cause: 'the connection was closed before Graph answered',
    notSent: false,
    transient: true,
  },
  ETIMEDOUT: { kind: 'timeout', cause: 'the connection timed out', notSent: false, transient: true },
  UND_ERR_CONNECT_TIMEOUT: { kind: 'timeout', cause: 'the connection timed out', notSent: true, transient: true },
  UND_ERR_HEADERS_TIMEOUT: { kind: 'timeout', cause: 'Graph did not answer in time', notSent: false, transient: true },
  UND_ERR_BODY_TIMEOUT: { kind: 'timeout', cause: 'Graph did not answer in time', notSent: false, transient: true },
  ENETUNREACH: { kind: 'unreachable', cause: 'the network is unreachable', notSent: true, transient: true },
  EHOSTUNREACH: { kind: 'unreachable', cause: 'the host is unreachable', notSent: true, transient: true },
  ENETDOWN: { kind: 'unreachable', cause: 'the network is down', notSent: true, transient: true },
  EAI_AGAIN: {
    kind: 'dns',
    cause: 'the host name could not be resolved (DNS did not answer)',
    notSent: true,
    transient: true,
  },
  // The name does not exist: a typo in the setting, which waiting does not fix.
  ENOTFOUND: {
    kind: 'dns',
    cause: 'the host name could not be resolved (DNS: no such host)',
    notSent: true,
    transient: false,
  },
};

const TLS_CODE = /CERT|SSL|TLS|SELF_SIGNED|UNABLE_TO_(GET|VERIFY)/;

export function connectionFailure(err: unknown): ConnectionFailure | null {
  for (const code of codesOf(err)) {
    const known = KINDS[code];
    if (known) return { code, ...known };
    if (TLS_CODE.test(code))
      return {
        code,
        kind: 'tls',
        cause: 'the TLS connection failed (the certificate or the protocol was refused)',
        notSent: true,
        transient: false,
      };
  }
  return null;
}

/** Codes on the error and its causes, outermost first; an AggregateError (one per address tried) gives its first. */
function codesOf(err: unknown): string[] {
  const codes: string[] = [];
  let current: unknown = err;
  for (let depth = 0; depth < 5 && typeof current === 'object' && current !== null; depth++) {
    const e = current as { code?: unknown; cause?: unknown; errors?: unknown; body?: unknown };
    if (typeof e.code === 'string') codes.push(e.code);
    if (Array.isArray(e.errors) && e.errors.length > 0) codes.push(...codesOf(e.errors[0]));
    // The graph client wraps an error it does not recognise (another realm's) and keeps it in `body`.
    current = e.cause ?? (typeof e.body === 'object' ? e.body : undefined);
  }
  return codes;
}
