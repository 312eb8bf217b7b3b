import { formatDn, parseDn, type Rdn } from './dn';

/**
 * What a person typed as the OU to verify, checked before anything reaches the agent or LDAP.
 * - `relative`: OU components without DC (OU=Sales or OU=EMEA,OU=Sales), resolved by the agent
 *   against rootDSE defaultNamingContext, then by name if that does not exist.
 * - `absolute`: a full DN ending in DC components.
 * - `name`: a bare OU name (Sales), looked up by name; several matches are reported as ambiguous.
 */
export type OuTarget =
  | { kind: 'relative'; rdns: Rdn[]; text: string }
  | { kind: 'absolute'; rdns: Rdn[]; text: string }
  | { kind: 'name'; name: string; text: string };

export type OuInputResult = { ok: true; target: OuTarget } | { ok: false; code: 'INPUT.BAD_DN' | 'INPUT.FILTER_INJECTION'; reason: string; hint: string };

const HINT = 'Type an OU as OU=Sales (relative to the domain), a full DN such as OU=Sales,DC=contoso,DC=com, or just the OU name.';
const CONTAINER_TYPES = new Set(['OU', 'CN']);
const FILTER_SYNTAX = /[()*&|!]\s*\(|\)\s*\(|\*|^\s*\(/;
const MAX_LENGTH = 2048;

export function parseOuInput(raw: string): OuInputResult {
  const text = stripQuotes(raw.trim());
  if (text === '') return { ok: false, code: 'INPUT.BAD_DN', reason: 'No OU was given.', hint: HINT };
  if (text.length > MAX_LENGTH) return { ok: false, code: 'INPUT.BAD_DN', reason: `The OU is longer than ${MAX_LENGTH} characters.`, hint: HINT };

  if (!text.includes('=')) {
    if (FILTER_SYNTAX.test(text) || text.includes('\u0000')) {
      return { ok: false, code: 'INPUT.FILTER_INJECTION', reason: `"${text}" looks like an LDAP filter, not an OU name.`, hint: HINT };
    }
    if (text.includes(',')) return { ok: false, code: 'INPUT.BAD_DN', reason: `"${text}" has commas but no TYPE=value parts.`, hint: HINT };
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
      return { ok: false, code: 'INPUT.BAD_DN', reason: `"${formatDn([rdn])}" is multi-valued; OUs and domains never are.`, hint: HINT };
    }
    const type = rdn[0]!.type.toUpperCase();
    const inDomainPart = firstDc >= 0 && i >= firstDc;
    if (inDomainPart && type !== 'DC') {
      return { ok: false, code: 'INPUT.BAD_DN', reason: `"${rdn[0]!.type}=" comes after DC=; the DC= parts must be last.`, hint: HINT };
    }
    if (!inDomainPart && !CONTAINER_TYPES.has(type)) {
      return { ok: false, code: 'INPUT.BAD_DN', reason: `"${rdn[0]!.type}=" is not an OU or container; only OU=, CN= and DC= are accepted.`, hint: HINT };
    }
  }
  if (firstDc === 0) return { ok: false, code: 'INPUT.BAD_DN', reason: 'That is a whole domain, not an OU.', hint: HINT };
  return { ok: true, target: { kind: firstDc > 0 ? 'absolute' : 'relative', rdns, text: formatDn(rdns) } };
}

function stripQuotes(text: string): string {
  if (text.length >= 2 && ((text.startsWith('"') && text.endsWith('"')) || (text.startsWith('\u201c') && text.endsWith('\u201d')))) {
    return text.slice(1, -1).trim();
  }
  return text;
}
