/**
 * Tests that need a real service (Samba AD, PostgreSQL) call this when the service is missing.
 * It always fails: a missing service must never look like a pass. The message says how to get it.
 */
export function serviceMissing(service: string, howToFix: string, cause?: unknown): never {
  const why = cause instanceof Error ? ` (${cause.message})` : '';
  throw new Error(`${service} is not available${why}. ${howToFix}`);
}
