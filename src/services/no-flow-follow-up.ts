import { renderMessageCard } from '../cards/message-cards';
import type { JobQueue } from '../jobs/job-queue';
import { readAdsyncResult } from '../relay/protocol';
import { SYSTEM_ACTOR } from '../runbook/actor';
import { evaluateNoFlow, lastSyncRun, type NoFlowReading } from '../runbook/no-flow-check';
import {
  decideFollowUp,
  DEFAULT_FOLLOW_UP_TIMING,
  isStale,
  type FollowUpReading,
  type FollowUpTiming,
} from '../runbook/no-flow-follow-up';
import { pilotOu } from '../runbook/step-evidence';
import { stepByCheck } from '../runbook/steps';
import type { Logger } from '../shared/logger';
import {
  createNoFlowFollowUpRepo,
  type NoFlowFollowUp,
  type NoFlowFollowUpRepo,
} from '../store/no-flow-follow-up-repo';
import type { JobRecord, Store } from '../store/types';
import type { CardSink } from './card-sink';
import type { ConnectSyncServers } from './connect-sync-servers';
import type { NoFlowCheckService } from './no-flow-check-service';

export interface NoFlowFollowUpOptions {
  store: Store;
  jobs: JobQueue;
  cards: CardSink;
  servers: Pick<ConnectSyncServers, 'pinFor'>;
  /** Posts a check's result card, exactly as `/ou noflow` does. */
  noFlow: Pick<NoFlowCheckService, 'jobFinished'>;
  logger: Logger;
  now?: () => Date;
  timing?: Partial<FollowUpTiming>;
  /** A claim (check being queued, card being posted) older than this was left by a stopped instance. */
  staleMs?: number;
}

const STALE_MS = 2 * 60_000;

/**
 * Issue 16: after step 13 starts the scheduler (pilot) or a wave's approved full cycle, the bot checks
 * cloudNoFlow by itself. Step 13 is done when the cycle has *started*; nothing tells the bot when it
 * ends, so it reads the OU again every few minutes until a synchronization run that started after the
 * cycle job shows up, then posts the `/ou noflow` card once; at the deadline it says no cycle
 * completed and what to check. Every pending check is a row (migration 027), so a restart resumes it,
 * and every move is compare-and-set, so of two instances only one queues or posts.
 */
export class NoFlowFollowUpService {
  private readonly repo: NoFlowFollowUpRepo;
  private readonly timing: FollowUpTiming;
  private readonly now: () => Date;

  constructor(private readonly options: NoFlowFollowUpOptions) {
    this.repo = createNoFlowFollowUpRepo(options.store.db);
    this.timing = { ...DEFAULT_FOLLOW_UP_TIMING, ...options.timing };
    this.now = options.now ?? (() => new Date());
  }

  /** The follow-ups of a migration, oldest first (for tests and status). */
  list(migrationId: string): Promise<NoFlowFollowUp[]> {
    return this.repo.list(migrationId);
  }

  /** After a step job was applied: step 13's scheduler start done schedules the pilot OU's check. */
  async afterStepJob(job: JobRecord): Promise<void> {
    if (job.state !== 'succeeded') return;
    const link = await this.options.store.runbook.findJobLink(job.id);
    const n = stepByCheck({ kind: 'schedulerStart' }).n;
    if (!link || link.purpose !== 'action' || link.step !== n) return;
    const steps = await this.options.store.runbook.listSteps(link.migrationId);
    const pilot = pilotOu(steps);
    const status = (k: number) => steps.find((s) => s.n === k)?.status;
    // Only while the rules are in place: after a rollback disabled them, there is nothing to confirm.
    if (status(n) !== 'done' || status(stepByCheck({ kind: 'noFlowRules' }).n) !== 'done' || !pilot) return;
    await this.schedule(job, link.migrationId, 'pilot', [pilot.baseDn]);
  }

  /** After a wave job was applied: a wave's full cycle done schedules the check of each of its OUs. */
  async afterWaveJob(job: JobRecord): Promise<void> {
    if (job.state !== 'succeeded') return;
    const link = await this.options.store.waveActions.findJobLink(job.id);
    if (!link || link.purpose !== 'action') return;
    const action = await this.options.store.waveActions.get(link.waveActionId);
    if (!action || action.kind !== 'cycle' || action.status !== 'done') return;
    const wave = (await this.options.store.waves.listWaves(action.migrationId)).find((w) => w.id === action.waveId);
    if (!wave || wave.ous.length === 0) return;
    // A rollback's cycle (rules undone) applies their removal: there is no cloudNoFlow to confirm then.
    const rules = (await this.options.store.waveActions.listForWaves([wave.id])).find((a) => a.kind === 'rules');
    if (rules?.status !== 'done') return;
    // As `/ou noflow <wave>` asks: the DN the wave's count resolved, or the OU as typed.
    await this.schedule(
      job,
      action.migrationId,
      `wave ${wave.name}`,
      wave.ous.map((o) => o.baseDn ?? o.input),
    );
  }

  private async schedule(trigger: JobRecord, migrationId: string, label: string, ous: string[]): Promise<void> {
    const now = this.now();
    const created: string[] = [];
    for (const ou of ous) {
      const row = await this.repo.create({
        migrationId,
        conversationId: trigger.conversationId,
        ou,
        label,
        triggerJobId: trigger.id,
        // Queued before the cycle was started, so any run of that cycle starts after it.
        cycleAfter: trigger.createdAt,
        nextAt: now,
        deadlineAt: new Date(now.getTime() + this.timing.deadlineMs),
      });
      if (row) created.push(ou);
    }
    // A result offered again after a crash finds its rows already there and says nothing twice.
    if (created.length === 0) return;
    await this.post(
      trigger.conversationId,
      renderMessageCard({
        title: `SyncShift checks cloudNoFlow for ${label} when the cycle has completed`,
        text: `The cycle was started; Connect Sync sets cloudNoFlow only when a synchronization run evaluates the new rules. SyncShift reads the OU on the Connect Sync server now and every ${minutes(this.timing.intervalMs)} until a completed synchronization run that started after the cycle was requested shows up, for at most ${minutes(this.timing.deadlineMs)}, and then posts one card per OU.`,
        items: created.map((ou) => `OU: ${ou}`),
        tone: 'default',
      }),
    );
    await this.tick();
  }

  /**
   * A finished step.check job: true when it is one of these checks (handled here; its card is posted
   * only when the cycle showed up or the deadline passed). False: someone else's job.
   */
  async jobFinished(job: JobRecord): Promise<boolean> {
    const row = await this.repo.byCheckJob(job.id);
    if (!row) return false;
    if (row.status !== 'checking') return true;
    await this.settleCheck(row, job);
    return true;
  }

  /** Queues checks that are due and takes over claims a stopped instance left; the timer and start-up call it. */
  async tick(): Promise<void> {
    const now = this.now();
    const staleMs = this.options.staleMs ?? STALE_MS;
    for (const row of await this.repo.open(now)) {
      try {
        if (row.status === 'waiting') await this.queueCheck(row);
        else if (row.status === 'checking' && isStale(row.claimedAt, now, staleMs)) {
          const job = row.checkJobId ? await this.options.store.jobs.get(row.checkJobId) : null;
          // Claimed but never queued (the instance stopped in between): queue it again.
          if (!job) await this.repo.update(row.id, row.version, { status: 'waiting', claimedAt: null, nextAt: now });
          // Finished while nobody applied it here (the relay offers it again too; the claim decides).
          else if (job.state === 'succeeded' || job.state === 'failed') await this.settleCheck(row, job);
        } else if (row.status === 'posting' && isStale(row.claimedAt, now, staleMs)) {
          if (await this.repo.update(row.id, row.version, { claimedAt: now }))
            await this.finish({ ...row, version: row.version + 1 });
        }
      } catch (err) {
        this.options.logger.warn({ err: (err as Error).message, followUp: row.id }, 'no-flow follow-up failed');
      }
    }
  }

  private async queueCheck(row: NoFlowFollowUp): Promise<void> {
    const now = this.now();
    if (!(await this.repo.update(row.id, row.version, { status: 'checking', claimedAt: now, checkJobId: null })))
      return;
    const version = row.version + 1;
    const server = await this.options.servers.pinFor(row.migrationId);
    if (!server) {
      if (await this.repo.update(row.id, version, { status: 'posted', final: 'result', lastOutcome: 'noServer' }))
        await this.post(
          row.conversationId,
          renderMessageCard({
            title: `The no-flow check of ${row.label} after the cycle stopped`,
            text: `No Connect Sync server is named for this migration any more, so ${row.ou} cannot be read.`,
            hint: 'Name it with /server <agent>, then run /ou noflow yourself.',
            tone: 'warning',
          }),
        );
      return;
    }
    await this.options.jobs.enqueue({
      purpose: 'step.check',
      payload: { action: 'adsync.noFlowCheck', ou: row.ou },
      pinnedAgent: server,
      conversationId: row.conversationId,
      migrationId: row.migrationId,
      requestedBy: SYSTEM_ACTOR,
      attach: async (job) => void (await this.repo.update(row.id, version, { checkJobId: job.id })),
      audit: { target: row.ou, details: { check: 'noFlow', for: row.label, after: 'cycle', followUp: row.id } },
    });
  }

  private async settleCheck(row: NoFlowFollowUp, job: JobRecord): Promise<void> {
    const read = job.state === 'succeeded' ? readAdsyncResult('adsync.noFlowCheck', job.result) : null;
    // The rule time is not needed here: the cycle job was queued after the rules existed.
    const reading: FollowUpReading = read?.ok
      ? { kind: 'read', runs: read.data.runs, outcome: evaluateNoFlow(read.data, null).outcome }
      : { kind: 'unusable' };
    const now = this.now();
    const decision = decideFollowUp({
      reading,
      cycleAfter: row.cycleAfter,
      deadlineAt: row.deadlineAt,
      now,
      intervalMs: this.timing.intervalMs,
    });
    const outcome = reading.kind === 'read' ? reading.outcome : job.state;
    if (decision.kind === 'again') {
      await this.repo.update(row.id, row.version, {
        status: 'waiting',
        nextAt: decision.at,
        checks: row.checks + 1,
        // What the reading meant here (a wave's reading may call itself "none carry" before the cycle).
        lastOutcome: 'noCycleSinceRules',
        claimedAt: null,
      });
      return;
    }
    const final: NoFlowFollowUp['final'] = decision.kind === 'deadline' ? 'deadline' : 'result';
    const claimed = { status: 'posting' as const, final, claimedAt: now, checks: row.checks + 1, lastOutcome: outcome };
    if (!(await this.repo.update(row.id, row.version, claimed))) return;
    await this.finish({ ...row, ...claimed, version: row.version + 1 }, job);
  }

  /** Posts the follow-up's one card, then marks it posted; a crash in between posts it again on resume. */
  private async finish(row: NoFlowFollowUp, known?: JobRecord): Promise<void> {
    const job = known ?? (row.checkJobId ? await this.options.store.jobs.get(row.checkJobId) : null);
    if (job && row.final === 'deadline') await this.post(row.conversationId, this.deadlineCard(row, job));
    else if (job) await this.options.noFlow.jobFinished(job);
    await this.repo.update(row.id, row.version, { status: row.final === 'deadline' ? 'timedOut' : 'posted' });
  }

  private deadlineCard(row: NoFlowFollowUp, job: JobRecord) {
    const read = readAdsyncResult('adsync.noFlowCheck', job.result);
    const data: NoFlowReading | null = read.ok ? read.data : null;
    const last = data ? lastSyncRun(data.runs) : null;
    const server = job.pinnedAgent ?? job.agentId ?? '(unknown agent)';
    return renderMessageCard({
      title: `No Connect Sync cycle completed for ${row.label} in ${minutes(this.timing.deadlineMs)}`,
      text: `SyncShift read ${row.ou} on ${server} ${row.checks} times since the cycle was requested (${iso(row.cycleAfter)}); no completed Full or Delta Synchronization run on the AD connector started after that, so whether the objects carry cloudNoFlow is not known yet. Read with Get-ADSyncRunProfileResult and Get-ADSyncScheduler on the Connect Sync server.`,
      facts: [
        { title: 'OU', value: row.ou },
        { title: 'For', value: row.label },
        { title: 'Connect Sync server', value: server },
        {
          title: 'Last sync run',
          value: last
            ? `${last.runProfileName} started ${last.startedAt ?? 'unknown'}, ended ${last.endedAt} (${last.result})`
            : 'none completed on the AD connector',
        },
        ...(data
          ? [
              { title: 'Scheduler (SyncCycleEnabled)', value: String(data.scheduler.syncCycleEnabled) },
              { title: 'Sync cycle in progress', value: String(data.scheduler.syncCycleInProgress) },
            ]
          : []),
      ],
      hint: 'On the Connect Sync server run Get-ADSyncScheduler: SyncCycleEnabled must be True and NextSyncCycleStartTimeInUTC near; a cycle in progress for hours may be stuck (Get-ADSyncRunProfileResult shows the running step). When a cycle has completed, run /ou noflow yourself.',
      tone: 'warning',
    });
  }

  private async post(conversationId: string, card: ReturnType<typeof renderMessageCard>): Promise<void> {
    try {
      await this.options.cards.post(conversationId, card);
    } catch (err) {
      this.options.logger.warn({ err: (err as Error).message }, 'no-flow follow-up card not delivered');
    }
  }
}

/** Looks for due follow-ups every `intervalMs` (and once at once, to resume after a restart); returns the stop function. */
export function startNoFlowFollowUpTimer(
  followUp: NoFlowFollowUpService,
  logger: Logger,
  intervalMs: number,
): () => Promise<void> {
  let running: Promise<void> = Promise.resolve();
  const run = () => {
    running = running
      .then(() => followUp.tick())
      .catch((err: Error) => logger.warn({ err: err.message }, 'no-flow follow-up tick failed'));
  };
  run();
  const timer = setInterval(run, intervalMs);
  timer.unref?.();
  return async () => {
    clearInterval(timer);
    await running.catch(() => undefined);
  };
}

function minutes(ms: number): string {
  const m = ms / 60_000;
  if (m >= 120 && m % 60 === 0) return `${m / 60} hours`;
  if (m >= 1) return `${Math.round(m)} minute${Math.round(m) === 1 ? '' : 's'}`;
  return `${Math.round(ms / 1000)} seconds`;
}

function iso(d: Date): string {
  return d.toISOString().replace(/\.\d+Z$/, 'Z');
}
