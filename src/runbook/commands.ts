/**
 * Chat commands as data. The bot turns text into a Command and back into cards; nothing here
 * knows about Teams.
 */

import { AGENT_NAME } from './agent-name';
import { isLocalTime, isTimeZone } from './summary-schedule';
import { CLOUD_SYNC_LIMITS, WAVE_NAME_PATTERN, isCalendarDate, topLevelOus } from './waves';

export type VerifyListKind =
  'missing' | 'extra' | 'mismatched' | 'notsynced' | 'unconfirmed' | 'groups' | 'contacts' | 'inetorgperson';

export type Command =
  | { kind: 'help' }
  | { kind: 'migration.start'; name: string }
  | { kind: 'migration.status' }
  | { kind: 'step'; n: number }
  | { kind: 'readiness' }
  /** `person`: an export of one person's rows only, matched by Entra object id or display name. */
  | { kind: 'audit'; export: 'csv' | 'json' | null; limit: number; person?: string }
  | { kind: 'verify.pilot'; ou: string }
  | { kind: 'verify.list'; verification: string | 'last'; list: VerifyListKind; page: number }
  | { kind: 'wave.add'; name: string; ous: string[]; scheduledFor: string | null }
  | { kind: 'wave.list' }
  | { kind: 'wave.remove'; name: string }
  /** Issue 16: a wave's no-flow rules, then its OUs in Cloud Sync's scope, each with approval. */
  | { kind: 'wave.rules'; name: string }
  | { kind: 'wave.scope'; name: string }
  | { kind: 'wave.cycle'; name: string }
  | { kind: 'summary.now' }
  | { kind: 'summary.schedule'; localTime: string; timeZone: string }
  | { kind: 'summary.job'; jobId: string }
  | { kind: 'ou.status' }
  /** Issue 16: do the objects of the pilot's or a wave's OUs carry cloudNoFlow on the Connect Sync server? */
  | { kind: 'ou.noflow'; target: string }
  | { kind: 'agent.list' }
  | { kind: 'agent.enroll' | 'agent.rotate' | 'agent.revoke'; name: string }
  /** Issue 16: the one agent this migration's Connect Sync jobs run on, and the staging servers. */
  | { kind: 'server.show' }
  | { kind: 'server.set'; agent: string }
  | { kind: 'server.staging' }
  | { kind: 'server.decommissioned'; agent: string }
  /** Issue 16: the pilot tutorial's rollback, of the pilot or of one wave (scope, rules, full cycle). */
  | { kind: 'rollback.pilot' }
  | { kind: 'rollback.wave'; name: string }
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
  {
    usage: '/migration status',
    example: '/migration status',
    description: 'Show all 18 runbook steps and where this migration stands.',
  },
  {
    usage: '/step <n>',
    example: '/step 8',
    description: 'Post the card of runbook step n again, with its buttons and evidence.',
  },
  {
    usage: '/readiness',
    example: '/readiness',
    description:
      'The agent reads Connect Sync and the forest (read only) and checks them against Cloud Sync limits: blockers, warnings and facts, each with its Microsoft page. The evidence of steps 1 and 2.',
  },
  {
    usage: '/verify pilot <OU>',
    example: '/verify pilot OU=Sales',
    description:
      "Compare an OU on-premises (through the agent) with the synced users, groups and contacts in Entra: counts, missing, extra and anchor mismatches, and how many users the Cloud Sync job's provisioning logs confirm (with /summary job set). A relative OU is resolved against the domain; a full DN also works.",
  },
  {
    usage: '/verify list <missing|extra|mismatched|notsynced|unconfirmed|groups|contacts|inetorgperson> [page] [#id]',
    example: '/verify list missing 2',
    description:
      'Show the full list behind a verify card, 50 names per page; unconfirmed names the in-scope users no successful Cloud Sync log entry names yet. Without #id it uses the latest verify here.',
  },
  {
    usage: '/wave add <name> <OU> [<OU>...] [on <YYYY-MM-DD>]',
    example: '/wave add Wave1 OU=Marketing OU=Finance on 2026-12-07',
    description:
      'Plan a wave: OUs that move to Cloud Sync together. The agent counts each OU and the card warns when Cloud Sync limits (objects per domain, OUs per configuration) or another wave get in the way. Quote names and OUs with spaces.',
  },
  {
    usage: '/wave list',
    example: '/wave list',
    description: 'Show the planned waves with their counts, dates and warnings.',
  },
  {
    usage: '/wave remove <name>',
    example: '/wave remove Wave1',
    description: 'Take a wave out of the plan (kept in the audit log).',
  },
  {
    usage: '/wave rules <name>',
    example: '/wave rules Wave1',
    description:
      "Create the wave's no-flow sync rules (the pilot's cloudNoFlow/JoinNoFlow pair, one set per OU, scoped to the OU as AD wrote it) on the migration's Connect Sync server, with approval. Needs the pilot through step 13 and every OU counted.",
  },
  {
    usage: '/wave cycle <name>',
    example: '/wave cycle Wave1',
    description:
      "Run a full (Initial) Connect Sync cycle once the wave's rules were created, with approval: only a full cycle applies new rules to objects that did not change.",
  },
  {
    usage: '/wave scope <name>',
    example: '/wave scope Wave1',
    description:
      "Add the wave's OUs to the Cloud Sync configuration's scope through Microsoft Graph, with approval; only once the wave's rules are done and a full cycle ran.",
  },
  {
    usage: '/summary at <HH:MM> <time zone>',
    example: '/summary at 08:00 Europe/Berlin',
    description:
      'Post the wave summary here every day at that local time (IANA time zone; daylight saving is followed).',
  },
  {
    usage: '/summary job <Cloud Sync job id>',
    example: '/summary job AD2AADProvisioning.1a2b3c.4d5e6f',
    description:
      "The Cloud Sync configuration's provisioning job (AD2AADProvisioning.<hex>.<guid>; Get-AADCloudSyncToolsJob lists it). Its provisioning logs are the proof that Cloud Sync owns each user: step 12, the verify card and the wave summary read them.",
  },
  { usage: '/summary now', example: '/summary now', description: 'Build and post the wave summary now.' },
  {
    usage: '/ou status',
    example: '/ou status',
    description:
      "Which engine owns each OU of the migration (pilot and waves), Cloud Sync's scope read now, and alarms where the two disagree.",
  },
  {
    usage: '/ou noflow <pilot|wave name>',
    example: '/ou noflow pilot',
    description:
      "After a Connect Sync cycle: the agent on the Connect Sync server reads whether each object of the pilot's (or the wave's) OUs carries cloudNoFlow in the metaverse, and when the last sync run ended (read only; at most 500 objects per OU, a spread sample above that).",
  },
  {
    usage: '/audit [export csv|json [person]]',
    example: '/audit export csv Adele Vance',
    description:
      "Show the latest audit entries (who did what, when, with what outcome), or a download link for all of them, or for one person's (by name or Entra object id).",
  },
  {
    usage: '/agent list',
    example: '/agent list',
    description:
      'Show every relay agent: status, when it enrolled and was last seen, its version, actions run and the job it holds.',
  },
  {
    usage: '/agent enroll <name>',
    example: '/agent enroll dc-agent-1',
    description:
      "Approvers: get a one-time enrollment code (valid 10 minutes by default) in a private chat, for syncshift-agent enroll on the agent's server.",
  },
  {
    usage: '/agent rotate <name>',
    example: '/agent rotate dc-agent-1',
    description:
      'Approvers: a new enrollment code for an existing agent; its old credential stops working once the code is used.',
  },
  {
    usage: '/agent revoke <name>',
    example: '/agent revoke dc-agent-1',
    description:
      'Approvers: lock an agent out at once; jobs it held are retried elsewhere or marked "outcome unknown".',
  },
  {
    usage: '/server [<agent>]',
    example: '/server aadc-agent',
    description:
      "Approvers: name the agent on this migration's active Connect Sync server. Every Connect Sync job (backup, scheduler, rules, stopping the service) runs on that agent and on no other. Without a name: show it.",
  },
  {
    usage: '/server staging',
    example: '/server staging',
    description:
      'Ask every other agent with Connect Sync actions to read its scheduler and SyncShift rules (read-only), and list the staging servers. Step 16 waits until none would export the migrated objects again.',
  },
  {
    usage: '/server decommissioned <agent>',
    example: '/server decommissioned aadc-staging',
    description:
      'Approvers: confirm that a staging server has been decommissioned (Connect Sync uninstalled), so it can no longer be promoted and export the migrated objects.',
  },
  {
    usage: '/rollback pilot|<wave>',
    example: '/rollback Wave1',
    description:
      "Approvers: roll the pilot or a wave back as Microsoft's pilot tutorial says: out of Cloud Sync's scope, its no-flow rules disabled, then a full Connect Sync cycle. Each part is an undo with its own approval; send it again for the next part.",
  },
];

const VERIFY_PILOT_USAGE = '/verify pilot <OU>';
const VERIFY_LIST_USAGE =
  '/verify list <missing|extra|mismatched|notsynced|unconfirmed|groups|contacts|inetorgperson> [page] [#id]';
const LIST_KINDS = new Set<VerifyListKind>([
  'missing',
  'extra',
  'mismatched',
  'notsynced',
  'unconfirmed',
  'groups',
  'contacts',
  'inetorgperson',
]);

/**
 * C0 control characters other than tab and line breaks, and DEL: PostgreSQL cannot store U+0000 in
 * text or jsonb, and none of them belongs in a card or a command.
 */
const CONTROL_CHARACTERS = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/g;

/** `text` with each control character written out as \uXXXX, so it can be stored and shown as typed. */
export function visibleControls(text: string): string {
  return text.replace(CONTROL_CHARACTERS, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

export function parseCommand(input: string): Command {
  const text = input.replace(/\u00a0/g, ' ').trim();
  const control = text.match(CONTROL_CHARACTERS)?.[0];
  if (control !== undefined) {
    const head = text.startsWith('/') ? visibleControls(text.split(/\s+/)[0]!).slice(0, 40) : 'Your message';
    const known = COMMAND_HELP.find((c) => c.usage.split(' ')[0] === head.toLowerCase());
    const codePoint = `U+${control.charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')}`;
    return {
      kind: 'invalid',
      command: head,
      reason: `The message contains an invisible control character (${codePoint}), so nothing was done.`,
      usage: `type it again without it${known ? `: ${known.usage}` : ''}`,
    };
  }
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
        return {
          kind: 'invalid',
          command: '/migration',
          reason: '"/migration start" and "/migration status" are available.',
          usage: `${usage} or /migration status`,
        };
      }
      const name = args
        .slice(rest[0]!.length)
        .trim()
        .replace(/^["\u201c]|["\u201d]$/g, '')
        .trim();
      if (name === '')
        return { kind: 'invalid', command: '/migration start', reason: 'The migration needs a name.', usage };
      if (name.length > 200)
        return {
          kind: 'invalid',
          command: '/migration start',
          reason: 'The name is longer than 200 characters.',
          usage,
        };
      return { kind: 'migration.start', name };
    }
    case '/step': {
      const n = Number(rest[0]);
      if (!Number.isInteger(n) || n < 1 || n > 18)
        return { kind: 'invalid', command: '/step', reason: 'Give a step number from 1 to 18.', usage: '/step <n>' };
      return { kind: 'step', n };
    }
    case '/readiness':
      return { kind: 'readiness' };
    case '/audit': {
      if (rest.length === 0) return { kind: 'audit', export: null, limit: 20 };
      const format = (rest[1] ?? 'csv').toLowerCase();
      if ((rest[0] ?? '').toLowerCase() === 'export' && (format === 'csv' || format === 'json')) {
        const person = rest
          .slice(2)
          .join(' ')
          .replace(/^["\u201c]|["\u201d]$/g, '')
          .trim();
        return person
          ? { kind: 'audit', export: format, limit: 0, person }
          : { kind: 'audit', export: format, limit: 0 };
      }
      return {
        kind: 'invalid',
        command: '/audit',
        reason: 'Use /audit, /audit export csv or /audit export json, optionally followed by a person.',
        usage: '/audit [export csv|json [person]]',
      };
    }
    case '/verify': {
      const sub = (rest[0] ?? '').toLowerCase();
      if (sub === 'pilot') {
        const ou = args.slice(rest[0]!.length).trim();
        if (ou === '')
          return {
            kind: 'invalid',
            command: '/verify pilot',
            reason: 'Say which OU to verify.',
            usage: VERIFY_PILOT_USAGE,
          };
        return { kind: 'verify.pilot', ou };
      }
      if (sub === 'list') return parseVerifyList(rest.slice(1));
      return {
        kind: 'invalid',
        command: '/verify',
        reason: `"${rest[0] ?? ''}" is not a verify command.`,
        usage: `${VERIFY_PILOT_USAGE} or ${VERIFY_LIST_USAGE}`,
      };
    }
    case '/wave':
      return parseWave(text.slice(head.length));
    case '/ou':
      if (rest.length === 1 && (rest[0] ?? '').toLowerCase() === 'status') return { kind: 'ou.status' };
      if ((rest[0] ?? '').toLowerCase() === 'noflow') return parseNoFlow(splitArgs(args).slice(1));
      return {
        kind: 'invalid',
        command: '/ou',
        reason: 'The OU ledger is shown with /ou status; the no-flow check runs with /ou noflow.',
        usage: `/ou status or ${OU_NOFLOW_USAGE}`,
      };
    case '/summary':
      return parseSummary(rest);
    case '/agent':
      return parseAgentCommand(rest);
    case '/server':
      return parseServerCommand(rest);
    case '/rollback':
      return parseRollback(splitArgs(args));
    default:
      return { kind: 'unknown', text };
  }
}

const WAVE_ADD_USAGE = '/wave add <name> <OU> [<OU>...] [on <YYYY-MM-DD>]';
const SUMMARY_USAGE = '/summary now, /summary at <HH:MM> <time zone> or /summary job <job id>';

/** Splits on spaces, keeping "quoted parts" (straight or curly quotes) together. */
export function splitArgs(text: string): string[] {
  const out: string[] = [];
  const re = /["\u201c]([^"\u201d]*)["\u201d]|(\S+)/g;
  for (let m = re.exec(text); m; m = re.exec(text)) out.push(m[1] ?? m[2]!);
  return out;
}

function parseWave(argText: string): Command {
  const args = splitArgs(argText);
  const sub = (args[0] ?? '').toLowerCase();
  if (sub === 'list' && args.length === 1) return { kind: 'wave.list' };
  if (sub === 'rules' || sub === 'cycle' || sub === 'scope') {
    const usage = `/wave ${sub} <name>`;
    if (args.length !== 2 || !WAVE_NAME_PATTERN.test(args[1]!))
      return { kind: 'invalid', command: `/wave ${sub}`, reason: 'Name one planned wave.', usage };
    return { kind: sub === 'rules' ? 'wave.rules' : sub === 'cycle' ? 'wave.cycle' : 'wave.scope', name: args[1]! };
  }
  if (sub === 'remove') {
    if (args.length !== 2)
      return {
        kind: 'invalid',
        command: '/wave remove',
        reason: 'Name one wave to remove.',
        usage: '/wave remove <name>',
      };
    return { kind: 'wave.remove', name: args[1]! };
  }
  if (sub !== 'add')
    return {
      kind: 'invalid',
      command: '/wave',
      reason: `"${args[0] ?? ''}" is not a wave command.`,
      usage: `${WAVE_ADD_USAGE}, /wave list, /wave rules|cycle|scope <name> or /wave remove <name>`,
    };
  const name = args[1] ?? '';
  if (!WAVE_NAME_PATTERN.test(name)) {
    return {
      kind: 'invalid',
      command: '/wave add',
      reason:
        name === ''
          ? 'The wave needs a name.'
          : `"${name}" is not a usable wave name: up to 64 letters, digits, spaces, dots, dashes or underscores, starting with a letter or digit.`,
      usage: WAVE_ADD_USAGE,
    };
  }
  let ous = args.slice(2);
  let scheduledFor: string | null = null;
  if (ous.length >= 2 && ous[ous.length - 2]!.toLowerCase() === 'on') {
    const date = ous[ous.length - 1]!;
    if (!isCalendarDate(date))
      return {
        kind: 'invalid',
        command: '/wave add',
        reason: `"${date}" is not a date; write it as YYYY-MM-DD.`,
        usage: WAVE_ADD_USAGE,
      };
    scheduledFor = date;
    ous = ous.slice(0, -2);
  }
  if (ous.length === 0)
    return {
      kind: 'invalid',
      command: '/wave add',
      reason: 'Name at least one OU for the wave.',
      usage: WAVE_ADD_USAGE,
    };
  // Nested OUs ride along with their parent, so only the separate ones count.
  const separate = topLevelOus(ous).length;
  if (separate > CLOUD_SYNC_LIMITS.ousPerConfiguration) {
    return {
      kind: 'invalid',
      command: '/wave add',
      reason: `A wave of ${separate} separate OUs is more than one Cloud Sync configuration can scope (about ${CLOUD_SYNC_LIMITS.ousPerConfiguration}); split it or select parent OUs.`,
      usage: WAVE_ADD_USAGE,
    };
  }
  return { kind: 'wave.add', name, ous, scheduledFor };
}

function parseSummary(args: string[]): Command {
  const sub = (args[0] ?? '').toLowerCase();
  if (sub === 'now' && args.length === 1) return { kind: 'summary.now' };
  if (sub === 'at') {
    const [localTime = '', timeZone = ''] = args.slice(1);
    if (!isLocalTime(localTime))
      return {
        kind: 'invalid',
        command: '/summary at',
        reason: `"${localTime}" is not a time; write it as HH:MM in 24-hour form, e.g. 08:00.`,
        usage: '/summary at <HH:MM> <time zone>',
      };
    if (args.length !== 3 || !isTimeZone(timeZone)) {
      return {
        kind: 'invalid',
        command: '/summary at',
        reason: `"${timeZone}" is not an IANA time zone.`,
        usage: '/summary at 08:00 Europe/Berlin (or America/New_York, Asia/Tokyo, UTC…)',
      };
    }
    return { kind: 'summary.schedule', localTime, timeZone };
  }
  if (sub === 'job') {
    const jobId = args[1] ?? '';
    if (args.length !== 2 || !/^[A-Za-z0-9][A-Za-z0-9._-]{2,199}$/.test(jobId)) {
      return {
        kind: 'invalid',
        command: '/summary job',
        reason:
          'Give the Cloud Sync job id, e.g. AD2AADProvisioning.<hex>.<guid> (Entra admin center → Cloud Sync → the configuration).',
        usage: '/summary job <job id>',
      };
    }
    return { kind: 'summary.job', jobId };
  }
  return {
    kind: 'invalid',
    command: '/summary',
    reason: `"${args[0] ?? ''}" is not a summary command.`,
    usage: SUMMARY_USAGE,
  };
}

const AGENT_USAGE = '/agent list | enroll <name> | rotate <name> | revoke <name>';

function parseAgentCommand(args: string[]): Command {
  const sub = (args[0] ?? '').toLowerCase();
  if (sub === 'list' && args.length === 1) return { kind: 'agent.list' };
  if (sub !== 'enroll' && sub !== 'rotate' && sub !== 'revoke') {
    return {
      kind: 'invalid',
      command: '/agent',
      reason: `"${args[0] ?? ''}" is not an agent command.`,
      usage: AGENT_USAGE,
    };
  }
  const name = args[1] ?? '';
  if (args.length !== 2 || !AGENT_NAME.test(name)) {
    return {
      kind: 'invalid',
      command: `/agent ${sub}`,
      reason: 'Give one agent name: letters, digits, dot, dash or underscore, at most 64 characters.',
      usage: `/agent ${sub} <name>`,
    };
  }
  return { kind: `agent.${sub}`, name };
}

const SERVER_USAGE = '/server [<agent>] | staging | decommissioned <agent>';

function parseServerCommand(args: string[]): Command {
  const sub = (args[0] ?? '').toLowerCase();
  if (args.length === 0) return { kind: 'server.show' };
  if (sub === 'staging' && args.length === 1) return { kind: 'server.staging' };
  const agentArg = (name: string | undefined, command: string): Command | string =>
    name !== undefined && AGENT_NAME.test(name)
      ? name
      : {
          kind: 'invalid',
          command,
          reason:
            'Give one agent name: letters, digits, dot, dash or underscore, at most 64 characters (/agent list shows them).',
          usage: SERVER_USAGE,
        };
  if (sub === 'decommissioned') {
    const name =
      args.length === 2 ? agentArg(args[1], '/server decommissioned') : agentArg(undefined, '/server decommissioned');
    return typeof name === 'string' ? { kind: 'server.decommissioned', agent: name } : name;
  }
  const name = args.length === 1 ? agentArg(args[0], '/server') : agentArg(undefined, '/server');
  return typeof name === 'string' ? { kind: 'server.set', agent: name } : name;
}

const OU_NOFLOW_USAGE = '/ou noflow <pilot|wave name>';

function parseNoFlow(args: string[]): Command {
  const target = args.length === 1 ? args[0]! : '';
  if (target.toLowerCase() === 'pilot') return { kind: 'ou.noflow', target: 'pilot' };
  if (WAVE_NAME_PATTERN.test(target)) return { kind: 'ou.noflow', target };
  return {
    kind: 'invalid',
    command: '/ou noflow',
    reason:
      args.length === 0 ? 'Say which OUs to check: the pilot or a wave.' : 'Name one thing: pilot or a wave name.',
    usage: OU_NOFLOW_USAGE,
  };
}

const ROLLBACK_USAGE = '/rollback pilot|<wave>';

function parseRollback(args: string[]): Command {
  const target = args.length === 1 ? args[0]! : '';
  if (target.toLowerCase() === 'pilot') return { kind: 'rollback.pilot' };
  if (WAVE_NAME_PATTERN.test(target)) return { kind: 'rollback.wave', name: target };
  return {
    kind: 'invalid',
    command: '/rollback',
    reason: 'Say what to roll back: the pilot or one wave by its name.',
    usage: ROLLBACK_USAGE,
  };
}

function parseVerifyList(args: string[]): Command {
  const usage = VERIFY_LIST_USAGE;
  const list = (args[0] ?? '').toLowerCase() as VerifyListKind;
  if (!LIST_KINDS.has(list))
    return {
      kind: 'invalid',
      command: '/verify list',
      reason: 'Say which list: missing, extra, mismatched, notsynced, unconfirmed, groups, contacts or inetorgperson.',
      usage,
    };
  let page = 1;
  let verification: string | 'last' = 'last';
  for (const arg of args.slice(1)) {
    if (/^#[0-9a-f]{6,36}$/i.test(arg)) verification = arg.slice(1).toLowerCase();
    else if (/^\d+$/.test(arg) && Number(arg) >= 1) page = Number(arg);
    else
      return {
        kind: 'invalid',
        command: '/verify list',
        reason: `"${arg}" is neither a page number nor a #id.`,
        usage,
      };
  }
  return { kind: 'verify.list', verification, list, page };
}
