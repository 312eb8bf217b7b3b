/**
 * One error type with string codes: codes survive the bot-agent wire and JSON, `instanceof` does not.
 * `message` says what went wrong; `hint` says what the person should do about it.
 */
export type ErrorCode =
  | 'INPUT.BAD_DN'
  | 'INPUT.FILTER_INJECTION'
  | 'INPUT.BAD_COMMAND'
  | 'DIRECTORY.OU_NOT_FOUND'
  | 'DIRECTORY.OU_AMBIGUOUS'
  | 'DIRECTORY.NOT_A_CONTAINER'
  | 'DIRECTORY.OUTSIDE_BASE'
  | 'DIRECTORY.UNAVAILABLE'
  | 'DIRECTORY.TLS'
  | 'DIRECTORY.BIND_FAILED'
  | 'DIRECTORY.ERROR'
  | 'CLOUD.THROTTLED'
  | 'CLOUD.UNAVAILABLE'
  | 'CLOUD.ERROR'
  /** Graph answered 401/403 to a call that needs a permission the app registration lacks. */
  | 'CLOUD.FORBIDDEN'
  | 'RELAY.UNAUTHORIZED'
  | 'RELAY.BAD_REQUEST'
  | 'RELAY.TOO_LARGE'
  | 'RELAY.NOT_LEASED'
  | 'RELAY.NO_ACTIONS_DECLARED'
  | 'RELAY.ACTION_NOT_DECLARED'
  | 'RELAY.OUTCOME_UNKNOWN'
  | 'RELAY.AGENT_REVOKED'
  | 'RELAY.ENROLLMENT_REFUSED'
  | 'RELAY.ENROLLMENT_RATE_LIMITED'
  | 'POLICY.READ_ONLY'
  | 'POLICY.DN_NOT_ALLOWED'
  | 'POLICY.RULE_SCOPE_REFUSED'
  | 'POLICY.FOREIGN_RULE'
  | 'POLICY.CANARY_REFUSED'
  | 'DIRECTORY.NOT_FOUND'
  | 'TEAMS.NOT_SENT'
  | 'STORE.ERROR'
  | 'CONFIG.INVALID'
  | AdsyncErrorCode
  | 'INTERNAL';

/** Failures of the Connect Sync actions the agent runs through PowerShell. */
export type AdsyncErrorCode =
  | 'ADSYNC.SYNC_IN_PROGRESS'
  | 'ADSYNC.CMDLET_FAILED'
  | 'ADSYNC.BAD_OUTPUT'
  | 'ADSYNC.TIMEOUT'
  | 'ADSYNC.NOT_AVAILABLE'
  | 'ADSYNC.PRECEDENCE_EXHAUSTED'
  | 'ADSYNC.RULE_CONFLICT'
  | 'ADSYNC.CONNECTOR_NOT_FOUND'
  /** The server is in staging mode: SyncShift changes only the active Connect Sync server. */
  | 'ADSYNC.STAGING_SERVER';

export class AppError extends Error {
  readonly code: ErrorCode;
  readonly hint: string | undefined;
  readonly details: Record<string, unknown> | undefined;

  constructor(
    code: ErrorCode,
    message: string,
    options: { hint?: string; details?: Record<string, unknown>; cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'AppError';
    this.code = code;
    this.hint = options.hint;
    this.details = options.details;
  }

  toJSON(): { code: ErrorCode; message: string; hint?: string; details?: Record<string, unknown> } {
    return {
      code: this.code,
      message: this.message,
      ...(this.hint ? { hint: this.hint } : {}),
      ...(this.details ? { details: this.details } : {}),
    };
  }
}

export function asAppError(err: unknown): AppError {
  if (err instanceof AppError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new AppError('INTERNAL', message, { cause: err });
}

/**
 * What a card may say about `err`: an AppError's own message, written for people; for anything
 * else (a driver's or a library's exception, whose text can hold SQL, paths or internals) a fixed
 * sentence pointing at the log entry `logRef` names.
 */
export function channelMessage(err: unknown, logRef: string): string {
  return err instanceof AppError
    ? err.message
    : `An unexpected error stopped it; the details are in the bot's log (${logRef})`;
}
