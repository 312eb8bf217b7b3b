import { z } from 'zod';
import { AppError, type AdsyncErrorCode } from '../shared/errors';
import { parseDn } from './dn';

/**
 * The cloudNoFlow / JoinNoFlow rule pair from Microsoft's Cloud Sync pilot tutorial, planned as data.
 *
 * The bot plans (and shows the plan on the approval card); the agent creates exactly what was
 * approved through fixed PowerShell scripts that receive the plan as JSON data. Nothing here does
 * I/O, so the bot and the tests can plan without a Connect Sync server.
 */

export type { AdsyncErrorCode };

/**
 * Lives here rather than next to the executor because the planner must stay free of agent imports
 * and also needs to throw it; the executor re-exports it. An AppError, so it crosses the relay the
 * same way as every other error.
 */
export class AdsyncError extends AppError {
  declare readonly code: AdsyncErrorCode;

  constructor(
    code: AdsyncErrorCode,
    message: string,
    options: { hint?: string; details?: Record<string, unknown>; cause?: unknown } = {},
  ) {
    super(code, message, options);
    this.name = 'AdsyncError';
  }
}

export const NO_FLOW_OBJECT_TYPES = ['user', 'group', 'contact'] as const;
export type NoFlowObjectType = (typeof NO_FLOW_OBJECT_TYPES)[number];

/** The range Microsoft reserves for custom rules; built-in rules start at 100. */
export const CUSTOM_PRECEDENCE_MIN = 0;
export const CUSTOM_PRECEDENCE_MAX = 99;
/** Sync Rules Editor limit for a rule name (**unverified** for the PowerShell path). */
export const MAX_RULE_NAME_LENGTH = 256;
export const SYNCSHIFT_RULE_MARKER = '(SyncShift)';

/**
 * Connect Sync's default rules: AD user and AD contact both project to MV person; groups stay
 * groups. Outbound to Entra mirrors that (MV person -> Entra user or contact).
 */
const OBJECT_TYPE_MAP: Record<NoFlowObjectType, { ad: string; mv: string; entra: string; label: string }> = {
  user: { ad: 'user', mv: 'person', entra: 'user', label: 'User' },
  group: { ad: 'group', mv: 'group', entra: 'group', label: 'Group' },
  contact: { ad: 'contact', mv: 'person', entra: 'contact', label: 'Contact' },
};

const scopeCondition = z.object({
  attribute: z.string().min(1).max(256),
  value: z.string().max(4096),
  operator: z.enum(['ENDSWITH', 'EQUAL']),
});

const attributeFlow = z.object({
  flowType: z.literal('Constant'),
  source: z.string().max(256),
  destination: z.string().min(1).max(256),
  valueMergeType: z.literal('Update'),
});

/** One rule as approved; the agent validates it again because it crossed the relay. */
export const rulePlanSchema = z.object({
  /** Stable key inside one plan, e.g. "inbound-user"; used in progress and failure reports. */
  key: z.string().regex(/^(inbound|outbound)-(user|group|contact)$/),
  name: z.string().min(1).max(MAX_RULE_NAME_LENGTH),
  description: z.string().max(1024),
  direction: z.enum(['Inbound', 'Outbound']),
  /** Which connector the agent attaches the rule to; it looks the identifier up itself. */
  connectorRole: z.enum(['ad', 'entra']),
  objectType: z.enum(NO_FLOW_OBJECT_TYPES),
  sourceObjectType: z.string().min(1).max(64),
  targetObjectType: z.string().min(1).max(64),
  linkType: z.enum(['Join', 'JoinNoFlow']),
  precedence: z.number().int().min(CUSTOM_PRECEDENCE_MIN).max(CUSTOM_PRECEDENCE_MAX),
  /** The pilot OU; the agent uses it to pick the AD connector whose partition holds it. */
  ouDn: z.string().min(1).max(2048),
  /** One scope condition group (conditions are ANDed). */
  scope: z.array(scopeCondition).min(1).max(8),
  attributeFlows: z.array(attributeFlow).max(8),
});
export type RulePlan = z.infer<typeof rulePlanSchema>;
/** The pilot's 6 rules, or a wave's 6 per OU: at most the custom precedence range (0-99) holds. */
export const MAX_RULES_PER_PLAN = CUSTOM_PRECEDENCE_MAX - CUSTOM_PRECEDENCE_MIN + 1;
export const rulePlanListSchema = z.array(rulePlanSchema).min(1).max(MAX_RULES_PER_PLAN);

export interface PlanNoFlowRulesInput {
  /** The OU's DN as AD returns it (resolve first): Connect Sync compares it as a string suffix. */
  ouDn: string;
  /** Precedences of every existing rule, on all connectors: Connect Sync needs them unique. */
  usedPrecedences: number[];
  objectTypes?: NoFlowObjectType[];
}

export function planNoFlowRules(input: PlanNoFlowRulesInput): RulePlan[] {
  const ouDn = input.ouDn.trim();
  const shortName = ouShortName(ouDn);
  const types = uniqueInOrder(input.objectTypes ?? [...NO_FLOW_OBJECT_TYPES]);
  if (types.length === 0) {
    throw new AppError('INPUT.BAD_COMMAND', 'No object types were chosen for the no-flow rules.', {
      hint: 'Choose at least one of user, group or contact.',
    });
  }
  const precedences = freePrecedences(input.usedPrecedences, types.length * 2);
  const description = truncate(`Created by SyncShift for the Cloud Sync pilot of ${ouDn}. Disable to roll back.`, 1024);

  const plan: RulePlan[] = [];
  let next = 0;
  for (const type of types) {
    const t = OBJECT_TYPE_MAP[type];
    plan.push({
      key: `inbound-${type}`,
      name: ruleName(`In from AD - ${t.label} cloudNoFlow ${SYNCSHIFT_RULE_MARKER} `, shortName),
      description,
      direction: 'Inbound',
      connectorRole: 'ad',
      objectType: type,
      sourceObjectType: t.ad,
      targetObjectType: t.mv,
      linkType: 'Join',
      precedence: precedences[next++]!,
      ouDn,
      scope: [{ attribute: 'dn', value: ouDn, operator: 'ENDSWITH' }],
      // 'true' as in Microsoft's own group-writeback script; the editor shows it as True.
      attributeFlows: [{ flowType: 'Constant', source: 'true', destination: 'cloudNoFlow', valueMergeType: 'Update' }],
    });
    plan.push({
      key: `outbound-${type}`,
      name: ruleName(`Out to AAD - ${t.label} JoinNoFlow ${SYNCSHIFT_RULE_MARKER} `, shortName),
      description,
      direction: 'Outbound',
      connectorRole: 'entra',
      objectType: type,
      sourceObjectType: t.mv,
      targetObjectType: t.entra,
      linkType: 'JoinNoFlow',
      precedence: precedences[next++]!,
      ouDn,
      scope: [{ attribute: 'cloudNoFlow', value: 'true', operator: 'EQUAL' }],
      attributeFlows: [],
    });
  }
  return plan;
}

/**
 * Takes free values from 99 downwards so SyncShift's rules stay clear of the low numbers that
 * admins and Microsoft's own migration scripts (88, 89) tend to use.
 */
export function freePrecedences(used: readonly number[], count: number): number[] {
  const taken = new Set(used);
  const out: number[] = [];
  for (let p = CUSTOM_PRECEDENCE_MAX; p >= CUSTOM_PRECEDENCE_MIN && out.length < count; p--) {
    if (!taken.has(p)) out.push(p);
  }
  if (out.length < count) {
    throw new AdsyncError(
      'ADSYNC.PRECEDENCE_EXHAUSTED',
      `Only ${out.length} of the ${count} precedence values needed are free in the custom range ${CUSTOM_PRECEDENCE_MIN}-${CUSTOM_PRECEDENCE_MAX}.`,
      {
        hint: 'Delete or renumber unused custom sync rules in the Synchronization Rules Editor, or plan fewer object types, then plan again.',
        details: { needed: count, free: out.length },
      },
    );
  }
  return out;
}

/** The first RDN's value: enough to tell rules for different pilot OUs apart in the editor. */
function ouShortName(ouDn: string): string {
  if (ouDn === '' || ouDn.length > 2048) {
    throw new AppError('INPUT.BAD_DN', 'The pilot OU must be a distinguished name of at most 2048 characters.', {
      hint: 'Use the OU DN the agent resolved, e.g. OU=Pilot,DC=contoso,DC=com.',
    });
  }
  if (/[\u0000-\u001f\u007f]/.test(ouDn)) {
    throw new AppError('INPUT.BAD_DN', 'The pilot OU contains control characters.', {
      hint: 'Use the OU DN exactly as AD returns it.',
    });
  }
  const parsed = parseDn(ouDn);
  if (!parsed.ok) {
    throw new AppError('INPUT.BAD_DN', `The pilot OU is not a valid distinguished name: ${parsed.reason}.`, {
      hint: 'Use the OU DN exactly as AD returns it, e.g. OU=Pilot,DC=contoso,DC=com.',
    });
  }
  const first = parsed.rdns[0]?.[0];
  if (!first || parsed.rdns.length < 2) {
    throw new AppError('INPUT.BAD_DN', 'The pilot OU must be a full DN with its domain components.', {
      hint: 'e.g. OU=Pilot,DC=contoso,DC=com.',
    });
  }
  return first.value;
}

function ruleName(prefix: string, shortName: string): string {
  return prefix + truncate(shortName, MAX_RULE_NAME_LENGTH - prefix.length);
}

function truncate(text: string, max: number): string {
  if (text.length <= max) return text;
  // Cut on a code point boundary so a name never ends in half a surrogate pair.
  const chars = Array.from(text);
  let out = '';
  for (const c of chars) {
    if (out.length + c.length > max - 3) break;
    out += c;
  }
  return out + '...';
}

function uniqueInOrder<T>(items: readonly T[]): T[] {
  return [...new Set(items)];
}

export interface PreviewConnectors {
  adConnectorName?: string;
  entraConnectorName?: string;
}

/**
 * A PowerShell rendering of the plan for the approval card. Display only: the agent never runs
 * this text. It is still quoted so that pasting it into a console cannot run anything hidden in
 * an OU name.
 */
export function renderRulesScriptPreview(plan: readonly RulePlan[], connectors: PreviewConnectors = {}): string {
  const lines: string[] = [
    '# Equivalent of what the SyncShift agent will do (display only).',
    'Import-Module ADSync',
    connectors.adConnectorName !== undefined
      ? `$adConnector = Get-ADSyncConnector -Name ${psQuote(connectors.adConnectorName)}`
      : "# $adConnector = Get-ADSyncConnector -Name '<your AD connector>'",
    connectors.entraConnectorName !== undefined
      ? `$entraConnector = Get-ADSyncConnector -Name ${psQuote(connectors.entraConnectorName)}`
      : "# $entraConnector = Get-ADSyncConnector -Name '<your Entra connector>'",
  ];
  for (const rule of plan) {
    const connectorVar = rule.connectorRole === 'ad' ? '$adConnector' : '$entraConnector';
    lines.push(
      '',
      `# ${rule.direction} ${rule.sourceObjectType} -> ${rule.targetObjectType}, precedence ${rule.precedence}`,
      `$rule = New-ADSyncRule -Name ${psQuote(rule.name)} -Identifier ([guid]::NewGuid()) -Description ${psQuote(rule.description)} ` +
        `-Direction '${rule.direction}' -Precedence ${rule.precedence} ` +
        `-PrecedenceAfter '00000000-0000-0000-0000-000000000000' -PrecedenceBefore '00000000-0000-0000-0000-000000000000' ` +
        `-SourceObjectType ${psQuote(rule.sourceObjectType)} -TargetObjectType ${psQuote(rule.targetObjectType)} ` +
        `-Connector ${connectorVar}.Identifier -LinkType '${rule.linkType}' -SoftDeleteExpiryInterval 0 -ImmutableTag ''`,
    );
    for (const flow of rule.attributeFlows) {
      lines.push(
        `$rule = Add-ADSyncAttributeFlowMapping -SynchronizationRule $rule -Source @(${psQuote(flow.source)}) -Destination ${psQuote(flow.destination)} ` +
          `-FlowType '${flow.flowType}' -ValueMergeType '${flow.valueMergeType}'`,
      );
    }
    const conditions = rule.scope.map(
      (c, i) =>
        `$c${i} = New-Object -TypeName 'Microsoft.IdentityManagement.PowerShell.ObjectModel.ScopeCondition' -ArgumentList ${psQuote(c.attribute)}, ${psQuote(c.value)}, '${c.operator}'`,
    );
    lines.push(
      ...conditions,
      `$rule = Add-ADSyncScopeConditionGroup -SynchronizationRule $rule -ScopeConditions @(${rule.scope.map((_, i) => `$c${i}`).join(', ')})`,
      'Add-ADSyncRule -SynchronizationRule $rule',
    );
  }
  return lines.join('\n');
}

/**
 * A PowerShell single-quoted literal. PowerShell also treats the typographic quotes U+2018-U+201B
 * as single quotes, so those are doubled too; control characters are spliced in as [char] codes
 * so the literal stays on one line.
 */
export function psQuote(value: string): string {
  const parts: string[] = [];
  let current = '';
  for (const c of value) {
    const code = c.codePointAt(0)!;
    if (code < 0x20 || code === 0x7f) {
      parts.push(`'${current}'`, `[char]0x${code.toString(16).padStart(2, '0')}`);
      current = '';
    } else if (c === "'" || (code >= 0x2018 && code <= 0x201b)) {
      current += c + c;
    } else {
      current += c;
    }
  }
  parts.push(`'${current}'`);
  return parts.length === 1 ? parts[0]! : `(${parts.join(' + ')})`;
}
