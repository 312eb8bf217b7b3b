import { canonicalDn, formatDn, isWithin, parseDn } from '../runbook/dn';
import { parseOuInput } from '../runbook/ou-input';
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
  if (ncKeys === null) throw new AppError('DIRECTORY.ERROR', `rootDSE returned an unreadable defaultNamingContext: ${defaultNamingContext}`);
  const target = parsed.target;

  if (target.kind === 'absolute') {
    const keys = canonicalDn(target.text)!;
    if (!isWithin(keys, ncKeys)) {
      throw new AppError('DIRECTORY.OUTSIDE_BASE', `${target.text} is not in this agent's domain (${defaultNamingContext}).`, {
        hint: `Use an OU under ${defaultNamingContext}, or run an agent in that domain.`,
      });
    }
    if (!(await directory.exists(target.text))) {
      throw new AppError('DIRECTORY.OU_NOT_FOUND', `There is no OU ${target.text}.`, { hint: 'Check the spelling; copy the DN from Active Directory Users and Computers (Attribute Editor → distinguishedName).' });
    }
    return { baseDn: target.text, defaultNamingContext };
  }

  if (target.kind === 'relative') {
    const direct = `${target.text},${defaultNamingContext}`;
    if (await directory.exists(direct)) return { baseDn: direct, defaultNamingContext };
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
  return pickOne(candidates, target.name, defaultNamingContext);
}

function pickOne(candidates: string[], typed: string, defaultNamingContext: string): ResolvedOu {
  if (candidates.length === 1) return { baseDn: normalise(candidates[0]!), defaultNamingContext };
  if (candidates.length === 0) {
    throw new AppError('DIRECTORY.OU_NOT_FOUND', `No OU matches "${typed}" in ${defaultNamingContext}.`, { hint: `Check the spelling. ${FULL_DN_HINT}` });
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
