/**
 * Distinguished names (RFC 4514) and LDAP filter values (RFC 4515).
 *
 * DNs are compared component by component after unescaping, never as strings: a string or regex
 * test is how the migration guide's own script confused OU=Sales with OU=SalesOps.
 */

export interface Ava {
  /** Attribute type as typed, e.g. "OU". */
  type: string;
  /** Unescaped value. */
  value: string;
}

/** One RDN; more than one AVA when the RDN is multi-valued ("CN=a+UID=b"). */
export type Rdn = Ava[];

export type DnParseResult = { ok: true; rdns: Rdn[] } | { ok: false; reason: string };

const HEX = /^[0-9a-fA-F]{2}$/;
const TYPE_DESCRIPTOR = /^[A-Za-z][A-Za-z0-9-]*$/;
const TYPE_OID = /^[0-9]+(\.[0-9]+)*$/;
// Characters RFC 4514 lets stand unescaped but that AD always escapes; finding one bare in user
// input means the text was not copied from AD, most often because it is an LDAP filter.
const BARE_SUSPICIOUS = new Set(['=', '*', '(', ')']);

/**
 * Parses a DN. `strict` additionally refuses bare `=`, `*` and parentheses that follow `=`/`*`,
 * which AD never emits unescaped in a value; used for text typed by people.
 */
export function parseDn(input: string, options: { strict?: boolean } = {}): DnParseResult {
  const text = input.trim();
  if (text === '') return { ok: false, reason: 'the distinguished name is empty' };
  const rdns: Rdn[] = [];
  let rdn: Rdn = [];
  let i = 0;
  while (i <= text.length) {
    // attribute type
    const eq = text.indexOf('=', i);
    if (eq < 0)
      return { ok: false, reason: `"${text.slice(i).trim()}" has no "=": expected TYPE=value, e.g. OU=Sales` };
    const type = text.slice(i, eq).trim();
    if (!TYPE_DESCRIPTOR.test(type) && !TYPE_OID.test(type)) {
      return { ok: false, reason: `"${type}" is not an attribute type (expected OU, CN or DC)` };
    }
    i = eq + 1;
    // attribute value
    let value = '';
    let trailingSpaces = 0; // unescaped spaces at the end, which RFC 4514 says are not part of the value
    let started = false;
    let sawParen = false;
    let end: ',' | '+' | '' = '';
    if (text[i] === '#') {
      return { ok: false, reason: 'BER-encoded (#hex) values are not supported; type the value as text' };
    }
    for (; i < text.length; i++) {
      const c = text[i]!;
      if (c === ',' || c === '+') {
        end = c;
        i++;
        break;
      }
      if (c === ';') return { ok: false, reason: 'use "," between components, not ";"' };
      if (c === '\\') {
        const next = text[i + 1];
        if (next === undefined) return { ok: false, reason: 'the name ends with a lone "\\"' };
        const pair = text.slice(i + 1, i + 3);
        if (HEX.test(pair)) {
          // Hex pairs may spell multi-byte UTF-8; collect the run and decode it as a whole.
          const bytes: number[] = [];
          while (text[i] === '\\' && HEX.test(text.slice(i + 1, i + 3))) {
            bytes.push(parseInt(text.slice(i + 1, i + 3), 16));
            i += 3;
          }
          i--;
          value += Buffer.from(bytes).toString('utf8');
        } else if ('"+,;<>\\=# *()'.includes(next)) {
          value += next;
          i++;
        } else {
          return {
            ok: false,
            reason: `"\\${next}" is not a valid escape; escape only special characters or use \\XX hex`,
          };
        }
        trailingSpaces = 0;
        started = true;
        continue;
      }
      if (c === '"' || c === '<' || c === '>' || c === '\u0000') {
        return { ok: false, reason: `"${c}" must be escaped as "\\${c === '\u0000' ? '00' : c}"` };
      }
      if (c === ' ' && !started) continue;
      if (options.strict && BARE_SUSPICIOUS.has(c)) {
        if (c === '(' || c === ')') sawParen = true;
        else {
          return {
            ok: false,
            reason: `"${c}" appears unescaped in a value, which looks like an LDAP filter rather than a distinguished name`,
          };
        }
      }
      started = true;
      value += c;
      trailingSpaces = c === ' ' ? trailingSpaces + 1 : 0;
    }
    if (trailingSpaces > 0) value = value.slice(0, value.length - trailingSpaces);
    if (options.strict && sawParen && /\)\s*\(/.test(value)) {
      return {
        ok: false,
        reason: 'the value contains ")(" which looks like an LDAP filter rather than a distinguished name',
      };
    }
    if (value === '') return { ok: false, reason: `${type}= has an empty value` };
    rdn.push({ type, value });
    if (end === '+') continue;
    rdns.push(rdn);
    rdn = [];
    if (end === '') break;
    if (i >= text.length) return { ok: false, reason: 'the name ends with ","' };
  }
  return { ok: true, rdns };
}

/** Escapes an attribute value for use in a DN string (RFC 4514 section 2.4). */
export function escapeDnValue(value: string): string {
  let out = '';
  for (let i = 0; i < value.length; i++) {
    const c = value[i]!;
    if (c === '\u0000') out += '\\00';
    // Hex, so that text typed back from a card passes the strict check that refuses a bare "*".
    else if (c === '*') out += '\\2A';
    else if ('"+,;<>\\='.includes(c)) out += '\\' + c;
    else if ((c === '#' || c === ' ') && i === 0) out += '\\' + c;
    else if (c === ' ' && i === value.length - 1) out += '\\ ';
    else out += c;
  }
  return out;
}

export function formatDn(rdns: Rdn[]): string {
  return rdns.map((rdn) => rdn.map((a) => `${a.type}=${escapeDnValue(a.value)}`).join('+')).join(',');
}

/** Canonical comparable key for one RDN: types upper-cased, values case-folded, AVAs sorted. */
function rdnKey(rdn: Rdn): string {
  return rdn
    .map((a) => `${a.type.toUpperCase()}=${a.value.toLowerCase()}`)
    .sort()
    .join('+');
}

/**
 * A DN reduced to comparable components. AD compares DN values case-insensitively; the keys are
 * kept as an array so suffix tests work on whole components.
 */
export function dnKeys(rdns: Rdn[]): string[] {
  return rdns.map(rdnKey);
}

/** Parses and canonicalises a DN, or returns null when it cannot be parsed. */
export function canonicalDn(dn: string): string[] | null {
  return canonicalPlainDn(dn) ?? canonicalDnFull(dn);
}

/** canonicalDn through the full RFC 4514 parser; canonicalDn must always agree with it. */
export function canonicalDnFull(dn: string): string[] | null {
  const parsed = parseDn(dn);
  return parsed.ok ? dnKeys(parsed.rdns) : null;
}

// Anything that can change how a DN splits or unescapes: escapes, multi-valued RDNs, quotes, BER
// values, ";" and the characters the parser refuses. A DN without them is plain "T=v,T=v".
const NOT_PLAIN = /[\\+"#;<>\u0000]/;

/**
 * canonicalDn for the plain DNs that are nearly all of a directory, without building AVA objects:
 * a comparison of 100,000 users canonicalises 200,000 DNs. Returns undefined, never a guess,
 * whenever the DN is not plain or looks wrong; the full parser then decides (and explains).
 */
export function canonicalPlainDn(dn: string): string[] | undefined {
  const text = dn.trim();
  if (text === '' || NOT_PLAIN.test(text)) return undefined;
  const parts = text.split(',');
  const keys: string[] = new Array<string>(parts.length);
  for (let p = 0; p < parts.length; p++) {
    const part = parts[p]!;
    const eq = part.indexOf('=');
    if (eq < 0) return undefined;
    const type = part.slice(0, eq).trim();
    if (!TYPE_DESCRIPTOR.test(type) && !TYPE_OID.test(type)) return undefined;
    // Like the parser: only U+0020 spaces around a value are dropped, other whitespace is kept.
    let start = eq + 1;
    let end = part.length;
    while (start < end && part.charCodeAt(start) === 32) start++;
    while (end > start && part.charCodeAt(end - 1) === 32) end--;
    if (start === end) return undefined;
    keys[p] = `${type.toUpperCase()}=${part.slice(start, end).toLowerCase()}`;
  }
  return keys;
}

/**
 * A DN as one comparable string: types and values case-folded, AVAs of a multi-valued RDN sorted,
 * and `\`, `,` and `+` inside values escaped, so the string splits back into the same components
 * and two DNs have the same key exactly when canonicalDn gives them the same components. One string
 * instead of an array of components is what lets a comparison of 100,000 users stay small and quick.
 */
export function dnKey(dn: string): string | null {
  const fast = plainDnKey(dn);
  if (fast !== undefined) return fast;
  // Plain but with spaces to drop around separators: values hold no `\`, `,` or `+`, nothing to escape.
  const plain = canonicalPlainDn(dn);
  if (plain !== undefined) return plain.map(lowerType).join(',');
  const parsed = parseDn(dn);
  if (!parsed.ok) return null;
  return parsed.rdns
    .map((rdn) =>
      rdn
        .map((a) => `${a.type.toLowerCase()}=${escapeKeyValue(a.value.toLowerCase())}`)
        .sort()
        .join('+'),
    )
    .join(',');
}

function lowerType(component: string): string {
  const eq = component.indexOf('=');
  return component.slice(0, eq).toLowerCase() + component.slice(eq);
}

function escapeKeyValue(value: string): string {
  return /[\\,+]/.test(value) ? value.replace(/[\\,+]/g, (c) => `\\${c}`) : value;
}

/**
 * dnKey for the commonest DN of all, "CN=Ann Lee,OU=Sales,DC=contoso,DC=com": valid types, no
 * escapes or specials, no spaces around separators. Then the key is the DN in lower case, found in
 * one pass without splitting. Anything else returns undefined and takes the general path.
 */
function plainDnKey(dn: string): string | undefined {
  const n = dn.length;
  let i = 0;
  for (;;) {
    const first = dn.charCodeAt(i);
    if (isLetter(first)) {
      i++;
      while (i < n && (isLetter(dn.charCodeAt(i)) || isDigit(dn.charCodeAt(i)) || dn.charCodeAt(i) === 45)) i++;
    } else if (isDigit(first)) {
      // A numeric OID: digits separated by single dots.
      for (;;) {
        if (!isDigit(dn.charCodeAt(i))) return undefined;
        while (i < n && isDigit(dn.charCodeAt(i))) i++;
        if (dn.charCodeAt(i) !== 46) break;
        i++;
      }
    } else {
      return undefined;
    }
    if (dn.charCodeAt(i) !== 61) return undefined;
    const valueStart = ++i;
    while (i < n) {
      const c = dn.charCodeAt(i);
      if (c === 44) break;
      if (c === 92 || c === 43 || c === 34 || c === 35 || c === 59 || c === 60 || c === 62 || c === 0) return undefined;
      i++;
    }
    if (i === valueStart || dn.charCodeAt(valueStart) === 32 || dn.charCodeAt(i - 1) === 32) return undefined;
    if (i === n) return dn.toLowerCase();
    if (++i === n) return undefined;
  }
}

function isLetter(c: number): boolean {
  return (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
}

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

/** True when the DN with key `child` equals `base` or lies in its subtree (keys from dnKey). */
export function keyWithin(child: string, base: string): boolean {
  if (child.length === base.length) return child === base;
  const at = child.length - base.length - 1;
  if (at < 1 || child.charCodeAt(at) !== 44 || !child.endsWith(base)) return false;
  // The comma must separate components: an odd run of backslashes before it escapes it.
  let slashes = 0;
  while (at - 1 - slashes >= 0 && child.charCodeAt(at - 1 - slashes) === 92) slashes++;
  return slashes % 2 === 0;
}

/** True when `child` equals `base` or lies anywhere in its subtree, compared component-wise. */
export function isWithin(childKeys: readonly string[], baseKeys: readonly string[]): boolean {
  if (childKeys.length < baseKeys.length) return false;
  const offset = childKeys.length - baseKeys.length;
  for (let i = 0; i < baseKeys.length; i++) {
    if (childKeys[offset + i] !== baseKeys[i]) return false;
  }
  return true;
}

export function isDnWithin(child: string, base: string): boolean {
  const c = canonicalDn(child);
  const b = canonicalDn(base);
  return c !== null && b !== null && isWithin(c, b);
}

/** Escapes a value for an LDAP search filter (RFC 4515 section 3). */
export function escapeFilterValue(value: string): string {
  return value.replace(/[\\*()\u0000]/g, (c) => '\\' + c.charCodeAt(0).toString(16).padStart(2, '0'));
}
