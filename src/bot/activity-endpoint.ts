// Deep imports: the package index also loads its AI planners (openai, gpt-tokenizer), about 15 MB a
// command bot never uses.
import { TeamsAdapter } from '@microsoft/teams-ai/lib/TeamsAdapter';
import type { Activity, InvokeResponse, TurnContext } from 'botbuilder';
import type { Request, Response } from 'restify';
import { z } from 'zod';
import type { Logger } from '../shared/logger';

/**
 * The fields SyncShift relies on before a turn starts. Everything else in an activity is passed to
 * botbuilder untouched; this only turns a malformed request into a 400 instead of a crash.
 */
const incomingActivity = z
  .object({
    type: z.string().min(1).max(64),
    id: z.string().max(256).optional(),
    channelId: z.string().min(1).max(64),
    serviceUrl: z.string().url().max(2048),
    conversation: z.object({ id: z.string().min(1).max(1024) }).passthrough(),
    from: z.object({ id: z.string().min(1).max(1024) }).passthrough(),
  })
  .passthrough();

/** jsonwebtoken's errors for a bad signature, a bad format or a bad time window; botbuilder lets them through as they are. */
const TOKEN_ERRORS = new Set(['JsonWebTokenError', 'TokenExpiredError', 'NotBeforeError']);

function isTokenRejection(err: unknown): boolean {
  const e = err as { name?: unknown; statusCode?: unknown } | null;
  return !!e && (e.statusCode === 401 || (typeof e.name === 'string' && TOKEN_ERRORS.has(e.name)));
}

/**
 * CloudAdapter.process answers a forged signature with 500 and the library's message, and crashes
 * on an activity without a type. This adapter keeps botbuilder's token validation but lets the bot
 * answer: 400 for a malformed activity, 401 for any token that was not accepted, 500 without detail.
 */
export class SyncShiftAdapter extends TeamsAdapter {
  async handleRequest(
    req: Request,
    res: Response,
    logic: (context: TurnContext) => Promise<void>,
    logger: Logger,
  ): Promise<void> {
    const parsed = incomingActivity.safeParse(req.body);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      res.send(400, {
        code: 'BOT.BAD_ACTIVITY',
        message: `Not a Bot Framework activity: ${issue ? `${issue.path.join('.') || 'body'} ${issue.message}` : 'unreadable body'}.`,
      });
      return;
    }
    const activity = withDates(parsed.data) as unknown as Activity;
    const authHeader = req.header('authorization') ?? '';
    let turnStarted = false;
    let invoke: InvokeResponse | undefined;
    try {
      invoke = await this.processActivity(authHeader, activity, async (context) => {
        turnStarted = true;
        await logic(context);
      });
    } catch (err) {
      if (!turnStarted && isTokenRejection(err)) {
        logger.warn(
          { err: (err as Error).message, activityId: activity.id },
          'refused an activity whose Bot Framework token was not valid',
        );
        res.send(401, {
          code: 'BOT.UNAUTHORIZED',
          message: 'The Bot Framework token is missing or not valid for this bot.',
        });
        return;
      }
      logger.error({ err: (err as Error).message, activityId: activity.id }, 'activity failed');
      res.send(500, { code: 'INTERNAL', message: 'The bot could not handle this activity; it has been logged.' });
      return;
    }
    if (invoke?.body === undefined) res.send(invoke?.status ?? 200);
    else res.send(invoke.status, invoke.body);
  }
}

/** What botbuilder's own request path does to timestamps (handlers expect Dates). */
function withDates(activity: Record<string, unknown>): Record<string, unknown> {
  const out = { ...activity };
  for (const [field, raw] of [
    ['timestamp', 'rawTimestamp'],
    ['localTimestamp', 'rawLocalTimestamp'],
    ['expiration', 'rawExpiration'],
  ] as const) {
    if (typeof out[field] === 'string') {
      out[raw] = out[field];
      out[field] = new Date(out[field] as string);
    }
  }
  return out;
}
