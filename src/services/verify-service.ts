import type { CloudDirectory } from '../cloud/types';
import type { AdaptiveCardJson } from '../cards/render';
import type { JobQueue } from '../jobs/job-queue';
import { renderMessageCard } from '../cards/message-cards';
import { notSyncedLine, renderVerifyCard, type CloudReadNote, type VerifyCardState } from '../cards/verify-card';
import type { JobError, ScanOuHead } from '../relay/protocol';
import type { RequeueReason } from '../jobs/lost-leases';
import type { ScanLineSink } from '../relay/scan-stream-reader';
import { SYSTEM_ACTOR, type Actor } from '../runbook/actor';
import type { VerifyListKind } from '../runbook/commands';
import {
  allUnconfirmed,
  unconfirmedLine,
  type CloudSyncConfirmation,
  type CloudSyncReading,
} from '../runbook/cloud-sync-evidence';
import { OuComparison, type ComparisonReport } from '../runbook/ou-comparison';
import { cloudSyncConfirmation } from './cloud-sync-proof';
import { CardProgress } from './card-progress';
import type { CardSink } from './card-sink';
import { refreshCloudSnapshot, type SnapshotRefresh } from './cloud-snapshot';
import { objectCopyReaders, type ObjectCopyRead } from './cloud-object-copy';
import { compareOuWithCloud, compareOuWithCopy } from './compare-ou';
import { IncomingScans } from './incoming-scans';
import { readStoredScan } from './stored-scan';
import type { LimiterClock } from './rate-limited-sink';
import { parseOuInput } from '../runbook/ou-input';
import { asAppError } from '../shared/errors';
import type { Logger } from '../shared/logger';
import type { JobRecord, Store, VerificationRecord } from '../store/types';

export interface VerifyServiceOptions {
  store: Store;
  jobs: JobQueue;
  cloud: CloudDirectory;
  cards: CardSink;
  logger: Logger;
  listLimit: number;
  now?: () => Date;
  /** Smallest gap between two progress updates of one card (card-progress.ts says why 5 s by default). */
  progressIntervalMs?: number;
  /** The progress cards' clock; tests use virtual time. */
  progressClock?: LimiterClock;
}

/** A verify's stored report: the comparison and what the Cloud Sync logs showed (absent on older rows). */
type StoredVerifyReport = ComparisonReport & { cloudSync?: CloudSyncReading };

export type StartVerifyResult =
  { ok: true; verification: VerificationRecord; card: AdaptiveCardJson } | { ok: false; card: AdaptiveCardJson };

const LIST_PAGE_SIZE = 50;
const LIST_TITLES: Record<VerifyListKind, string> = {
  missing: 'Missing',
  extra: 'Extra',
  mismatched: 'Mismatched',
  notsynced: 'Not synced by design',
  unconfirmed:
    'Users, groups and contacts not yet confirmed by Cloud Sync (no successful log entry of its job names them)',
  groups: 'Missing groups',
  contacts: 'Missing contacts',
  inetorgperson: 'inetOrgPerson (refused)',
};

function requeueNote(reason: RequeueReason, attempts: { used: number; max: number }): string {
  const attempt = `attempt ${attempts.used} of ${attempts.max}`;
  if (reason === 'lease-expired')
    return `The agent stopped answering (${attempt}); the scan is queued for another agent.`;
  return `The agent was lost: ${LOST_BECAUSE[reason]} (${attempt}). The scan restarted and is queued for an agent.`;
}

const LOST_BECAUSE: Record<RequeueReason, string> = {
  'agent-restarted': 'it restarted in the middle of the scan',
  'upload-cut': 'its upload was cut off and it did not come back',
  'lease-expired': 'it stopped answering',
};

/**
 * How long a verify's early cloud refresh is kept for its scan. A scan that comes later (an agent
 * that was offline for hours) refreshes the copy again when it arrives, so the cloud side is never
 * older than the on-premises one by more than this.
 */
const STALE_REFRESH_MS = 30 * 60_000;

/** Jobs whose loss is remembered for their progress cards; older ones fall back to a general note. */
const MAX_REMEMBERED_LOSSES = 1000;

/** Per-type counts for the stored summary and the audit entry, only for the types the scan held. */
function typeCounts(report: ComparisonReport): Record<string, unknown> {
  const counts: Record<string, unknown> = {};
  if (report.groups)
    counts.groups = {
      onPrem: report.groups.onPrem,
      matched: report.groups.matched,
      missing: report.groups.missing.length,
    };
  if (report.contacts)
    counts.contacts = {
      onPrem: report.contacts.onPrem,
      matched: report.contacts.matched,
      missing: report.contacts.missing.length,
    };
  if (report.inetOrgPersons) counts.inetOrgPersons = report.inetOrgPersons.onPrem;
  return counts;
}

/** Groups' and contacts' confirmed counts for the stored summary, only for the types the OU had. */
function typeConfirmations(c: CloudSyncConfirmation): Record<string, number> {
  return {
    ...(c.groups ? { groupsConfirmedByCloudSync: c.groups.confirmed } : {}),
    ...(c.contacts ? { contactsConfirmedByCloudSync: c.contacts.confirmed } : {}),
  };
}

export function shortId(id: string): string {
  return id.replace(/-/g, '').slice(0, 8);
}

/**
 * The verify use case: queue the agent's scan, then, when the agent reports, read the cloud side,
 * compare and update the card. No SDK here: cards go through CardSink.
 */
export class VerifyService {
  private readonly now: () => Date;
  private readonly inFlight = new Set<string>();
  private readonly incoming = new IncomingScans();
  private readonly progress: CardProgress;
  /** Why a job's previous agent was lost, for the progress cards of its next attempt. */
  private readonly lostBecause = new Map<string, RequeueReason>();
  /**
   * The cloud copy's refresh of each verify still running, started when the verify was asked for so
   * that Graph is read while the agent scans. A verify finished without one here (another instance,
   * a restart) refreshes the copy then.
   */
  private readonly cloudRefreshes = new Map<string, { at: number; refresh: Promise<SnapshotRefresh> }>();

  constructor(private readonly options: VerifyServiceOptions) {
    this.now = options.now ?? (() => new Date());
    this.progress = new CardProgress(options.cards, {
      logger: options.logger,
      ...(options.progressIntervalMs !== undefined ? { intervalMs: options.progressIntervalMs } : {}),
      ...(options.progressClock ? { clock: options.progressClock } : {}),
    });
  }

  async start(input: { conversationId: string; ou: string; actor: Actor }): Promise<StartVerifyResult> {
    const parsed = parseOuInput(input.ou);
    if (!parsed.ok) {
      await this.options.store.audit.record(input.actor, {
        action: 'verify.pilot',
        target: input.ou,
        outcome: 'rejected',
        details: { code: parsed.code, reason: parsed.reason },
        conversationId: input.conversationId,
      });
      return {
        ok: false,
        card: renderMessageCard({
          title: parsed.code === 'INPUT.FILTER_INJECTION' ? 'That is not an OU' : 'That OU name cannot be read',
          text: parsed.reason,
          hint: parsed.hint,
          tone: 'attention',
          items: ['/verify pilot OU=Sales', '/verify pilot OU=Sales,DC=contoso,DC=com', '/verify pilot Sales'],
        }),
      };
    }
    const migration = await this.options.store.migrations.findByConversation(input.conversationId);
    // Agents are woken once the card is posted (cardPosted), so its id is usually stored before the result comes.
    const job = await this.options.jobs.enqueue({
      purpose: 'verify',
      payload: { action: 'directory.scanOu', ou: parsed.target.text },
      conversationId: input.conversationId,
      migrationId: migration?.id ?? null,
      requestedBy: input.actor,
      wake: false,
    });
    const verification = await this.options.store.verifications.create({
      jobId: job.id,
      conversationId: input.conversationId,
      migrationId: migration?.id ?? null,
      ouInput: parsed.target.text,
    });
    if (migration) this.startCloudRefresh(verification.id, migration.id);
    await this.options.store.audit.record(input.actor, {
      action: 'verify.pilot',
      target: parsed.target.text,
      outcome: 'queued',
      details: { jobId: job.id, verificationId: verification.id },
      conversationId: input.conversationId,
    });
    return { ok: true, verification, card: this.card(verification, job, { kind: 'queued' }) };
  }

  /** The verify's card went out (`activityId` undefined: Teams did not say its id); its scan may start now. */
  async cardPosted(verificationId: string, activityId: string | undefined): Promise<void> {
    if (activityId) await this.options.store.verifications.setCardActivityId(verificationId, activityId);
    this.options.jobs.wakeAgents();
  }

  /** The agent reported progress; the card shows it soon (CardProgress paces and coalesces), nothing waits for Teams. */
  async onProgress(job: JobRecord, scanned: number): Promise<void> {
    const verification = await this.options.store.verifications.findByJob(job.id);
    if (!verification || verification.status !== 'running' || !verification.cardActivityId) return;
    this.showProgress(verification, job, scanned, 'directory');
  }

  /** A verify's scan is arriving: index it as it comes, so the cloud side can start at once. */
  async onScanArriving(jobId: string, head: Pick<ScanOuHead, 'baseDn'>): Promise<ScanLineSink | null> {
    const verification = await this.options.store.verifications.findByJob(jobId);
    if (!verification || verification.status !== 'running') return null;
    return this.incoming.sink(jobId, head.baseDn);
  }

  /** The agent holding the scan went quiet or was lost, and the job is queued again: the card says so instead of counting on. */
  async onJobRequeued(
    job: JobRecord,
    attempts: { used: number; max: number },
    reason: RequeueReason = 'lease-expired',
  ): Promise<void> {
    const verification = await this.options.store.verifications.findByJob(job.id);
    if (!verification || verification.status !== 'running' || !verification.cardActivityId) return;
    // Through the progress pacer: a later progress or the final card replaces it, never the other way round.
    const state: VerifyCardState = { kind: 'queued', note: requeueNote(reason, attempts) };
    this.lostBecause.delete(job.id);
    this.lostBecause.set(job.id, reason);
    if (this.lostBecause.size > MAX_REMEMBERED_LOSSES) this.lostBecause.delete(this.lostBecause.keys().next().value!);
    this.progress.progress(verification.conversationId, verification.cardActivityId, () =>
      this.card(verification, job, state),
    );
  }

  /** The agent finished (or failed) a verify's scan. Safe to call twice: the second call finds the verification reported. */
  async scanFinished(job: JobRecord): Promise<void> {
    const verification = await this.options.store.verifications.findByJob(job.id);
    if (!verification || verification.status !== 'running' || this.inFlight.has(verification.id)) return;
    this.inFlight.add(verification.id);
    try {
      await this.finish(verification, job);
    } finally {
      this.inFlight.delete(verification.id);
      this.lostBecause.delete(job.id);
    }
  }

  /** After a restart: finish every verification whose job ended while the bot was away. */
  async resumeUnreported(): Promise<number> {
    const pending = await this.options.store.verifications.listUnreported();
    for (const verification of pending) {
      const job = await this.options.store.jobs.get(verification.jobId);
      if (job) await this.scanFinished(job);
    }
    return pending.length;
  }

  async list(input: {
    conversationId: string;
    verification: string | 'last';
    list: VerifyListKind;
    page: number;
  }): Promise<AdaptiveCardJson> {
    const candidates = await this.options.store.verifications.listByConversation(input.conversationId, 200);
    const found =
      input.verification === 'last'
        ? candidates.find((v) => v.status === 'reported')
        : candidates.find((v) => shortId(v.id).startsWith(input.verification) || v.id === input.verification);
    if (!found || found.status !== 'reported' || !found.report) {
      return renderMessageCard({
        title: 'No verify result to list',
        text:
          input.verification === 'last'
            ? 'No verify has finished in this conversation yet.'
            : `There is no finished verify #${input.verification} in this conversation.`,
        hint: 'Run /verify pilot OU=Sales first, then /verify list missing.',
        tone: 'warning',
      });
    }
    const report = found.report as StoredVerifyReport;
    const cloudSync = report.cloudSync;
    if (input.list === 'unconfirmed' && (!cloudSync || 'unavailable' in cloudSync))
      return renderMessageCard({
        title: `Not yet confirmed by Cloud Sync: ${report.baseDn}`,
        text: `Verify #${shortId(found.id)} did not read the Cloud Sync provisioning logs${cloudSync ? `: ${cloudSync.unavailable}` : '.'}`,
        hint: "Set the job with /summary job <job id> in the migration's conversation, then /verify pilot <OU> again.",
        tone: 'warning',
      });
    const lines =
      input.list === 'missing'
        ? report.missing
        : input.list === 'extra'
          ? report.extra.map((u) => `${u.dn} (${u.userPrincipalName ?? u.cloudId})`)
          : input.list === 'notsynced'
            ? (report.notSynced ?? []).map(notSyncedLine)
            : input.list === 'unconfirmed' && cloudSync && !('unavailable' in cloudSync)
              ? allUnconfirmed(cloudSync).map(unconfirmedLine)
              : input.list === 'groups'
                ? (report.groups?.missing ?? [])
                : input.list === 'contacts'
                  ? (report.contacts?.missing ?? [])
                  : input.list === 'inetorgperson'
                    ? (report.inetOrgPersons?.dns ?? []).map((dn) => `${dn} (${report.inetOrgPersons!.reason})`)
                    : report.mismatched.map(
                        (u) => `${u.dn}: cloud ${u.cloudImmutableId ?? '(none)'}, expected ${u.expectedImmutableId}`,
                      );
    const pages = Math.max(1, Math.ceil(lines.length / LIST_PAGE_SIZE));
    const page = Math.min(input.page, pages);
    const slice = lines.slice((page - 1) * LIST_PAGE_SIZE, page * LIST_PAGE_SIZE);
    return renderMessageCard({
      title: `${LIST_TITLES[input.list]}${['groups', 'contacts', 'inetorgperson', 'unconfirmed'].includes(input.list) ? '' : ' users'}: ${report.baseDn}`,
      text:
        lines.length === 0
          ? 'None.'
          : `Page ${page} of ${pages} (${lines.length} in all) from verify #${shortId(found.id)}.`,
      ...(page < pages ? { hint: `Next: /verify list ${input.list} ${page + 1} #${shortId(found.id)}` } : {}),
      items: slice,
    });
  }

  private async finish(verification: VerificationRecord, job: JobRecord): Promise<void> {
    const log = this.options.logger.child({ verificationId: verification.id, jobId: job.id });
    if (job.state === 'failed') {
      const error = job.error ?? {
        code: 'INTERNAL',
        message: 'The agent reported a failure without details.',
      };
      await this.fail(verification, job, error);
      return;
    }
    // Jobs of other kinds (runbook steps) are not this service's to report.
    if (job.kind !== 'directory.scanOu') return;
    const scan = readStoredScan(this.options.store, job);
    if (!scan) {
      await this.fail(verification, job, {
        code: 'RELAY.BAD_REQUEST',
        message: "The agent's result could not be read.",
        hint: "Update the agent to the bot's version.",
      });
      return;
    }
    try {
      // Graph paging must not wait for Teams: a conversation out of card budget would stall the scan.
      const onCloudPage = (read: number): void => this.showProgress(verification, job, read, 'cloud');
      const indexed = this.incoming.take(job.id);
      // Filled by the comparison (unless the scan was indexed as it arrived): the Cloud Sync evidence reads its in-scope objects.
      const comparison = indexed && indexed.baseDn === scan.head.baseDn ? indexed : new OuComparison(scan.head.baseDn);
      let cloudRead: CloudReadNote;
      let compared: ComparisonReport;
      if (verification.migrationId) {
        const migrationId = verification.migrationId;
        const refresh = await this.cloudRefresh(verification.id, migrationId);
        cloudRead = {
          mode: refresh.mode,
          count: refresh.changesApplied,
          ...(refresh.reason ? { reason: refresh.reason } : {}),
        };
        log.info(
          {
            cloudRead: refresh.mode,
            reason: refresh.reason,
            changes: refresh.changesApplied,
            pages: refresh.pages,
            ms: Math.round(refresh.ms),
          },
          'cloud copy refreshed',
        );
        // Groups and contacts come from their own copies, each refreshed by its delta query when the OU holds some.
        const objects: Partial<Record<'group' | 'contact', ObjectCopyRead>> = {};
        compared = await compareOuWithCopy(
          scan,
          (onPage) => this.options.store.cloudSnapshots.readCloudUsers(migrationId, onPage),
          this.options.cloud,
          onCloudPage,
          indexed,
          comparison,
          objectCopyReaders({
            store: this.options.store,
            cloud: this.options.cloud,
            migrationId,
            now: this.now(),
            logger: log,
            notes: objects,
          }),
        );
        if (Object.keys(objects).length > 0) cloudRead = { ...cloudRead, objects };
      } else {
        let users = 0;
        compared = await compareOuWithCloud(
          scan,
          this.options.cloud,
          (read) => {
            users = read;
            onCloudPage(read);
          },
          indexed,
          comparison,
        );
        cloudRead = { mode: 'direct', count: users };
      }
      const cloudSync: CloudSyncReading = verification.migrationId
        ? await cloudSyncConfirmation({
            store: this.options.store,
            cloud: this.options.cloud,
            migrationId: verification.migrationId,
            comparison,
            now: this.now(),
          })
        : {
            unavailable:
              'this conversation holds no migration, so no Cloud Sync job is set (/migration start, then /summary job <job id>)',
          };
      const report: StoredVerifyReport = { ...compared, cloudSync };
      await this.options.store.verifications.complete({
        id: verification.id,
        status: 'reported',
        baseDn: scan.head.baseDn,
        summary: {
          onPrem: report.onPrem,
          cloud: report.cloud,
          matched: report.matched,
          missing: report.missing.length,
          extra: report.extra.length,
          mismatched: report.mismatched.length,
          notSynced: report.notSynced?.length ?? 0,
          confirmedByCloudSync: 'unavailable' in cloudSync ? null : cloudSync.confirmed,
          ...('unavailable' in cloudSync ? {} : typeConfirmations(cloudSync)),
          ...typeCounts(report),
        },
        report,
        now: this.now(),
      });
      await this.options.store.audit.record(SYSTEM_ACTOR, {
        action: 'verify.report',
        target: scan.head.baseDn,
        outcome: 'reported',
        details: {
          jobId: job.id,
          onPrem: report.onPrem.users,
          cloud: report.cloud.users,
          missing: report.missing.length,
          extra: report.extra.length,
          mismatched: report.mismatched.length,
          notSynced: report.notSynced?.length ?? 0,
          cloudRead,
          ...typeCounts(report),
        },
        conversationId: verification.conversationId,
      });
      await this.deliver(verification, job, { kind: 'done', report, cloudRead, cloudSync });
      log.info({ onPrem: report.onPrem.users, cloud: report.cloud.users }, 'verify reported');
    } catch (err) {
      const appError = asAppError(err);
      log.warn({ code: appError.code, err: appError.message }, 'verify failed on the cloud side');
      await this.fail(verification, job, appError.toJSON());
    }
  }

  /** Starts refreshing the migration's cloud copy now, for a verify that will compare against it. */
  private startCloudRefresh(verificationId: string, migrationId: string): void {
    const refresh = refreshCloudSnapshot({
      store: this.options.store,
      cloud: this.options.cloud,
      migrationId,
      now: this.now(),
      logger: this.options.logger,
    });
    // Awaited when the scan is in; until then a failure must not count as unhandled.
    refresh.catch(() => undefined);
    this.forgetStaleRefreshes();
    this.cloudRefreshes.set(verificationId, { at: Date.now(), refresh });
  }

  /** The refresh started with the verify, or a new one when this instance did not start it. */
  private async cloudRefresh(verificationId: string, migrationId: string): Promise<SnapshotRefresh> {
    const started = this.cloudRefreshes.get(verificationId);
    this.cloudRefreshes.delete(verificationId);
    if (started) return started.refresh;
    return refreshCloudSnapshot({
      store: this.options.store,
      cloud: this.options.cloud,
      migrationId,
      now: this.now(),
      logger: this.options.logger,
    });
  }

  /** A verify whose scan never came back must not keep its refresh for ever. */
  private forgetStaleRefreshes(): void {
    const cutoff = Date.now() - STALE_REFRESH_MS;
    for (const [id, entry] of this.cloudRefreshes) if (entry.at < cutoff) this.cloudRefreshes.delete(id);
  }

  private async fail(verification: VerificationRecord, job: JobRecord, error: JobError): Promise<void> {
    this.cloudRefreshes.delete(verification.id);
    await this.options.store.verifications.complete({
      id: verification.id,
      status: 'failed',
      baseDn: null,
      summary: { error },
      report: null,
      now: this.now(),
    });
    await this.options.store.audit.record(SYSTEM_ACTOR, {
      action: 'verify.report',
      target: verification.ouInput,
      outcome: 'failed',
      details: { jobId: job.id, code: error.code },
      conversationId: verification.conversationId,
    });
    const candidates = Array.isArray(error.details?.candidates) ? (error.details.candidates as string[]) : undefined;
    await this.deliver(verification, job, {
      kind: 'failed',
      code: error.code,
      message: error.message,
      ...(error.hint ? { hint: error.hint } : {}),
      ...(candidates ? { candidates } : {}),
    });
  }

  /** Updates the card in place; when the card's id never got stored (the bot stopped right after sending), posts a new one. */
  private async deliver(verification: VerificationRecord, job: JobRecord, state: VerifyCardState): Promise<void> {
    const activityId = verification.cardActivityId ?? (await this.waitForCardId(verification.id));
    const card = this.card(verification, job, state);
    if (activityId) await this.progress.finish(verification.conversationId, activityId, card);
    else {
      const posted = await this.options.cards.post(verification.conversationId, card);
      if (posted) await this.options.store.verifications.setCardActivityId(verification.id, posted);
    }
  }

  private showProgress(
    verification: VerificationRecord,
    job: JobRecord,
    scanned: number,
    phase: 'directory' | 'cloud',
  ): void {
    if (!verification.cardActivityId) return;
    // A scan on its second attempt keeps saying why: the "agent was lost" card lasts only until the next progress.
    const note =
      job.attempts > 1
        ? `The agent was lost (${LOST_BECAUSE[this.lostBecause.get(job.id) ?? 'lease-expired']}); the scan restarted (attempt ${job.attempts}).`
        : undefined;
    this.progress.progress(verification.conversationId, verification.cardActivityId, () =>
      this.card(verification, job, { kind: 'running', scanned, phase, ...(note ? { note } : {}) }),
    );
  }

  private async waitForCardId(verificationId: string): Promise<string | null> {
    // The reply that carries the card and the agent's result race; the reply nearly always wins within milliseconds.
    for (let i = 0; i < 20; i++) {
      const v = await this.options.store.verifications.get(verificationId);
      if (v?.cardActivityId) return v.cardActivityId;
      await new Promise((r) => setTimeout(r, 100));
    }
    return null;
  }

  private card(verification: VerificationRecord, job: JobRecord, state: VerifyCardState): AdaptiveCardJson {
    return renderVerifyCard({
      ou: verification.baseDn ?? verification.ouInput,
      shortId: shortId(verification.id),
      requestedBy: job.requestedBy.name,
      requestedAt: verification.createdAt,
      state,
      listLimit: this.options.listLimit,
    });
  }
}
