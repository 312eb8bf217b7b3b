import { randomBytes } from 'node:crypto';
import type { CloudDirectory, ProvisioningEvent } from '../cloud/types';
import type { JobQueue } from '../jobs/job-queue';
import { canaryResult, jobError } from '../relay/protocol';
import { SYSTEM_ACTOR, type Actor } from '../runbook/actor';
import { evidenceHash, type Approval, type ApprovalPolicy } from '../runbook/approvals';
import {
  canaryCondition,
  canaryCreateTarget,
  canaryDeleteTarget,
  canaryLines,
  canaryName,
  isLive,
  nextCanaryState,
  type CanarySighting,
  type CanaryTimeouts,
} from '../runbook/canary';
import type { StepState } from '../runbook/runbook';
import { stepByCheck } from '../runbook/steps';
import type { Logger } from '../shared/logger';
import type { StoredCanary } from '../store/canary-repo';
import type { JobRecord, MigrationRecord, Store } from '../store/types';

export interface CanaryServiceOptions {
  store: Store;
  cloud: CloudDirectory;
  jobs: JobQueue;
  logger: Logger;
  policy: ApprovalPolicy;
  now?: () => Date;
  /** How long Cloud Sync may take to provision the canary, and to delete it; then the card says it timed out. */
  timeouts?: Partial<CanaryTimeouts>;
  /** Smallest gap between two progress updates of step 12's card while a canary waits. */
  progressEveryMs?: number;
}

/** Cloud Sync runs about every 2 minutes; a new object should be through in a few cycles (unverified). */
export const DEFAULT_CANARY_TIMEOUTS: CanaryTimeouts = { provisionMs: 40 * 60_000, deleteMs: 40 * 60_000 };

export const CANARY_APPROVAL = { create: 'canary.create', delete: 'canary.delete' } as const;

export function isCanaryApproval(approval: Pick<Approval, 'action'>): boolean {
  return approval.action === CANARY_APPROVAL.create || approval.action === CANARY_APPROVAL.delete;
}

/** What step 12's card shows about canaries and which of their buttons it offers. */
export interface CanaryView {
  lines: string[];
  canCreate: boolean;
  canDelete: boolean;
  canWaive: boolean;
}

/**
 * The canary of step 12 (migration guide: "If you create a new user in this OU, verify that it's
 * being provisioned"). Create and delete each go through an approval on step 12's card; the agent
 * does the writing; this service then watches Entra and the Cloud Sync job's provisioning logs until
 * the canary came through (or was deleted everywhere), or the wait timed out. Every decision is in
 * src/runbook/canary.ts; this class loads, stores, asks Graph and tells the card.
 */
export class CanaryService {
  private readonly now: () => Date;
  private readonly timeouts: CanaryTimeouts;
  private readonly lastProgress = new Map<string, number>();
  /** Set by the runbook service: updates the shared copy of a step card. */
  publish: (migrationId: string, n: number) => Promise<void> = async () => undefined;

  constructor(private readonly options: CanaryServiceOptions) {
    this.now = options.now ?? (() => new Date());
    this.timeouts = { ...DEFAULT_CANARY_TIMEOUTS, ...options.timeouts };
  }

  /** The step whose card carries the canary: the provisioned verify (step 12). */
  static step(): number {
    return stepByCheck({ kind: 'verify', mode: 'provisioned' }).n;
  }

  /** Opens an approval to create or delete a canary. Returns why not, or null when it is open. */
  async request(
    migration: MigrationRecord,
    steps: readonly StepState[],
    actor: Actor,
    kind: 'create' | 'delete',
  ): Promise<string | null> {
    const { store, policy } = this.options;
    if (policy.approvers.length === 0)
      return 'No approvers are configured, so nothing can be approved. An administrator sets SYNCSHIFT_APPROVERS (Entra object ids).';
    const canaries = await store.canaries.list(migration.id);
    let evidence: Record<string, unknown>;
    if (kind === 'create') {
      const target = canaryCreateTarget(steps, canaries);
      if (!target.ok) return target.reason;
      evidence = { canary: { create: canaryName(randomBytes(4)), ou: target.value.ouDn, disabled: true, groups: 0 } };
    } else {
      const target = canaryDeleteTarget(canaries);
      if (!target.ok) return target.reason;
      const c = target.value;
      evidence = { canary: { delete: c.name, id: c.id, objectGuid: c.objectGuid, dn: c.dn } };
    }
    const now = this.now();
    const created = await store.runbook.createApproval({
      migrationId: migration.id,
      step: CanaryService.step(),
      action: CANARY_APPROVAL[kind],
      requestedBy: actor.id,
      requestedByName: actor.name,
      requestedAt: now,
      expiresAt: new Date(now.getTime() + policy.ttlMs),
      required: policy.required,
      evidenceHash: evidenceHash(evidence),
      evidence,
    });
    if (!created) return 'An approval request is already open for this step; settle it first.';
    return null;
  }

  /**
   * Runs an approved canary request exactly once (only the caller that moves it to "executing"
   * enqueues the job), from the stored approval and the stored canaries alone.
   */
  async execute(migration: MigrationRecord, steps: readonly StepState[], approval: Approval): Promise<void> {
    const { store, jobs } = this.options;
    if (approval.migrationId !== migration.id || approval.step !== CanaryService.step() || !isCanaryApproval(approval))
      return;
    if (!(await store.runbook.claimExecution(approval.id))) return;
    const asked = (approval.evidence as { canary?: Record<string, unknown> } | null)?.canary ?? {};
    const requester = { id: approval.requestedBy, name: approval.requestedByName };
    const canaries = await store.canaries.list(migration.id);
    const refuse = async (reason: string): Promise<void> => {
      await store.runbook.setApprovalStatus(approval.id, ['executing'], 'void');
      await store.audit.record(SYSTEM_ACTOR, {
        action: 'canary.execute',
        target: `step ${CanaryService.step()}`,
        outcome: 'refused',
        details: { approvalId: approval.id, reason },
        conversationId: migration.conversationId,
      });
    };
    if (approval.action === CANARY_APPROVAL.create) {
      // The stored state must still allow it, in the same OU the approvers saw.
      const target = canaryCreateTarget(steps, canaries);
      if (!target.ok) return refuse(target.reason);
      if (target.value.ouDn !== asked.ou || typeof asked.create !== 'string')
        return refuse('the pilot OU changed since the canary was approved');
      const canary = await store.canaries.create({
        migrationId: migration.id,
        name: asked.create,
        ouDn: target.value.ouDn,
        requestedByName: approval.requestedByName,
        createApprovalId: approval.id,
      });
      if (!canary) return;
      const job = await jobs.enqueue({
        purpose: 'canary',
        payload: { action: 'directory.createCanary', ouDn: canary.ouDn, name: canary.name },
        conversationId: migration.conversationId,
        migrationId: migration.id,
        requestedBy: requester,
        attach: async (j) => void (await store.canaries.update(canary.id, canary.version, { createJobId: j.id })),
        audit: { target: `step ${CanaryService.step()}`, details: { purpose: 'canary', canary: canary.name } },
      });
      await store.runbook.setApprovalJob(approval.id, job.id);
      return;
    }
    const target = canaryDeleteTarget(canaries);
    if (!target.ok) return refuse(target.reason);
    const canary = target.value as StoredCanary;
    if (canary.id !== asked.id || canary.objectGuid !== asked.objectGuid)
      return refuse('the canary changed since its deletion was approved');
    if (
      !(await store.canaries.update(canary.id, canary.version, { status: 'deleting', deleteApprovalId: approval.id }))
    )
      return refuse('the canary changed at the same moment');
    const job = await jobs.enqueue({
      purpose: 'canary',
      payload: { action: 'directory.deleteCanary', objectGuid: canary.objectGuid!, name: canary.name },
      conversationId: migration.conversationId,
      migrationId: migration.id,
      requestedBy: requester,
      attach: async (j) => void (await store.canaries.update(canary.id, canary.version + 1, { deleteJobId: j.id })),
      audit: { target: `step ${CanaryService.step()}`, details: { purpose: 'canary', canary: canary.name } },
    });
    await store.runbook.setApprovalJob(approval.id, job.id);
  }

  /** A canary job (purpose canary) finished. Safe to call twice for one job: only a row still waiting for it moves. */
  async jobFinished(job: JobRecord): Promise<void> {
    const { store } = this.options;
    const canary = await store.canaries.byJob(job.id);
    if (!canary) return;
    const creating = canary.createJobId === job.id;
    if (creating ? canary.status !== 'creating' : canary.status !== 'deleting') return;
    const approvalId = creating ? canary.createApprovalId : canary.deleteApprovalId;
    if (approvalId) await store.runbook.setApprovalStatus(approvalId, ['executing'], 'executed');
    const now = this.now();
    const failure = job.state === 'failed' ? failureText(job.error) : null;
    const read = failure ? null : canaryResult.safeParse(job.result);
    const problem =
      failure ??
      (read && !read.success ? "the agent's answer could not be read; update the agent to the bot's version" : null);
    let patch: Partial<StoredCanary>;
    if (problem) patch = { status: creating ? 'createFailed' : 'deleteFailed', problem };
    else if (read?.success && read.data.action === 'directory.createCanary')
      patch = {
        status: 'waiting',
        dn: read.data.data.dn,
        objectGuid: read.data.data.objectGuid,
        anchor: read.data.data.anchor,
        createdAt: now,
        problem: null,
      };
    else patch = { status: 'deleteWaiting', deletedAt: now, problem: null };
    if (!(await store.canaries.update(canary.id, canary.version, patch))) return;
    const migration = await store.runbook.getMigration(canary.migrationId);
    if (migration)
      await store.audit.record(SYSTEM_ACTOR, {
        action: creating ? 'canary.created' : 'canary.deleted',
        target: `step ${CanaryService.step()}`,
        outcome: problem ? 'failed' : 'done',
        details: {
          canary: canary.name,
          dn: patch.dn ?? canary.dn,
          objectGuid: patch.objectGuid ?? canary.objectGuid,
          ...(problem ? { problem } : {}),
        },
        conversationId: migration.conversationId,
      });
    await this.publish(canary.migrationId, CanaryService.step());
  }

  /**
   * One look at every waiting canary: is its Entra object there (or gone), and does the Cloud Sync
   * job's provisioning log name it? Moves it on, or times it out; shows progress on the card.
   */
  async tick(): Promise<void> {
    const { store } = this.options;
    for (const canary of await store.canaries.waiting()) {
      try {
        await this.look(canary);
      } catch (err) {
        // Graph unreachable or throttled: the next tick tries again; the timeout still runs.
        this.options.logger.warn({ canary: canary.name, err: (err as Error).message }, 'canary check failed');
      }
    }
  }

  private async look(canary: StoredCanary): Promise<void> {
    const { store, cloud } = this.options;
    if (!canary.anchor) return;
    const settings = await store.summarySettings.getSettings(canary.migrationId);
    const jobId = settings?.provisioningJobId ?? null;
    const users = await cloud.usersByImmutableId(canary.anchor);
    const cloudId = users[0]?.id ?? null;
    let logAt: Date | null = null;
    const since = new Date((canary.createdAt ?? canary.requestedAt).getTime() - 60_000);
    if (jobId) {
      const wanted = canary.status === 'waiting' ? cloudId : canary.cloudId;
      const found: ProvisioningEvent[] = [];
      if (wanted)
        await cloud.provisioningEvents({ jobId, since }, (events) => {
          for (const e of events) if (e.targetId === wanted && e.status === 'success') found.push(e);
        });
      const match =
        canary.status === 'waiting'
          ? found.find((e) => e.action !== 'delete')
          : found.find(
              (e) =>
                e.action === 'delete' && Date.parse(e.activityDateTime) >= (canary.deletedAt?.getTime() ?? 0) - 60_000,
            );
      logAt = match ? new Date(match.activityDateTime) : null;
    }
    const sighting: CanarySighting = { cloudId, logAt };
    const steps = await store.runbook.listSteps(canary.migrationId);
    const now = this.now();
    const next = nextCanaryState(canary, sighting, now, this.timeouts, steps);
    if (next) {
      if (!(await store.canaries.update(canary.id, canary.version, next))) return;
      const migration = await store.runbook.getMigration(canary.migrationId);
      if (migration)
        await store.audit.record(SYSTEM_ACTOR, {
          action: 'canary.observed',
          target: `step ${CanaryService.step()}`,
          outcome: String(next.status),
          details: { canary: canary.name, cloudId, logAt: logAt?.toISOString() ?? null, jobId },
          conversationId: migration.conversationId,
        });
      this.lastProgress.delete(canary.id);
      await this.publish(canary.migrationId, CanaryService.step());
      return;
    }
    // Progress while waiting: the card's "created n s ago" moves now and then, not on every look.
    const last = this.lastProgress.get(canary.id) ?? 0;
    if (now.getTime() - last >= (this.options.progressEveryMs ?? 60_000)) {
      this.lastProgress.set(canary.id, now.getTime());
      await this.publish(canary.migrationId, CanaryService.step());
    }
  }

  /** An approver waives the canary for step 12; the reason goes to the audit log. Returns why not, or null. */
  async waive(migration: MigrationRecord, actor: Actor, reason: string): Promise<string | null> {
    const { store, policy } = this.options;
    if (!policy.approvers.includes(actor.id))
      return 'Only an approver may waive the canary. Ask one of the approvers (SYNCSHIFT_APPROVERS).';
    const text = reason.trim();
    if (text.length < 3) return 'Say why the canary is waived (type a reason on the card).';
    const done = await store.canaries.waive({
      migrationId: migration.id,
      by: actor.id,
      byName: actor.name,
      reason: text.slice(0, 500),
      at: this.now(),
    });
    await store.audit.record(actor, {
      action: 'canary.waive',
      target: `step ${CanaryService.step()}`,
      outcome: done ? 'done' : 'exists',
      details: { by: actor.name, reason: text.slice(0, 500) },
      conversationId: migration.conversationId,
    });
    return done ? null : 'The canary is already waived for this migration.';
  }

  /** Step 12's canary condition from the stored canaries and waiver (pure rule in src/runbook/canary.ts). */
  async condition(migrationId: string, steps: readonly StepState[]): Promise<ReturnType<typeof canaryCondition>> {
    const { store } = this.options;
    return canaryCondition(steps, await store.canaries.list(migrationId), await store.canaries.waiver(migrationId));
  }

  async view(migrationId: string, steps: readonly StepState[], viewer: string | null): Promise<CanaryView> {
    const { store, policy } = this.options;
    const canaries = await store.canaries.list(migrationId);
    const waiver = await store.canaries.waiver(migrationId);
    const lines = canaryLines(canaries, steps, this.now());
    if (waiver)
      lines.push(
        `Canary waived by ${waiver.byName} at ${waiver.at.toISOString().replace(/\.\d+Z$/, 'Z')}: ${waiver.reason}`,
      );
    const settings = await store.summarySettings.getSettings(migrationId);
    if (canaries.some((c) => c.status === 'waiting') && !settings?.provisioningJobId)
      lines.push(
        'No Cloud Sync job id is set, so its provisioning logs cannot be read and the canary cannot count as provisioned: set it with /summary job <job id>.',
      );
    const step12 = steps.find((s) => s.n === CanaryService.step());
    const open = step12?.status !== 'done';
    return {
      lines,
      canCreate: open && canaryCreateTarget(steps, canaries).ok,
      canDelete:
        canaries.some((c) => isLive(c) && c.status !== 'creating' && c.status !== 'deleting') &&
        canaryDeleteTarget(canaries).ok,
      canWaive: open && !waiver && (viewer === null || policy.approvers.includes(viewer)),
    };
  }
}

/** Looks at waiting canaries every `intervalMs`; returns the stop function. */
export function startCanaryTimer(canaries: CanaryService, logger: Logger, intervalMs: number): () => Promise<void> {
  let running: Promise<void> = Promise.resolve();
  const timer = setInterval(() => {
    running = running
      .then(() => canaries.tick())
      .catch((err: Error) => logger.warn({ err: err.message }, 'canary tick failed'));
  }, intervalMs);
  timer.unref?.();
  return async () => {
    clearInterval(timer);
    await running.catch(() => undefined);
  };
}

function failureText(error: unknown): string {
  const parsed = jobError.safeParse(error);
  if (!parsed.success) return 'the agent reported a failure';
  return [parsed.data.message, parsed.data.hint].filter(Boolean).join(' ');
}
