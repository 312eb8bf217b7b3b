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

/**
 * A body that stops arriving is cut long before the deadline: otherwise a client, with a credential
 * or without one (a body it is still sending has not been refused yet), holds a connection for the
 * whole deadline by sending a byte every few seconds. Only the socket's byte count is watched, since
 * the body is the route's to read. The cut is a 408 and a closed connection; the route never runs.
 * `exempt` as for bodyDeadline (a streamed scan has its own idle limit).
 */
export function bodyIdleLimit(ms: number, exempt: (req: Request) => boolean): RequestHandler {
  return (req: Request, res: Response, next: Next) => {
    if (req.complete || exempt(req)) return next();
    const socket = req.socket;
    let seen = socket.bytesRead;
    let quietSince = Date.now();
    const check = setInterval(
      () => {
        if (req.complete) return stop();
        if (socket.bytesRead !== seen) {
          seen = socket.bytesRead;
          quietSince = Date.now();
          return;
        }
        if (Date.now() - quietSince < ms) return;
        stop();
        if (res.headersSent) return void req.destroy();
        res.header('connection', 'close');
        res.send(408, {
          code: 'HTTP.BODY_IDLE',
          message: `The request body stopped arriving: nothing came for ${ms / 1000} s, so it was cut off and nothing was done.`,
          hint: 'Send the body without pausing; check the network between the client and the bot.',
        });
        // Destroying the unfinished request also stops restify's chain: the route never sees a partial body.
        res.once('finish', () => req.destroy());
      },
      Math.max(10, Math.floor(ms / 4)),
    );
    const stop = (): void => clearInterval(check);
    req.once('end', stop);
    req.once('close', stop);
    res.once('close', stop);
    return next();
  };
}
