import { MUTATING_ACTIONS } from '../relay/protocol';
import { formatDn, isDnWithin, parseDn } from '../runbook/dn';
import { AppError } from '../shared/errors';

/**
 * What this agent agrees to do, decided on the agent's own machine: the bot's word is not enough.
 * An empty allow-list means the whole domain (the agent's account rights are then the only limit).
 */
export interface AgentPolicy {
  allowedBaseDns: readonly string[];
  readOnly: boolean;
}

export const OPEN_POLICY: AgentPolicy = { allowedBaseDns: [], readOnly: false };

/** `SYNCSHIFT_ALLOWED_BASE_DNS`: DNs separated by `;` (a DN itself contains commas). */
export function parseAllowedBaseDns(text: string): string[] {
  return text
    .split(';')
    .map((part) => part.trim())
    .filter(Boolean)
    .map((dn) => {
      const parsed = parseDn(dn, { strict: true });
      if (!parsed.ok) {
        throw new AppError('CONFIG.INVALID', `SYNCSHIFT_ALLOWED_BASE_DNS contains "${dn}", which is not a DN: ${parsed.reason}`, {
          hint: 'List full DNs separated by semicolons, e.g. OU=Sales,DC=contoso,DC=com;OU=Pilot,DC=contoso,DC=com',
        });
      }
      return formatDn(parsed.rdns);
    });
}

export function assertActionAllowed(policy: AgentPolicy, action: string): void {
  if (policy.readOnly && MUTATING_ACTIONS.has(action)) {
    throw new AppError('POLICY.READ_ONLY', `This agent is read-only, so it refused ${action}. Nothing was changed.`, {
      hint: 'Run the action on an agent without SYNCSHIFT_READ_ONLY, or set SYNCSHIFT_READ_ONLY=false on this one if it should make changes.',
    });
  }
}

/** Compared component by component (RFC 4514), so OU=SalesOps is not under OU=Sales. */
export function assertDnAllowed(policy: AgentPolicy, dn: string): void {
  if (policy.allowedBaseDns.length === 0) return;
  if (policy.allowedBaseDns.some((base) => isDnWithin(dn, base))) return;
  throw new AppError('POLICY.DN_NOT_ALLOWED', `${dn} is outside the base DNs this agent may touch. Nothing was read or changed.`, {
    hint: `The agent allows: ${policy.allowedBaseDns.join('; ')}. Change SYNCSHIFT_ALLOWED_BASE_DNS on the agent's server if this OU should be included.`,
    details: { allowed: [...policy.allowedBaseDns] },
  });
}
