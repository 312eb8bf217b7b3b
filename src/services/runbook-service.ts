import { randomUUID } from 'node:crypto';
import type { AdaptiveCardJson } from '../cards/render';
import { renderMessageCard, renderNoMigrationCard } from '../cards/message-cards';
import { renderOverviewCard } from '../cards/overview-card';
import { renderRollbackPlanCard } from '../cards/rollback-card';
import { PILOT_ROLLBACK_VERB } from '../cards/ou-ledger-card';
import { pilotRollbackPlan } from '../runbook/rollback';
import { renderStepCard, STEP_VERBS } from '../cards/step-card';
import type { CloudDirectory } from '../cloud/types';
import type { JobQueue } from '../jobs/job-queue';
import { adsyncResult, readAdsyncResult, type JobPayload } from '../relay/protocol';
import { SYSTEM_ACTOR, type Actor } from '../runbook/actor';
import { evidenceHash, vote, type Approval, type ApprovalPolicy } from '../runbook/approvals';
import { applyEvent, readySteps, undoAllowed, type RunbookEvent, type StepState } from '../runbook/runbook';
import {
  acceptBlocker,
  evaluateReadiness,
  isReadinessEvidence,
  prerequisitesOutcome,
  toolOutcome,
  type ReadinessEvidence,
} from '../runbook/readiness';
import { parseStepAction } from '../runbook/step-actions';
import { OuComparison } from '../runbook/ou-comparison';
import {
  findingsHash,
  MIN_ACK_REASON,
  noFlowRulesApproval,
  pendingPreflight,
  pilotOuEvidence,
  preflightFindings,
  schedulerApproval,
  verifyOutcome,
  type ApprovalBasis,
  type CheckOutcome,
} from '../runbook/step-evidence';
import { wavesConfirmedProblems, type WaveSummary } from '../runbook/wave-summary';
import { actionJob, checkJob, isUndo, precheckJob, undoEvidence, undoJob } from '../runbook/step-jobs';
import { STEPS, stepByCheck, stepDefinition, stepWhereAsked, type StepDefinition } from '../runbook/steps';
import { assertNever } from '../shared/assert-never';
import { AppError, asAppError } from '../shared/errors';
import type { Logger } from '../shared/logger';
import type { StepJobPurpose, StoredStep } from '../store/runbook-repo';
import type { JobRecord, MigrationRecord, Store } from '../store/types';
import { cloudSyncConfirmation } from './cloud-sync-proof';
import { andCanaryCondition } from '../runbook/canary';
import { CanaryService, isCanaryApproval } from './canary-service';
import { compareOuWithCloud } from './compare-ou';
import { readStoredScan, type StoredScan } from './stored-scan';
import type { CardSink } from './card-sink';
import type { CloudSyncScopeService } from './cloud-sync-scope-service';
import {
  sameScopeAsApproved,
  scopeAddApproval,
  scopeReadBack,
  scopeValueFromEvidence,
} from '../runbook/cloud-sync-scope';
import type { ConnectSyncServers } from './connect-sync-servers';
import { connectSyncPhs, finalStopPhs } from '../runbook/connect-sync-servers';
import { finalStopLedgerRefusal } from '../runbook/final-stop';
import type { OuLedgerService } from './ou-ledger-service';
import { toEngine } from './wave-engine-service';
import { waveHoldsChanges } from '../runbook/wave-engine';

export interface RunbookServiceOptions {
  store: Store;
  cloud: CloudDirectory;
  cards: CardSink;
  logger: Logger;
  policy: ApprovalPolicy;
  jobs: JobQueue;
  /** Cloud Sync's scope through Graph (step 11 and its undo); absent: those steps are refused with the setting to set. */
  cloudSync?: CloudSyncScopeService;
  /** The migration's one Connect Sync server: Connect Sync jobs are pinned to it (issue 16). */
  servers: ConnectSyncServers;
  now?: () => Date;
  /** Step 12's canary; without it step 12 has no canary buttons and no canary condition. */
  canary?: CanaryService;
  /** The OU ownership ledger step 16 waits on; without it step 16 is refused. */
  ledger?: OuLedgerService;
}

type Loaded = { migration: MigrationRecord; steps: StoredStep[]; step: StoredStep; def: StepDefinition };

/**
 * The runbook use case: step cards, approvals and the agent jobs behind software-checked steps.
 * Every decision goes through the pure core (runbook.ts, approvals.ts, step-jobs.ts, step-evidence.ts); this class loads, applies,
 * stores and tells the channel.
 */
export class RunbookService {
  private readonly now: () => Date;

  constructor(private readonly options: RunbookServiceOptions) {
    this.now = options.now ?? (() => new Date());
    if (options.canary)
      options.canary.publish = async (migrationId, n) => {
        const migration = await options.store.runbook.getMigration(migrationId);
        if (migration) await this.publish(migration, n);
      };
  }

  /** After `/migration start`: the steps exist and the overview and first step card are returned to post. */
  async started(migration: MigrationRecord): Promise<{ overview: AdaptiveCardJson; first: AdaptiveCardJson }> {
    await this.options.store.runbook.ensureSteps(migration.id);
    const steps = await this.options.store.runbook.listSteps(migration.id);
    return {
      overview: renderOverviewCard({ name: migration.name, steps }),
      first: await this.render(migration, steps, 1, null),
    };
  }

  async stepCardPosted(migrationId: string, n: number, activityId: string): Promise<void> {
    await this.options.store.runbook.setStepCard(migrationId, n, activityId);
  }

  async status(conversationId: string): Promise<AdaptiveCardJson> {
    const migration = await this.options.store.migrations.findByConversation(conversationId);
    if (!migration) return renderNoMigrationCard();
    await this.options.store.runbook.ensureSteps(migration.id);
    return renderOverviewCard({
      name: migration.name,
      steps: await this.options.store.runbook.listSteps(migration.id),
    });
  }

  /**
   * `/rollback pilot` (issue 16): the plan card, computed from the stored steps, and the undo of its
   * next part requested through the step's own Undo path (same approval, evidence and audit), whose
   * card the caller posts. Nothing else is stored: the next `/rollback pilot` reads the steps again.
   */
  async rollbackPilot(input: {
    conversationId: string;
    actor: Actor;
  }): Promise<{ plan: AdaptiveCardJson; step: { n: number; card: AdaptiveCardJson; migrationId: string } | null }> {
    const { conversationId, actor } = input;
    const migration = await this.options.store.migrations.findByConversation(conversationId);
    if (!migration) return { plan: renderNoMigrationCard(), step: null };
    const audit = (outcome: string, details: object): Promise<void> =>
      this.options.store.audit.record(actor, {
        action: 'rollback.pilot',
        target: 'pilot',
        outcome,
        details: { by: actor.name, ...details },
        conversationId: migration.conversationId,
      });
    if (!this.options.policy.approvers.includes(actor.id)) {
      await audit('refused', { reason: 'not an approver' });
      return {
        plan: renderMessageCard({
          title: 'Pilot rollback refused',
          text: 'Only an approver (SYNCSHIFT_APPROVERS) can start the rollback of the pilot.',
          hint: "Ask an approver to send /rollback pilot, or undo a single step from its card's Undo button.",
          tone: 'warning',
        }),
        step: null,
      };
    }
    await this.options.store.runbook.ensureSteps(migration.id);
    const plan = pilotRollbackPlan(
      await this.options.store.runbook.listSteps(migration.id),
      await this.wavesHolding(migration.id),
    );
    await audit(plan.ok ? (plan.next === null ? 'nothing-left' : 'requested') : 'refused', {
      ...(plan.ok ? { next: plan.next } : { reason: plan.reason }),
      parts: plan.parts.map((p) => ({ n: p.n, state: p.state })),
    });
    if (!plan.ok || plan.next === null) return { plan: renderRollbackPlanCard(plan), step: null };
    const card = await this.handleAction({
      verb: STEP_VERBS.undo,
      data: { migrationId: migration.id, n: plan.next },
      conversationId,
      actor,
    });
    return { plan: renderRollbackPlanCard(plan), step: { n: plan.next, card, migrationId: migration.id } };
  }

  /**
   * The pilot's Rollback button on `/ou status`: its data names the migration only, which must be
   * this conversation's (else refused and audited as tampered); then exactly `/rollback pilot`. The
   * plan answers the click; the requested part's step card is posted for everyone.
   */
  async rollbackPilotButton(input: {
    verb: string;
    data: unknown;
    conversationId: string;
    actor: Actor;
  }): Promise<AdaptiveCardJson> {
    const data = (typeof input.data === 'object' && input.data !== null ? input.data : {}) as Record<string, unknown>;
    const named = typeof data.migrationId === 'string' && isUuid(data.migrationId) ? data.migrationId : undefined;
    if (input.verb !== PILOT_ROLLBACK_VERB)
      return this.refuseTampered(input, ['verb'], 'The button is not one an OU status card has.', named);
    const migration = await this.options.store.migrations.findByConversation(input.conversationId);
    if (!migration || data.migrationId !== migration.id)
      return this.refuseTampered(
        input,
        ['migrationId'],
        "The button names a different migration from this conversation's.",
        named,
      );
    const { plan, step } = await this.rollbackPilot({ conversationId: input.conversationId, actor: input.actor });
    if (step) {
      try {
        const id = await this.options.cards.post(migration.conversationId, step.card);
        if (id) await this.stepCardPosted(step.migrationId, step.n, id);
      } catch (err) {
        this.options.logger.warn({ err: (err as Error).message, step: step.n }, 'card not delivered; /step shows it');
      }
    }
    return plan;
  }

  /** `/step <n>`: the card to post again; the caller records its new activity id. */
  async stepCard(conversationId: string, n: number): Promise<{ card: AdaptiveCardJson; migrationId: string | null }> {
    const migration = await this.options.store.migrations.findByConversation(conversationId);
    if (!migration) return { card: renderNoMigrationCard(), migrationId: null };
    if (!stepDefinition(n))
      return {
        card: renderMessageCard({
          title: `There is no step ${n}`,
          text: `The runbook has steps 1 to ${STEPS.length}.`,
          hint: 'Type /migration status to see them all.',
          tone: 'warning',
        }),
        migrationId: null,
      };
    await this.options.store.runbook.ensureSteps(migration.id);
    return {
      card: await this.render(migration, await this.options.store.runbook.listSteps(migration.id), n, null),
      migrationId: migration.id,
    };
  }

  /**
   * A click on a step card (Action.Execute). Returns the card the clicker sees; others get the shared
   * card updated. The card's data only names records: the migration is the one stored for the
   * conversation the click came from, the approval is loaded by its id, and a card whose data
   * disagrees with them is refused and audited as tampered before anything else happens.
   */
  async handleAction(input: {
    verb: string;
    data: unknown;
    conversationId: string;
    actor: Actor;
  }): Promise<AdaptiveCardJson> {
    const { actor } = input;
    const parsed = parseStepAction(input.verb, input.data);
    if (!parsed.ok) return this.refuseTampered(input, parsed.fields, parsed.problem);
    const action = parsed.action;
    const migration = await this.options.store.migrations.findByConversation(input.conversationId);
    if (!migration)
      return this.refuseTampered(
        input,
        ['conversation'],
        'This conversation holds no migration, so no step card can act from here.',
        action.migrationId,
      );
    if (action.migrationId !== migration.id) {
      return this.refuseTampered(
        input,
        ['migrationId'],
        `The button names a different migration from this conversation's ("${migration.name}").`,
        action.migrationId,
      );
    }
    const n = action.n;
    const loaded = await this.load(migration.id, n);
    if (!loaded)
      return renderMessageCard({
        title: 'This card is out of date',
        text: 'The migration or step it belongs to no longer exists.',
        hint: 'Type /migration status.',
        tone: 'warning',
      });
    const { step, def } = loaded;
    const audit = (verb: string, outcome: string, details: unknown = {}): Promise<void> =>
      this.options.store.audit.record(actor, {
        action: verb,
        target: `step ${n}`,
        outcome,
        details: { by: actor.name, ...(details as object) },
        conversationId: migration.conversationId,
      });
    /** The step card with why this click did nothing; the refusal is on the record. */
    const refuse = async (verb: string, reason: string): Promise<AdaptiveCardJson> => {
      await audit(verb, 'refused', { reason });
      return this.render(migration, loaded.steps, n, actor.id, reason);
    };

    switch (action.verb) {
      case STEP_VERBS.refresh:
        return this.render(migration, loaded.steps, n, actor.id);
      case STEP_VERBS.confirm:
      case STEP_VERBS.skip: {
        const event: RunbookEvent =
          action.verb === STEP_VERBS.skip
            ? { type: 'skip', n, by: actor.name, at: this.now(), reason: action.reason }
            : {
                type: 'confirm',
                n,
                by: actor.name,
                at: this.now(),
                ...('phs' in action && action.phs ? { connectSyncPhs: action.phs } : {}),
              };
        if (action.verb === STEP_VERBS.confirm && def.confirmRequires === 'wavesConfirmed') {
          const problems = await this.wavesConfirmed(migration.id);
          if (problems.length > 0) return refuse(action.verb, `Not yet: ${problems.join('; ')}.`);
        }
        const refused = await this.transition(loaded, event);
        await audit(action.verb, refused ? 'refused' : 'done', refused ? { reason: refused } : {});
        return this.afterChange(migration, n, actor.id, refused);
      }
      case STEP_VERBS.run: {
        if (def.check.kind === 'cloudSyncScope') return this.checkScopeByRead(loaded, actor, refuse, audit);
        const check = checkJob(def.check, loaded.steps, action.ou);
        if (!check.ok) return refuse('step.run', check.reason);
        const noServer = await this.options.servers.refusal(migration.id, def, loaded.steps, false);
        if (noServer) return refuse('step.run', noServer);
        const payload: JobPayload = check.job;
        const refused = await this.transition(loaded, { type: 'start', n, by: actor.name, at: this.now() });
        if (!refused) await this.enqueueJob(migration, n, payload, actor, 'check');
        await audit('step.run', refused ? 'refused' : 'queued', {
          action: payload.action,
          ...(refused ? { reason: refused } : {}),
        });
        return this.afterChange(migration, n, actor.id, refused);
      }
      case STEP_VERBS.acknowledge: {
        // What is acknowledged comes from the stored evidence of the failed count, never from the card.
        const pending = pendingPreflight(def, step);
        if (!pending) return refuse('preflight.acknowledge', `Step ${n} has no pre-flight findings to acknowledge.`);
        if (!this.options.policy.approvers.includes(actor.id))
          return refuse(
            'preflight.acknowledge',
            'Only an approver can acknowledge users whose hard match is predicted to fail (SYNCSHIFT_APPROVERS).',
          );
        const reason = action.reason.trim();
        if (reason.length < MIN_ACK_REASON)
          return refuse(
            'preflight.acknowledge',
            `Say why these users may go ahead (at least ${MIN_ACK_REASON} characters); the reason goes into the audit log.`,
          );
        const check = checkJob(def.check, loaded.steps, '');
        if (!check.ok) return refuse('preflight.acknowledge', check.reason);
        await this.options.store.cloudSync.acknowledge({
          migrationId: migration.id,
          step: n,
          findingsHash: pending.findingsHash,
          findings: pending.preflight,
          reason,
          by: actor,
          at: this.now(),
        });
        await audit('preflight.acknowledge', 'recorded', {
          reason,
          findingsHash: pending.findingsHash,
          notInEntra: pending.preflight.notInEntra,
          differentAnchor: pending.preflight.differentAnchor,
        });
        // Counted again at once: the acknowledgement covers these findings only, so a count that finds others still stops.
        const refused = await this.transition(loaded, { type: 'start', n, by: actor.name, at: this.now() });
        if (!refused) await this.enqueueJob(migration, n, check.job, actor, 'check');
        return this.afterChange(migration, n, actor.id, refused);
      }
      case STEP_VERBS.requestApproval: {
        if (!def.mutating) return refuse('approval.request', 'This step needs no approval.');
        if (this.options.policy.approvers.length === 0) {
          return refuse(
            'approval.request',
            'No approvers are configured, so nothing can be approved. An administrator sets SYNCSHIFT_APPROVERS (Entra object ids).',
          );
        }
        if (!(step.status === 'pending' || step.status === 'failed'))
          return refuse('approval.request', `Step ${n} is not ready for a request.`);
        // Asked before anything is read or stored: a request for a step whose earlier steps are open is refused here.
        const waiting = applyEvent(loaded.steps, { type: 'awaitApproval', n, by: actor.name, at: this.now() });
        if (!waiting.ok) return refuse('approval.request', waiting.reason);
        const serverRefusal = await this.options.servers.refusal(migration.id, def, loaded.steps, true);
        if (serverRefusal) return refuse('approval.request', serverRefusal);
        if (def.check.kind === 'adsyncServiceStop') {
          const ledgerRefusal = await this.finalStopLedgerRefusal(migration.id);
          if (ledgerRefusal) return refuse('approval.request', `Not requested: ${ledgerRefusal}`);
        }
        if (def.check.kind === 'cloudSyncScope') {
          // The approval rests on the Cloud Sync job and scope as Graph shows them now.
          const basis = await this.scopeApprovalBasis(loaded.steps);
          if ('refusal' in basis) return refuse('approval.request', `Not requested: ${basis.refusal}.`);
          await audit('approval.request', 'requested');
          await this.openApproval(loaded, actor, def.check.kind, basis.evidence);
          return this.afterChange(migration, n, actor.id);
        }
        const pre = precheckJob(def.check.kind);
        await audit('approval.request', pre ? 'reading-state' : 'requested');
        if (pre) {
          // The approval is created from what the agent reads now, so approvers see current evidence.
          await this.enqueueJob(migration, n, pre, actor, 'check');
          return this.render(
            migration,
            loaded.steps,
            n,
            actor.id,
            'Reading the current Connect Sync state through the agent; the approval request follows on this card.',
          );
        }
        let phs: Record<string, string> = {};
        if (def.asksPhs === 'cloudSync') {
          const answerStep = stepWhereAsked('connectSync');
          // Read only when it matters: Connect Sync's own password hash sync was on (or not recorded).
          const read =
            connectSyncPhs(loaded.steps, answerStep) === 'off'
              ? null
              : ((await this.options.cloudSync?.readPasswordHashJobs(this.now())) ?? {
                  kind: 'failed' as const,
                  message: 'no Cloud Sync configuration is set',
                  hint: 'An administrator sets CLOUD_SYNC_SERVICE_PRINCIPAL_ID.',
                });
          const checked = finalStopPhs(loaded.steps, answerStep, action.phs, read);
          if (!checked.ok) return refuse('approval.request', checked.reason);
          phs = checked.evidence;
        }
        await this.openApproval(loaded, actor, def.check.kind, { requestedAfter: n - 1, ...phs });
        return this.afterChange(migration, n, actor.id);
      }
      case STEP_VERBS.approve:
      case STEP_VERBS.reject: {
        // The step, the migration and what runs all come from the stored approval.
        const approval = await this.options.store.runbook.getApproval(action.approvalId);
        if (!approval || approval.migrationId !== migration.id) {
          return this.refuseTampered(
            input,
            ['approvalId'],
            approval
              ? 'The button names an approval request of another migration.'
              : 'The button names an approval request SyncShift never made.',
            approval?.migrationId,
          );
        }
        if (approval.step !== n)
          return this.refuseTampered(
            input,
            ['n'],
            `The button names step ${n}, but its approval request is for step ${approval.step}.`,
          );
        if (approval.status === 'pending') {
          const live = await this.options.store.runbook.liveApproval(migration.id, approval.step);
          if (live?.id !== approval.id)
            return this.refuseTampered(
              input,
              ['approvalId'],
              `The button names an approval request that is not step ${n}'s open one.`,
            );
        }
        return this.vote(loaded, approval, action.verb === STEP_VERBS.approve ? 'approve' : 'reject', actor);
      }
      case STEP_VERBS.undo: {
        const allowed = undoAllowed(
          loaded.steps,
          n,
          await this.options.store.runbook.liveApproval(migration.id, n),
          await this.wavesHolding(migration.id),
        );
        if (!allowed.ok) return refuse('undo.request', allowed.reason);
        const undoServer = await this.options.servers.refusal(migration.id, def, loaded.steps, false);
        if (undoServer) return refuse('undo.request', undoServer);
        if (this.options.policy.approvers.length === 0)
          return refuse('undo.request', 'No approvers are configured (SYNCSHIFT_APPROVERS).');
        const created = await this.openApproval(
          loaded,
          actor,
          `undo:${allowed.undo}`,
          undoEvidence(loaded.steps, n),
          false,
        );
        await audit('undo.request', created ? 'requested' : 'exists');
        return this.afterChange(
          migration,
          n,
          actor.id,
          created ? undefined : 'An undo or approval request is already open for this step.',
        );
      }
      case STEP_VERBS.acceptBlocker: {
        if (!this.options.policy.approvers.includes(actor.id))
          return refuse('readiness.accept', 'Only an approver (SYNCSHIFT_APPROVERS) can accept a readiness blocker.');
        const accepted = acceptBlocker(step.evidence, {
          findingId: action.findingId,
          by: actor.name,
          byId: actor.id,
          reason: action.reason,
          at: this.now(),
        });
        if (!accepted.ok) return refuse('readiness.accept', accepted.reason);
        const saved = await this.options.store.runbook.saveStep(
          migration.id,
          { ...step, evidence: accepted.evidence, updatedBy: actor.name, updatedAt: this.now() },
          step.version,
        );
        if (!saved) return refuse('readiness.accept', 'Someone else changed this step at the same moment; look again.');
        await audit('readiness.accept', 'done', {
          blocker: accepted.finding.key,
          title: accepted.finding.title,
          reason: accepted.finding.accepted!.reason,
        });
        if (toolOutcome(accepted.evidence).ok) {
          const fresh = (await this.load(migration.id, n))!;
          const refused = await this.transition(fresh, {
            type: 'blockersAccepted',
            n,
            by: actor.name,
            at: this.now(),
            evidence: accepted.evidence,
          });
          if (!refused) await this.prerequisitesFromReport(migration, accepted.evidence);
        }
        return this.afterChange(migration, n, actor.id);
      }
      case STEP_VERBS.canaryCreate:
      case STEP_VERBS.canaryDelete:
      case STEP_VERBS.waiveCanary: {
        const canary = this.options.canary;
        if (!canary || n !== CanaryService.step()) return refuse(action.verb, `Step ${n} has no canary.`);
        const refused =
          action.verb === STEP_VERBS.waiveCanary
            ? await canary.waive(migration, actor, action.reason)
            : await canary.request(
                migration,
                loaded.steps,
                actor,
                action.verb === STEP_VERBS.canaryCreate ? 'create' : 'delete',
              );
        if (action.verb !== STEP_VERBS.waiveCanary)
          await audit('canary.request', refused ? 'refused' : 'requested', refused ? { reason: refused } : {});
        return this.afterChange(migration, n, actor.id, refused ?? undefined);
      }
      default:
        return assertNever(action);
    }
  }

  /**
   * `/readiness`: runs the check of step 1, or of step 2 once step 1 is done, as its Run button
   * would; the caller posts the returned card and records it as that step's card.
   */
  async readiness(
    conversationId: string,
    actor: Actor,
  ): Promise<{ card: AdaptiveCardJson; migrationId: string | null; n: number | null }> {
    const migration = await this.options.store.migrations.findByConversation(conversationId);
    if (!migration) return { card: renderNoMigrationCard(), migrationId: null, n: null };
    await this.options.store.runbook.ensureSteps(migration.id);
    const steps = await this.options.store.runbook.listSteps(migration.id);
    const tool = stepByCheck({ kind: 'readiness' }).n;
    const prereq = stepByCheck({ kind: 'prerequisites' }).n;
    const open = (k: number) => !['done', 'skipped'].includes(steps.find((s) => s.n === k)?.status ?? 'pending');
    const n = open(tool) ? tool : open(prereq) ? prereq : null;
    if (n === null)
      return {
        card: await this.render(migration, steps, tool, actor.id, `Steps ${tool} and ${prereq} are done already.`),
        migrationId: migration.id,
        n: tool,
      };
    const card = await this.handleAction({
      verb: STEP_VERBS.run,
      data: { migrationId: migration.id, n },
      conversationId,
      actor,
    });
    return { card, migrationId: migration.id, n };
  }

  /** Step 2 from the report step 1 stored: it starts and finishes on that evidence, if it is open. */
  private async prerequisitesFromReport(migration: MigrationRecord, report: ReadinessEvidence): Promise<void> {
    const n = stepByCheck({ kind: 'prerequisites' }).n;
    const loaded = await this.load(migration.id, n);
    if (!loaded || !(loaded.step.status === 'pending' || loaded.step.status === 'failed')) return;
    if (await this.transition(loaded, { type: 'start', n, by: 'syncshift', at: this.now() })) return;
    const outcome = prerequisitesOutcome(report.prerequisites);
    const evidence = { prerequisites: report.prerequisites, job: report.job };
    await this.transition(
      (await this.load(migration.id, n))!,
      outcome.ok
        ? { type: 'succeeded', n, at: this.now(), evidence }
        : { type: 'failed', n, at: this.now(), reason: outcome.reason, evidence },
    );
    const after = await this.options.store.runbook.listSteps(migration.id);
    // Step 2 went from waiting to finished in one go, so it never was a "ready" step whose card gets posted.
    if (!after.find((s) => s.n === n)?.cardActivityId) {
      const id = await this.options.cards
        .post(migration.conversationId, await this.render(migration, after, n, null))
        .catch(() => null);
      if (id) await this.options.store.runbook.setStepCard(migration.id, n, id);
    }
    await this.publish(migration, n);
  }

  /**
   * A click whose data disagrees with the stored records, or is not what a card sends. Nothing runs;
   * the refusal is audited in the conversation it came from and in that of the migration it named.
   */
  private async refuseTampered(
    input: { verb: string; data: unknown; conversationId: string; actor: Actor },
    fields: string[],
    why: string,
    namedMigrationId?: string,
  ): Promise<AdaptiveCardJson> {
    const { actor } = input;
    const claimed = claimedFields(input.data);
    const named = namedMigrationId ? await this.options.store.runbook.getMigration(namedMigrationId) : null;
    const details = {
      by: actor.name,
      verb: input.verb.slice(0, 60),
      fields,
      why,
      card: claimed,
      fromConversation: input.conversationId,
    };
    const target = typeof claimed.n === 'number' ? `step ${claimed.n}` : 'step card';
    for (const conversationId of new Set([input.conversationId, ...(named ? [named.conversationId] : [])])) {
      await this.options.store.audit.record(actor, {
        action: 'card.tampered',
        target,
        outcome: 'refused',
        details,
        conversationId,
      });
    }
    this.options.logger.warn(
      { actor: actor.id, verb: details.verb, fields, conversationId: input.conversationId },
      'step card action refused: its data does not match the stored records',
    );
    return renderMessageCard({
      title: 'Refused: this button does not match what SyncShift stored',
      text: `Nothing was done. ${why}`,
      hint: "Use the buttons on the step card in the migration's own conversation; /step <n> there posts a fresh copy. This refusal is in the audit log.",
      tone: 'attention',
    });
  }

  /** Step 15's rule, on the planned waves and the latest posted wave summary. */
  /** Step 16's ledger half: every OU of the ownership ledger confirmed by Cloud Sync (final-stop.ts). */
  private async finalStopLedgerRefusal(migrationId: string): Promise<string | null> {
    if (!this.options.ledger)
      return 'This SyncShift runs without the OU ownership ledger, so nothing shows that Cloud Sync owns every object.';
    return finalStopLedgerRefusal((await this.options.ledger.read(migrationId)).entries);
  }

  private async wavesConfirmed(migrationId: string): Promise<string[]> {
    const waves = await this.options.store.waves.listWaves(migrationId);
    const posted = (await this.options.store.summaries.listSummaries(migrationId))
      .filter((r) => r.status === 'posted' && r.content && r.postedAt)
      .sort((a, b) => b.postedAt!.getTime() - a.postedAt!.getTime())[0];
    return wavesConfirmedProblems({
      waveNames: waves.map((w) => w.name),
      summary: posted ? { ...(posted.content as WaveSummary), localDate: posted.localDate } : null,
    });
  }

  /** A step's job (purpose step.*) finished. Safe to call twice for one job. */
  async stepJobFinished(job: JobRecord): Promise<void> {
    // No link: the bot stopped between queuing the job and linking it, so no step waits for it.
    const link = await this.options.store.runbook.findJobLink(job.id);
    if (!link) return;
    const loaded = await this.load(link.migrationId, link.step);
    if (!loaded) return;
    const { migration, def, step } = loaded;
    const failure = job.state === 'failed' ? errorText(job.error) : null;
    const log = this.options.logger.child({
      migrationId: migration.id,
      step: def.n,
      jobId: job.id,
      purpose: link.purpose,
    });
    try {
      switch (link.purpose) {
        case 'check': {
          if (def.mutating) {
            // The read that precedes an approval request.
            if (failure) await this.note(loaded, `Could not read the current state: ${failure}`);
            else await this.afterPrecheckForRequest(loaded, job);
            break;
          }
          if (failure) {
            await this.transition(loaded, {
              type: 'failed',
              n: def.n,
              at: this.now(),
              reason: failure,
              evidence: { job: shortJob(job) },
            });
            break;
          }
          const outcome = await this.checkEvidence(loaded, job);
          const refused = await this.transition(
            loaded,
            outcome.ok
              ? { type: 'succeeded', n: def.n, at: this.now(), evidence: outcome.evidence }
              : { type: 'failed', n: def.n, at: this.now(), reason: outcome.reason, evidence: outcome.evidence },
          );
          if (!refused && outcome.ok && isReadinessEvidence(outcome.evidence))
            await this.prerequisitesFromReport(migration, outcome.evidence);
          break;
        }
        case 'precheck': {
          const approval = link.approvalId ? await this.options.store.runbook.getApproval(link.approvalId) : null;
          if (!approval) break;
          const fresh = failure ? null : this.approvalEvidence(def, loaded.steps, job);
          if (!fresh || 'refusal' in fresh || evidenceHash(fresh.evidence) !== approval.evidenceHash) {
            await this.options.store.runbook.setApprovalStatus(approval.id, ['approved'], 'void');
            const why = failure
              ? `the state could not be read again (${failure})`
              : fresh && 'refusal' in fresh
                ? fresh.refusal
                : 'the Connect Sync state changed since it was approved';
            if (step.status === 'waiting_approval')
              await this.transition(loaded, {
                type: 'approvalEnded',
                n: def.n,
                at: this.now(),
                reason: `approval void: ${why}`,
              });
            else await this.note(loaded, `Approval void: ${why}.`);
            break;
          }
          await this.execute(loaded, approval);
          break;
        }
        case 'action':
        case 'undo': {
          const approval = link.approvalId ? await this.options.store.runbook.getApproval(link.approvalId) : null;
          if (approval) await this.options.store.runbook.setApprovalStatus(approval.id, ['executing'], 'executed');
          const ran = {
            job: shortJob(job),
            agent: job.agentId,
            approvedBy:
              approval?.votes
                .filter((v) => v.decision === 'approve')
                .map((v) => v.byName)
                .join(', ') ?? null,
          };
          if (link.purpose === 'undo') {
            if (failure) await this.note(loaded, `Undo failed: ${failure}`);
            else
              await this.transition(loaded, {
                type: 'undone',
                n: def.n,
                by: approval?.requestedByName ?? 'syncshift',
                at: this.now(),
                evidence: { undo: dataOf(job), ...ran },
              });
          } else if (failure) {
            await this.transition(loaded, {
              type: 'failed',
              n: def.n,
              at: this.now(),
              reason: failure,
              // A partly failed rule creation: what it did create stays on record, for its undo.
              evidence: { before: step.evidence, ...ran, ...createdBeforeFailure(job.error) },
            });
          } else {
            await this.transition(loaded, {
              type: 'succeeded',
              n: def.n,
              at: this.now(),
              evidence: { before: step.evidence, result: dataOf(job), ...ran },
            });
          }
          break;
        }
      }
    } catch (err) {
      const e = asAppError(err);
      log.error({ code: e.code, err: e.message }, 'step job handling failed');
      const fresh = await this.load(link.migrationId, link.step);
      if (fresh?.step.status === 'in_progress')
        await this.transition(fresh, { type: 'failed', n: def.n, at: this.now(), reason: e.message });
    }
    await this.publish(migration, def.n);
  }

  private async checkEvidence(loaded: Loaded, job: JobRecord): Promise<CheckOutcome> {
    const { def, steps } = loaded;
    switch (def.check.kind) {
      case 'pilotOu':
        return {
          ok: true,
          evidence: pilotOuEvidence(storedScanOf(this.options.store, job).head, shortJob(job)),
          reason: '',
        };
      case 'verify': {
        const scan = storedScanOf(this.options.store, job);
        const comparison = new OuComparison(scan.head.baseDn);
        const report = await compareOuWithCloud(scan, this.options.cloud, undefined, undefined, comparison);
        if (def.check.mode === 'baseline') {
          const findings = preflightFindings(report);
          const ack =
            findings.length === 0
              ? null
              : await this.options.store.cloudSync.acknowledgement(loaded.migration.id, def.n, findingsHash(findings));
          return verifyOutcome('baseline', report, steps, shortJob(job), {
            acknowledgement: ack ? { by: ack.by.name, at: ack.at, reason: ack.reason } : null,
          });
        }
        const outcome = verifyOutcome('provisioned', report, steps, shortJob(job), {
          cloudSync: await cloudSyncConfirmation({
            store: this.options.store,
            cloud: this.options.cloud,
            migrationId: loaded.migration.id,
            comparison,
            now: this.now(),
          }),
        });
        // Step 12 also needs a canary that came through Cloud Sync (or a waiver).
        return this.options.canary
          ? andCanaryCondition(outcome, await this.options.canary.condition(loaded.migration.id, steps))
          : outcome;
      }
      case 'exportConfig':
        return { ok: true, evidence: { export: dataOf(job), job: shortJob(job) }, reason: '' };
      case 'readiness':
      case 'prerequisites': {
        const read = readAdsyncResult('adsync.readiness', job.result);
        if (!read.ok)
          return {
            ok: false,
            evidence: { job: shortJob(job) },
            reason: `The agent's readiness report could not be read (${read.problem}); update the agent and run it again.`,
          };
        const report = evaluateReadiness(read.data);
        // The card's Accept buttons name blockers by these ids only.
        const evidence: ReadinessEvidence = {
          readiness: true,
          job: shortJob(job),
          findings: report.findings.map((f) => (f.severity === 'blocker' ? { ...f, id: randomUUID() } : f)),
          prerequisites: report.prerequisites,
        };
        if (def.check.kind === 'prerequisites') {
          const outcome = prerequisitesOutcome(report.prerequisites);
          return { ...outcome, evidence: { prerequisites: report.prerequisites, job: shortJob(job) } };
        }
        return { ...toolOutcome(evidence), evidence };
      }
      default:
        return { ok: false, evidence: null, reason: 'unexpected check' };
    }
  }

  /** What an approval for this step is based on, read fresh from the agent's job with the schema the agent wrote it with. */
  private approvalEvidence(def: StepDefinition, steps: readonly StepState[], job: JobRecord): ApprovalBasis {
    switch (def.check.kind) {
      case 'schedulerStop':
      case 'schedulerStart': {
        const read = readAdsyncResult('adsync.getScheduler', job.result);
        return read.ok ? schedulerApproval(read.data) : unreadable(read.problem);
      }
      case 'noFlowRules': {
        const read = readAdsyncResult('adsync.listRules', job.result);
        return read.ok ? noFlowRulesApproval(steps, read.data.rules) : unreadable(read.problem);
      }
      default:
        return { evidence: {} };
    }
  }

  private async afterPrecheckForRequest(loaded: Loaded, job: JobRecord): Promise<void> {
    const fresh = this.approvalEvidence(loaded.def, loaded.steps, job);
    if ('refusal' in fresh) {
      await this.note(loaded, `Not requested: ${fresh.refusal}.`);
      return;
    }
    const requester = (await this.options.store.jobs.get(job.id))?.requestedBy ?? { id: 'unknown', name: 'unknown' };
    await this.openApproval(loaded, requester, loaded.def.check.kind, fresh.evidence);
  }

  private async openApproval(
    loaded: Loaded,
    actor: Actor,
    action: string,
    evidence: unknown,
    moveStep = true,
  ): Promise<boolean> {
    const now = this.now();
    const created = await this.options.store.runbook.createApproval({
      migrationId: loaded.migration.id,
      step: loaded.def.n,
      action,
      requestedBy: actor.id,
      requestedByName: actor.name,
      requestedAt: now,
      expiresAt: new Date(now.getTime() + this.options.policy.ttlMs),
      required: this.options.policy.required,
      evidenceHash: evidenceHash(evidence),
      evidence,
    });
    if (!created) return false;
    if (moveStep) {
      const fresh = (await this.load(loaded.migration.id, loaded.def.n))!;
      const refused = await this.transition(
        fresh,
        { type: 'awaitApproval', n: loaded.def.n, by: actor.name, at: now },
        evidence,
      );
      if (refused) {
        // The step moved on since the request was asked for: a request it is not waiting on must not be approvable.
        await this.options.store.runbook.setApprovalStatus(created.id, ['pending'], 'void');
        await this.note((await this.load(loaded.migration.id, loaded.def.n))!, `Not requested: ${refused}`);
        return false;
      }
    }
    return true;
  }

  private async vote(
    loaded: Loaded,
    approval: Approval,
    decision: 'approve' | 'reject',
    actor: Actor,
  ): Promise<AdaptiveCardJson> {
    const { migration, def } = loaded;
    const approvalId = approval.id;
    const result = await this.options.store.runbook.vote(approvalId, (current) =>
      vote(current, {
        by: actor.id,
        byName: actor.name,
        decision,
        now: this.now(),
        currentEvidenceHash: current.evidenceHash,
        policy: this.options.policy,
      }),
    );
    if (!result)
      return this.render(migration, loaded.steps, def.n, actor.id, 'That approval request no longer exists.');
    await this.options.store.audit.record(actor, {
      action: `approval.${decision}`,
      target: `step ${def.n}`,
      outcome: result.ok ? result.outcome : `refused:${result.code}`,
      details: { approvalId, by: actor.name },
      conversationId: migration.conversationId,
    });
    if (!result.ok) {
      if (result.code === 'EXPIRED' || result.code === 'EVIDENCE_CHANGED') {
        await this.options.store.runbook.setApprovalStatus(approvalId, ['pending'], result.approval.status);
        const fresh = (await this.load(migration.id, def.n))!;
        if (fresh.step.status === 'waiting_approval' && !isUndo(result.approval))
          await this.transition(fresh, {
            type: 'approvalEnded',
            n: def.n,
            at: this.now(),
            reason: result.code === 'EXPIRED' ? 'approval expired' : 'approval void',
          });
        await this.publish(migration, def.n);
      }
      return this.render(
        migration,
        await this.options.store.runbook.listSteps(migration.id),
        def.n,
        actor.id,
        result.message,
      );
    }
    const decided = result.approval;
    if (result.outcome === 'rejected') {
      const fresh = (await this.load(migration.id, def.n))!;
      if (fresh.step.status === 'waiting_approval' && !isUndo(decided))
        await this.transition(fresh, {
          type: 'approvalEnded',
          n: def.n,
          at: this.now(),
          reason: `rejected by ${actor.name}`,
        });
    } else if (result.outcome === 'approved' && isCanaryApproval(decided)) {
      await this.options.canary?.execute(migration, (await this.load(migration.id, def.n))!.steps, decided);
    } else if (result.outcome === 'approved') {
      const pre = isUndo(decided) ? null : precheckJob(decided.action);
      if (pre) {
        const job = await this.enqueueJob(
          migration,
          def.n,
          pre,
          { id: decided.requestedBy, name: decided.requestedByName },
          'precheck',
          decided.id,
        );
        this.options.logger.info(
          { jobId: job.id, approvalId: decided.id },
          'approved; re-reading state before running',
        );
      } else {
        await this.execute((await this.load(migration.id, def.n))!, decided);
      }
    }
    await this.publish(migration, def.n);
    return this.render(migration, await this.options.store.runbook.listSteps(migration.id), def.n, actor.id);
  }

  /**
   * Runs an approved action exactly once: only the caller that moves the approval to "executing"
   * enqueues the job. What runs is derived from the stored approval, and only on the step it was
   * made for, while the stored state still allows it.
   */
  private async execute(loaded: Loaded, approval: Approval): Promise<void> {
    const { migration, def } = loaded;
    const undo = isUndo(approval);
    const allowedActions = [def.check.kind, `undo:${def.undo ?? 'reopen'}`];
    if (approval.migrationId !== migration.id || approval.step !== def.n || !allowedActions.includes(approval.action)) {
      this.options.logger.error(
        { approvalId: approval.id, migrationId: migration.id, step: def.n },
        'an approval was about to run on a step it was not made for; refused',
      );
      await this.options.store.runbook.setApprovalStatus(approval.id, ['approved'], 'void');
      await this.options.store.audit.record(SYSTEM_ACTOR, {
        action: 'approval.execute',
        target: `step ${def.n}`,
        outcome: 'refused:mismatch',
        details: { approvalId: approval.id, approvalStep: approval.step, approvalAction: approval.action },
        conversationId: migration.conversationId,
      });
      return;
    }
    if (!(await this.options.store.runbook.claimExecution(approval.id))) return;
    if (approval.action === 'cloudSyncScope' || approval.action === 'undo:removeFromScope') {
      await this.executeScopeChange(loaded, approval);
      return;
    }
    const payload = undo ? undoJob(approval) : actionJob(approval);
    if (!payload) {
      if (approval.action === 'undo:reopen') {
        // A reopened step changed nothing on any server: it goes back to not started, on the record.
        const refused = await this.transition((await this.load(migration.id, def.n))!, {
          type: 'undone',
          n: def.n,
          by: approval.requestedByName,
          at: this.now(),
          evidence: { reopened: true, before: loaded.step.evidence },
          // A wave may have taken a change since the reopen was asked for.
          wavesHolding: await this.wavesHolding(migration.id),
        });
        await this.options.store.runbook.setApprovalStatus(approval.id, ['executing'], refused ? 'void' : 'executed');
        if (refused) await this.note((await this.load(migration.id, def.n))!, `Not reopened: ${refused}`);
        return;
      }
      // An undo with nothing to run (undoAllowed refuses one; an older stored request lands here) is
      // void and says so; the step is not marked undone.
      await this.options.store.runbook.setApprovalStatus(approval.id, ['executing'], undo ? 'void' : 'executed');
      if (undo)
        await this.note(
          (await this.load(migration.id, def.n))!,
          'Nothing to undo: the step recorded nothing SyncShift could change back.',
        );
      return;
    }
    const fresh = (await this.load(migration.id, def.n))!;
    let refusal: string | undefined;
    if (undo) {
      // The approval itself is executing now, so only the steps are asked, and the waves: one may
      // have taken a change since the undo was asked for.
      const allowed = undoAllowed(fresh.steps, def.n, null, await this.wavesHolding(migration.id));
      if (!allowed.ok) refusal = allowed.reason;
    } else {
      // The other Connect Sync servers are asked again: one may have been promoted since the request;
      // so is the ledger for the final stop: a verify since may have found an unconfirmed object.
      refusal =
        (await this.options.servers.refusal(migration.id, def, fresh.steps, true)) ??
        (def.check.kind === 'adsyncServiceStop' ? await this.finalStopLedgerRefusal(migration.id) : null) ??
        (await this.transition(fresh, { type: 'approved', n: def.n, at: this.now() }));
    }
    if (refusal) {
      await this.options.store.runbook.setApprovalStatus(approval.id, ['executing'], 'void');
      const now = (await this.load(migration.id, def.n))!;
      // A step left waiting on a void approval would wait for good.
      if (now.step.status === 'waiting_approval')
        await this.transition(now, {
          type: 'approvalEnded',
          n: def.n,
          at: this.now(),
          reason: `approval void, nothing ran: ${refusal}`,
        });
      else await this.note(now, `Approval void, nothing ran: ${refusal}`);
      await this.options.store.audit.record(SYSTEM_ACTOR, {
        action: 'approval.execute',
        target: `step ${def.n}`,
        outcome: 'refused',
        details: { approvalId: approval.id, reason: refusal },
        conversationId: migration.conversationId,
      });
      return;
    }
    const job = await this.enqueueJob(
      migration,
      def.n,
      payload,
      { id: approval.requestedBy, name: approval.requestedByName },
      undo ? 'undo' : 'action',
      approval.id,
    );
    await this.options.store.runbook.setApprovalJob(approval.id, job.id);
  }

  /** Step 11's approval basis: the pilot OU's stored DN and the Cloud Sync job read now. */
  private async scopeApprovalBasis(steps: readonly StepState[]): Promise<ApprovalBasis> {
    if (!this.options.cloudSync)
      return { refusal: 'no Cloud Sync configuration is set (CLOUD_SYNC_SERVICE_PRINCIPAL_ID)' };
    try {
      return scopeAddApproval(pilotScopeValue(steps), await this.options.cloudSync.readScope());
    } catch (err) {
      const e = asAppError(err);
      return { refusal: `Cloud Sync's scope could not be read: ${[e.message, e.hint].filter(Boolean).join(' ')}` };
    }
  }

  /**
   * "Check the scope" on step 11: a person changed the scope by hand (the app may lack the
   * permission); the step is done only when a read shows Cloud Sync covering the pilot OU.
   */
  private async checkScopeByRead(
    loaded: Loaded,
    actor: Actor,
    refuse: (verb: string, reason: string) => Promise<AdaptiveCardJson>,
    audit: (verb: string, outcome: string, details?: unknown) => Promise<void>,
  ): Promise<AdaptiveCardJson> {
    const { migration, def } = loaded;
    const value = pilotScopeValue(loaded.steps);
    if (!value) return refuse('step.checkScope', 'The pilot OU has no stored distinguishedName yet (step 5).');
    if (!this.options.cloudSync)
      return refuse('step.checkScope', 'No Cloud Sync configuration is set (CLOUD_SYNC_SERVICE_PRINCIPAL_ID).');
    let reading;
    try {
      reading = await this.options.cloudSync.readScope();
    } catch (err) {
      return refuse('step.checkScope', `Cloud Sync's scope could not be read: ${asAppError(err).message}`);
    }
    const read = scopeReadBack(value, reading, 'covered');
    if (!read.ok) return refuse('step.checkScope', `Not done: ${read.reason}.`);
    const refused = await this.transition(loaded, {
      type: 'confirmedByRead',
      n: def.n,
      by: actor.name,
      at: this.now(),
      evidence: { ...read.evidence, byHand: actor.name },
    });
    await audit('step.checkScope', refused ? 'refused' : 'done', refused ? { reason: refused } : { scopeValue: value });
    return this.afterChange(migration, def.n, actor.id, refused);
  }

  /**
   * Runs an approved scope change (step 11 or its undo) in the bot: re-reads the job, writes the
   * scope through Graph, and reads it back. Without the permission the step says which one and
   * waits for a person to do it by hand; "Check the scope" then reads the result.
   */
  private async executeScopeChange(loaded: Loaded, approval: Approval): Promise<void> {
    const { migration, def } = loaded;
    const undo = isUndo(approval);
    const value = scopeValueFromEvidence({
      pilotOu: (approval.evidence as { scopeValue?: unknown } | null)?.scopeValue,
    });
    const cloudSync = this.options.cloudSync;
    const setApproval = (status: 'executed' | 'void') =>
      this.options.store.runbook.setApprovalStatus(approval.id, ['executing'], status);
    let refusal: string | undefined;
    if (!cloudSync || !value) refusal = 'no Cloud Sync configuration or no stored OU to change';
    else if (!undo) {
      const now = await cloudSync.readScope().catch(() => null);
      if (!now || !sameScopeAsApproved(approval.evidence, now))
        refusal = now
          ? 'the Cloud Sync job or its scope changed since it was approved'
          : "Cloud Sync's scope could not be read again";
    }
    const fresh = (await this.load(migration.id, def.n))!;
    const wavesHolding = await this.wavesHolding(migration.id);
    if (!refusal)
      refusal = undo
        ? (() => {
            const allowed = undoAllowed(fresh.steps, def.n, null, wavesHolding);
            return allowed.ok ? undefined : allowed.reason;
          })()
        : await this.transition(fresh, { type: 'approved', n: def.n, at: this.now() });
    if (refusal) {
      await setApproval('void');
      const current = (await this.load(migration.id, def.n))!;
      if (current.step.status === 'waiting_approval')
        await this.transition(current, {
          type: 'approvalEnded',
          n: def.n,
          at: this.now(),
          reason: `approval void: ${refusal}`,
        });
      else await this.note(current, `Approval void, nothing changed: ${refusal}`);
      await this.options.store.audit.record(SYSTEM_ACTOR, {
        action: 'approval.execute',
        target: `step ${def.n}`,
        outcome: 'refused',
        details: { approvalId: approval.id, reason: refusal },
        conversationId: migration.conversationId,
      });
      await this.publish(migration, def.n);
      return;
    }
    const approvedBy = approval.votes
      .filter((v) => v.decision === 'approve')
      .map((v) => v.byName)
      .join(', ');
    const byName = approval.requestedByName;
    const settle = async (event: RunbookEvent | { note: string }): Promise<void> => {
      const current = (await this.load(migration.id, def.n))!;
      if ('note' in event) await this.note(current, event.note);
      else await this.transition(current, event);
    };
    try {
      const write = undo ? await cloudSync!.removeOuFromScope(value!) : await cloudSync!.addOuToScope(value!);
      await setApproval('executed');
      if (!write.ok) {
        const byHand = undo
          ? `Take ${value} out of the Cloud Sync configuration's scope by hand (or pause its job), then undo again.`
          : `Add ${value} to the Cloud Sync configuration's scope by hand (Scoping filters → Selected organizational units) and start its job, then press Check the scope.`;
        const reason = `the app registration lacks ${write.permission}, so SyncShift could not change Cloud Sync's scope. ${byHand}`;
        await settle(
          undo
            ? { note: `Undo not done: ${reason}` }
            : {
                type: 'failed',
                n: def.n,
                at: this.now(),
                reason,
                evidence: { scopeValue: value, missingPermission: write.permission, approvedBy },
              },
        );
      } else {
        const read = scopeReadBack(value!, write.after, undo ? 'uncovered' : 'covered');
        const evidence = { ...read.evidence, did: write.did.join(', ') || 'nothing to change', approvedBy };
        if (undo)
          await settle(
            read.ok
              ? { type: 'undone', n: def.n, by: byName, at: this.now(), evidence }
              : { note: `Undo did not take effect: ${read.reason}.` },
          );
        else
          await settle(
            read.ok
              ? { type: 'succeeded', n: def.n, at: this.now(), evidence }
              : { type: 'failed', n: def.n, at: this.now(), reason: `read back: ${read.reason}`, evidence },
          );
      }
    } catch (err) {
      const e = asAppError(err);
      await setApproval('executed');
      const text = [e.message, e.hint].filter(Boolean).join(' ');
      await settle(
        undo
          ? { note: `Undo failed: ${text}` }
          : { type: 'failed', n: def.n, at: this.now(), reason: text, evidence: { scopeValue: value, approvedBy } },
      );
    }
    await this.options.store.audit.record(
      { id: approval.requestedBy, name: approval.requestedByName },
      {
        action: undo ? 'cloudsync.scope.remove' : 'cloudsync.scope.add',
        target: `step ${def.n}`,
        outcome: (await this.load(migration.id, def.n))!.step.status,
        details: { approvalId: approval.id, scopeValue: value },
        conversationId: migration.conversationId,
      },
    );
    await this.publish(migration, def.n);
  }

  private async enqueueJob(
    migration: MigrationRecord,
    n: number,
    payload: JobPayload,
    actor: Actor,
    purpose: StepJobPurpose,
    approvalId?: string,
  ): Promise<JobRecord> {
    // Connect Sync jobs run on the migration's Connect Sync server alone; the store refuses one without it.
    const pinnedAgent = payload.action.startsWith('adsync.') ? await this.options.servers.pinFor(migration.id) : null;
    return this.options.jobs.enqueue({
      purpose: `step.${purpose}`,
      payload,
      ...(pinnedAgent ? { pinnedAgent } : {}),
      conversationId: migration.conversationId,
      migrationId: migration.id,
      requestedBy: actor,
      attach: (job) => this.options.store.runbook.linkJob(job.id, migration.id, n, purpose, approvalId),
      audit: { target: `step ${n}`, details: { purpose } },
    });
  }

  /** Applies an event and stores it; returns the refusal reason, if any. Retries once on a concurrent write. */
  private async transition(loaded: Loaded, event: RunbookEvent, evidence?: unknown): Promise<string | undefined> {
    for (let attempt = 0; attempt < 3; attempt++) {
      const current = attempt === 0 ? loaded : (await this.load(loaded.migration.id, loaded.def.n))!;
      const result = applyEvent(current.steps, event);
      if (!result.ok) return result.reason;
      const step = evidence !== undefined ? { ...result.step, evidence } : result.step;
      if (await this.options.store.runbook.saveStep(loaded.migration.id, step, current.step.version)) return undefined;
    }
    return 'Someone else changed this step at the same moment; look at the card again.';
  }

  /** Records a reason on a step without changing its status (a refused request, a failed read). */
  private async note(loaded: Loaded, reason: string): Promise<void> {
    await this.options.store.runbook.saveStep(
      loaded.migration.id,
      { ...loaded.step, reason, updatedAt: this.now() },
      loaded.step.version,
    );
  }

  private async afterChange(
    migration: MigrationRecord,
    n: number,
    viewer: string,
    notice?: string,
  ): Promise<AdaptiveCardJson> {
    await this.publish(migration, n);
    return this.render(migration, await this.options.store.runbook.listSteps(migration.id), n, viewer, notice);
  }

  /** Updates the shared copy of a step card, and posts the cards of steps that just became ready. */
  private async publish(migration: MigrationRecord, n: number): Promise<void> {
    const steps = await this.options.store.runbook.listSteps(migration.id);
    const step = steps.find((s) => s.n === n);
    try {
      if (step?.cardActivityId)
        await this.options.cards.update(
          migration.conversationId,
          step.cardActivityId,
          await this.render(migration, steps, n, null),
        );
      for (const ready of readySteps(steps)) {
        const s = steps.find((x) => x.n === ready)!;
        if (s.cardActivityId || ready === n) continue;
        const posted = await this.render(migration, steps, ready, null);
        const id = await this.options.cards.post(migration.conversationId, posted);
        if (!id) continue;
        await this.options.store.runbook.setStepCard(migration.id, ready, id);
        // The post may have waited for room under Teams' rate limits; a change to this step in that
        // time found no card to update, so the shared copy is brought up to date here.
        const latest = await this.render(
          migration,
          await this.options.store.runbook.listSteps(migration.id),
          ready,
          null,
        );
        if (JSON.stringify(latest) !== JSON.stringify(posted))
          await this.options.cards.update(migration.conversationId, id, latest);
      }
    } catch (err) {
      this.options.logger.warn({ err: (err as Error).message, step: n }, 'card not delivered; /step shows it again');
    }
  }

  private async render(
    migration: MigrationRecord,
    steps: readonly StepState[],
    n: number,
    viewer: string | null,
    notice?: string,
  ): Promise<AdaptiveCardJson> {
    const def = stepDefinition(n)!;
    const approval = await this.options.store.runbook.latestApproval(migration.id, n);
    const canary =
      this.options.canary && n === CanaryService.step()
        ? await this.options.canary.view(migration.id, steps, viewer)
        : undefined;
    return renderStepCard({
      ...(canary ? { canary } : {}),
      wavesHolding: await this.wavesHolding(migration.id),
      migrationId: migration.id,
      migrationName: migration.name,
      def,
      step: steps.find((s) => s.n === n)!,
      steps,
      approval,
      policy: this.options.policy,
      viewer,
      ...(notice ? { notice } : {}),
      now: this.now(),
    });
  }

  /** The names of the waves that still hold a change SyncShift made (see waveHoldsChanges), from the store. */
  private async wavesHolding(migrationId: string): Promise<string[]> {
    const waves = await this.options.store.waves.listWaves(migrationId);
    if (waves.length === 0) return [];
    const actions = await this.options.store.waveActions.listForWaves(waves.map((w) => w.id));
    return waves
      .filter((w) =>
        waveHoldsChanges(
          toEngine(
            w,
            actions.filter((a) => a.waveId === w.id),
          ),
        ),
      )
      .map((w) => w.name);
  }

  private async load(migrationId: string, n: number): Promise<Loaded | null> {
    const def = stepDefinition(n);
    if (!def || !/^[0-9a-f-]{36}$/i.test(migrationId)) return null;
    const migration = await this.options.store.runbook.getMigration(migrationId);
    if (!migration) return null;
    const steps = await this.options.store.runbook.listSteps(migrationId);
    const step = steps.find((s) => s.n === n);
    return step ? { migration, steps, step, def } : null;
  }
}

function isUuid(value: string): boolean {
  return /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(value);
}

function storedScanOf(store: Store, job: JobRecord): StoredScan {
  const scan = readStoredScan(store, job);
  if (!scan)
    throw new AppError('RELAY.BAD_REQUEST', "The agent's scan result could not be read.", {
      hint: "Update the agent to the bot's version and run the step again.",
    });
  return scan;
}

/** The card's own claims, cut short, for the audit of a refused click. */
function claimedFields(data: unknown): Record<string, unknown> {
  if (typeof data !== 'object' || data === null || Array.isArray(data)) return { data: typeof data };
  const out: Record<string, unknown> = {};
  for (const key of ['migrationId', 'n', 'approvalId'] as const) {
    const value = (data as Record<string, unknown>)[key];
    if (value === undefined) continue;
    out[key] =
      typeof value === 'number' || typeof value === 'boolean'
        ? value
        : (JSON.stringify(value)?.slice(0, 80) ?? String(value));
  }
  return out;
}

/** The agent's answer did not have the shape this bot reads: nothing is asked on it. */
function unreadable(problem: string): ApprovalBasis {
  return {
    refusal: `the agent's answer could not be read (${problem}); update the agent to the bot's version and ask again`,
  };
}

function dataOf(job: JobRecord): unknown {
  const parsed = adsyncResult.safeParse(job.result);
  return parsed.success ? parsed.data.data : job.result;
}

function errorText(error: unknown): string {
  const e = (error ?? {}) as { message?: string; hint?: string; code?: string };
  return [e.message ?? 'the agent reported a failure', e.hint].filter(Boolean).join(' ');
}

/** The rules a failed creation made before it stopped (the agent's error details.created), or nothing. */
function createdBeforeFailure(error: unknown): { created?: unknown[] } {
  const created = (error as { details?: { created?: unknown } } | null)?.details?.created;
  return Array.isArray(created) && created.length > 0 ? { created } : {};
}

function shortJob(job: JobRecord): string {
  return job.id.replace(/-/g, '').slice(0, 8);
}

/** The pilot OU's scope value: the DN step 5 stored from the agent's read of AD. */
function pilotScopeValue(steps: readonly StepState[]): string | null {
  return scopeValueFromEvidence(steps.find((s) => s.n === stepByCheck({ kind: 'pilotOu' }).n)?.evidence);
}
