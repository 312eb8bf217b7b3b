import pino from 'pino';

export type Logger = pino.Logger;

/** JSON logs by default; LOG_LEVEL=silent in tests keeps output readable. */
export function createLogger(name: string, level = process.env.LOG_LEVEL ?? 'info'): Logger {
  return pino({
    name,
    level,
    redact: ['password', 'secret', 'token', '*.password', '*.secret', '*.token', 'headers.authorization'],
  });
}
