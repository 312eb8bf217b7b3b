/**
 * A 128-bit hash of a string as four 32-bit lanes, written into `out` at `offset` (no allocation).
 *
 * Used to key a comparison by DN without keeping the DN text: 16 bytes per user instead of a string
 * of 60 to 100 characters. Not cryptographic: the inputs are DNs read from the directory and from
 * Graph, not chosen by an attacker against this function, and a collision needs all four lanes to
 * agree (about 2^-128 per pair for inputs like these). Node's own hashes cost about 3 µs per call
 * through createHash, which at 200,000 DNs would be most of a verify's cloud-side time.
 */
export function hash128(text: string, out: Uint32Array, offset: number): void {
  let h1 = 0x811c9dc5 ^ text.length;
  let h2 = 0x9e3779b9;
  let h3 = 0x85ebca6b ^ Math.imul(text.length, 0x27d4eb2f);
  let h4 = 0xc2b2ae35;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 0x01000193);
    h2 = Math.imul(rotl(h2, 5) ^ c, 0x5bd1e995);
    h3 = rotl(Math.imul(h3 + c, 0xcc9e2d51), 15);
    h4 = rotl(Math.imul(h4 ^ ((c << 16) | c), 0x1b873593), 13) + 0x6b43a9b5;
  }
  // Each lane folds in the others before the finaliser, so a difference in one spreads to all.
  h1 = fmix32((h1 + h2) | 0);
  h2 = fmix32((h2 + h3) ^ h1);
  h3 = fmix32((h3 + h4) ^ h2);
  h4 = fmix32((h4 + h1) ^ h3);
  out[offset] = h1;
  out[offset + 1] = h2;
  out[offset + 2] = h3;
  out[offset + 3] = h4;
}

function rotl(x: number, r: number): number {
  return (x << r) | (x >>> (32 - r));
}

/** MurmurHash3's 32-bit finaliser: every input bit affects every output bit. */
function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
