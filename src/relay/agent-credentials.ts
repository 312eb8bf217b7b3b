import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * Agent credentials and enrollment codes. Both are random enough that a plain SHA-256 digest is a
 * safe way to store them: there is no low-entropy password to guess, and the digest lets the bot
 * check a credential without keeping it.
 */

/** Crockford base32 without I, L, O, U: nothing to misread when a code is typed from a chat message. */
const CODE_ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

/** 20 characters of base32 (100 bits) in groups of four, e.g. `7KQ2-M9XD-0PRT-VW3H-C5NE`. */
export function newEnrollmentCode(): string {
  const bytes = randomBytes(20);
  const chars = [...bytes].map((b) => CODE_ALPHABET[b & 31]!).join('');
  return chars.match(/.{4}/g)!.join('-');
}

/** What a person may type for a code: case and dashes or spaces do not matter. */
export function normalizeEnrollmentCode(code: string): string {
  return code.toUpperCase().replace(/[\s-]/g, '');
}

/** 256 random bits; only the agent keeps it. */
export function newAgentSecret(): string {
  return randomBytes(32).toString('base64url');
}

export function sha256Hex(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

/** Constant-time comparison of two SHA-256 hex digests. */
export function digestsEqual(aHex: string, bHex: string): boolean {
  const a = Buffer.from(aHex, 'hex');
  const b = Buffer.from(bHex, 'hex');
  return a.length === 32 && b.length === 32 && timingSafeEqual(a, b);
}
