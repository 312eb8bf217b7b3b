import { AppError } from '../shared/errors';

/**
 * Graph no longer serves changes since a stored deltaLink: 400 syncStateNotFound for a token past its
 * lifetime (7 days for directory objects; Microsoft Graph blog "Duration of change tracking tokens"),
 * 410 Gone where the service asks for a full resynchronisation (delta query overview). Anything else,
 * a 400 included, is a real failure and must not silently turn into a full read.
 */
export function isExpiredDeltaToken(err: unknown): boolean {
  if (!(err instanceof AppError)) return false;
  const details = err.details as { status?: number; graphCode?: string } | undefined;
  return details?.status === 410 || (details?.status === 400 && details.graphCode === 'syncStateNotFound');
}
