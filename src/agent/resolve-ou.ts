import { canonicalDn, dnKeys, formatDn, isWithin, parseDn, type Rdn } from '../runbook/dn';
import { commaNameHint, notASearchBase, parseOuInput } from '../runbook/ou-input';
import { AppError } from '../shared/errors';
import type { Directory } from '../directory/types';

export interface ResolvedOu {
  baseDn: string;
  defaultNamingContext: string;
}

const FULL_DN_HINT = 'Type the full DN, for example /verify pilot OU=Sales,DC=contoso,DC=com.';

/**
 * Turns what a person typed into one existing OU. The agent does this itself, not the bot: it is
 * the side that can see the directory, and it must not trust the text it was sent.
 */
export async function resolveOu(directory: Directory, input: string): Promise<ResolvedOu> {
  const parsed = parseOuInput(input);
  if (!parsed.ok) throw new AppError(parsed.code, parsed.reason, { hint: parsed.hint });
  const defaultNamingContext = await directory.defaultNamingContext();
  const ncKeys = canonicalDn(defaultNamingContext);
  if (ncKeys === null)
    throw new AppError(
      'DIRECTORY.ERROR',
      `rootDSE returned an unreadable defaultNamingContext: ${defaultNamingContext}`,
    );
  const target = parsed.target;

  if (target.kind === 'absolute') {
    const keys = canonicalDn(target.text)!;
    if (!isWithin(keys, ncKeys)) {
      throw new AppError(
        'DIRECTORY.OUTSIDE_BASE',
        `${target.text} is not in this agent's domain (${defaultNamingContext}).`,
        {
          hint: `Use an OU under ${defaultNamingContext}, or run an agent in that domain.`,
        },
      );
    }
    const classes = await directory.objectClasses(target.text);
    if (classes === null) {
      throw new AppError('DIRECTORY.OU_NOT_FOUND', `There is no OU ${target.text}.`, {
        hint: 'Check the spelling; copy the DN from Active Directory Users and Computers (Attribute Editor → distinguishedName).',
      });
    }
    requireSearchBase(target.text, classes, target.rdns, ncKeys);
    return { baseDn: await spelledAsStored(directory, target.text), defaultNamingContext };
  }

  if (target.kind === 'relative') {
    const direct = `${target.text},${defaultNamingContext}`;
    const classes = await directory.objectClasses(direct);
    if (classes !== null) {
      requireSearchBase(direct, classes, rdnsOf(direct), ncKeys);
      return { baseDn: await spelledAsStored(directory, direct), defaultNamingContext };
    }
    // Not directly under the domain: accept it as the tail end of a deeper path (OU=Marketing
    // matches OU=Marketing,OU=EMEA,OU=Regions), and ask when several OUs fit.
    const typedKeys = canonicalDn(target.text)!;
    const leaf = target.rdns[0]![0]!.value;
    const candidates = (await directory.findOusByName(defaultNamingContext, leaf)).filter((dn) => {
      const keys = canonicalDn(dn);
      return keys !== null && typedKeys.every((k, i) => keys[i] === k);
    });
    return pickOne(candidates, target.text, defaultNamingContext);
  }

  const candidates = await directory.findOusByName(defaultNamingContext, target.name);
  // A name with a comma may be a container's (CN=) rather than an OU's, which only its DN reaches.
  const notFoundHint = target.name.includes(',')
    ? `Check the spelling. ${commaNameHint(target.name, defaultNamingContext)}`
    : undefined;
  return pickOne(candidates, target.name, defaultNamingContext, notFoundHint);
}

/**
 * A verify reads the users under an OU or container; a user, computer or group as the search base
 * would read that one object or nothing, and report it as if it were the OU.
 */
function requireSearchBase(dn: string, objectClasses: readonly string[], rdns: Rdn[], ncKeys: readonly string[]): void {
  const kind = notASearchBase(objectClasses);
  if (kind === null) return;
  const parent = rdns.slice(1);
  const parentKeys = dnKeys(parent);
  const inside = parent.length > 0 && parentKeys.length > ncKeys.length;
  throw new AppError(
    'DIRECTORY.NOT_A_CONTAINER',
    `${dn} is ${/^[aeio]/i.test(kind) ? 'an' : 'a'} ${kind}, not an OU or container.`,
    {
      hint: inside
        ? `A verify reads the users under an OU or container. For the one that holds it, type /verify pilot ${formatDn(parent)}`
        : FULL_DN_HINT,
      details: { objectClass: [...objectClasses] },
    },
  );
}

/**
 * The DN as AD wrote it: what the scan stores, and what Connect Sync's `dn ENDSWITH` and Cloud Sync's
 * scope are given (string comparisons there), whatever case or escaping the person typed.
 */
async function spelledAsStored(directory: Directory, typed: string): Promise<string> {
  return (await directory.storedDn(typed)) ?? typed;
}

function rdnsOf(dn: string): Rdn[] {
  const parsed = parseDn(dn);
  return parsed.ok ? parsed.rdns : [];
}

function pickOne(candidates: string[], typed: string, defaultNamingContext: string, notFoundHint?: string): ResolvedOu {
  if (candidates.length === 1) return { baseDn: normalise(candidates[0]!), defaultNamingContext };
  if (candidates.length === 0) {
    throw new AppError('DIRECTORY.OU_NOT_FOUND', `No OU matches "${typed}" in ${defaultNamingContext}.`, {
      hint: notFoundHint ?? `Check the spelling. ${FULL_DN_HINT}`,
    });
  }
  const shown = candidates.slice(0, 20).map(normalise).sort();
  throw new AppError('DIRECTORY.OU_AMBIGUOUS', `${candidates.length} OUs match "${typed}".`, {
    hint: 'Say which one by typing its full DN.',
    details: { candidates: shown },
  });
}

function normalise(dn: string): string {
  const parsed = parseDn(dn);
  return parsed.ok ? formatDn(parsed.rdns) : dn;
}
