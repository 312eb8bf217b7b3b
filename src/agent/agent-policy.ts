import { MUTATING_ACTIONS } from '../relay/protocol';
import { CANARY_PREFIX, canaryAccountName, isCanaryName } from '../runbook/canary';
import { canonicalDn, formatDn, isDnWithin, parseDn } from '../runbook/dn';
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
        throw new AppError(
          'CONFIG.INVALID',
          `SYNCSHIFT_ALLOWED_BASE_DNS contains "${dn}", which is not a DN: ${parsed.reason}`,
          {
            hint: 'List full DNs separated by semicolons, e.g. OU=Sales,DC=contoso,DC=com;OU=Pilot,DC=contoso,DC=com',
          },
        );
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
  throw new AppError(
    'POLICY.DN_NOT_ALLOWED',
    `${dn} is outside the base DNs this agent may touch. Nothing was read or changed.`,
    {
      hint: `The agent allows: ${policy.allowedBaseDns.join('; ')}. Change SYNCSHIFT_ALLOWED_BASE_DNS on the agent's server if this OU should be included.`,
      details: { allowed: [...policy.allowedBaseDns] },
    },
  );
}

/**
 * A no-flow rule acts on its scope, not on `ouDn`: an inbound rule scoped `dn ENDSWITH DC=contoso,DC=com`
 * would stamp cloudNoFlow on the whole domain whatever `ouDn` says. So the agent accepts only the
 * scope shapes SyncShift plans (see planNoFlowRules): inbound `dn ENDSWITH <ouDn>`, outbound
 * `cloudNoFlow EQUAL true`; and every DN in it must be inside the allow-list.
 */
export function assertRulePlanAllowed(policy: AgentPolicy, plan: readonly Record<string, unknown>[]): void {
  for (const rule of plan) {
    const ouDn = typeof rule.ouDn === 'string' ? rule.ouDn : undefined;
    if (ouDn !== undefined) assertDnAllowed(policy, ouDn);
    const scope: unknown[] = Array.isArray(rule.scope) ? rule.scope : [];
    const label = typeof rule.key === 'string' ? rule.key : String(rule.name ?? 'a rule');
    if (rule.direction === 'Inbound' && scope.length === 0)
      refuseScope(label, 'it has no dn scope condition, so it would apply to the whole domain');
    for (const raw of scope) {
      const c = (typeof raw === 'object' && raw !== null ? raw : {}) as Record<string, unknown>;
      const value = typeof c.value === 'string' ? c.value : '';
      if (rule.direction === 'Inbound' && c.attribute === 'dn' && c.operator === 'ENDSWITH') {
        assertDnAllowed(policy, value);
        if (ouDn === undefined || !sameDn(value, ouDn))
          refuseScope(label, `its scope dn ENDSWITH ${value} is not its pilot OU ${ouDn ?? '(none)'}`);
      } else if (
        rule.direction === 'Outbound' &&
        c.attribute === 'cloudNoFlow' &&
        c.operator === 'EQUAL' &&
        value.toLowerCase() === 'true'
      ) {
        // The outbound half only follows the flag the inbound half sets; nothing DN-shaped to check.
      } else {
        refuseScope(
          label,
          `its scope condition ${String(c.attribute)} ${String(c.operator)} ${value} is not one SyncShift plans for a ${String(rule.direction)} rule`,
        );
      }
    }
  }
}

function sameDn(a: string, b: string): boolean {
  const ka = canonicalDn(a);
  const kb = canonicalDn(b);
  return ka !== null && kb !== null && ka.length === kb.length && ka.every((k, i) => k === kb[i]);
}

function refuseScope(rule: string, why: string): never {
  throw new AppError(
    'POLICY.RULE_SCOPE_REFUSED',
    `The agent refused the no-flow rules because ${rule} is not scoped as planned: ${why}. Nothing was changed.`,
    {
      hint: 'Plan the rules again on the runbook step card and approve the new plan; if this repeats, treat the bot host as compromised and check its audit log.',
      details: { rule },
    },
  );
}

/**
 * The canary of step 12 may be created only under a name with the canary prefix and only in an OU
 * this agent allows (the bot sends only its migration's pilot OU; this is the agent's own check).
 */
export function assertCanaryCreateAllowed(policy: AgentPolicy, ouDn: string, name: string): void {
  assertActionAllowed(policy, 'directory.createCanary');
  if (!isCanaryName(name)) refuseCanary(`its name "${name}" does not have the form ${CANARY_PREFIX}<8 hex>`);
  assertDnAllowed(policy, ouDn);
}

/**
 * A delete removes exactly one canary: the object found by its objectGUID must carry the name the
 * bot stored (with the canary prefix), be a disabled user and not a computer, sit inside the allowed
 * base DNs, and be a member of no group (a canary never is; anything else is not ours).
 */
export function assertCanaryDeleteAllowed(
  policy: AgentPolicy,
  name: string,
  found: { dn: string; objectClasses: string[]; samAccountName: string | null; disabled: boolean; memberOf: string[] },
): void {
  assertActionAllowed(policy, 'directory.deleteCanary');
  if (!isCanaryName(name)) refuseCanary(`the name "${name}" does not have the form ${CANARY_PREFIX}<8 hex>`);
  const classes = found.objectClasses.map((c) => c.toLowerCase());
  if (!classes.includes('user') || classes.includes('computer'))
    refuseCanary(`${found.dn} is not a user object`, found.dn);
  if (found.samAccountName !== canaryAccountName(name))
    refuseCanary(
      `${found.dn} has the account name "${found.samAccountName ?? ''}", not the canary's ${canaryAccountName(name)}`,
      found.dn,
    );
  const rdn = parseDn(found.dn);
  const cn = rdn.ok ? rdn.rdns[0]?.[0] : undefined;
  if (!cn || cn.type.toLowerCase() !== 'cn' || cn.value !== name)
    refuseCanary(`${found.dn} is not named CN=${name}`, found.dn);
  if (!found.disabled) refuseCanary(`${found.dn} is enabled, and a canary is always disabled`, found.dn);
  if (found.memberOf.length > 0)
    refuseCanary(`${found.dn} is a member of ${found.memberOf.length} group(s), and a canary never is`, found.dn);
  assertDnAllowed(policy, found.dn);
}

function refuseCanary(why: string, dn?: string): never {
  throw new AppError(
    'POLICY.CANARY_REFUSED',
    `The agent refused the canary action because ${why}. Nothing was changed.`,
    {
      hint: 'SyncShift creates and deletes only its own disabled canary users. If this repeats, check the bot host and its audit log.',
      ...(dn ? { details: { dn } } : {}),
    },
  );
}
