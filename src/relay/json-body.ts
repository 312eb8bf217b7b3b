import { plugins, type RequestHandler } from 'restify';

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
