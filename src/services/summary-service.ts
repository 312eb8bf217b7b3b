import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { CloudDirectory } from '../cloud/types';
import { renderMessageCard, renderNoMigrationCard } from '../cards/message-cards';
import type { AdaptiveCardJson } from '../cards/render';
import { renderSummaryCard } from '../cards/summary-card';
import { scanOuResult, type JobError, type ScanOuResult } from '../relay/protocol';
import { canonicalDn, isWithin } from '../runbook/dn';
import { OuComparison } from '../runbook/ou-comparison';
import { readySteps } from '../runbook/runbook';
import { stepDefinition } from '../runbook/steps';
import { datesBetween, latestDueSlot, localDateOf } from '../runbook/summary-schedule';
import { buildWaveSummary, type LastVerify, type ProvisioningFindings, type WaveNumbers, type WaveSummary } from '../runbook/wave-summary';
import { AppError, asAppError } from '../shared/errors';
import type { Logger } from '../shared/logger';
import type { SummaryRecord, SummarySettings } from '../store/wave-repo';
import type { MigrationRecord, Store } from '../store/types';
import { refreshCloudSnapshot } from './cloud-snapshot';
import { shortId, type CardSink } from './verify-service';
import type { WaveService } from './wave-service';

export interface SummaryServiceOptions {
  store: Store;
  cloud: CloudDirectory;
  cards: CardSink;
  waves: WaveService;
  logger: Logger;
  jobQueued: () => void;
  now?: () => Date;
  /** Names this bot instance in claims; two instances must differ. */
  instanceId?: string;
  /** How long the summary waits for the agent's counts before posting without them. Default 10 min. */
  scanTimeoutMs?: number;
  /** How often a waiting summary looks at its agent jobs. Default 500 ms. */
  pollMs?: number;
  /**
   * How long a claim lasts without renewal. The holder renews it while it works, so only a dead
   * holder's claim runs out, and another instance takes over that soon. Default 2 min.
   */
  claimMs?: number;
}

const DAY_MS = 24 * 3_600_000;
/** Provisioning logs are kept 30 days; the first read looks that far back for Cloud Sync's successes. */
const LOG_RETENTION_MS = 30 * DAY_MS;
/** A failed summary is tried again after this long. */
const FAILED_RETRY_MS = 15 * 60_000;
/** A summary posted this long after its time says it is late. */
const LATE_AFTER_MS = 15 * 60_000;

/**
 * The daily wave summary. Which instance posts is decided by the database (a unique row per
 * migration and local date), never by process memory, so restarts and several bot instances
 * sharing one database still post exactly one summary a day.
 */
export class SummaryService {
  private readonly now: () => Date;
  private readonly instanceId: string;
  private readonly running = new Set<Promise<unknown>>();
  private stopped = false;

  constructor(private readonly options: SummaryServiceOptions) {
    this.now = options.now ?? (() => new Date());
    this.instanceId = options.instanceId ?? `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  }

  async setSchedule(input: { conversationId: string; localTime: string; timeZone: string; actor: string }): Promise<AdaptiveCardJson> {
    const migration = await this.options.store.migrations.findByConversation(input.conversationId);
    if (!migration) return renderNoMigrationCard();
    await this.options.store.waves.setSchedule({ migrationId: migration.id, localTime: input.localTime, timeZone: input.timeZone, setBy: input.actor, now: this.now() });
    await this.options.store.audit.append({ actor: input.actor, action: 'summary.schedule', target: migration.name, outcome: 'set', details: { localTime: input.localTime, timeZone: input.timeZone }, conversationId: input.conversationId });
    return renderMessageCard({
      title: 'Daily wave summary scheduled',
      text: `The wave summary will be posted here every day at ${input.localTime} ${input.timeZone} (daylight saving followed), starting with the next ${input.localTime}.`,
      hint: 'Post one now with /summary now; set the Cloud Sync job with /summary job <job id> to include provisioning log errors.',
      tone: 'good',
    });
  }

  async setJob(input: { conversationId: string; jobId: string; actor: string }): Promise<AdaptiveCardJson> {
    const migration = await this.options.store.migrations.findByConversation(input.conversationId);
    if (!migration) return renderNoMigrationCard();
    await this.options.store.waves.setProvisioningJob({ migrationId: migration.id, jobId: input.jobId, setBy: input.actor, now: this.now() });
    await this.options.store.audit.append({ actor: input.actor, action: 'summary.job', target: migration.name, outcome: 'set', details: { jobId: input.jobId }, conversationId: input.conversationId });
    return renderMessageCard({ title: 'Cloud Sync job set', text: `Summaries read the provisioning logs of ${input.jobId}: its errors, and which users Cloud Sync has provisioned.`, tone: 'good' });
  }

  /** Starts a summary on request and answers at once; the summary card follows when the agent has counted. */
  async requestNow(input: { conversationId: string; actor: string }): Promise<AdaptiveCardJson> {
    const migration = await this.options.store.migrations.findByConversation(input.conversationId);
    if (!migration) return renderNoMigrationCard();
    const settings = await this.options.store.waves.getSettings(migration.id);
    const now = this.now();
    const claim = await this.options.store.waves.createOnDemand({ migrationId: migration.id, localDate: localDateOf(now, settings?.timeZone ?? 'UTC'), claimedBy: this.instanceId, now, claimMs: this.claimMs() });
    await this.options.store.audit.append({ actor: input.actor, action: 'summary.now', target: migration.name, outcome: 'started', details: { summaryId: claim.id }, conversationId: input.conversationId });
    this.track(this.run(claim, migration, settings, []));
    const waves = await this.options.store.waves.listWaves(migration.id);
    return renderMessageCard({ title: 'Building the wave summary', text: `The agent is counting ${waves.reduce((n, w) => n + w.ous.length, 0)} OU(s) of ${waves.length} wave(s); the summary follows here.` });
  }

  /**
   * Claims every scheduled summary that is due and not yet posted, and builds and posts them side by
   * side. Safe to call from any number of instances at once and as often as wanted. With `wait`
   * (the default) it returns how many this instance posted; the timer passes `wait: false` so one
   * slow migration (its agent counts can take minutes) does not hold up the next tick.
   */
  async tick(options: { wait?: boolean } = {}): Promise<number> {
    const now = this.now();
    const started: Promise<boolean>[] = [];
    if (this.stopped) return 0;
    for (const settings of await this.options.store.waves.listScheduled()) {
      const slot = latestDueSlot({ localTime: settings.localTime!, timeZone: settings.timeZone!, since: settings.setAt }, now);
      if (!slot) continue;
      const last = await this.options.store.waves.latestPostedScheduled(settings.migrationId);
      if (last && last.localDate >= slot.localDate) continue;
      const claim = await this.options.store.waves.claimScheduled({ migrationId: settings.migrationId, localDate: slot.localDate, claimedBy: this.instanceId, now, claimMs: this.claimMs() });
      if (!claim) continue;
      const migration = await this.options.store.runbook.getMigration(settings.migrationId);
      if (!migration) continue;
      const notes: string[] = [];
      const missed = last ? datesBetween(last.localDate, slot.localDate).filter((d) => d >= localDateOf(settings.setAt, settings.timeZone!)) : [];
      if (missed.length > 0) notes.push(`No summary was posted for ${missed.join(', ')}: SyncShift was not running at ${settings.localTime}. The change below covers the time since ${last!.localDate}.`);
      if (now.getTime() - slot.at.getTime() > LATE_AFTER_MS) notes.push(`Posted late: SyncShift was not running at ${settings.localTime} ${settings.timeZone} on ${slot.localDate}.`);
      // Posting is paced by the rate-limited card sink, so many migrations due at once do not burst.
      const run = this.run(claim, migration, settings, notes);
      this.track(run);
      started.push(run);
    }
    if (options.wait === false) return started.length;
    return (await Promise.all(started)).filter(Boolean).length;
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
   * Renews the claim every third of its length while `work` runs. `stillHeld` renews it at once and
   * says whether this instance still holds it (another one takes over when this one stalls).
   */
  private async holdingClaim<T>(claim: SummaryRecord, work: (stillHeld: () => Promise<boolean>) => Promise<T>): Promise<T> {
    let lost = false;
    const renew = async (): Promise<boolean> => {
      const held = await this.options.store.waves.extendClaim({ id: claim.id, claimedBy: this.instanceId, until: new Date(this.now().getTime() + this.claimMs()) });
      if (!held) lost = true;
      return !lost;
    };
    const timer = setInterval(() => {
      renew().catch((err: Error) => this.options.logger.warn({ err: err.message, summaryId: claim.id }, 'could not renew the summary claim'));
    }, Math.max(1_000, Math.floor(this.claimMs() / 3)));
    timer.unref();
    try {
      return await work(renew);
    } finally {
      clearInterval(timer);
    }
  }

  private async run(claim: SummaryRecord, migration: MigrationRecord, settings: SummarySettings | null, notes: string[]): Promise<boolean> {
    const log = this.options.logger.child({ migrationId: migration.id, summaryId: claim.id, kind: claim.kind, localDate: claim.localDate });
    try {
      return await this.holdingClaim(claim, async (stillHeld) => {
        const summary = await this.build(migration, settings, claim.localDate, notes);
        const card = renderSummaryCard(summary, { migrationName: migration.name, kind: claim.kind });
        // Last look before the one step that cannot be taken back.
        if (!(await stillHeld())) {
          log.warn('another instance took over this summary; not posting it');
          return false;
        }
        const activityId = await this.options.cards.post(migration.conversationId, card);
        const now = this.now();
        if (!(await this.options.store.waves.markPosted({ id: claim.id, claimedBy: this.instanceId, activityId: activityId ?? null, content: summary, now }))) {
          log.error('the summary was posted, but its claim had been taken over meanwhile; it may appear twice');
        }
        if (settings?.provisioningJobId) await this.options.store.waves.setLogsReadUntil(migration.id, now);
        await this.options.store.audit.append({ actor: 'syncshift', action: 'summary.post', target: migration.name, outcome: 'posted', details: { summaryId: claim.id, kind: claim.kind, localDate: claim.localDate, expected: summary.totals.expected, provisioned: summary.totals.provisioned }, conversationId: migration.conversationId });
        log.info({ waves: summary.waves.length, provisioned: summary.totals.provisioned }, 'wave summary posted');
        return true;
      });
    } catch (err) {
      const appError = asAppError(err);
      log.error({ code: appError.code, err: appError.message }, 'wave summary failed');
      // Retried by whichever instance ticks after the back-off, not every couple of minutes.
      await this.options.store.waves.markFailed({ id: claim.id, claimedBy: this.instanceId, error: `${appError.code}: ${appError.message}`, retryAt: new Date(this.now().getTime() + FAILED_RETRY_MS) });
      await this.options.store.audit.append({ actor: 'syncshift', action: 'summary.post', target: migration.name, outcome: 'failed', details: { summaryId: claim.id, code: appError.code }, conversationId: migration.conversationId });
      if (claim.kind === 'on_demand') {
        await this.options.cards
          .post(migration.conversationId, renderMessageCard({ title: 'The wave summary could not be built', text: appError.message, ...(appError.hint ? { hint: appError.hint } : {}), tone: 'attention' }))
          .catch(() => undefined);
      }
      return false;
    }
  }

  /** Gathers today's numbers: the agent counts each wave OU, Graph's delta query updates the cloud copy. */
  async build(migration: MigrationRecord, settings: SummarySettings | null, localDate: string, notes: string[]): Promise<WaveSummary> {
    const { store } = this.options;
    const views = await this.options.waves.views(migration);
    const scans = await this.scanAll(migration, views.flatMap((v) => v.wave.ous.map((ou) => ({ key: `${v.wave.id}:${ou.position}`, ou: ou.baseDn ?? ou.input }))));
    const now = this.now();
    const snapshot = await refreshCloudSnapshot({ store, cloud: this.options.cloud, migrationId: migration.id, now, logger: this.options.logger });
    const provisioning = settings?.provisioningJobId ? await this.readProvisioning(migration.id, settings.provisioningJobId, settings.logsReadUntil, now) : null;
    const confirmed = provisioning ? await store.waves.confirmedIds(migration.id) : null;
    const cloudKeyed = snapshot.users.flatMap((u) => {
      const keys = u.onPremisesDistinguishedName ? canonicalDn(u.onPremisesDistinguishedName) : null;
      return keys ? [{ user: u, keys }] : [];
    });

    const waves: WaveNumbers[] = views.map(({ wave }) => {
      const numbers: WaveNumbers = { name: wave.name, scheduledFor: wave.scheduledFor, ous: [], expected: 0, inCloud: 0, provisioned: 0, missing: 0, mismatched: 0, confirmed: confirmed ? 0 : null, scanError: null };
      for (const ou of wave.ous) {
        const scan = scans.get(`${wave.id}:${ou.position}`)!;
        if ('error' in scan) {
          numbers.ous.push(ou.baseDn ?? ou.input);
          numbers.expected = null;
          numbers.scanError = numbers.scanError ? `${numbers.scanError}; ${scan.error}` : `${ou.baseDn ?? ou.input}: ${scan.error}`;
          continue;
        }
        numbers.ous.push(scan.baseDn);
        const comparison = new OuComparison(scan.baseDn);
        for (const user of scan.users) comparison.addOnPrem(user);
        for (const { user } of cloudKeyed) comparison.addCloud(user);
        const report = comparison.report();
        if (numbers.expected !== null) numbers.expected += report.onPrem.users;
        numbers.inCloud += report.cloud.users;
        numbers.provisioned += report.matched - report.mismatched.length;
        numbers.missing += report.missing.length;
        numbers.mismatched += report.mismatched.length;
        if (confirmed && numbers.confirmed !== null) {
          const base = canonicalDn(scan.baseDn)!;
          numbers.confirmed += cloudKeyed.filter((c) => confirmed.has(c.user.id) && isWithin(c.keys, base)).length;
        }
      }
      return numbers;
    });

    const previous = await store.waves.latestPosted(migration.id);
    const steps = await store.runbook.listSteps(migration.id);
    return buildWaveSummary({
      localDate,
      timeZone: settings?.timeZone ?? 'UTC',
      waves,
      previous: (previous?.content as WaveSummary | null) ?? null,
      provisioning,
      lastVerify: await this.lastVerify(migration.conversationId),
      readySteps: readySteps(steps).map((n) => ({ n, title: stepDefinition(n)?.title ?? `Step ${n}` })),
      cloud: { mode: snapshot.mode, changesApplied: snapshot.changesApplied, syncedUsers: snapshot.users.length },
      notes,
    });
  }

  /** Queues one agent scan per OU and waits for all of them, up to the timeout. */
  private async scanAll(migration: MigrationRecord, targets: { key: string; ou: string }[]): Promise<Map<string, ScanOuResult | { error: string }>> {
    const { store } = this.options;
    const jobs: { key: string; jobId: string }[] = [];
    for (const t of targets) {
      const job = await store.jobs.enqueue({ kind: 'directory.scanOu', payload: { action: 'directory.scanOu', ou: t.ou }, conversationId: migration.conversationId, migrationId: migration.id, requestedBy: 'syncshift:summary' });
      jobs.push({ key: t.key, jobId: job.id });
    }
    if (jobs.length > 0) this.options.jobQueued();
    const results = new Map<string, ScanOuResult | { error: string }>();
    const deadline = Date.now() + (this.options.scanTimeoutMs ?? 10 * 60_000);
    while (results.size < jobs.length) {
      for (const { key, jobId } of jobs) {
        if (results.has(key)) continue;
        const job = await store.jobs.get(jobId);
        if (job?.state === 'succeeded') {
          const parsed = scanOuResult.safeParse(job.result);
          results.set(key, parsed.success ? parsed.data : { error: 'the agent\'s result could not be read' });
        } else if (job?.state === 'failed') {
          results.set(key, { error: (job.error as JobError | null)?.message ?? 'the agent could not count it' });
        }
      }
      if (results.size === jobs.length) break;
      if (this.stopped) throw new AppError('INTERNAL', 'SyncShift is shutting down; the summary was not finished.', { hint: 'It is retried when SyncShift runs again.' });
      if (Date.now() > deadline) {
        const waiting = jobs.filter(({ key }) => !results.has(key));
        for (const { key } of waiting) results.set(key, { error: 'the agent did not answer in time; is it running? (/agent list shows when it was last seen)' });
        // Jobs nobody took would otherwise run whenever an agent comes back, for a summary that is gone.
        await store.jobs.cancelQueued({ jobIds: waiting.map((w) => w.jobId), reason: 'The wave summary stopped waiting for this count.', now: this.now() });
        break;
      }
      await new Promise((resolve) => setTimeout(resolve, this.options.pollMs ?? 500));
    }
    return results;
  }

  private async readProvisioning(migrationId: string, jobId: string, readUntil: Date | null, now: Date): Promise<ProvisioningFindings> {
    const windowStart = readUntil ?? new Date(now.getTime() - DAY_MS);
    const since = readUntil ?? new Date(now.getTime() - LOG_RETENTION_MS);
    let successes = 0;
    let failures = 0;
    const reasons = new Map<string, number>();
    const succeededIds: string[] = [];
    await this.options.cloud.provisioningEvents({ jobId, since }, (events) => {
      for (const e of events) {
        if (e.status === 'success' && e.targetId) succeededIds.push(e.targetId);
        // Older successes only prove ownership; counts and errors cover the summary's own window.
        if (Date.parse(e.activityDateTime) < windowStart.getTime()) continue;
        if (e.status === 'success') successes++;
        if (e.status === 'failure') {
          failures++;
          const reason = e.reason || e.errorCode || 'no reason given';
          reasons.set(reason, (reasons.get(reason) ?? 0) + 1);
        }
      }
    });
    await this.options.store.waves.addConfirmed(migrationId, succeededIds, now);
    return {
      jobId,
      since: windowStart.toISOString(),
      successes,
      failures,
      topFailureReasons: [...reasons].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).slice(0, 3).map(([reason, count]) => ({ reason, count })),
    };
  }

  private async lastVerify(conversationId: string): Promise<LastVerify | null> {
    const latest = (await this.options.store.verifications.listByConversation(conversationId, 20)).find((v) => v.status === 'reported');
    if (!latest) return null;
    const s = latest.summary as { onPrem: { users: number }; cloud: { users: number }; missing: number; extra: number; mismatched: number };
    return { id: shortId(latest.id), ou: latest.baseDn ?? latest.ouInput, at: (latest.reportedAt ?? latest.createdAt).toISOString(), onPrem: s.onPrem.users, cloud: s.cloud.users, missing: s.missing, extra: s.extra, mismatched: s.mismatched };
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
