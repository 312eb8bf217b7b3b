import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { CloudDirectory } from '../cloud/types';
import type { JobQueue } from '../jobs/job-queue';
import { renderMessageCard, renderNoMigrationCard } from '../cards/message-cards';
import type { AdaptiveCardJson } from '../cards/render';
import { renderSummaryCard } from '../cards/summary-card';
import type { OuLedgerService } from './ou-ledger-service';
import { SUMMARY_ACTOR, SYSTEM_ACTOR, type Actor } from '../runbook/actor';
import type { CloudUser } from '../runbook/cloud-users';
import { canonicalDn } from '../runbook/dn';
import { confirmObjects } from '../runbook/cloud-sync-evidence';
import { OuComparison } from '../runbook/ou-comparison';
import { readySteps } from '../runbook/runbook';
import { stepDefinition } from '../runbook/steps';
import {
  addDays,
  datesBetween,
  latestDueSlot,
  localDateOf,
  slotInstant,
  type SummarySlot,
} from '../runbook/summary-schedule';
import {
  buildWaveSummary,
  lateNote,
  missedDaysNote,
  type CloudRead,
  type LastVerify,
  type MissedReason,
  type PartFailure,
  type ProvisioningFindings,
  type WaveNumbers,
  type WaveSummary,
} from '../runbook/wave-summary';
import { AppError, asAppError, channelMessage } from '../shared/errors';
import type { Logger } from '../shared/logger';
import type { SummaryKind, SummaryRecord } from '../store/summary-repo';
import type { LogWindowCommit, SummarySettings } from '../store/summary-settings-repo';
import type { JobRecord, MigrationRecord, Store } from '../store/types';
import type { CardSink } from './card-sink';
import { refreshCloudSnapshot } from './cloud-snapshot';
import { classifyPostFailure } from './post-outcome';
import { readProvisioningWindow } from './provisioning-window';
import { readStoredScan, type StoredScan } from './stored-scan';
import { SyncedOtherTypes } from './synced-other-types';
import { shortId } from './verify-service';
import type { WaveService } from './wave-service';

export interface SummaryServiceOptions {
  store: Store;
  cloud: CloudDirectory;
  cards: CardSink;
  waves: WaveService;
  /** The OU ownership ledger: its lines and alarms head the summary's notes. */
  ledger?: OuLedgerService;
  logger: Logger;
  jobs: JobQueue;
  /** The schedule's clock: which day is due, retry times, the wait for counts. Tests move it across days. */
  now?: () => Date;
  /**
   * The lease clock, shared with job leases and result claims (the relay's): when a summary claim
   * runs out. Kept apart from `now` so moving the schedule across days expires no claim.
   */
  leaseNow?: () => Date;
  /** Names this bot instance in claims; two instances must differ. */
  instanceId?: string;
  /** How long the summary waits for the agent's counts before posting without them. Default 10 min. */
  scanTimeoutMs?: number;
  /**
   * How often a waiting summary looks at its clock for the deadline (the clock may be a test's, which
   * moves without a timer). It reads no table then: counts arrive through the consumer table, or,
   * applied on another bot instance, as that instance's announcement. Default 500 ms.
   */
  deadlineCheckMs?: number;
  /**
   * How long a claim lasts without renewal. The holder renews it while it works, so only a dead
   * holder's claim runs out, and another instance takes over that soon. Default 2 min.
   */
  claimMs?: number;
}

/** A failed summary is tried again after this long (on the schedule's clock). */
const FAILED_RETRY_MS = 15 * 60_000;
/** Tries per scheduled summary before the day is given up, with one card that says so. */
const MAX_ATTEMPTS = 3;
/** A summary posted this long after its time says it is late. */
const LATE_AFTER_MS = 15 * 60_000;
/** How long after a post of unknown outcome the one note that it may be missing comes. */
const NOTICE_AFTER_MS = 15 * 60_000;

interface BuiltSummary {
  summary: WaveSummary;
  /** What a posted daily summary moves the provisioning log position to; null when the logs were not read. */
  logWindow: LogWindowCommit | null;
}

/**
 * The daily wave summary. Which instance posts is decided by the database (a unique row per
 * migration and local date), never by process memory, so restarts and several bot instances
 * sharing one database still post at most one summary a day. The row is marked 'sending' before
 * the post; from then on it is never posted again, so a post whose fate is unknown becomes a
 * short note instead of a second copy.
 */
export class SummaryService {
  private readonly now: () => Date;
  private readonly leaseNow: () => Date;
  private readonly instanceId: string;
  private readonly running = new Set<Promise<unknown>>();
  /** Summaries waiting for their count jobs, by job id. */
  private readonly countWaiters = new Map<string, (job: JobRecord) => void>();
  private stopped = false;

  constructor(private readonly options: SummaryServiceOptions) {
    this.now = options.now ?? (() => new Date());
    this.leaseNow = options.leaseNow ?? (() => new Date());
    this.instanceId = options.instanceId ?? `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  }

  async setSchedule(input: {
    conversationId: string;
    localTime: string;
    timeZone: string;
    actor: Actor;
  }): Promise<AdaptiveCardJson> {
    const migration = await this.options.store.migrations.findByConversation(input.conversationId);
    if (!migration) return renderNoMigrationCard();
    await this.options.store.summarySettings.setSchedule({
      migrationId: migration.id,
      localTime: input.localTime,
      timeZone: input.timeZone,
      setBy: input.actor.name,
      now: this.now(),
    });
    await this.options.store.audit.record(input.actor, {
      action: 'summary.schedule',
      target: migration.name,
      outcome: 'set',
      details: { localTime: input.localTime, timeZone: input.timeZone },
      conversationId: input.conversationId,
    });
    return renderMessageCard({
      title: 'Daily wave summary scheduled',
      text: `The wave summary will be posted here every day at ${input.localTime} ${input.timeZone} (daylight saving followed), starting with the next ${input.localTime}.`,
      hint: 'Post one now with /summary now; set the Cloud Sync job with /summary job <job id> to include provisioning log errors.',
      tone: 'good',
    });
  }

  async setJob(input: { conversationId: string; jobId: string; actor: Actor }): Promise<AdaptiveCardJson> {
    const migration = await this.options.store.migrations.findByConversation(input.conversationId);
    if (!migration) return renderNoMigrationCard();
    await this.options.store.summarySettings.setProvisioningJob({
      migrationId: migration.id,
      jobId: input.jobId,
      setBy: input.actor.name,
      now: this.now(),
    });
    await this.options.store.audit.record(input.actor, {
      action: 'summary.job',
      target: migration.name,
      outcome: 'set',
      details: { jobId: input.jobId },
      conversationId: input.conversationId,
    });
    return renderMessageCard({
      title: 'Cloud Sync job set',
      text: `Summaries read the provisioning logs of ${input.jobId}: its errors, and which users Cloud Sync has provisioned.`,
      tone: 'good',
    });
  }

  /** Starts a summary on request and answers at once; the summary card follows when the agent has counted. */
  async requestNow(input: { conversationId: string; actor: Actor }): Promise<AdaptiveCardJson> {
    const migration = await this.options.store.migrations.findByConversation(input.conversationId);
    if (!migration) return renderNoMigrationCard();
    const settings = await this.options.store.summarySettings.getSettings(migration.id);
    const now = this.now();
    const claim = await this.options.store.summaries.createOnDemand({
      migrationId: migration.id,
      localDate: localDateOf(now, settings?.timeZone ?? 'UTC'),
      claimedBy: this.instanceId,
      now,
      leaseNow: this.leaseNow(),
      claimMs: this.claimMs(),
    });
    await this.options.store.audit.record(input.actor, {
      action: 'summary.now',
      target: migration.name,
      outcome: 'started',
      details: { summaryId: claim.id },
      conversationId: input.conversationId,
    });
    this.track(this.run(claim, migration, settings, []));
    const waves = await this.options.store.waves.listWaves(migration.id);
    return renderMessageCard({
      title: 'Building the wave summary',
      text: `The agent is counting ${waves.reduce((n, w) => n + w.ous.length, 0)} OU(s) of ${waves.length} wave(s); the summary follows here.`,
    });
  }

  /**
   * Claims every scheduled summary that is due and not yet posted, and builds and posts them side by
   * side. Safe to call from any number of instances at once and as often as wanted. With `wait`
   * (the default) it returns how many this instance posted; the timer passes `wait: false` so one
   * slow migration (its agent counts can take minutes) does not hold up the next tick.
   */
  async tick(options: { wait?: boolean } = {}): Promise<number> {
    if (this.stopped) return 0;
    const now = this.now();
    const started: Promise<boolean>[] = [];
    for (const settings of await this.options.store.summarySettings.listScheduled()) {
      try {
        const begun = await this.tickMigration(settings, now);
        if (begun) started.push(begun.run);
      } catch (err) {
        // One migration's problem (a zone luxon cannot place, a database error) must not hold up the others.
        const appError = asAppError(err);
        this.options.logger.error(
          { migrationId: settings.migrationId, code: appError.code, err: appError.message },
          'the daily summary of this migration could not be checked; the other migrations go on',
        );
      }
    }
    if (options.wait === false) return started.length;
    return (await Promise.allSettled(started)).filter((r) => r.status === 'fulfilled' && r.value).length;
  }

  /** Waits for summaries in progress (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.running.size > 0) await Promise.allSettled([...this.running]);
  }

  /** Stops starting new summaries, makes waiting ones give up, and waits until they have. */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.idle();
  }

  /** Returns the summary run it started, wrapped so awaiting this does not wait for the run. */
  private async tickMigration(settings: SummarySettings, now: Date): Promise<{ run: Promise<boolean> } | null> {
    const slot = latestDueSlot(
      { localTime: settings.localTime!, timeZone: settings.timeZone!, since: settings.setAt },
      now,
    );
    if (!slot) return null;
    const migration = await this.options.store.runbook.getMigration(settings.migrationId);
    if (!migration) return null;
    await this.noteUncertainDeliveries(migration, now);
    const claim = await this.options.store.summaries.claimScheduled({
      migrationId: settings.migrationId,
      localDate: slot.localDate,
      claimedBy: this.instanceId,
      now,
      leaseNow: this.leaseNow(),
      claimMs: this.claimMs(),
    });
    if (!claim) return null;
    const notes = await this.catchUpNotes(settings, slot, claim, now);
    // Posting is paced by the rate-limited card sink, so many migrations due at once do not burst.
    const run = this.run(claim, migration, settings, notes);
    this.track(run);
    return { run };
  }

  /** What the card says about days without a summary and about coming late, from what the database knows. */
  private async catchUpNotes(
    settings: SummarySettings,
    slot: SummarySlot,
    claim: SummaryRecord,
    now: Date,
  ): Promise<string[]> {
    const { localTime, timeZone } = settings as { localTime: string; timeZone: string };
    const notes: string[] = [];
    const previous = await this.options.store.summaries.previousScheduled(settings.migrationId, slot.localDate);
    const from = previous ? addDays(previous.localDate, 1) : localDateOf(settings.setAt, timeZone);
    const rows = new Map(
      (await this.options.store.summaries.scheduledBetween(settings.migrationId, from, slot.localDate)).map((r) => [
        r.localDate,
        r,
      ]),
    );
    const owed = [from, ...datesBetween(from, slot.localDate)].filter(
      (d) => d < slot.localDate && slotInstant(d, localTime, timeZone).getTime() >= settings.setAt.getTime(),
    );
    const missed = owed.map((localDate) => {
      const row = rows.get(localDate);
      const reason: MissedReason = !row
        ? { kind: 'not_running' }
        : row.status === 'claimed'
          ? { kind: 'interrupted' }
          : { kind: 'failed', error: row.error };
      return { localDate, reason };
    });
    const missedNote = missedDaysNote({ missed, localTime, timeZone, comparedWith: previous?.localDate ?? null });
    if (missedNote) notes.push(missedNote);
    if (now.getTime() - slot.at.getTime() > LATE_AFTER_MS) {
      notes.push(
        lateNote({
          localDate: slot.localDate,
          localTime,
          timeZone,
          attempt: claim.attempts,
          maxAttempts: MAX_ATTEMPTS,
          previousError: claim.lastError,
        }),
      );
    }
    return notes;
  }

  /**
   * One short note per daily summary that may not have reached the chat: Teams answered 502/504
   * or nothing, or the instance sending it died. The summary itself is never sent again.
   */
  private async noteUncertainDeliveries(migration: MigrationRecord, now: Date): Promise<void> {
    const rows = await this.options.store.summaries.claimDeliveryNotices({
      migrationId: migration.id,
      sentBefore: new Date(now.getTime() - NOTICE_AFTER_MS),
      now,
      leaseNow: this.leaseNow(),
    });
    for (const row of rows) {
      const card = renderMessageCard({
        title: `The wave summary for ${row.localDate} may be missing`,
        text: `Teams did not confirm the daily summary for ${row.localDate} (${row.status === 'sending' ? 'SyncShift stopped while sending it' : (row.error ?? 'no answer')}). It is not sent again, so it cannot appear twice. If it is not in this conversation, /summary now shows the current numbers.`,
        tone: 'warning',
      });
      this.track(
        this.options.cards
          .post(migration.conversationId, card)
          .then(() =>
            this.options.store.audit.record(SYSTEM_ACTOR, {
              action: 'summary.notice',
              target: migration.name,
              outcome: 'may_be_missing',
              details: { summaryId: row.id, localDate: row.localDate },
              conversationId: migration.conversationId,
            }),
          )
          // At most one note: one that does not arrive either is only logged.
          .catch((err: Error) =>
            this.options.logger.warn(
              { err: err.message, summaryId: row.id },
              'the note about a possibly missing summary was not delivered; it is not retried',
            ),
          ),
      );
    }
  }

  private track(p: Promise<unknown>): void {
    this.running.add(p);
    // run() catches its own errors; this only keeps a failure in that handling from being unhandled.
    void p
      .catch((err: Error) => this.options.logger.error({ err: err.message }, 'wave summary bookkeeping failed'))
      .finally(() => this.running.delete(p));
  }

  private claimMs(): number {
    return this.options.claimMs ?? 2 * 60_000;
  }

  /**
   * Renews the claim every third of its length while `work` runs, so only a dead holder's claim
   * runs out and another instance takes over that soon.
   */
  private async holdingClaim<T>(claim: SummaryRecord, work: () => Promise<T>): Promise<T> {
    const timer = setInterval(
      () => {
        this.options.store.summaries
          .extendClaim({ id: claim.id, claimedBy: this.instanceId, leaseNow: this.leaseNow(), claimMs: this.claimMs() })
          .catch((err: Error) =>
            this.options.logger.warn({ err: err.message, summaryId: claim.id }, 'could not renew the summary claim'),
          );
      },
      Math.max(1_000, Math.floor(this.claimMs() / 3)),
    );
    timer.unref();
    try {
      return await work();
    } finally {
      clearInterval(timer);
    }
  }

  private async run(
    claim: SummaryRecord,
    migration: MigrationRecord,
    settings: SummarySettings | null,
    notes: string[],
  ): Promise<boolean> {
    const { store } = this.options;
    const log = this.options.logger.child({
      migrationId: migration.id,
      summaryId: claim.id,
      kind: claim.kind,
      localDate: claim.localDate,
    });
    // How far this attempt got decides what a failure means: before 'sending' nothing was sent.
    let stage: 'building' | 'sending' | 'sent' | 'recorded' = 'building';
    try {
      return await this.holdingClaim(claim, async () => {
        // One OU, one engine: the ledger and any disagreement of the engines with it come first.
        const ledger = await this.options.ledger
          ?.summaryLines(migration.id)
          .catch((err: Error) => [`The OU ownership ledger could not be read: ${err.message}`]);
        const { summary, logWindow } = await this.build(
          migration,
          settings,
          claim.localDate,
          [...(ledger ?? []), ...notes],
          claim.kind,
        );
        const card = renderSummaryCard(summary, { migrationName: migration.name, kind: claim.kind });
        // The database guards the one step that cannot be taken back: after this nobody claims the row again.
        if (
          !(await store.summaries.markSending({
            id: claim.id,
            claimedBy: this.instanceId,
            content: summary,
            now: this.now(),
          }))
        ) {
          log.warn('another instance took over this summary; not posting it');
          return false;
        }
        stage = 'sending';
        const activityId = await this.options.cards.post(migration.conversationId, card);
        stage = 'sent';
        await store.summaries.markPosted({
          id: claim.id,
          claimedBy: this.instanceId,
          activityId: activityId ?? null,
          now: this.now(),
        });
        stage = 'recorded';
        // Only a posted daily summary moves the read position: one on request, or one that may not have
        // arrived, leaves the errors for the next daily summary to show.
        if (claim.kind === 'scheduled' && logWindow) await store.summarySettings.commitLogWindow(logWindow);
        await store.audit.record(SYSTEM_ACTOR, {
          action: 'summary.post',
          target: migration.name,
          outcome: 'posted',
          details: {
            summaryId: claim.id,
            kind: claim.kind,
            localDate: claim.localDate,
            expected: summary.totals.expected,
            provisioned: summary.totals.provisioned,
          },
          conversationId: migration.conversationId,
        });
        log.info({ waves: summary.waves.length, provisioned: summary.totals.provisioned }, 'wave summary posted');
        return true;
      });
    } catch (err) {
      return this.afterFailure(claim, migration, stage, err, log);
    }
  }

  private async afterFailure(
    claim: SummaryRecord,
    migration: MigrationRecord,
    stage: 'building' | 'sending' | 'sent' | 'recorded',
    err: unknown,
    log: Logger,
  ): Promise<boolean> {
    const { store } = this.options;
    const appError = asAppError(err);
    // What the channel and later notes may see: a raw exception's text (a SQL error, a stack frame)
    // stays in the log, where the summary id leads to it.
    const shown = channelMessage(err, `summary id ${claim.id}`);
    const audit = (outcome: string, details: Record<string, unknown>) =>
      store.audit.record(SYSTEM_ACTOR, {
        action: 'summary.post',
        target: migration.name,
        outcome,
        details: { summaryId: claim.id, kind: claim.kind, localDate: claim.localDate, ...details },
        conversationId: migration.conversationId,
      });
    if (stage === 'recorded') {
      log.error(
        { err: appError.message },
        'the summary was posted and recorded, but the provisioning log position or the audit entry could not be saved',
      );
      return true;
    }
    if (stage === 'sent') {
      // Teams has the card; the row stays out of every retry ('sending', or 'outcome_unknown' if this works).
      log.error({ err: appError.message }, 'the summary was posted but could not be recorded; it is not posted again');
      await store.summaries.markOutcomeUnknown({
        id: claim.id,
        claimedBy: this.instanceId,
        error: `posted, but not recorded: ${shown}`,
      });
      return true;
    }
    let error = `${appError.code}: ${shown}`;
    if (stage === 'sending') {
      const failure = classifyPostFailure(err);
      if (failure.outcome === 'unknown') {
        log.warn(
          { reason: failure.reason },
          'Teams did not confirm the summary; it is not posted again (a note follows later)',
        );
        await store.summaries.markOutcomeUnknown({ id: claim.id, claimedBy: this.instanceId, error: failure.reason });
        await audit('outcome_unknown', { reason: failure.reason });
        return false;
      }
      error = failure.reason;
    }
    log.error({ code: appError.code, err: stage === 'sending' ? error : appError.message }, 'wave summary failed');
    if (claim.kind === 'on_demand') {
      await store.summaries.markFailed({ id: claim.id, claimedBy: this.instanceId, error, retryAt: null });
      await audit('failed', { error });
      await this.options.cards
        .post(
          migration.conversationId,
          renderMessageCard({
            title: 'The wave summary could not be built',
            text: stage === 'sending' ? `It could not be posted: ${error}.` : shown,
            ...(appError.hint ? { hint: appError.hint } : {}),
            tone: 'attention',
          }),
        )
        .catch(() => undefined);
      return false;
    }
    // A shutdown is not the summary's fault: it is taken up again at once by whoever runs next, and
    // does not count as one of the day's attempts.
    const giveUp = !this.stopped && claim.attempts >= MAX_ATTEMPTS;
    const retryAt = giveUp ? null : new Date(this.now().getTime() + (this.stopped ? 0 : FAILED_RETRY_MS));
    await store.summaries.markFailed({
      id: claim.id,
      claimedBy: this.instanceId,
      error,
      retryAt,
      countsAsAttempt: !this.stopped,
    });
    await audit(giveUp ? 'gave_up' : 'failed', { error, attempt: claim.attempts });
    if (giveUp && (await store.summaries.claimNotice({ id: claim.id, now: this.now() }))) {
      const card = renderMessageCard({
        title: `No wave summary for ${claim.localDate}`,
        text: `The daily summary could not be built after ${claim.attempts} attempts: ${stage === 'sending' ? error : shown}. It is not tried again today.`,
        hint: `${appError.hint ? `${appError.hint} ` : ''}/summary now tries again at once.`,
        tone: 'attention',
      });
      // One card for the day; if it does not arrive either, the log says so.
      await this.options.cards
        .post(migration.conversationId, card)
        .catch((postErr: Error) =>
          log.warn({ err: postErr.message }, 'the card about the missing summary was not delivered'),
        );
    }
    return false;
  }

  /**
   * Gathers today's numbers: the agent counts each wave OU, Graph's delta query updates the cloud
   * copy. A part Graph will not give (no permission, no licence, an outage) is left out with a line
   * that says so, rather than costing the whole summary.
   */
  async build(
    migration: MigrationRecord,
    settings: SummarySettings | null,
    localDate: string,
    notes: string[],
    kind: SummaryKind = 'scheduled',
  ): Promise<BuiltSummary> {
    const { store } = this.options;
    const log = this.options.logger.child({ migrationId: migration.id, localDate });
    const views = await this.options.waves.views(migration);
    const scans = await this.scanAll(
      migration,
      views.flatMap((v) => v.wave.ous.map((ou) => ({ key: `${v.wave.id}:${ou.position}`, ou: ou.baseDn ?? ou.input }))),
    );
    const now = this.now();
    const cloud = await this.readCloud(migration.id, now, log);
    let provisioning: ProvisioningFindings | null = null;
    let provisioningError: PartFailure | null = null;
    let logWindow: LogWindowCommit | null = null;
    if (settings?.provisioningJobId) {
      try {
        ({ findings: provisioning, window: logWindow } = await readProvisioningWindow({
          store,
          cloud: this.options.cloud,
          migrationId: migration.id,
          jobId: settings.provisioningJobId,
          readUntil: settings.logsReadUntil,
          now,
        }));
      } catch (err) {
        const appError = asAppError(err);
        log.warn(
          { code: appError.code, err: appError.message },
          'provisioning logs could not be read; the summary goes out without them',
        );
        provisioningError = {
          message: channelMessage(err, `migration ${migration.id}, provisioning logs`),
          hint: appError.hint ?? null,
        };
      }
    }
    // Entries stored by earlier reads stay proof when today's read fails (cloud-sync-evidence.ts).
    const evidence = settings?.provisioningJobId
      ? await store.cloudSync.index(migration.id, settings.provisioningJobId)
      : null;
    const cloudKeyed = cloud.users.flatMap((u) => {
      const keys = u.onPremisesDistinguishedName ? canonicalDn(u.onPremisesDistinguishedName) : null;
      return keys ? [{ user: u, keys }] : [];
    });

    // Groups and contacts are confirmed per wave only with a job set; Graph is read for them once.
    const otherTypes = evidence ? new SyncedOtherTypes(this.options.cloud) : null;
    const waves: WaveNumbers[] = [];
    for (const { wave, warnings } of views) {
      const numbers: WaveNumbers = {
        name: wave.name,
        scheduledFor: wave.scheduledFor,
        ous: [],
        expected: 0,
        inCloud: 0,
        provisioned: 0,
        missing: 0,
        mismatched: 0,
        confirmed: evidence ? 0 : null,
        scanError: null,
        // Limits and overlaps must reach the channel before the wave moves; a passed date is in "what is
        // due next", and today's counts replace the planning-time "not counted yet".
        warnings: warnings.filter((w) => w.code !== 'DATE_IN_PAST' && w.code !== 'NOT_COUNTED').map((w) => w.message),
      };
      const failedCounts = new Map<string, string[]>();
      for (const ou of wave.ous) {
        const scan = scans.get(`${wave.id}:${ou.position}`)!;
        if ('error' in scan) {
          numbers.ous.push(ou.baseDn ?? ou.input);
          numbers.expected = null;
          failedCounts.set(scan.error, [...(failedCounts.get(scan.error) ?? []), ou.baseDn ?? ou.input]);
          continue;
        }
        numbers.ous.push(scan.head.baseDn);
        const comparison = new OuComparison(scan.head.baseDn);
        for await (const piece of scan.users()) for (const user of piece) comparison.addOnPrem(user);
        for (const { user } of cloudKeyed) comparison.addCloud(user);
        const tally = comparison.tally();
        if (numbers.expected !== null) numbers.expected += tally.onPrem.users;
        numbers.inCloud += tally.cloud.users;
        numbers.provisioned += tally.matched - tally.mismatched;
        numbers.missing += tally.missing;
        numbers.mismatched += tally.mismatched;
        // The rule step 12 uses: a successful entry of the job names the AD object and the Entra object.
        if (evidence && numbers.confirmed !== null) {
          for (const problem of (await otherTypes?.feed(comparison)) ?? [])
            if (!numbers.warnings.includes(problem)) numbers.warnings.push(problem);
          const confirmation = confirmObjects(comparison.inScope(), evidence);
          numbers.confirmed += confirmation.confirmed;
          addTypeCount(numbers, 'groups', confirmation.groups);
          addTypeCount(numbers, 'contacts', confirmation.contacts);
        }
      }
      // One line per reason, not one per OU: a wave of 30 OUs and no agent is one problem.
      if (failedCounts.size > 0)
        numbers.scanError = [...failedCounts]
          .map(([error, ous]) => `${ous.length <= 3 ? ous.join(', ') : `${ous.length} OUs`}: ${error}`)
          .join('; ');
      waves.push(numbers);
    }

    // Compared with the daily summaries only: a daily one with the day before's (or the latest before
    // it), one on request with the latest daily one, including today's.
    const previous = await store.summaries.previousScheduled(
      migration.id,
      kind === 'scheduled' ? localDate : addDays(localDate, 1),
    );
    const steps = await store.runbook.listSteps(migration.id);
    const summary = buildWaveSummary({
      localDate,
      timeZone: settings?.timeZone ?? 'UTC',
      waves,
      previous: previous?.content ? { ...previous.content, localDate: previous.localDate } : null,
      provisioning,
      provisioningError,
      lastVerify: await this.lastVerify(migration.conversationId),
      readySteps: readySteps(steps).map((n) => ({ n, title: stepDefinition(n)?.title ?? `Step ${n}` })),
      cloud: cloud.info,
      notes,
    });
    return { summary, logWindow };
  }

  /** Today's synced users through the delta query; when Graph fails, the stored copy, said so on the card. */
  private async readCloud(
    migrationId: string,
    now: Date,
    log: Logger,
  ): Promise<{ users: CloudUser[]; info: CloudRead }> {
    const { store } = this.options;
    try {
      const snapshot = await refreshCloudSnapshot({
        store,
        cloud: this.options.cloud,
        migrationId,
        now,
        logger: this.options.logger,
      });
      // The summary compares every wave's OUs against the copy; it still takes the copy whole (the verify streams it).
      const users = await store.cloudSnapshots.cloudUsers(migrationId);
      return {
        users,
        info: { mode: snapshot.mode, changesApplied: snapshot.changesApplied, syncedUsers: users.length },
      };
    } catch (err) {
      const stored = await store.cloudSnapshots.getSnapshot(migrationId);
      // Without any copy there are no Entra numbers at all, and that is not a summary worth posting.
      if (!stored) throw err;
      const appError = asAppError(err);
      log.warn(
        { code: appError.code, err: appError.message },
        'synced users could not be read from Graph; the summary uses the stored copy',
      );
      const users = await store.cloudSnapshots.cloudUsers(migrationId);
      return {
        users,
        info: {
          mode: 'stored',
          changesApplied: 0,
          syncedUsers: users.length,
          readAt: stored.refreshedAt.toISOString(),
          error: {
            message: channelMessage(err, `migration ${migrationId}, synced users`),
            hint: appError.hint ?? null,
          },
        },
      };
    }
  }

  /** A summary's count (a summary.count job) finished: the summary waiting for it goes on at once. */
  async countFinished(job: JobRecord): Promise<void> {
    const waiter = this.countWaiters.get(job.id);
    if (waiter) waiter(job);
    // The summary waiting for it runs on another bot instance (or waited no longer): tell them all.
    else await this.options.jobs.announceFinished(job.id);
  }

  /** Queues one agent scan per OU and waits for all of them, up to the timeout. */
  private async scanAll(
    migration: MigrationRecord,
    targets: { key: string; ou: string }[],
  ): Promise<Map<string, StoredScan | { error: string }>> {
    const { store } = this.options;
    const jobs: { key: string; jobId: string }[] = [];
    for (const t of targets) {
      const job = await this.options.jobs.enqueue({
        purpose: 'summary.count',
        payload: { action: 'directory.scanOu', ou: t.ou },
        conversationId: migration.conversationId,
        migrationId: migration.id,
        requestedBy: SUMMARY_ACTOR,
        wake: false,
      });
      jobs.push({ key: t.key, jobId: job.id });
    }
    const handed = new Map<string, JobRecord>();
    // Ids another instance announced (their consumer ran there), to read once each.
    const announced = new Set<string>();
    // The first pass reads every job once: one may have finished before this instance listened.
    let readAll = true;
    let signalled = false;
    let wake = (): void => undefined;
    const arrived = (): void => {
      signalled = true;
      wake();
    };
    for (const { jobId } of jobs) {
      this.countWaiters.set(jobId, (job) => {
        handed.set(job.id, job);
        arrived();
      });
    }
    const waitingFor = new Set(jobs.map((j) => j.jobId));
    const unsubscribe = await this.options.jobs.onFinished((jobId) => {
      if (jobId === null) readAll = true;
      else if (waitingFor.has(jobId)) announced.add(jobId);
      else return;
      arrived();
    });
    try {
      if (jobs.length > 0) this.options.jobs.wakeAgents();
      const results = new Map<string, StoredScan | { error: string }>();
      // On the service's clock, like everything else here, so a test can move past the deadline.
      const deadline = this.now().getTime() + (this.options.scanTimeoutMs ?? 10 * 60_000);
      while (results.size < jobs.length) {
        const readEvery = readAll;
        readAll = false;
        for (const { key, jobId } of jobs) {
          if (results.has(key)) continue;
          const wasAnnounced = announced.delete(jobId);
          const job = handed.get(jobId) ?? (readEvery || wasAnnounced ? await store.jobs.get(jobId) : null);
          if (job?.state === 'succeeded') {
            results.set(key, readStoredScan(store, job) ?? { error: "the agent's result could not be read" });
          } else if (job?.state === 'failed') {
            results.set(key, { error: job.error?.message ?? 'the agent could not count it' });
          }
        }
        if (results.size === jobs.length) break;
        if (this.stopped)
          throw new AppError('INTERNAL', 'SyncShift is shutting down; the summary was not finished.', {
            hint: 'It is retried when SyncShift runs again.',
          });
        if (this.now().getTime() > deadline) {
          const waiting = jobs.filter(({ key }) => !results.has(key));
          for (const { key } of waiting)
            results.set(key, {
              error: 'the agent did not answer in time; is it running? (/agent list shows when it was last seen)',
            });
          // Jobs nobody took would otherwise run whenever an agent comes back, for a summary that is gone.
          await store.jobs.cancelQueued({
            jobIds: waiting.map((w) => w.jobId),
            reason: 'The wave summary stopped waiting for this count.',
            now: this.now(),
          });
          break;
        }
        // Until a count is handed over or announced, or the next look at the clock.
        if (!signalled)
          await new Promise<void>((resolve) => {
            const timer = setTimeout(resolve, this.options.deadlineCheckMs ?? 500);
            wake = () => {
              clearTimeout(timer);
              resolve();
            };
          });
        signalled = false;
        wake = () => undefined;
      }
      return results;
    } finally {
      unsubscribe();
      for (const { jobId } of jobs) this.countWaiters.delete(jobId);
    }
  }

  private async lastVerify(conversationId: string): Promise<LastVerify | null> {
    const latest = (await this.options.store.verifications.listByConversation(conversationId, 20)).find(
      (v) => v.status === 'reported',
    );
    if (!latest) return null;
    const s = latest.summary;
    if (!s || !('onPrem' in s)) return null;
    return {
      id: shortId(latest.id),
      ou: latest.baseDn ?? latest.ouInput,
      at: (latest.reportedAt ?? latest.createdAt).toISOString(),
      onPrem: s.onPrem.users,
      cloud: s.cloud.users,
      missing: s.missing,
      extra: s.extra,
      mismatched: s.mismatched,
    };
  }
}

/** Runs `tick` on an interval; errors are logged, never thrown into the timer. */
export function startSummaryTimer(service: SummaryService, logger: Logger, intervalMs = 30_000): () => void {
  let busy = false;
  const timer = setInterval(() => {
    if (busy) return;
    busy = true;
    service
      .tick({ wait: false })
      .catch((err: Error) => logger.error({ err: err.message }, 'summary tick failed'))
      .finally(() => {
        busy = false;
      });
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}

/** Adds an OU's groups or contacts (expected, confirmed by Cloud Sync) to its wave's numbers. */
function addTypeCount(
  numbers: WaveNumbers,
  type: 'groups' | 'contacts',
  c: { onPrem: number; confirmed: number } | undefined,
): void {
  if (!c) return;
  const sum = numbers[type] ?? { expected: 0, confirmed: 0 };
  numbers[type] = { expected: sum.expected + c.onPrem, confirmed: sum.confirmed + c.confirmed };
}
