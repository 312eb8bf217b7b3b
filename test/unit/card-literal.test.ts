import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { renderHelpCard, renderMessageCard } from '../../src/cards/message-cards';
import { renderOverviewCard } from '../../src/cards/overview-card';
import type { AdaptiveCardJson } from '../../src/cards/render';
import { renderStepCard } from '../../src/cards/step-card';
import { renderSummaryCard } from '../../src/cards/summary-card';
import { renderVerifyCard } from '../../src/cards/verify-card';
import { renderWavesCard } from '../../src/cards/waves-card';
import { evidenceHash, type Approval } from '../../src/runbook/approvals';
import { initialSteps, type StepState } from '../../src/runbook/runbook';
import { STEPS } from '../../src/runbook/steps';
import { buildWaveSummary } from '../../src/runbook/wave-summary';
import { cardProblems } from '../helpers/card-check';

// The UMD bundle, as in card-check.ts: the parse below is the Adaptive Cards SDK's own reading of the card.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const AC = require('adaptivecards/dist/adaptivecards.js') as typeof import('adaptivecards');

/**
 * Text that markdown, the templating engine or the renderers' date functions would change: a link
 * next to the Approve button, emphasis, DN escapes (`\,` and `\\`), HTML, a template expression,
 * non-ASCII letters, and {{DATE()}}.
 */
const HOSTILE = String.raw`[Approve here](https://e.invalid/login) **b** _u_ <b>x</b> CN=Doe\, Jane,OU=R\,D \\ Contractor ${'${x}'} Ünïcødé Ærøskøbing 名前 {{DATE(2017-02-14T06:08:39Z, SHORT)}}`;
/** A distinct hostile string per field, so each field is checked on its own. */
const h = (field: string): string => `<${field}> ${HOSTILE}`;
const LITERAL = { literalText: ['${x}'] };

interface Seen {
  /** What a RichTextBlock shows: its runs, side by side. */
  literal: string[];
  /** Text the renderers read as markdown: TextBlocks and facts. */
  markdown: string[];
  /** Single runs, to check none holds a whole {{DATE(...)}}. */
  runs: string[];
}

/** Walks the card as the Adaptive Cards SDK parsed it. */
function seen(card: AdaptiveCardJson): Seen {
  const out: Seen = { literal: [], markdown: [], runs: [] };
  const ac = new AC.AdaptiveCard();
  ac.parse(card as object, new AC.SerializationContext());
  const visit = (el: unknown): void => {
    if (el instanceof AC.RichTextBlock) {
      const runs = Array.from({ length: el.getInlineCount() }, (_, i) => el.getInlineAt(i)).map((r) =>
        r instanceof AC.TextRun ? (r.text ?? '') : `<${r.getJsonTypeName()}>`,
      );
      out.runs.push(...runs);
      out.literal.push(runs.join(''));
    } else if (el instanceof AC.TextBlock) out.markdown.push(el.text ?? '');
    else if (el instanceof AC.FactSet) for (const f of el.facts) out.markdown.push(f.name ?? '', f.value ?? '');
    const container = el as { getItemCount?: () => number; getItemAt?: (i: number) => unknown };
    if (typeof container.getItemCount === 'function')
      for (let i = 0; i < container.getItemCount(); i++) visit(container.getItemAt!(i));
  };
  visit(ac);
  return out;
}

/** Every field shows its hostile string exactly, in a TextRun, and nothing of it reaches markdown. */
function expectLiteral(card: AdaptiveCardJson, fields: string[]): void {
  expect(cardProblems(card, LITERAL)).toEqual([]);
  const s = seen(card);
  for (const field of fields) expect(s.literal.filter((t) => t.includes(h(field)))).not.toEqual([]);
  const leaked = s.markdown.filter((t) => ['e.invalid', 'Doe', 'Ünïcødé', '${x}', '{{'].some((m) => t.includes(m)));
  expect(leaked).toEqual([]);
  expect(s.runs.filter((r) => r.includes('{{'))).toEqual([]);
}

const now = new Date('2026-11-25T10:00:00Z');
const policy = { approvers: ['adele', 'megan'], required: 1, ttlMs: 3_600_000 };

function stepsAt(n: number, over: Partial<StepState>): StepState[] {
  return initialSteps().map((s) => (s.n < n ? { ...s, status: 'done' as const } : s.n === n ? { ...s, ...over } : s));
}

describe('text people and directories supplied is shown exactly as stored', () => {
  it('no template puts data into text the renderers read as markdown (TextBlock text, fact titles and values)', () => {
    const dir = join(__dirname, '..', '..', 'src', 'cards', 'templates');
    const files = readdirSync(dir).filter((f) => f.endsWith('.json'));
    expect(files.length).toBeGreaterThanOrEqual(7);
    const offenders: string[] = [];
    const walk = (file: string, node: unknown): void => {
      if (Array.isArray(node)) node.forEach((n) => walk(file, n));
      else if (node && typeof node === 'object') {
        const o = node as Record<string, unknown>;
        if (o.type === 'TextBlock' && String(o.text).includes('${'))
          offenders.push(`${file}: TextBlock "${String(o.text)}"`);
        if (o.type === 'FactSet') offenders.push(`${file}: FactSet`);
        Object.values(o).forEach((v) => walk(file, v));
      }
    };
    for (const f of files) walk(f, JSON.parse(readFileSync(join(dir, f), 'utf8')));
    expect(offenders).toEqual([]);
  });

  it('message and help cards', () => {
    expectLiteral(
      renderMessageCard({
        title: h('title'),
        text: h('text'),
        hint: h('hint'),
        tone: 'attention',
        facts: [{ title: h('fact title'), value: h('fact value') }],
        items: [h('item 1'), h('item 2')],
      }),
      ['title', 'text', 'hint', 'fact title', 'fact value', 'item 1', 'item 2'],
    );
    expectLiteral(renderHelpCard(`"${h('command')}" is not a command.`), ['command']);
  });

  it('the help card shows usage placeholders such as <name> (markdown took them for HTML)', () => {
    const s = seen(renderHelpCard());
    expect(s.literal).toContain('/migration start "<name>"');
    expect(s.literal).toContain('/wave add <name> <OU> [<OU>...] [on <YYYY-MM-DD>]');
  });

  it('the overview: the migration name and a reason someone typed', () => {
    const steps = stepsAt(6, { status: 'skipped', reason: h('reason'), updatedBy: h('by') });
    expectLiteral(renderOverviewCard({ name: h('migration'), steps }), ['migration', 'reason']);
  });

  it('step cards: names, notices, reasons, evidence values and the script', () => {
    const approval: Approval = {
      id: 'ap1',
      migrationId: 'm1',
      step: 9,
      action: 'noFlowRules',
      requestedBy: 'adele',
      requestedByName: h('requester'),
      requestedAt: now,
      expiresAt: new Date(now.getTime() + 3_600_000),
      required: 2,
      evidenceHash: evidenceHash({}),
      evidence: {},
      status: 'pending',
      votes: [{ by: 'megan', byName: h('voter'), decision: 'approve', at: now }],
    };
    const evidence = {
      pilotOu: h('pilot OU'),
      usedPrecedences: [],
      missingSample: [h('sample DN')],
      script: `# ${h('script')}\n\n$rule = '${h('script line')}'`,
    };
    const waiting = stepsAt(9, { status: 'waiting_approval', evidence, updatedBy: h('updater'), updatedAt: now });
    expectLiteral(
      renderStepCard({
        migrationId: 'm1',
        migrationName: h('migration'),
        def: STEPS[8]!,
        step: waiting[8]!,
        steps: waiting,
        approval,
        policy,
        viewer: 'adele',
        notice: h('notice'),
        now,
      }),
      ['migration', 'notice', 'requester', 'voter', 'updater', 'pilot OU', 'sample DN', 'script', 'script line'],
    );
    const failed = stepsAt(8, { status: 'failed', reason: h('failure'), evidence: { job: h('job') } });
    expectLiteral(
      renderStepCard({
        migrationId: 'm1',
        migrationName: 'x',
        def: STEPS[7]!,
        step: failed[7]!,
        steps: failed,
        approval: null,
        policy,
        viewer: null,
        now,
      }),
      ['failure', 'job'],
    );
  });

  it('verify cards in every state: OU, DNs, UPNs, anchors, the requester, messages and candidates', () => {
    const base = { shortId: 'abcd1234', requestedBy: h('requester'), requestedAt: now, listLimit: 15 };
    expectLiteral(renderVerifyCard({ ...base, ou: h('typed OU'), state: { kind: 'queued', note: h('note') } }), [
      'typed OU',
      'requester',
      'note',
    ]);
    expectLiteral(
      renderVerifyCard({
        ...base,
        ou: 'x',
        state: {
          kind: 'failed',
          code: 'DIRECTORY.OU_AMBIGUOUS',
          message: h('message'),
          hint: h('hint'),
          candidates: [h('candidate')],
        },
      }),
      ['message', 'hint', 'candidate'],
    );
    const report = {
      baseDn: h('base DN'),
      onPrem: { users: 3, disabled: 0 },
      cloud: { users: 2 },
      matched: 1,
      unparsableCloudDns: 0,
      missing: [h('missing DN')],
      extra: [{ dn: h('extra DN'), cloudId: 'c1', userPrincipalName: h('UPN') }],
      mismatched: [
        {
          dn: h('mismatched DN'),
          cloudId: 'c2',
          userPrincipalName: null,
          expectedImmutableId: h('expected anchor'),
          cloudImmutableId: h('cloud anchor'),
        },
      ],
    };
    expectLiteral(renderVerifyCard({ ...base, ou: 'x', state: { kind: 'done', report } }), [
      'base DN',
      'missing DN',
      'extra DN',
      'UPN',
      'mismatched DN',
      'expected anchor',
      'cloud anchor',
    ]);
  });

  it('waves and wave summary cards: wave names, OUs as typed and as resolved, errors, warnings, notes', () => {
    const wave = {
      id: 'w1',
      migrationId: 'm1',
      name: h('wave'),
      scheduledFor: '2026-12-07',
      createdBy: 'a',
      createdAt: now,
      ous: [
        {
          input: h('typed OU'),
          baseDn: null,
          users: null,
          disabled: null,
          error: h('OU error'),
          position: 0,
          countJobId: null,
          countedAt: null,
        },
        {
          input: 'x',
          baseDn: h('resolved OU'),
          users: 3,
          disabled: 1,
          error: null,
          position: 1,
          countJobId: null,
          countedAt: null,
        },
      ],
    };
    expectLiteral(
      renderWavesCard({
        title: h('title'),
        text: h('text'),
        hint: h('hint'),
        waves: [{ wave, warnings: [{ code: 'OVERLAP', message: h('warning') }] }],
      }),
      ['title', 'text', 'hint', 'wave', 'typed OU', 'OU error', 'resolved OU', 'warning'],
    );
    const summary = buildWaveSummary({
      localDate: '2026-03-29',
      timeZone: 'Europe/Berlin',
      previous: null,
      readySteps: [],
      notes: [h('note')],
      waves: [
        {
          name: h('summary wave'),
          scheduledFor: null,
          ous: [h('wave OU')],
          expected: null,
          inCloud: 0,
          provisioned: 0,
          missing: 0,
          mismatched: 0,
          confirmed: null,
          scanError: h('scan error'),
          warnings: [h('wave warning')],
        },
      ],
      provisioning: {
        jobId: 'j',
        since: '2026-03-28T06:00:00Z',
        successes: 1,
        failures: 1,
        topFailureReasons: [{ reason: h('provisioning reason'), count: 1 }],
      },
      lastVerify: {
        id: 'v1',
        ou: h('verified OU'),
        at: '2026-03-28',
        onPrem: 1,
        cloud: 1,
        missing: 0,
        extra: 0,
        mismatched: 0,
      },
      cloud: {
        mode: 'stored',
        changesApplied: 0,
        syncedUsers: 1,
        readAt: '2026-03-28',
        error: { message: h('graph error'), hint: null },
      },
    });
    expectLiteral(renderSummaryCard(summary, { migrationName: h('migration'), kind: 'scheduled' }), [
      'migration',
      'note',
      'summary wave',
      'wave OU',
      'scan error',
      'wave warning',
      'provisioning reason',
      'verified OU',
      'graph error',
    ]);
  });
});
