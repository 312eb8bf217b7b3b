import { hash128 } from '../../src/runbook/key-hash';

const out = new Uint32Array(4);
const hex = (text: string): string => {
  hash128(text, out, 0);
  return `${out[0]!.toString(16).padStart(8, '0')}${out[1]!.toString(16).padStart(8, '0')}${out[2]!.toString(16).padStart(8, '0')}${out[3]!.toString(16).padStart(8, '0')}`;
};

describe('hash128', () => {
  it('gives 100,000 DN keys that differ only in digits 100,000 different values, and different first lanes too', () => {
    const seen = new Set<string>();
    const firstLanes = new Set<string>();
    for (let i = 0; i < 100_000; i++) {
      const h = hex(`cn=user ${i},ou=dept${i % 100},ou=bench100k,dc=contoso,dc=com`);
      seen.add(h);
      firstLanes.add(h.slice(0, 8));
    }
    expect(seen.size).toBe(100_000);
    // 32 bits alone: one or two birthday collisions are expected, not hundreds.
    expect(firstLanes.size).toBeGreaterThan(100_000 - 20);
  });

  it('changes every lane when one character changes, and depends on length and order', () => {
    const a = hex('cn=ann,ou=sales,dc=contoso,dc=com');
    const b = hex('cn=anm,ou=sales,dc=contoso,dc=com');
    for (let lane = 0; lane < 4; lane++)
      expect(a.slice(8 * lane, 8 * lane + 8)).not.toBe(b.slice(8 * lane, 8 * lane + 8));
    expect(hex('ab')).not.toBe(hex('ba'));
    expect(hex('')).not.toBe(hex('\u0000'));
    expect(hex('cn=ann,ou=sales,dc=contoso,dc=com')).toBe(a);
  });

  it('writes at the offset it is given and nowhere else', () => {
    const wide = new Uint32Array(12);
    hash128('x', wide, 4);
    expect(Array.from(wide.slice(0, 4))).toEqual([0, 0, 0, 0]);
    expect(Array.from(wide.slice(8))).toEqual([0, 0, 0, 0]);
    expect(wide.slice(4, 8).some((n) => n !== 0)).toBe(true);
  });
});
