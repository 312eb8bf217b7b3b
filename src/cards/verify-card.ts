import {
  allUnconfirmed,
  unconfirmedLine,
  type CloudSyncReading,
  type TypeConfirmation,
} from '../runbook/cloud-sync-evidence';
import type { ComparisonReport } from '../runbook/ou-comparison';
import { literal, literalFacts, literalLines, type Literal } from './literal';
import { expandTemplate, formatCount, type AdaptiveCardJson } from './render';

export type VerifyCardState =
  /** `note`: why it is waiting again (its agent went quiet). */
  | { kind: 'queued'; note?: string }
  /** `note`: the scan had to start again (its first agent was lost). */
  | { kind: 'running'; scanned: number; phase: 'directory' | 'cloud'; note?: string }
  /**
   * `cloudRead`: how the cloud side was read; `cloudSync`: the Cloud Sync evidence. Both are absent on
   * cards and reports stored before they existed.
   */
  | { kind: 'done'; report: ComparisonReport; cloudRead?: CloudReadNote; cloudSync?: CloudSyncReading }
  | { kind: 'failed'; code: string; message: string; hint?: string; candidates?: string[] };

/**
 * How a verify read the cloud side: straight from Graph ('direct': no migration, so no stored copy),
 * or through the migration's copy, refreshed by a users delta round ('delta') or read whole ('full',
 * the first time, or again because Graph no longer took the stored delta token).
 */
export interface CloudReadNote {
  mode: 'direct' | 'full' | 'delta';
  reason?: 'first' | 'expired';
  /** Users read (direct, full) or changes applied (delta). */
  count: number;
  /**
   * Groups and contacts read from the migration's copies, each kept by its own delta query. Absent
   * for a type read from Graph whole (no copy kept) or that the OU does not hold.
   */
  objects?: Partial<
    Record<'group' | 'contact', { mode: 'full' | 'delta'; reason?: 'first' | 'expired'; count: number }>
  >;
}

/** How one object type's copy was brought up to date, in the words of cloudReadLine. */
export function objectReadLine(
  type: 'group' | 'contact',
  note: { mode: 'full' | 'delta'; reason?: 'first' | 'expired'; count: number },
): string {
  const noun = type === 'group' ? 'groups' : 'contacts';
  if (note.mode === 'delta')
    return `the migration's copy, brought up to date with the ${noun} delta query: ${formatCount(note.count)} change(s) since the last read`;
  if (note.reason === 'expired')
    return `all ${formatCount(note.count)} synced ${noun} again: Microsoft Graph no longer accepted the stored ${noun} delta token (expired), so the copy was read whole`;
  return `all ${formatCount(note.count)} synced ${noun} (the first read for this migration; later verifies read only what changed)`;
}

export function cloudReadLine(note: CloudReadNote): string {
  if (note.mode === 'delta')
    return `the migration's copy, brought up to date with the users delta query: ${formatCount(note.count)} change(s) since the last read`;
  if (note.mode === 'direct')
    return `all ${formatCount(note.count)} synced users from Microsoft Graph (no migration in this conversation, so no copy is kept)`;
  if (note.reason === 'expired')
    return `all ${formatCount(note.count)} synced users again: Microsoft Graph no longer accepted the stored delta token (expired), so the copy was read whole`;
  return `all ${formatCount(note.count)} synced users (the first read for this migration; later verifies read only what changed)`;
}

export interface VerifyCardInput {
  ou: string;
  /** Short id people type in `/verify list ... #id`. */
  shortId: string;
  requestedBy: string;
  requestedAt: Date;
  state: VerifyCardState;
  /** Names shown per list before "and N more"; keeps the card far below Teams' size limit. */
  listLimit: number;
}

export function renderVerifyCard(input: VerifyCardInput): AdaptiveCardJson {
  const { state } = input;
  let statusText: string;
  let statusColor = 'Default';
  let facts: { title: string; value: string }[] = [];
  let lists: List[] = [];
  let hint = '';
  let ou = input.ou;

  switch (state.kind) {
    case 'queued':
      statusText = state.note
        ? `Verifying… ${state.note}`
        : 'Verifying… waiting for the on-premises agent to pick up the job.';
      break;
    case 'running':
      statusText =
        state.phase === 'directory'
          ? `Verifying… ${formatCount(state.scanned)} on-premises objects scanned so far.`
          : `Verifying… on-premises scan done; ${formatCount(state.scanned)} cloud users read so far.`;
      if (state.note) statusText += ` ${state.note}`;
      break;
    case 'done': {
      const r = state.report;
      const notSynced = r.notSynced ?? [];
      ou = r.baseDn;
      const clean =
        r.missing.length === 0 &&
        r.extra.length === 0 &&
        r.mismatched.length === 0 &&
        (r.groups?.missing.length ?? 0) === 0 &&
        (r.contacts?.missing.length ?? 0) === 0;
      statusText = clean
        ? 'Everything in this OU matches the cloud.'
        : 'Differences found between this OU and the cloud.';
      statusColor = clean ? 'Good' : 'Warning';
      facts = [
        {
          title: 'On-premises users',
          value: `${formatCount(r.onPrem.users)} (${formatCount(r.onPrem.disabled)} disabled)`,
        },
        { title: 'Cloud users (synced)', value: formatCount(r.cloud.users) },
        { title: 'Matched', value: formatCount(r.matched) },
        { title: 'Missing in cloud', value: formatCount(r.missing.length) },
        { title: 'Extra in cloud', value: formatCount(r.extra.length) },
        { title: 'ImmutableId differs', value: formatCount(r.mismatched.length) },
      ];
      // Three numbers, never merged: on-premises, in Entra with the right anchor (true before the
      // migration too: Connect Sync put them there), and confirmed by the Cloud Sync job's logs.
      const cs = state.cloudSync;
      facts.push({
        title: 'In Entra with the right anchor',
        value: formatCount(cs && !('unavailable' in cs) ? cs.inEntraWithAnchor : r.matched - r.mismatched.length),
      });
      if (cs)
        facts.push({
          title: 'Confirmed by Cloud Sync',
          value:
            'unavailable' in cs
              ? `not read: ${cs.unavailable}`
              : `${formatCount(cs.confirmed)} of ${formatCount(cs.onPrem)} (provisioning logs of ${cs.jobId})`,
        });
      // The same three numbers for groups and contacts: found in Entra by SID or mail (Graph has no
      // anchor for them to compare), then confirmed by an entry naming both objects.
      if (cs && !('unavailable' in cs)) {
        if (cs.groups) facts.push(typeConfirmationFact('Groups', cs.groups));
        if (cs.contacts) facts.push(typeConfirmationFact('Contacts', cs.contacts));
      }
      if (state.cloudRead) facts.push({ title: 'Cloud side read', value: cloudReadLine(state.cloudRead) });
      for (const [type, title] of [
        ['group', 'Groups read'],
        ['contact', 'Contacts read'],
      ] as const) {
        const read = state.cloudRead?.objects?.[type];
        if (read) facts.push({ title, value: objectReadLine(type, read) });
      }
      if (r.unparsableCloudDns > 0)
        facts.push({ title: 'Cloud DNs not readable', value: formatCount(r.unparsableCloudDns) });
      // Counted apart, not as on-premises users: no sync engine syncs them by default, so they are never missing.
      if (notSynced.length > 0) facts.push({ title: 'Not synced by design', value: formatCount(notSynced.length) });
      facts.push(...typeFacts(r));
      lists = [
        list('Missing in the cloud', r.missing, 'missing', input),
        list(
          'Extra in the cloud',
          r.extra.map((u) => `${u.dn} (${u.userPrincipalName ?? u.cloudId})`),
          'extra',
          input,
        ),
        list(
          'onPremisesImmutableId differs from base64(ms-DS-ConsistencyGuid ?? objectGUID)',
          r.mismatched.map(
            (u) => `${u.dn}: cloud ${u.cloudImmutableId ?? '(none)'}, expected ${u.expectedImmutableId}`,
          ),
          'mismatched',
          input,
        ),
        list('Not synced by design, so not counted as missing', notSynced.map(notSyncedLine), 'notsynced', input),
        list(
          'Not yet confirmed by Cloud Sync (no successful entry of its job names them)',
          cs && !('unavailable' in cs) ? allUnconfirmed(cs).map(unconfirmedLine) : [],
          'unconfirmed',
          input,
        ),
        list('Groups missing in the cloud', r.groups?.missing ?? [], 'groups', input),
        list('Contacts missing in the cloud', r.contacts?.missing ?? [], 'contacts', input),
        list(
          `inetOrgPerson objects, refused (${r.inetOrgPersons?.reason ?? ''})`,
          r.inetOrgPersons?.dns ?? [],
          'inetorgperson',
          input,
        ),
      ].filter((l) => l.count > 0);
      break;
    }
    case 'failed':
      statusText = state.message;
      statusColor = 'Attention';
      hint = state.hint ?? '';
      if (state.candidates && state.candidates.length > 0) {
        lists = [
          {
            heading: 'Matching OUs',
            lines: state.candidates.map((c) => `/verify pilot ${c}`),
            more: '',
            count: state.candidates.length,
          },
        ];
      }
      break;
  }

  return expandTemplate('verify', {
    heading: literal(`Verify pilot: ${ou}`),
    statusText: literal(statusText),
    statusColor,
    facts: literalFacts(facts),
    lists: lists.map((l): { heading: Literal; lines: { text: Literal }[]; more: Literal } => ({
      heading: literal(l.heading),
      lines: literalLines(l.lines),
      more: literal(l.more),
    })),
    hint: literal(hint),
    footer: literal(
      `#${input.shortId} · requested by ${input.requestedBy} at ${input.requestedAt.toISOString().replace(/\.\d+Z$/, 'Z')}`,
    ),
  });
}

/** "Groups confirmed by Cloud Sync: 2 of 3 (3 in Entra, found by onPremisesSecurityIdentifier)". */
function typeConfirmationFact(name: string, t: TypeConfirmation): { title: string; value: string } {
  return {
    title: `${name} confirmed by Cloud Sync`,
    value: `${formatCount(t.confirmed)} of ${formatCount(t.onPrem)} on-premises (${formatCount(t.inEntra)} in Entra, found by ${t.matchedOn})`,
  };
}

export function notSyncedLine(u: { dn: string; reason: string; type?: string }): string {
  return `${u.type ? `${u.type}: ` : ''}${u.dn} (${u.reason})`;
}

/**
 * The groups, contacts and inetOrgPerson rows: each type counted on its own, with what it was
 * matched on, since Graph gives groups and contacts neither an on-premises DN nor a source anchor.
 */
function typeFacts(r: ComparisonReport): { title: string; value: string }[] {
  const facts: { title: string; value: string }[] = [];
  const cloudSide = (t: NonNullable<ComparisonReport['groups']>, key: string): string =>
    t.cloudRead
      ? `${formatCount(t.matched)} in Entra, matched on ${key}; ${formatCount(t.missing.length)} missing`
      : 'Entra side not read';
  if (r.groups) {
    facts.push({
      title: 'Groups',
      value: `${formatCount(r.groups.onPrem)} on-premises; ${cloudSide(r.groups, 'onPremisesSecurityIdentifier (SID)')}`,
    });
    const withGuid = r.groups.withConsistencyGuid ?? 0;
    facts.push({
      title: 'Group anchors',
      value:
        `${formatCount(r.groups.onPrem - withGuid)} objectGUID, ${formatCount(withGuid)} ms-DS-ConsistencyGuid ` +
        '(Connect Sync does not fill ms-DS-ConsistencyGuid for groups by default, so objectGUID is the anchor); ' +
        'Graph returns no source anchor for groups, so it is not compared',
    });
  }
  if (r.contacts)
    facts.push({
      title: 'Contacts',
      value: `${formatCount(r.contacts.onPrem)} on-premises; ${cloudSide(r.contacts, 'mail')}`,
    });
  if (r.inetOrgPersons)
    facts.push({
      title: 'inetOrgPerson (refused)',
      value: `${formatCount(r.inetOrgPersons.onPrem)} on-premises, ${formatCount(r.inetOrgPersons.inCloud)} of them in Entra as users`,
    });
  return facts;
}

interface List {
  heading: string;
  lines: string[];
  more: string;
  count: number;
}

function list(heading: string, lines: string[], kind: string, input: VerifyCardInput): List {
  const shown = lines.slice(0, input.listLimit);
  const rest = lines.length - shown.length;
  return {
    heading: `${heading} (${formatCount(lines.length)})`,
    lines: shown,
    count: lines.length,
    more:
      rest > 0 ? `…and ${formatCount(rest)} more. Type /verify list ${kind} #${input.shortId} for all of them.` : '',
  };
}
