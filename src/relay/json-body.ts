import { plugins, type Request, type RequestHandler, type Response } from 'restify';
import type { z } from 'zod';

/**
 * A request body parsed as JSON and nothing else. restify's combined bodyParser also hands
 * multipart/form-data to formidable, which writes each file part to the temp folder and never
 * removes it, before any route has checked a credential. Any other content type is left unparsed,
 * so the route's schema refuses it with 400.
 */
export function jsonBody(maxBodySize: number): RequestHandler[] {
  // @types/restify omits maxBodySize here, but the parser passes its options to bodyReader, which enforces it.
  const options: plugins.JsonBodyParserOptions & { maxBodySize: number } = { maxBodySize, mapParams: false };
  return plugins.jsonBodyParser(options);
}

/** Requests other than results are small: an agent's lease, progress or enrollment. */
const MAX_REQUEST_BYTES = 64 * 1024;
export const smallBody = (): RequestHandler[] => jsonBody(MAX_REQUEST_BYTES);

/** The parsed body checked against `schema`, or null once a 400 naming the first problem is sent. */
export function parseBody<T extends z.ZodTypeAny>(schema: T, req: Request, res: Response): z.infer<T> | null {
  const parsed = schema.safeParse(req.body ?? {});
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    res.send(400, {
      code: 'RELAY.BAD_REQUEST',
      message: `Invalid request: ${issue ? `${issue.path.join('.')} ${issue.message}` : 'unreadable body'}.`,
    });
    return null;
  }
  return parsed.data as z.infer<T>;
}
