import type { Directory } from '../directory/types';
import {
  ADSYNC_ACTIONS,
  CANARY_ACTIONS,
  MUTATING_ACTIONS,
  STARTING_PHASE,
  type LeasedJob,
  type ResultRequest,
} from '../relay/protocol';
import { assertNever } from '../shared/assert-never';
import { asAppError } from '../shared/errors';
import type { Logger } from '../shared/logger';
import * as adsync from './actions/adsync';
import { createCanary, deleteCanary } from './actions/canary';
import { checkNoFlow } from './actions/no-flow-check';
import {
  assertActionAllowed,
  assertDnAllowed,
  assertRulePlanAllowed,
  OPEN_POLICY,
  type AgentPolicy,
} from './agent-policy';
import { readDirectory } from './actions/readiness';
import { scanOu } from './actions/scan-ou';
import { streamScan } from './actions/stream-scan';
import { createLineStream, LineStreamCancelled, type LineStream } from './line-stream';
import { resolveOu } from './resolve-ou';
import { RelayClient, RelayHttpError, UnreadableJobError, type AgentCapabilities } from './relay-client';

export interface AgentOptions {
  relay: RelayClient;
  connectDirectory: () => Promise<Directory>;
  logger: Logger;
  /** Long-poll wait per lease request. */
  waitMs?: number;
  /** Smallest gap between progress reports, so a fast scan does not flood the bot. */
  progressIntervalMs?: number;
  /** How often a running job tells the bot it is still alive (extends its lease); default: a third of the lease, at most 30 s. */
  heartbeatMs?: number;
  /** Stop after this many jobs (tests, `--once`). */
  maxJobs?: number;
  signal?: AbortSignal;
  sleep?: (ms: number) => Promise<void>;
  /** Connect Sync actions: the PowerShell to run and where configuration exports go (set on the agent, never by the bot). */
  adsync?: { executable?: string; exportDir: string; env?: Record<string, string | undefined> };
  /** Local limits (allowed base DNs, read-only); a refused job is reported as a failure with a POLICY.* code. */
  policy?: AgentPolicy;
}

const NOTHING_HELD: readonly string[] = [];

const defaultSleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The agent's main loop: lease a job, run it, report. Network failures back off and retry; a result
 * is retried until the bot accepts or rejects it, so a bot restart in the middle loses nothing.
 */
export async function runAgent(options: AgentOptions): Promise<void> {
  const sleep = options.sleep ?? defaultSleep;
  const log = options.logger;
  const capabilities = agentCapabilities(options);
  let done = 0;
  let backoffMs = 1000;
  while (!options.signal?.aborted && (options.maxJobs === undefined || done < options.maxJobs)) {
    let job: LeasedJob | null;
    try {
      // One job at a time, and a lease request only between jobs: this process holds nothing when it
      // asks. A job still leased to this agent is one an earlier run lost, and the bot takes it back.
      job = await options.relay.lease(options.waitMs ?? 20_000, options.signal, capabilities, NOTHING_HELD);
      backoffMs = 1000;
    } catch (err) {
      if (options.signal?.aborted) break;
      if (err instanceof UnreadableJobError) {
        // The bot is reachable and leased us a job we cannot run: answer for it, so the card says why.
        log.error(
          { jobId: err.jobId, code: err.error.code, err: err.message },
          'leased a job this agent cannot read; reporting it as failed',
        );
        await deliverResult(options, err.jobId, { outcome: 'failed', error: err.error }, sleep);
        done++;
        continue;
      }
      if (err instanceof RelayHttpError && (err.status === 401 || err.status === 403)) {
        log.error(
          { status: err.status },
          "The bot refused this agent's credentials; check SYNCSHIFT_AGENT_ID and SYNCSHIFT_AGENT_SECRET.",
        );
      } else {
        log.warn({ err: (err as Error).message, retryInMs: backoffMs }, 'cannot reach the bot; retrying');
      }
      await sleep(backoffMs);
      backoffMs = Math.min(backoffMs * 2, 30_000);
      continue;
    }
    if (!job) continue;
    log.info({ jobId: job.id, action: job.payload.action }, 'job leased');
    if (MUTATING_ACTIONS.has(job.payload.action) && !(await confirmStart(options, job))) continue;
    const outcome = await executeJob(job, options);
    if (outcome !== 'delivered') await deliverResult(options, job.id, outcome, sleep);
    done++;
  }
}

/**
 * What this agent can run, from its own configuration: directory scans always, Connect Sync actions
 * only on the Connect Sync server, and none that change anything when it is read-only. The bot
 * routes by this; the policy checks below still refuse anything else that arrives.
 */
export function agentCapabilities(options: Pick<AgentOptions, 'adsync' | 'policy'>): AgentCapabilities {
  const policy = options.policy ?? OPEN_POLICY;
  const actions = ['directory.scanOu', ...CANARY_ACTIONS, ...(options.adsync ? ADSYNC_ACTIONS : [])].filter(
    (action) => !(policy.readOnly && MUTATING_ACTIONS.has(action)),
  );
  return { actions, readOnly: policy.readOnly };
}

/** The job's outcome to report, or 'delivered' when it already reached the bot (a streamed scan). */
async function executeJob(job: LeasedJob, options: AgentOptions): Promise<ResultRequest | 'delivered'> {
  const interval = options.progressIntervalMs ?? 1000;
  let lastProgress = 0;
  let directory: Directory | undefined;
  const payload = job.payload;
  let scannedSoFar = 0;
  // The lease lasts minutes; a long Connect Sync action must keep it, or a mutating job would be
  // declared "outcome unknown" while it is still running.
  const heartbeat = setInterval(
    () => {
      options.relay
        .progress(job.id, { scanned: scannedSoFar, phase: 'heartbeat' })
        .catch((err: Error) => options.logger.warn({ err: err.message }, 'heartbeat not delivered'));
    },
    options.heartbeatMs ?? heartbeatInterval(job.leaseExpiresAt),
  );
  const policy = options.policy ?? OPEN_POLICY;
  try {
    assertActionAllowed(policy, payload.action);
    if (payload.action === 'adsync.createNoFlowRules') assertRulePlanAllowed(policy, payload.plan);
    if (payload.action === 'directory.scanOu') {
      directory = await options.connectDirectory();
      const onProgress = async (scanned: number): Promise<void> => {
        scannedSoFar = scanned;
        const now = Date.now();
        if (now - lastProgress < interval) return;
        lastProgress = now;
        // Progress is best effort: a lost update must not fail the scan.
        await options.relay
          .progress(job.id, { scanned, phase: 'directory' })
          .catch((err: Error) => options.logger.warn({ err: err.message }, 'progress not delivered'));
      };
      if (!payload.countOnly) {
        const { baseDn, defaultNamingContext } = await resolveOu(directory, payload.ou);
        assertDnAllowed(policy, baseDn);
        return await uploadScan(options, job.id, (out) =>
          streamScan(
            directory!,
            { baseDn, defaultNamingContext, ...(payload.pageSize ? { pageSize: payload.pageSize } : {}) },
            out,
            onProgress,
          ),
        );
      }
      const result = await scanOu(directory, payload, onProgress, (baseDn) => assertDnAllowed(policy, baseDn));
      return { outcome: 'succeeded', result };
    }
    if (payload.action === 'directory.createCanary' || payload.action === 'directory.deleteCanary') {
      directory = await options.connectDirectory();
      return payload.action === 'directory.createCanary'
        ? {
            outcome: 'succeeded',
            result: { action: payload.action, data: await createCanary(directory, policy, payload) },
          }
        : {
            outcome: 'succeeded',
            result: { action: payload.action, data: await deleteCanary(directory, policy, payload) },
          };
    }
    if (!options.adsync) {
      return {
        outcome: 'failed',
        error: {
          code: 'ADSYNC.NOT_AVAILABLE',
          message: 'This agent is not set up for Connect Sync actions.',
          hint: 'Run the agent on the Connect Sync server with SYNCSHIFT_ADSYNC_EXPORT_DIR set.',
        },
      };
    }
    const run = {
      ...(options.adsync.executable ? { executable: options.adsync.executable } : {}),
      ...(options.adsync.env ? { env: options.adsync.env } : {}),
    };
    if (payload.action === 'adsync.readiness') {
      // Both halves are read here: the Connect Sync server's agent is the one that can run the script.
      const connectSync = await adsync.readConnectSync(run);
      directory = await options.connectDirectory();
      const read = await readDirectory(directory, policy.allowedBaseDns, async (scanned) => {
        scannedSoFar = scanned;
      });
      return { outcome: 'succeeded', result: { action: payload.action, data: { connectSync, directory: read } } };
    }
    if (payload.action === 'adsync.noFlowCheck') {
      // The OU's objects come from the directory; the allow-list is checked on the resolved DN first.
      directory = await options.connectDirectory();
      const data = await checkNoFlow(
        directory,
        {
          ou: payload.ou,
          checkBase: (baseDn) => assertDnAllowed(policy, baseDn),
          onProgress: (read) => {
            scannedSoFar = read;
          },
        },
        run,
      );
      return { outcome: 'succeeded', result: { action: payload.action, data } };
    }
    const data = await runAdsync(payload, run, options.adsync.exportDir);
    return { outcome: 'succeeded', result: { action: payload.action, data } };
  } catch (err) {
    const error = asAppError(err).toJSON();
    options.logger.warn({ jobId: job.id, code: error.code, err: error.message }, 'job failed');
    return { outcome: 'failed', error };
  } finally {
    clearInterval(heartbeat);
    await directory?.close().catch(() => undefined);
  }
}

/**
 * Before a change, the bot must know it is about to happen: then a lost agent means "outcome
 * unknown" rather than "run it again". If the bot cannot be told, nothing runs; the lease runs out
 * and the job goes to an agent that can.
 */
async function confirmStart(options: AgentOptions, job: LeasedJob): Promise<boolean> {
  try {
    await options.relay.progress(job.id, { scanned: 0, phase: STARTING_PHASE });
    return true;
  } catch (err) {
    options.logger.warn(
      { jobId: job.id, err: (err as Error).message },
      'could not tell the bot a change is starting; leaving the job for another attempt',
    );
    return false;
  }
}

/** Three heartbeats per lease: one lost heartbeat must not cost the lease. */
function heartbeatInterval(leaseExpiresAt: string): number {
  const left = Date.parse(leaseExpiresAt) - Date.now();
  return Number.isFinite(left) ? Math.min(30_000, Math.max(500, Math.floor(left / 3))) : 30_000;
}

/**
 * A scan sent while it is read. A directory failure becomes the job's failure, reported as usual.
 * When the bot cannot take the upload (it is restarting, the connection broke), the scan is read
 * again and sent again after a pause: nothing of it was kept to resend, which is what keeps the
 * agent's memory flat, and a read-only scan can always be repeated.
 */
async function uploadScan(
  options: AgentOptions,
  jobId: string,
  scan: (out: LineStream) => Promise<void>,
): Promise<ResultRequest | 'delivered'> {
  const sleep = options.sleep ?? defaultSleep;
  let backoffMs = 1000;
  for (;;) {
    const out = createLineStream();
    const upload = options.relay.streamResult(jobId, out.body);
    // Awaited below. If the request ends first (refused, or the bot cannot be reached at all), the
    // scan must not wait for a reader that is gone.
    upload.then(
      () => out.stop('answered'),
      (err: unknown) => out.stop(err),
    );
    let scanError: unknown;
    try {
      await scan(out);
    } catch (err) {
      if (!(err instanceof LineStreamCancelled)) scanError = err;
    }
    let uploadError: unknown;
    try {
      await upload;
    } catch (err) {
      uploadError = err;
    }
    if (scanError !== undefined) {
      const error = asAppError(scanError).toJSON();
      options.logger.warn({ jobId, code: error.code, err: error.message }, 'job failed');
      return { outcome: 'failed', error };
    }
    if (uploadError === undefined) {
      options.logger.info({ jobId, outcome: 'succeeded' }, 'result delivered');
      return 'delivered';
    }
    const refused = refusal(uploadError);
    if (refused) {
      // Sending the same scan again would be refused the same way: stop, or fail the job with the bot's reason.
      options.logger.error(
        { jobId, status: refused.err.status, err: refused.err.message },
        refused.failed ? 'the bot refused the scan; reporting the job as failed' : 'the bot refused the result',
      );
      return refused.failed ?? 'delivered';
    }
    if (options.signal?.aborted) return 'delivered';
    // Same words as deliverResult's: to a person reading the log it is the same situation.
    options.logger.warn(
      { jobId, err: (uploadError as Error).message, retryInMs: backoffMs, scanAgain: true },
      'result not delivered yet; retrying',
    );
    await sleep(backoffMs);
    backoffMs = Math.min(backoffMs * 2, 30_000);
  }
}

async function deliverResult(
  options: AgentOptions,
  jobId: string,
  result: ResultRequest,
  sleep: (ms: number) => Promise<void>,
): Promise<void> {
  let outcome = result;
  let backoffMs = 1000;
  for (;;) {
    try {
      await options.relay.result(jobId, outcome);
      options.logger.info({ jobId, outcome: outcome.outcome }, 'result delivered');
      return;
    } catch (err) {
      const refused = refusal(err);
      if (refused?.failed && outcome.outcome === 'succeeded') {
        // A result the bot will not take (too large, unreadable): it hears the job failed, and why,
        // instead of waiting for a lease that would only run out as "agent lost".
        options.logger.error(
          { jobId, status: refused.err.status, err: refused.err.message },
          'the bot refused the result; reporting the job as failed',
        );
        outcome = refused.failed;
        continue;
      }
      if (refused) {
        options.logger.error(
          { jobId, status: refused.err.status, err: refused.err.message },
          'the bot refused the result',
        );
        return;
      }
      if (options.signal?.aborted) return;
      options.logger.warn(
        { jobId, err: (err as Error).message, retryInMs: backoffMs },
        'result not delivered yet; retrying',
      );
      await sleep(backoffMs);
      backoffMs = Math.min(backoffMs * 2, 30_000);
    }
  }
}

/**
 * What a 4xx answer to a result means. 409: the job is no longer this agent's (finished, or taken
 * by another agent), and 401/403: this agent's credential is refused; either way nothing more can
 * be reported (no `failed`). Any other 4xx but 429 refuses this result itself (413 too large, 400
 * unreadable): `failed` is the job's failure with the bot's reason. Anything else (5xx, 429, no
 * answer) is worth retrying: null.
 */
function refusal(err: unknown): { err: RelayHttpError; failed?: ResultRequest } | null {
  if (!(err instanceof RelayHttpError) || err.status < 400 || err.status >= 500 || err.status === 429) return null;
  if (err.status === 409 || err.status === 401 || err.status === 403) return { err };
  const said =
    err.reason ?? `the answer was HTTP ${err.status}, not from SyncShift (a proxy between the agent and the bot?)`;
  const hint =
    err.status === 413
      ? "The result is larger than the bot (or a proxy in front of it) accepts. Verify the OU's child OUs one at a time, or raise the proxy's request body limit."
      : 'Check that syncshift-agent and the bot run the same version; the agent log has the full answer.';
  return {
    err,
    failed: {
      outcome: 'failed',
      error: {
        code: err.code ?? 'RELAY.RESULT_REFUSED',
        message: `The bot did not accept this job's result: ${said}`.slice(0, 4000),
        hint,
      },
    },
  };
}

async function runAdsync(
  payload: Exclude<
    LeasedJob['payload'],
    { action: 'directory.scanOu' | 'directory.createCanary' | 'directory.deleteCanary' | 'adsync.noFlowCheck' }
  >,
  run: adsync.AdsyncRunOptions,
  exportDir: string,
): Promise<unknown> {
  switch (payload.action) {
    case 'adsync.getScheduler':
      return adsync.getScheduler(run);
    case 'adsync.stopScheduler':
      return adsync.stopScheduler(run);
    case 'adsync.startScheduler':
      return adsync.startScheduler(payload.policyType, run);
    case 'adsync.exportConfig':
      return adsync.exportConfig(exportDir, run);
    case 'adsync.listRules':
      return adsync.listRules(run);
    case 'adsync.createNoFlowRules':
      // The agent's own schema decides what a rule plan may contain; the bot's word is not enough.
      return adsync.createNoFlowRules(payload.plan as never, run);
    case 'adsync.setRulesDisabled':
      return adsync.setRulesDisabled(payload.identifiers, payload.disabled, run);
    case 'adsync.stopService':
      return adsync.stopService(run);
    case 'adsync.startService':
      return adsync.startService(payload.startType ?? 'Automatic', run);
    case 'adsync.readiness':
      return adsync.readConnectSync(run);
    default:
      return assertNever(payload, 'agent action');
  }
}
