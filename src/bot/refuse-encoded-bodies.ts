import type { Request, Response, Next } from 'restify';

/**
 * restify's body reader inflates gzip bodies but counts only the compressed bytes against
 * maxBodySize, so 1 MB of gzip can become gigabytes in memory before any credential is checked.
 * Neither Teams nor the agent compresses requests, so every route refuses any Content-Encoding
 * other than identity, before routing, authentication or body parsing.
 */
export function refuseEncodedBodies(req: Request, res: Response, next: Next): void {
  const encoding = req.headers['content-encoding'];
  const codings = (Array.isArray(encoding) ? encoding.join(',') : (encoding ?? ''))
    .split(',')
    .map((c) => c.trim().toLowerCase())
    .filter(Boolean);
  if (codings.every((c) => c === 'identity')) {
    // restify's reader treats any header but gzip as unsupported, identity included.
    delete req.headers['content-encoding'];
    next();
    return;
  }
  // RFC 7694: say which coding is accepted. Closing the connection stops the client sending the rest.
  res.header('Accept-Encoding', 'identity');
  res.header('Connection', 'close');
  res.send(415, {
    code: 'HTTP.UNSUPPORTED_ENCODING',
    message: `Content-Encoding ${codings.join(', ')} is not accepted.`,
    hint: 'Send the body uncompressed (no Content-Encoding header).',
  });
  next(false);
}
