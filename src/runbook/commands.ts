/**
 * Chat commands as data. The bot turns text into a Command and back into cards; nothing here
 * knows about Teams.
 */

export type VerifyListKind = 'missing' | 'extra' | 'mismatched';

export type Command =
  | { kind: 'help' }
  | { kind: 'migration.start'; name: string }
  | { kind: 'migration.status' }
  | { kind: 'step'; n: number }
  | { kind: 'audit'; export: 'csv' | 'json' | null; limit: number }
  | { kind: 'verify.pilot'; ou: string }
  | { kind: 'verify.list'; verification: string | 'last'; list: VerifyListKind; page: number }
  | { kind: 'agent.list' }
  | { kind: 'agent.enroll' | 'agent.rotate' | 'agent.revoke'; name: string }
  | { kind: 'invalid'; command: string; reason: string; usage: string }
  | { kind: 'unknown'; text: string };

export interface CommandHelp {
  usage: string;
  example: string;
  description: string;
}

export const COMMAND_HELP: readonly CommandHelp[] = [
  { usage: '/help', example: '/help', description: 'List every command with an example.' },
  {
    usage: '/migration start "<name>"',
    example: '/migration start "Contoso pilot"',
    description: 'Open a migration tied to this conversation. The runbook and approvals live here.',
  },
  { usage: '/migration status', example: '/migration status', description: 'Show all 18 runbook steps and where this migration stands.' },
  { usage: '/step <n>', example: '/step 8', description: 'Post the card of runbook step n again, with its buttons and evidence.' },
  {
    usage: '/verify pilot <OU>',
    example: '/verify pilot OU=Sales',
    description: 'Compare an OU on-premises (through the agent) with the synced users in Entra: counts, missing, extra and anchor mismatches. A relative OU is resolved against the domain; a full DN also works.',
  },
  {
    usage: '/verify list <missing|extra|mismatched> [page] [#id]',
    example: '/verify list missing 2',
    description: 'Show the full list behind a verify card, 50 names per page. Without #id it uses the latest verify here.',
  },
  { usage: '/audit [export csv|json]', example: '/audit export csv', description: 'Show the latest audit entries (who did what, when, with what outcome), or a download link for all of them.' },
  { usage: '/agent list', example: '/agent list', description: 'Show every relay agent: status, when it enrolled and was last seen, its version, actions run and the job it holds.' },
  {
    usage: '/agent enroll <name>',
    example: '/agent enroll dc-agent-1',
    description: 'Approvers: get a one-time enrollment code (valid 10 minutes by default) in a private chat, for syncshift-agent enroll on the agent\'s server.',
  },
  { usage: '/agent rotate <name>', example: '/agent rotate dc-agent-1', description: 'Approvers: a new enrollment code for an existing agent; its old credential stops working once the code is used.' },
  { usage: '/agent revoke <name>', example: '/agent revoke dc-agent-1', description: 'Approvers: lock an agent out at once; jobs it held are retried elsewhere or marked "outcome unknown".' },
];

const VERIFY_PILOT_USAGE = '/verify pilot <OU>';
const VERIFY_LIST_USAGE = '/verify list <missing|extra|mismatched> [page] [#id]';
const LIST_KINDS = new Set<VerifyListKind>(['missing', 'extra', 'mismatched']);

export function parseCommand(input: string): Command {
  const text = input.replace(/\u00a0/g, ' ').trim();
  if (!text.startsWith('/')) return { kind: 'unknown', text };
  const [head = '', ...rest] = text.split(/\s+/);
  const word = head.toLowerCase();
  const args = text.slice(head.length).trim();

  switch (word) {
    case '/help':
    case '/?':
      return { kind: 'help' };
    case '/migration': {
      const usage = COMMAND_HELP[1]!.usage;
      if ((rest[0] ?? '').toLowerCase() === 'status') return { kind: 'migration.status' };
      if ((rest[0] ?? '').toLowerCase() !== 'start') {
        return { kind: 'invalid', command: '/migration', reason: '"/migration start" and "/migration status" are available.', usage: `${usage} or /migration status` };
      }
      const name = args.slice(rest[0]!.length).trim().replace(/^["\u201c]|["\u201d]$/g, '').trim();
      if (name === '') return { kind: 'invalid', command: '/migration start', reason: 'The migration needs a name.', usage };
      if (name.length > 200) return { kind: 'invalid', command: '/migration start', reason: 'The name is longer than 200 characters.', usage };
      return { kind: 'migration.start', name };
    }
    case '/step': {
      const n = Number(rest[0]);
      if (!Number.isInteger(n) || n < 1 || n > 18) return { kind: 'invalid', command: '/step', reason: 'Give a step number from 1 to 18.', usage: '/step <n>' };
      return { kind: 'step', n };
    }
    case '/audit': {
      if (rest.length === 0) return { kind: 'audit', export: null, limit: 20 };
      const format = (rest[1] ?? 'csv').toLowerCase();
      if ((rest[0] ?? '').toLowerCase() === 'export' && (format === 'csv' || format === 'json')) return { kind: 'audit', export: format, limit: 0 };
      return { kind: 'invalid', command: '/audit', reason: 'Use /audit, /audit export csv or /audit export json.', usage: '/audit [export csv|json]' };
    }
    case '/verify': {
      const sub = (rest[0] ?? '').toLowerCase();
      if (sub === 'pilot') {
        const ou = args.slice(rest[0]!.length).trim();
        if (ou === '') return { kind: 'invalid', command: '/verify pilot', reason: 'Say which OU to verify.', usage: VERIFY_PILOT_USAGE };
        return { kind: 'verify.pilot', ou };
      }
      if (sub === 'list') return parseVerifyList(rest.slice(1));
      return { kind: 'invalid', command: '/verify', reason: `"${rest[0] ?? ''}" is not a verify command.`, usage: `${VERIFY_PILOT_USAGE} or ${VERIFY_LIST_USAGE}` };
    }
    case '/agent':
      return parseAgentCommand(rest);
    default:
      return { kind: 'unknown', text };
  }
}

const AGENT_USAGE = '/agent list | enroll <name> | rotate <name> | revoke <name>';
const AGENT_NAME = /^[A-Za-z0-9._-]{1,64}$/;

function parseAgentCommand(args: string[]): Command {
  const sub = (args[0] ?? '').toLowerCase();
  if (sub === 'list' && args.length === 1) return { kind: 'agent.list' };
  if (sub !== 'enroll' && sub !== 'rotate' && sub !== 'revoke') {
    return { kind: 'invalid', command: '/agent', reason: `"${args[0] ?? ''}" is not an agent command.`, usage: AGENT_USAGE };
  }
  const name = args[1] ?? '';
  if (args.length !== 2 || !AGENT_NAME.test(name)) {
    return { kind: 'invalid', command: `/agent ${sub}`, reason: 'Give one agent name: letters, digits, dot, dash or underscore, at most 64 characters.', usage: `/agent ${sub} <name>` };
  }
  return { kind: `agent.${sub}`, name };
}

function parseVerifyList(args: string[]): Command {
  const usage = VERIFY_LIST_USAGE;
  const list = (args[0] ?? '').toLowerCase() as VerifyListKind;
  if (!LIST_KINDS.has(list)) return { kind: 'invalid', command: '/verify list', reason: 'Say which list: missing, extra or mismatched.', usage };
  let page = 1;
  let verification: string | 'last' = 'last';
  for (const arg of args.slice(1)) {
    if (/^#[0-9a-f]{6,36}$/i.test(arg)) verification = arg.slice(1).toLowerCase();
    else if (/^\d+$/.test(arg) && Number(arg) >= 1) page = Number(arg);
    else return { kind: 'invalid', command: '/verify list', reason: `"${arg}" is neither a page number nor a #id.`, usage };
  }
  return { kind: 'verify.list', verification, list, page };
}
