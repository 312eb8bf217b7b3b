import { escapeDnValue, formatDn, parseDn, type Rdn } from './dn';

/**
 * What a person typed as the OU to verify, checked before anything reaches the agent or LDAP.
 * - `relative`: OU components without DC (OU=Sales or OU=EMEA,OU=Sales), resolved by the agent
 *   against rootDSE defaultNamingContext, then by name if that does not exist.
 * - `absolute`: a full DN ending in DC components.
 * - `name`: a bare OU name (Sales), looked up by name; several matches are reported as ambiguous.
 *   A name with a comma must be quoted ("Sales, Inc"); `text` then keeps the quotes, so the agent,
 *   which parses the text again, reads the same name.
 */
export type OuTarget =
  | { kind: 'relative'; rdns: Rdn[]; text: string }
  | { kind: 'absolute'; rdns: Rdn[]; text: string }
  | { kind: 'name'; name: string; text: string };

export type OuInputResult =
  | { ok: true; target: OuTarget }
  | { ok: false; code: 'INPUT.BAD_DN' | 'INPUT.FILTER_INJECTION'; reason: string; hint: string };

const HINT =
  'Type an OU as OU=Sales (relative to the domain), a full DN such as OU=Sales,DC=contoso,DC=com, or just the OU name.';
const CONTAINER_TYPES = new Set(['OU', 'CN']);
const FILTER_SYNTAX = /[()*&|!]\s*\(|\)\s*\(|\*|^\s*\(/;
const MAX_LENGTH = 2048;

export function parseOuInput(raw: string): OuInputResult {
  const trimmed = raw.trim();
  const text = stripQuotes(trimmed);
  const quoted = text !== trimmed;
  if (text === '') return { ok: false, code: 'INPUT.BAD_DN', reason: 'No OU was given.', hint: HINT };
  if (text.length > MAX_LENGTH)
    return { ok: false, code: 'INPUT.BAD_DN', reason: `The OU is longer than ${MAX_LENGTH} characters.`, hint: HINT };

  if (!text.includes('=')) {
    if (FILTER_SYNTAX.test(text) || text.includes('\u0000')) {
      return {
        ok: false,
        code: 'INPUT.FILTER_INJECTION',
        reason: `"${text}" looks like an LDAP filter, not an OU name.`,
        hint: HINT,
      };
    }
    if (text.includes(',')) {
      // Unquoted, "Sales,Marketing" may as well be two OUs or a DN typed without TYPE=; quoted, it is one name.
      if (quoted) return { ok: true, target: { kind: 'name', name: text, text: `"${text}"` } };
      return {
        ok: false,
        code: 'INPUT.BAD_DN',
        reason: `"${text}" has commas but no TYPE=value parts.`,
        hint: commaNameHint(text),
      };
    }
    return { ok: true, target: { kind: 'name', name: text, text } };
  }

  const parsed = parseDn(text, { strict: true });
  if (!parsed.ok) {
    const injection = /LDAP filter/.test(parsed.reason) || FILTER_SYNTAX.test(text);
    return {
      ok: false,
      code: injection ? 'INPUT.FILTER_INJECTION' : 'INPUT.BAD_DN',
      reason: `"${text}" is not a valid distinguished name: ${parsed.reason}.`,
      hint: HINT,
    };
  }
  const rdns = parsed.rdns;
  const firstDc = rdns.findIndex((rdn) => rdn.some((a) => a.type.toUpperCase() === 'DC'));
  for (let i = 0; i < rdns.length; i++) {
    const rdn = rdns[i]!;
    if (rdn.length !== 1) {
      return {
        ok: false,
        code: 'INPUT.BAD_DN',
        reason: `"${formatDn([rdn])}" is multi-valued; OUs and domains never are.`,
        hint: HINT,
      };
    }
    const type = rdn[0]!.type.toUpperCase();
    const inDomainPart = firstDc >= 0 && i >= firstDc;
    if (inDomainPart && type !== 'DC') {
      return {
        ok: false,
        code: 'INPUT.BAD_DN',
        reason: `"${rdn[0]!.type}=" comes after DC=; the DC= parts must be last.`,
        hint: HINT,
      };
    }
    if (!inDomainPart && !CONTAINER_TYPES.has(type)) {
      return {
        ok: false,
        code: 'INPUT.BAD_DN',
        reason: `"${rdn[0]!.type}=" is not an OU or container; only OU=, CN= and DC= are accepted.`,
        hint: HINT,
      };
    }
  }
  if (firstDc === 0)
    return { ok: false, code: 'INPUT.BAD_DN', reason: 'That is a whole domain, not an OU.', hint: HINT };
  return { ok: true, target: { kind: firstDc > 0 ? 'absolute' : 'relative', rdns, text: formatDn(rdns) } };
}

/** How to type a name that holds commas: quoted, or as a DN with each comma escaped. */
export function commaNameHint(name: string, defaultNamingContext?: string): string {
  const dn = `OU=${escapeDnValue(name)}${defaultNamingContext ? `,${defaultNamingContext}` : ''}`;
  return `If "${name}" is the name of one OU, put it in quotes ("${name}") or type it as a DN with "\\," for each comma: ${dn}`;
}

/** objectClass values of objects whose subtree a verify may read. */
const SEARCH_BASE_CLASSES = new Set(['organizationalunit', 'container', 'builtindomain', 'domaindns']);
// Most specific first: a computer is also a user, a gMSA also a computer.
const NAMED_CLASSES = [
  'msDS-GroupManagedServiceAccount',
  'msDS-ManagedServiceAccount',
  'computer',
  'inetOrgPerson',
  'user',
  'contact',
  'group',
];

/**
 * What kind of object the objectClass values describe ("user", "computer", "group"…), or null when
 * it is an OU or container a verify may search under.
 */
export function notASearchBase(objectClasses: readonly string[]): string | null {
  const lower = objectClasses.map((c) => c.toLowerCase());
  if (lower.some((c) => SEARCH_BASE_CLASSES.has(c))) return null;
  const named = NAMED_CLASSES.find((c) => lower.includes(c.toLowerCase()));
  if (named) return named;
  // AD lists the class chain from top down; the last one is the object's own.
  return objectClasses.filter((c) => c.toLowerCase() !== 'top').at(-1) ?? 'object';
}

function stripQuotes(text: string): string {
  if (
    text.length >= 2 &&
    ((text.startsWith('"') && text.endsWith('"')) || (text.startsWith('\u201c') && text.endsWith('\u201d')))
  ) {
    return text.slice(1, -1).trim();
  }
  return text;
}
