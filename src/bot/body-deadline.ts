import type { Next, Request, RequestHandler, Response } from 'restify';

/**
 * Node's requestTimeout (300 s by default) is one value for the whole server, and it would cut a
 * streamed scan of a large OU that the agent sends while it reads the directory. So the server's
 * is turned off (start-bot) and this gives every other request the same deadline for its body:
 * a client still sending after `ms` is disconnected. `exempt` picks the requests that may take
 * longer; they must be authenticated before their body is read and have their own idle limit.
 */
export function bodyDeadline(ms: number, exempt: (req: Request) => boolean): RequestHandler {
  return (req: Request, res: Response, next: Next) => {
    if (req.complete || exempt(req)) return next();
    const timer = setTimeout(() => req.destroy(), ms);
    const clear = (): void => clearTimeout(timer);
    req.once('end', clear);
    req.once('close', clear);
    res.once('close', clear);
    return next();
  };
}
