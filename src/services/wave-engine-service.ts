import { renderMessageCard, renderNoMigrationCard } from '../cards/message-cards';
import type { AdaptiveCardJson } from '../cards/render';
import { renderWaveActionCard, renderWaveRollbackCard, WAVE_VERBS } from '../cards/wave-action-card';
import type { JobQueue } from '../jobs/job-queue';
import { adsyncResult, readAdsyncResult, type JobPayload } from '../relay/protocol';
import { SYSTEM_ACTOR, type Actor } from '../runbook/actor';
import { evidenceHash, vote, type Approval, type ApprovalPolicy } from '../runbook/approvals';
import { cloudSyncCovers, sameScopeAsApproved, scopeLists, type ScopeReading } from '../runbook/cloud-sync-scope';
import { createdRuleIds } from '../runbook/runbook';
import {
  approvalActionOf,
  approvedOus,
  cycleRequestRefusal,
  parseWaveApprovalAction,
  rulesChangedAt,
  rulesRequestRefusal,
  rulesUndoRefusal,
  scopeRequestRefusal,
  waveRollbackPlan,
  waveRulesApproval,
  waveScopeApproval,
  type WaveActionKind,
  type WaveActionStatus,
  type WaveEngineWave,
} from '../runbook/wave-engine';
import { asAppError } from '../shared/errors';
import type { Logger } from '../shared/logger';
import type { StoredWaveAction, WaveJobPurpose } from '../store/wave-action-repo';
import type { StoredWave } from '../store/wave-repo';
import type { JobRecord, MigrationRecord, Store } from '../store/types';
import type { CardSink } from './card-sink';
import type { CloudSyncScopeService } from './cloud-sync-scope-service';
import { NAME_THE_SERVER, type ConnectSyncServers } from './connect-sync-servers';

export interface WaveEngineServiceOptions {
  store: Store;
  jobs: JobQueue;
  cards: CardSink;
  logger: Logger;
  policy: ApprovalPolicy;
  servers: ConnectSyncServers;
  cloudSync?: CloudSyncScopeService;
  now?: () => Date;
}

/** A card to post and, when it shows a wave action, the action whose card it becomes. */
export interface WaveCardReply {
  cards: { card: AdaptiveCardJson; actionId: string | null }[];
}

type Loaded = { migration: MigrationRecord; wave: StoredWave; actions: StoredWaveAction[] };

/**
 * Issue 16 for waves: `/wave rules`, `/wave scope`, `/rollback <wave>` and the buttons of their cards.
 * Every decision is the pure core's (wave-engine.ts, approvals.ts); this class loads, stores, queues
 * the agent's ADSync jobs on the migration's named Connect Sync server, calls Graph for the scope,
 * and keeps each action's card up to date.
 */
export class WaveEngineService {
  private readonly now: () => Date;

  constructor(private readonly options: WaveEngineServiceOptions) {
    this.now = options.now ?? (() => new Date());
  }

  async cardPosted(actionId: string, activityId: string): Promise<void> {
    await this.options.store.waveActions.setCard(actionId, activityId);
  }

  /** `/wave rules <name>`: the agent reads the live rules; the approval request follows on the card. */
  async requestRules(input: { conversationId: string; name: string; actor: Actor }): Promise<WaveCardReply> {
    return this.request(input, 'rules');
  }

  /** `/wave scope <name>`: Cloud Sync's scope is read now and the approval request is made on it. */
  async requestScope(input: { conversationId: string; name: string; actor: Actor }): Promise<WaveCardReply> {
    return this.request(input, 'scope');
  }

  private async request(
    input: { conversationId: string; name: string; actor: Actor },
    kind: 'rules' | 'scope',
  ): Promise<WaveCardReply> {
    const { actor } = input;
    const found = await this.find(input.conversationId, input.name);
    if ('card' in found) return { cards: [{ card: found.card, actionId: null }] };
    const { migration, wave } = found;
    const steps = await this.options.store.runbook.listSteps(migration.id);
    const engine = toEngine(wave, found.actions);
    const audit = (outcome: string, details: object = {}) =>
      this.audit(actor, migration, `wave.${kind}.request`, wave.name, outcome, details);
    const refuse = async (reason: string): Promise<WaveCardReply> => {
      await audit('refused', { reason });
      return this.message(`Wave ${wave.name}: not requested`, `${capital(reason)}.`, 'Nothing was changed.');
    };
    if (this.options.policy.approvers.length === 0)
      return refuse('no approvers are configured, so nothing can be approved (SYNCSHIFT_APPROVERS)');
    const refusal = kind === 'rules' ? rulesRequestRefusal(engine, steps) : scopeRequestRefusal(engine, steps);
    if (refusal) return refuse(refusal);
    let reading: ScopeReading | null = null;
    if (kind === 'rules') {
      if (!(await this.options.servers.pinFor(migration.id))) return refuse(NAME_THE_SERVER.replace(/\.$/, ''));
    } else {
      if (!this.options.cloudSync)
        return refuse('no Cloud Sync configuration is set (CLOUD_SYNC_SERVICE_PRINCIPAL_ID)');
      try {
        reading = await this.options.cloudSync.readScope();
      } catch (err) {
        const e = asAppError(err);
        return refuse(`Cloud Sync's scope could not be read: ${[e.message, e.hint].filter(Boolean).join(' ')}`);
      }
    }
    const action = await this.claimAction(
      migration,
      wave,
      found.actions,
      kind,
      kind === 'rules' ? 'reading' : 'waiting_approval',
      actor,
    );
    if (!action) return refuse(`someone else is changing the ${kind} of wave ${wave.name} at this moment; look again`);
    if (kind === 'rules') {
      await this.enqueue(migration, action, { action: 'adsync.listRules' }, actor, 'read');
      await audit('reading-state');
      return this.reply(
        migration,
        action.id,
        'Reading the live sync rules through the agent; the approval request follows on this card.',
      );
    }
    const basis = waveScopeApproval(engine, reading!);
    if ('refusal' in basis) {
      await this.settle(action.id, 'failed', `Not requested: ${basis.refusal}.`, null, actor.name);
      await audit('refused', { reason: basis.refusal });
      return this.reply(migration, action.id);
    }
    if (!(await this.openApproval(migration, action.id, 'wave.scope', basis.evidence, actor))) {
      await this.settle(action.id, 'failed', 'Not requested: an approval request is already open for this part.');
      return this.reply(migration, action.id);
    }
    await audit('requested', { scopeValues: basis.evidence.scopeValues });
    return this.reply(migration, action.id);
  }

  /** `/wave cycle <name>`: a full (Initial) Connect Sync cycle after the wave's rules were created, with approval. */
  async requestCycle(input: { conversationId: string; name: string; actor: Actor }): Promise<WaveCardReply> {
    const { actor } = input;
    const found = await this.find(input.conversationId, input.name);
    if ('card' in found) return { cards: [{ card: found.card, actionId: null }] };
    const { migration, wave, actions } = found;
    const steps = await this.options.store.runbook.listSteps(migration.id);
    const refusal =
      this.options.policy.approvers.length === 0
        ? 'no approvers are configured, so nothing can be approved (SYNCSHIFT_APPROVERS)'
        : cycleRequestRefusal(toEngine(wave, actions), steps);
    const opened = refusal ? { refusal } : await this.openCycle(migration, wave, actions, actor);
    await this.audit(
      actor,
      migration,
      'wave.cycle.request',
      wave.name,
      typeof opened === 'string' ? 'requested' : 'refused',
      typeof opened === 'string' ? {} : { reason: opened.refusal },
    );
    if (typeof opened !== 'string')
      return this.message(`Wave ${wave.name}: not requested`, `${capital(opened.refusal)}.`, 'Nothing was changed.');
    return this.reply(migration, opened);
  }

  /** Opens the approval of a full cycle for the rules as they are now; the action's id, or why not. */
  private async openCycle(
    migration: MigrationRecord,
    wave: StoredWave,
    actions: StoredWaveAction[],
    actor: Actor,
  ): Promise<string | { refusal: string }> {
    if (!(await this.options.servers.pinFor(migration.id))) return { refusal: NAME_THE_SERVER.replace(/\.$/, '') };
    const engine = toEngine(wave, actions);
    const action = await this.claimAction(migration, wave, actions, 'cycle', 'waiting_approval', actor);
    if (!action) return { refusal: 'someone else is asking for the full cycle at this moment' };
    const rules = actions.find((a) => a.kind === 'rules');
    const evidence = {
      wave: wave.name,
      ous: approvedOus(rules?.evidence),
      rulesChangedAt: rulesChangedAt(engine),
      rulesStatus: rules?.status ?? null,
    };
    if (!(await this.openApproval(migration, action.id, 'wave.cycle', evidence, actor))) {
      await this.settle(action.id, 'failed', 'Not requested: an approval request is already open for this part.');
      return { refusal: `a full cycle of wave ${wave.name} is already waiting for approval` };
    }
    return action.id;
  }

  /** `/rollback <wave>` and the Rollback button: asks for the next part's undo, approvers only. */
  async rollback(input: { conversationId: string; name: string; actor: Actor }): Promise<WaveCardReply> {
    const { actor } = input;
    const found = await this.find(input.conversationId, input.name);
    if ('card' in found) return { cards: [{ card: found.card, actionId: null }] };
    const { migration, wave, actions } = found;
    const audit = (outcome: string, details: object = {}) =>
      this.audit(actor, migration, 'rollback.wave', wave.name, outcome, details);
    if (!this.options.policy.approvers.includes(actor.id)) {
      await audit('refused', { reason: 'not an approver' });
      return this.message(
        `Rollback of wave ${wave.name} refused`,
        `Only an approver (SYNCSHIFT_APPROVERS) can start the rollback of wave ${wave.name}.`,
        'Ask an approver to send /rollback again.',
      );
    }
    const engine = toEngine(wave, actions);
    const plan = waveRollbackPlan(engine);
    const planCard = (p = plan) => ({ card: renderWaveRollbackCard(wave.name, p), actionId: null });
    await audit(plan.ok ? (plan.next ?? 'nothing-left') : 'refused', plan.ok ? {} : { reason: plan.reason });
    if (!plan.ok || plan.next === null) return { cards: [planCard()] };
    const next = plan.next;
    let refusal: string | null = null;
    let actionId: string | null = null;
    if (next === 'rules') refusal = rulesUndoRefusal(engine);
    if (next === 'rules' && !refusal && !(await this.options.servers.pinFor(migration.id)))
      refusal = NAME_THE_SERVER.replace(/\.$/, '');
    if (next === 'scope' && !this.options.cloudSync)
      refusal = 'no Cloud Sync configuration is set (CLOUD_SYNC_SERVICE_PRINCIPAL_ID)';
    if (!refusal) {
      if (next === 'cycle') {
        const opened = await this.openCycle(migration, wave, actions, actor);
        if (typeof opened === 'string') actionId = opened;
        else refusal = opened.refusal;
      } else {
        const action = actions.find((a) => a.kind === next)!;
        actionId = action.id;
        // The undo rests on the action's own stored evidence; a change to it before the undo runs voids it.
        const opened = await this.openApproval(
          migration,
          action.id,
          approvalActionOf(next, true),
          action.evidence,
          actor,
          false,
        );
        if (!opened) refusal = `an undo or approval request is already open for the ${next} of wave ${wave.name}`;
      }
    }
    if (refusal) {
      await audit('refused', { reason: refusal, part: next });
      return { cards: [planCard({ ok: false, parts: plan.parts, reason: `${capital(refusal)}.` })] };
    }
    return { cards: [planCard(), ...(await this.reply(migration, actionId!)).cards] };
  }

  /** A click on a wave action card. Data names records only; the conversation decides the migration. */
  async handleAction(input: {
    verb: string;
    data: unknown;
    conversationId: string;
    actor: Actor;
  }): Promise<AdaptiveCardJson> {
    const { actor } = input;
    const data = (typeof input.data === 'object' && input.data !== null ? input.data : {}) as Record<string, unknown>;
    const migration = await this.options.store.migrations.findByConversation(input.conversationId);
    const tampered = async (why: string): Promise<AdaptiveCardJson> => {
      await this.options.store.audit.record(actor, {
        action: 'card.tampered',
        target: 'wave card',
        outcome: 'refused',
        details: { by: actor.name, verb: input.verb.slice(0, 60), why },
        conversationId: input.conversationId,
      });
      return renderMessageCard({
        title: 'Refused: this button does not match what SyncShift stored',
        text: `Nothing was done. ${why}`,
        hint: "Use the buttons on the wave's cards in the migration's own conversation. This refusal is in the audit log.",
        tone: 'attention',
      });
    };
    if (!migration || data.migrationId !== migration.id)
      return tampered("The button names a different migration from this conversation's.");
    if (input.verb === WAVE_VERBS.rollback) {
      const wave = (await this.options.store.waves.listWaves(migration.id)).find((w) => w.id === data.waveId);
      if (!wave) return tampered('The button names a wave this migration does not have (or no longer has).');
      const reply = await this.rollback({ conversationId: input.conversationId, name: wave.name, actor });
      // The plan answers the click; the part's own card is posted for everyone.
      for (const c of reply.cards.slice(1)) await this.postOrUpdate(migration, c.actionId!, c.card);
      return reply.cards[0]!.card;
    }
    const action = typeof data.actionId === 'string' ? await this.options.store.waveActions.get(data.actionId) : null;
    if (!action || action.migrationId !== migration.id)
      return tampered('The button names a wave action this migration does not have.');
    if (input.verb === WAVE_VERBS.checkScope) return this.checkScope(migration, action, actor);
    if (input.verb !== WAVE_VERBS.approve && input.verb !== WAVE_VERBS.reject)
      return tampered('The button is not one a wave card has.');
    const approvalId = typeof data.approvalId === 'string' ? data.approvalId : '';
    if ((await this.options.store.waveActions.actionOfApproval(approvalId)) !== action.id)
      return tampered("The button names an approval request that is not this wave action's.");
    return this.vote(migration, action, approvalId, input.verb === WAVE_VERBS.approve ? 'approve' : 'reject', actor);
  }

  private async vote(
    migration: MigrationRecord,
    action: StoredWaveAction,
    approvalId: string,
    decision: 'approve' | 'reject',
    actor: Actor,
  ): Promise<AdaptiveCardJson> {
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
    if (!result) return this.render(migration, action.id, 'That approval request no longer exists.');
    await this.audit(
      actor,
      migration,
      `approval.${decision}`,
      `wave action ${action.kind}`,
      result.ok ? result.outcome : `refused:${result.code}`,
      { approvalId },
    );
    const undo = parseWaveApprovalAction(result.approval.action)?.undo ?? false;
    if (!result.ok) {
      if (result.code === 'EXPIRED' || result.code === 'EVIDENCE_CHANGED') {
        await this.options.store.runbook.setApprovalStatus(approvalId, ['pending'], result.approval.status);
        if (!undo) await this.settle(action.id, 'failed', `Approval ${result.approval.status}: ask again.`);
        await this.publish(migration, action.id);
      }
      return this.render(migration, action.id, result.message);
    }
    if (result.outcome === 'rejected' && !undo)
      await this.settle(action.id, 'failed', `Rejected by ${actor.name}; nothing was changed.`);
    if (result.outcome === 'approved') await this.approved(migration, action.id, result.approval);
    await this.publish(migration, action.id);
    return this.render(migration, action.id);
  }

  /** What an approval starts: the re-read for rules, the change itself for the others. */
  private async approved(migration: MigrationRecord, actionId: string, approval: Approval): Promise<void> {
    const parsed = parseWaveApprovalAction(approval.action);
    if (!parsed) return;
    const requester = { id: approval.requestedBy, name: approval.requestedByName };
    const action = (await this.options.store.waveActions.get(actionId))!;
    if (parsed.kind === 'rules' && !parsed.undo) {
      // The plan is checked against the live rules again before anything is created.
      await this.enqueue(migration, action, { action: 'adsync.listRules' }, requester, 'precheck', approval.id);
      return;
    }
    if (!(await this.options.store.runbook.claimExecution(approval.id))) return;
    // An undo runs only on the evidence it was approved on.
    if (parsed.undo && evidenceHash(action.evidence) !== approval.evidenceHash)
      return this.voidApproval(
        migration,
        action,
        approval,
        'what SyncShift stored for this part changed since the undo was asked for',
      );
    if (parsed.kind === 'rules') {
      const wave = await this.waveOf(action);
      const refusal = wave ? rulesUndoRefusal(toEngine(wave.wave, wave.actions)) : 'the wave no longer exists';
      if (refusal) return this.voidApproval(migration, action, approval, refusal);
      const ids = createdRuleIds(approval.evidence);
      await this.settle(action.id, 'undoing', null, action.evidence);
      const job = await this.enqueue(
        migration,
        action,
        { action: 'adsync.setRulesDisabled', identifiers: ids, disabled: true },
        requester,
        'undo',
        approval.id,
      );
      await this.options.store.runbook.setApprovalJob(approval.id, job.id);
      return;
    }
    if (parsed.kind === 'cycle') {
      await this.settle(action.id, 'in_progress', null, action.evidence);
      // The scheduler page: only a full (Initial) cycle re-evaluates new or changed rules.
      const job = await this.enqueue(
        migration,
        action,
        { action: 'adsync.startScheduler', policyType: 'Initial' },
        requester,
        'action',
        approval.id,
      );
      await this.options.store.runbook.setApprovalJob(approval.id, job.id);
      return;
    }
    await this.changeScope(migration, action, approval, parsed.undo);
  }

  /** Runs an approved scope change in the bot through Graph, and reads it back. */
  private async changeScope(
    migration: MigrationRecord,
    action: StoredWaveAction,
    approval: Approval,
    undo: boolean,
  ): Promise<void> {
    const cloudSync = this.options.cloudSync;
    const dns = approvedOus(approval.evidence);
    const approvedBy = approverNames(approval);
    if (!cloudSync || dns.length === 0)
      return this.voidApproval(migration, action, approval, 'no Cloud Sync configuration or no stored OU');
    if (!undo) {
      const now = await cloudSync.readScope().catch(() => null);
      if (!now || !sameScopeAsApproved(approval.evidence, now))
        return this.voidApproval(
          migration,
          action,
          approval,
          now
            ? 'the Cloud Sync job or its scope changed since it was approved'
            : "Cloud Sync's scope could not be read again",
        );
    }
    await this.settle(action.id, undo ? 'undoing' : 'in_progress', null, action.evidence);
    const did: string[] = [];
    let forbidden: string | null = null;
    let after: ScopeReading | null = null;
    try {
      for (const dn of dns) {
        const write = undo ? await cloudSync.removeOuFromScope(dn) : await cloudSync.addOuToScope(dn);
        if (!write.ok) {
          forbidden = write.permission;
          break;
        }
        did.push(...write.did.map((d) => `${dn}: ${d}`));
        after = write.after;
      }
    } catch (err) {
      const e = asAppError(err);
      await this.options.store.runbook.setApprovalStatus(approval.id, ['executing'], 'executed');
      const text = [e.message, e.hint].filter(Boolean).join(' ');
      await this.settle(
        action.id,
        undo ? 'done' : 'failed',
        `${undo ? 'Undo failed' : 'Failed'}: ${text}`,
        undo ? action.evidence : { scopeValues: dns, approvedBy, did },
      );
      return this.finishScope(migration, action, approval, undo, dns);
    }
    await this.options.store.runbook.setApprovalStatus(approval.id, ['executing'], 'executed');
    if (forbidden) {
      const byHand = undo
        ? `Take ${dns.join('; ')} out of the Cloud Sync configuration's scope by hand (or pause its job when they are the last OUs), then press Check the scope.`
        : `Add ${dns.join('; ')} to the Cloud Sync configuration's scope by hand (Scoping filters → Selected organizational units) and start its job, then press Check the scope.`;
      const reason = `The app registration lacks ${forbidden}, so SyncShift could not change Cloud Sync's scope. ${byHand}`;
      await this.settle(action.id, undo ? 'done' : 'failed', reason, {
        ...(undo ? (action.evidence as object) : { scopeValues: dns }),
        missingPermission: forbidden,
        byHand: undo ? 'remove' : 'add',
        approvedBy,
        did,
      });
      return this.finishScope(migration, action, approval, undo, dns);
    }
    const read = after ?? (await cloudSync.readScope());
    const wrong = dns.filter((dn) => cloudSyncCovers(read, dn) === undo);
    const evidence = {
      scopeValues: dns,
      jobId: read.jobId,
      jobStatus: read.statusCode,
      scopeAfter: scopeLists(read.scope),
      did: did.join(', ') || 'nothing to change',
      approvedBy,
    };
    if (wrong.length === 0) await this.settle(action.id, undo ? 'undone' : 'done', null, evidence);
    else
      await this.settle(
        action.id,
        undo ? 'done' : 'failed',
        `Read back: Cloud Sync ${undo ? 'still covers' : 'does not cover'} ${wrong.join('; ')} (job ${read.statusCode}).`,
        undo ? { ...(action.evidence as object), lastUndo: evidence } : evidence,
      );
    return this.finishScope(migration, action, approval, undo, dns);
  }

  private async finishScope(
    migration: MigrationRecord,
    action: StoredWaveAction,
    approval: Approval,
    undo: boolean,
    dns: string[],
  ): Promise<void> {
    const after = (await this.options.store.waveActions.get(action.id))!;
    await this.options.store.audit.record(
      { id: approval.requestedBy, name: approval.requestedByName },
      {
        action: undo ? 'cloudsync.scope.remove' : 'cloudsync.scope.add',
        target: `wave action scope`,
        outcome: after.status,
        details: { approvalId: approval.id, scopeValues: dns },
        conversationId: migration.conversationId,
      },
    );
    await this.publish(migration, action.id);
  }

  /** "Check the scope": a person changed it by hand; a read decides whether that part is done (or undone). */
  private async checkScope(
    migration: MigrationRecord,
    action: StoredWaveAction,
    actor: Actor,
  ): Promise<AdaptiveCardJson> {
    const e = (action.evidence ?? {}) as { byHand?: unknown };
    const want = e.byHand === 'remove' ? 'uncovered' : e.byHand === 'add' ? 'covered' : null;
    const dns = approvedOus(action.evidence);
    if (action.kind !== 'scope' || !want || dns.length === 0 || !this.options.cloudSync)
      return this.render(migration, action.id, 'Nothing waits for a change by hand on this card.');
    let read: ScopeReading;
    try {
      read = await this.options.cloudSync.readScope();
    } catch (err) {
      return this.render(migration, action.id, `Cloud Sync's scope could not be read: ${asAppError(err).message}`);
    }
    const wrong = dns.filter((dn) => cloudSyncCovers(read, dn) !== (want === 'covered'));
    await this.audit(actor, migration, 'wave.scope.check', 'wave action scope', wrong.length ? 'not-yet' : 'done', {
      scopeValues: dns,
    });
    if (wrong.length > 0)
      return this.render(
        migration,
        action.id,
        `Not yet: Cloud Sync ${want === 'covered' ? 'does not cover' : 'still covers'} ${wrong.join('; ')} (job ${read.statusCode}).`,
      );
    await this.settle(
      action.id,
      want === 'covered' ? 'done' : 'undone',
      null,
      {
        scopeValues: dns,
        jobId: read.jobId,
        jobStatus: read.statusCode,
        scopeAfter: scopeLists(read.scope),
        byHandConfirmedBy: actor.name,
      },
      actor.name,
    );
    await this.publish(migration, action.id);
    return this.render(migration, action.id);
  }

  /** A wave action's agent job finished. Safe to call twice for one job. */
  async jobFinished(job: JobRecord): Promise<void> {
    const link = await this.options.store.waveActions.findJobLink(job.id);
    if (!link) return;
    const action = await this.options.store.waveActions.get(link.waveActionId);
    const loaded = action ? await this.waveOf(action) : null;
    if (!action || !loaded) return;
    const { migration } = loaded;
    const failure = job.state === 'failed' ? errorText(job.error) : null;
    const approval = link.approvalId ? await this.options.store.runbook.getApproval(link.approvalId) : null;
    try {
      switch (link.purpose) {
        case 'read': {
          if (action.status !== 'reading') break;
          if (failure) {
            await this.settle(action.id, 'failed', `Could not read the sync rules: ${failure}`, {
              previous: action.evidence,
            });
            break;
          }
          const read = readAdsyncResult('adsync.listRules', job.result);
          const basis = read.ok
            ? waveRulesApproval(toEngine(loaded.wave, loaded.actions), read.data.rules)
            : { refusal: `the agent's answer could not be read (${read.problem})` };
          if ('refusal' in basis) {
            await this.settle(action.id, 'failed', `Not requested: ${basis.refusal}.`, { previous: action.evidence });
            break;
          }
          const requester = (await this.options.store.jobs.get(job.id))?.requestedBy ?? SYSTEM_ACTOR;
          if (!(await this.openApproval(migration, action.id, 'wave.rules', basis.evidence, requester)))
            await this.settle(action.id, 'failed', 'Not requested: an approval request is already open for this part.');
          break;
        }
        case 'precheck': {
          if (!approval || approval.status !== 'approved') break;
          const read = failure ? null : readAdsyncResult('adsync.listRules', job.result);
          const fresh = read?.ok ? waveRulesApproval(toEngine(loaded.wave, loaded.actions), read.data.rules) : null;
          if (!fresh || 'refusal' in fresh || evidenceHash(fresh.evidence) !== approval.evidenceHash) {
            await this.options.store.runbook.setApprovalStatus(approval.id, ['approved'], 'void');
            const why = failure
              ? `the rules could not be read again (${failure})`
              : fresh && 'refusal' in fresh
                ? fresh.refusal
                : 'the sync rules changed since it was approved';
            await this.settle(action.id, 'failed', `Approval void, nothing was created: ${why}.`, {
              previous: action.evidence,
            });
            break;
          }
          if (!(await this.options.store.runbook.claimExecution(approval.id))) break;
          await this.settle(action.id, 'in_progress', null, approval.evidence);
          const plan = (approval.evidence as { plan: Record<string, unknown>[] }).plan;
          const next = await this.enqueue(
            migration,
            action,
            { action: 'adsync.createNoFlowRules', plan },
            { id: approval.requestedBy, name: approval.requestedByName },
            'action',
            approval.id,
          );
          await this.options.store.runbook.setApprovalJob(approval.id, next.id);
          break;
        }
        case 'action':
        case 'undo': {
          if (approval) await this.options.store.runbook.setApprovalStatus(approval.id, ['executing'], 'executed');
          const current = (await this.options.store.waveActions.get(action.id))!;
          if (current.status !== (link.purpose === 'undo' ? 'undoing' : 'in_progress')) break;
          const ran = { job: shortJob(job), agent: job.agentId, approvedBy: approval ? approverNames(approval) : null };
          const before = current.evidence as Record<string, unknown> | null;
          if (link.purpose === 'undo') {
            if (failure) await this.settle(action.id, 'done', `Undo failed: ${failure}`, before);
            else await this.settle(action.id, 'undone', null, { ...before, undo: dataOf(job), undoRan: ran });
          } else if (failure) {
            // A partly failed rule creation keeps the ids it created, so its undo disables exactly those.
            await this.settle(action.id, 'failed', failure, { ...before, ...ran, ...createdBeforeFailure(job.error) });
          } else {
            await this.settle(action.id, 'done', null, { ...before, result: dataOf(job), ...ran });
          }
          break;
        }
      }
    } catch (err) {
      this.options.logger.error({ err: asAppError(err).message, jobId: job.id }, 'wave action job handling failed');
    }
    await this.publish(migration, action.id);
  }

  /** The wave actions of these waves, for the ledger. */
  async actionsOf(waveIds: string[]): Promise<StoredWaveAction[]> {
    return this.options.store.waveActions.listForWaves(waveIds);
  }

  private async openApproval(
    migration: MigrationRecord,
    actionId: string,
    action: string,
    evidence: unknown,
    actor: Actor,
    moveAction = true,
  ): Promise<boolean> {
    const now = this.now();
    const id = await this.options.store.waveActions.createApproval(actionId, {
      migrationId: migration.id,
      step: 0,
      action,
      requestedBy: actor.id,
      requestedByName: actor.name,
      requestedAt: now,
      expiresAt: new Date(now.getTime() + this.options.policy.ttlMs),
      required: this.options.policy.required,
      evidenceHash: evidenceHash(evidence),
      evidence,
    });
    if (!id) return false;
    if (moveAction) await this.settle(actionId, 'waiting_approval', null, evidence, actor.name);
    await this.audit(actor, migration, 'approval.request', `wave action ${action}`, 'requested', { approvalId: id });
    return true;
  }

  private async voidApproval(
    migration: MigrationRecord,
    action: StoredWaveAction,
    approval: Approval,
    why: string,
  ): Promise<void> {
    await this.options.store.runbook.setApprovalStatus(approval.id, ['approved', 'executing'], 'void');
    const undo = parseWaveApprovalAction(approval.action)?.undo ?? false;
    const current = (await this.options.store.waveActions.get(action.id))!;
    await this.settle(
      action.id,
      undo ? current.status : 'failed',
      `Approval void, nothing changed: ${why}.`,
      current.evidence,
    );
    await this.options.store.audit.record(SYSTEM_ACTOR, {
      action: 'approval.execute',
      target: `wave action ${action.kind}`,
      outcome: 'refused',
      details: { approvalId: approval.id, reason: why },
      conversationId: migration.conversationId,
    });
    await this.publish(migration, action.id);
  }

  /** The (wave, kind) row, moved to `status` for a new request; null when another writer got there first. */
  private async claimAction(
    migration: MigrationRecord,
    wave: StoredWave,
    actions: StoredWaveAction[],
    kind: WaveActionKind,
    status: WaveActionStatus,
    actor: Actor,
  ): Promise<StoredWaveAction | null> {
    const existing = actions.find((a) => a.kind === kind);
    if (!existing)
      return this.options.store.waveActions.create({
        migrationId: migration.id,
        waveId: wave.id,
        kind,
        status,
        by: actor.name,
        now: this.now(),
      });
    const saved = await this.options.store.waveActions.save(
      // What an earlier run left stays on record under `previous`; the new request starts clean.
      {
        id: existing.id,
        status,
        reason: null,
        evidence: { previous: existing.evidence },
        updatedBy: actor.name,
        updatedAt: this.now(),
      },
      existing.version,
    );
    return saved ? this.options.store.waveActions.get(existing.id) : null;
  }

  /** Stores an action's new status; retried on a concurrent write. */
  private async settle(
    actionId: string,
    status: WaveActionStatus,
    reason: string | null,
    evidence?: unknown,
    by?: string,
  ): Promise<void> {
    for (let attempt = 0; attempt < 3; attempt++) {
      const current = (await this.options.store.waveActions.get(actionId))!;
      const ok = await this.options.store.waveActions.save(
        {
          id: actionId,
          status,
          reason,
          evidence: evidence === undefined ? current.evidence : evidence,
          updatedBy: by ?? current.updatedBy,
          updatedAt: this.now(),
        },
        current.version,
      );
      if (ok) return;
    }
  }

  private async enqueue(
    migration: MigrationRecord,
    action: StoredWaveAction,
    payload: JobPayload,
    actor: Actor,
    purpose: WaveJobPurpose,
    approvalId?: string,
  ): Promise<JobRecord> {
    // Like steps 8 and 9: Connect Sync jobs run on the migration's named Connect Sync server alone.
    const pinnedAgent = await this.options.servers.pinFor(migration.id);
    return this.options.jobs.enqueue({
      purpose: 'wave.action',
      payload,
      ...(pinnedAgent ? { pinnedAgent } : {}),
      conversationId: migration.conversationId,
      migrationId: migration.id,
      requestedBy: actor,
      attach: (job) => this.options.store.waveActions.linkJob(job.id, action.id, purpose, approvalId),
      audit: { target: `wave action ${action.kind}`, details: { purpose, waveActionId: action.id } },
    });
  }

  private async find(conversationId: string, name: string): Promise<Loaded | { card: AdaptiveCardJson }> {
    const migration = await this.options.store.migrations.findByConversation(conversationId);
    if (!migration) return { card: renderNoMigrationCard() };
    const wave = (await this.options.store.waves.listWaves(migration.id)).find(
      (w) => w.name.toLowerCase() === name.toLowerCase(),
    );
    if (!wave)
      return {
        card: renderMessageCard({
          title: `No wave named ${name}`,
          text: `This migration has no planned wave named ${name}.`,
          hint: 'Type /wave list to see the waves, or /wave add to plan one.',
          tone: 'warning',
        }),
      };
    await this.endStaleRequests(await this.options.store.waveActions.listForWaves([wave.id]));
    return { migration, wave, actions: await this.options.store.waveActions.listForWaves([wave.id]) };
  }

  /**
   * A part left waiting on a request nobody answered before it expired (or that was voided) would
   * block the wave for good: it is marked failed with why, so it can be asked for again.
   */
  private async endStaleRequests(actions: StoredWaveAction[]): Promise<void> {
    for (const action of actions.filter((a) => a.status === 'waiting_approval')) {
      const id = await this.options.store.waveActions.latestApprovalId(action.id);
      const approval = id ? await this.options.store.runbook.getApproval(id) : null;
      if (approval?.status === 'pending' && this.now().getTime() >= approval.expiresAt.getTime()) {
        await this.options.store.runbook.setApprovalStatus(approval.id, ['pending'], 'expired');
        await this.settle(action.id, 'failed', `Approval expired at ${approval.expiresAt.toISOString()}; ask again.`);
      } else if (!approval || ['void', 'rejected', 'expired', 'executed'].includes(approval.status))
        await this.settle(action.id, 'failed', 'The approval request ended without a change; ask again.');
    }
  }

  private async waveOf(action: StoredWaveAction): Promise<Loaded | null> {
    const migration = await this.options.store.runbook.getMigration(action.migrationId);
    if (!migration) return null;
    const wave = (await this.options.store.waves.listWaves(migration.id)).find((w) => w.id === action.waveId);
    if (!wave) return null;
    return { migration, wave, actions: await this.options.store.waveActions.listForWaves([wave.id]) };
  }

  private async render(migration: MigrationRecord, actionId: string, notice?: string): Promise<AdaptiveCardJson> {
    const action = (await this.options.store.waveActions.get(actionId))!;
    const loaded = await this.waveOf(action);
    const approvalId = await this.options.store.waveActions.latestApprovalId(action.id);
    const plan = loaded ? waveRollbackPlan(toEngine(loaded.wave, loaded.actions)) : null;
    return renderWaveActionCard({
      migrationId: migration.id,
      waveId: action.waveId,
      waveName: loaded?.wave.name ?? '(removed wave)',
      actionId: action.id,
      kind: action.kind,
      status: action.status,
      reason: action.reason,
      evidence: action.evidence,
      updatedBy: action.updatedBy,
      approval: approvalId ? await this.options.store.runbook.getApproval(approvalId) : null,
      canRollBack: plan?.ok === true && plan.next !== null,
      ...(notice ? { notice } : {}),
    });
  }

  private async reply(migration: MigrationRecord, actionId: string, notice?: string): Promise<WaveCardReply> {
    await this.publish(migration, actionId);
    return { cards: [{ card: await this.render(migration, actionId, notice), actionId }] };
  }

  /** Updates the shared copy of the action's card, if it was posted. */
  private async publish(migration: MigrationRecord, actionId: string): Promise<void> {
    const action = await this.options.store.waveActions.get(actionId);
    if (!action?.cardActivityId) return;
    try {
      await this.options.cards.update(
        migration.conversationId,
        action.cardActivityId,
        await this.render(migration, actionId),
      );
    } catch (err) {
      this.options.logger.warn({ err: (err as Error).message, actionId }, 'wave card not delivered');
    }
  }

  private async postOrUpdate(migration: MigrationRecord, actionId: string, card: AdaptiveCardJson): Promise<void> {
    const action = await this.options.store.waveActions.get(actionId);
    if (action?.cardActivityId) return this.publish(migration, actionId);
    const id = await this.options.cards.post(migration.conversationId, card).catch(() => null);
    if (id) await this.cardPosted(actionId, id);
  }

  private message(title: string, text: string, hint: string): WaveCardReply {
    return { cards: [{ card: renderMessageCard({ title, text, hint, tone: 'warning' }), actionId: null }] };
  }

  private audit(
    actor: Actor,
    migration: MigrationRecord,
    action: string,
    target: string,
    outcome: string,
    details: object,
  ): Promise<void> {
    return this.options.store.audit.record(actor, {
      action,
      target: target.startsWith('wave') ? target : `wave ${target}`,
      outcome,
      details: { by: actor.name, ...details },
      conversationId: migration.conversationId,
    });
  }
}

export function toEngine(wave: StoredWave, actions: readonly StoredWaveAction[]): WaveEngineWave {
  return {
    name: wave.name,
    ous: wave.ous.map((o) => ({ input: o.input, baseDn: o.baseDn, error: o.error })),
    actions: actions.map((a) => ({
      kind: a.kind,
      status: a.status,
      evidence: a.evidence,
      reason: a.reason,
      updatedAt: a.updatedAt,
    })),
  };
}

function approverNames(approval: Approval): string {
  return approval.votes
    .filter((v) => v.decision === 'approve')
    .map((v) => v.byName)
    .join(', ');
}

function capital(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

function dataOf(job: JobRecord): unknown {
  const parsed = adsyncResult.safeParse(job.result);
  return parsed.success ? parsed.data.data : job.result;
}

function errorText(error: unknown): string {
  const e = (error ?? {}) as { message?: string; hint?: string };
  return [e.message ?? 'the agent reported a failure', e.hint].filter(Boolean).join(' ');
}

function createdBeforeFailure(error: unknown): { created?: unknown[] } {
  const created = (error as { details?: { created?: unknown } } | null)?.details?.created;
  return Array.isArray(created) && created.length > 0 ? { created } : {};
}

function shortJob(job: JobRecord): string {
  return job.id.replace(/-/g, '').slice(0, 8);
}
