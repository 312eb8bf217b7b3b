import * as restify from 'restify';
import type { AddressInfo } from 'node:net';
import type { CloudDirectory } from '../cloud/types';
import { CloudSyncScopeService } from '../services/cloud-sync-scope-service';
import { OuLedgerService } from '../services/ou-ledger-service';
import { storedConfirmations } from '../services/ou-confirmations';
import { NoFlowCheckService } from '../services/no-flow-check-service';
import { NoFlowFollowUpService, startNoFlowFollowUpTimer } from '../services/no-flow-follow-up';
import { WaveEngineService } from '../services/wave-engine-service';
import type { BotConfig } from '../config';
import { JobQueue } from '../jobs/job-queue';
import { startLeaseSweeper } from '../jobs/lease-sweeper';
import { REAL_TIMERS, type Timers } from '../jobs/result-applier';
import { jsonBody } from '../relay/json-body';
import { isStreamedResult, RelayServer } from '../relay/relay-server';
import { AgentService } from '../services/agent-service';
import { AuditService } from '../services/audit-service';
import { ConnectSyncServers } from '../services/connect-sync-servers';
import { RateLimitedCardSink } from '../services/rate-limited-sink';
import { CanaryService, startCanaryTimer } from '../services/canary-service';
import { RunbookService } from '../services/runbook-service';
import { startSummaryTimer, SummaryService } from '../services/summary-service';
import { WaveService } from '../services/wave-service';
import { VerifyService } from '../services/verify-service';
import type { Logger } from '../shared/logger';
import type { Store } from '../store/types';
import { ProactiveCardSink } from './card-sink';
import { ActivityDeduper, attachTurnWork } from './activity-deduper';
import { bodyDeadline, bodyIdleLimit } from './body-deadline';
import { refuseEncodedBodies } from './refuse-encoded-bodies';
import { requireBotToken } from './require-bot-token';
import { createAdapter, createTeamsApp } from './teams-app';

export interface RunningBot {
  url: string;
  server: restify.Server;
  verify: VerifyService;
  runbook: RunbookService;
  relay: RelayServer;
  /** Where jobs are queued; tests that store a job by hand wake agents through it. */
  jobs: JobQueue;
  waves: WaveService;
  summaries: SummaryService;
  canary: CanaryService;
  /** The no-flow checks the bot runs by itself after a cycle (issue 16). */
  noFlowFollowUp: NoFlowFollowUpService;
  /** The start-up sweep and resume of unreported verifications; resolves when both are done. */
  startup: Promise<void>;
  stop(): Promise<void>;
}

export interface StartBotOptions {
  config: BotConfig;
  store: Store;
  cloud: CloudDirectory;
  logger: Logger;
  /** The clock the runbook, waves and summaries read; tests move it across days and DST changes. */
  now?: () => Date;
  /** How often due summaries are looked for; 0 turns the timer off (tests call summaries.tick()). */
  summaryIntervalMs?: number;
  /** Names this instance in summary claims. */
  instanceId?: string;
  summaryScanTimeoutMs?: number;
  /**
   * How often expired leases and unapplied results are looked for; 0 turns the timer off (tests
   * call relay.sweep()). Default: SYNCSHIFT_LEASE_SWEEP_SECONDS.
   */
  leaseSweepMs?: number;
  /** The relay's clock (leases, result claims); separate from `now`, which tests move across days. */
  relayNow?: () => Date;
  timers?: Timers;
  /** How long any request but a streamed scan may take to send its body; default 300 s (Node's own default). */
  bodyDeadlineMs?: number;
  /** How long such a body may send nothing before it is cut with 408; default: SYNCSHIFT_BODY_IDLE_SECONDS. */
  bodyIdleMs?: number;
  /** How long a streamed scan may send nothing before the bot gives up on it; default 5 minutes. */
  streamIdleMs?: number;
  /** Step 12's canary: how often Entra and the provisioning logs are checked (default 15 s), and its timeouts. */
  canary?: {
    pollMs?: number;
    timeouts?: Partial<import('../runbook/canary').CanaryTimeouts>;
    progressEveryMs?: number;
  };
  /**
   * The no-flow check after a cycle: how often due checks are looked for (default 15 s; 0 turns the
   * timer off, tests call noFlowFollowUp.tick()), and the recheck interval and deadline in ms
   * (default: SYNCSHIFT_NO_FLOW_RECHECK_MINUTES and SYNCSHIFT_NO_FLOW_DEADLINE_MINUTES).
   */
  noFlowFollowUp?: { pollMs?: number; intervalMs?: number; deadlineMs?: number; staleMs?: number };
}

/** Teams caps a message at about 100 KB; anything much larger at /api/messages is not from Teams. */
const MAX_ACTIVITY_BYTES = 1024 * 1024;

export async function startBot(options: StartBotOptions): Promise<RunningBot> {
  const { config, store, cloud, logger } = options;
  const now = options.now ?? (() => new Date());
  const adapter = createAdapter(config);
  // Every proactive card waits for room under Teams' per-conversation and per-app limits, and gives
  // up on an answer after SYNCSHIFT_CARD_SEND_TIMEOUT_MS, so a hung update cannot freeze its card.
  const cards = new RateLimitedCardSink(new ProactiveCardSink(adapter, config.botAuth?.appId ?? '', store), {
    logger: logger.child({ part: 'cards' }),
    sendTimeoutMs: config.cardSendTimeoutMs,
  });
  const jobs = new JobQueue({ store, logger: logger.child({ part: 'jobs' }) });
  const verify = new VerifyService({
    store,
    jobs,
    cloud,
    cards,
    logger: logger.child({ part: 'verify' }),
    listLimit: config.cardListLimit,
    progressIntervalMs: config.progressIntervalMs,
  });
  const cloudSync = new CloudSyncScopeService(cloud, config.cloudSync?.servicePrincipalId ?? null);
  const canary = new CanaryService({
    store,
    cloud,
    jobs,
    logger: logger.child({ part: 'canary' }),
    policy: config.approvals,
    now,
    ...(options.canary?.timeouts ? { timeouts: options.canary.timeouts } : {}),
    ...(options.canary?.progressEveryMs !== undefined ? { progressEveryMs: options.canary.progressEveryMs } : {}),
  });
  const servers = new ConnectSyncServers({
    store,
    jobs,
    cards,
    policy: config.approvals,
    logger: logger.child({ part: 'servers' }),
    now,
  });
  // The ledger's confirmations come from stored evidence (step 12, verifies, wave summaries); step 16 reads it.
  const ledger = new OuLedgerService({ store, cloudSync, confirmations: storedConfirmations(store) });
  const runbook = new RunbookService({
    store,
    cloud,
    cards,
    logger: logger.child({ part: 'runbook' }),
    policy: config.approvals,
    jobs,
    cloudSync,
    servers,
    now,
    canary,
    ledger,
  });
  const noFlow = new NoFlowCheckService({ store, jobs, cards, servers, logger: logger.child({ part: 'no-flow' }) });
  const followUpOptions = options.noFlowFollowUp ?? {};
  const noFlowFollowUp = new NoFlowFollowUpService({
    store,
    jobs,
    cards,
    servers,
    noFlow,
    logger: logger.child({ part: 'no-flow-follow-up' }),
    timing: {
      intervalMs: followUpOptions.intervalMs ?? config.noFlowFollowUp.intervalMs,
      deadlineMs: followUpOptions.deadlineMs ?? config.noFlowFollowUp.deadlineMs,
    },
    ...(followUpOptions.staleMs !== undefined ? { staleMs: followUpOptions.staleMs } : {}),
  });
  const waveEngine = new WaveEngineService({
    store,
    jobs,
    cards,
    logger: logger.child({ part: 'wave-engine' }),
    policy: config.approvals,
    servers,
    cloudSync,
    now,
  });
  const waves = new WaveService({ store, cards, logger: logger.child({ part: 'waves' }), jobs, now });
  const summaries = new SummaryService({
    store,
    cloud,
    cards,
    waves,
    ledger,
    logger: logger.child({ part: 'summary' }),
    jobs,
    now,
    // Summary claims are leases too: on the relay's clock, like job leases (summary-repo.ts says why).
    ...(options.relayNow ? { leaseNow: options.relayNow } : {}),
    ...(options.instanceId ? { instanceId: options.instanceId } : {}),
    ...(options.summaryScanTimeoutMs ? { scanTimeoutMs: options.summaryScanTimeoutMs } : {}),
  });
  const timers = options.timers ?? REAL_TIMERS;
  const relay = new RelayServer({
    store,
    jobs,
    // Each consumer is safe to run twice for one job: a result is offered again after a crash.
    consumers: {
      verify: (job) => verify.scanFinished(job),
      // A staging server's read is a step check no step waits for; it goes to the servers' record.
      'step.check': async (job) => {
        if (await noFlowFollowUp.jobFinished(job)) return;
        if (await noFlow.jobFinished(job)) return;
        if (!(await servers.stagingReadFinished(job))) await runbook.stepJobFinished(job);
      },
      'step.precheck': (job) => runbook.stepJobFinished(job),
      // Step 13's scheduler start done: the no-flow check follows by itself once the cycle completes.
      'step.action': async (job) => {
        await runbook.stepJobFinished(job);
        await noFlowFollowUp.afterStepJob(job);
      },
      'step.undo': (job) => runbook.stepJobFinished(job),
      'wave.count': (job) => waves.countFinished(job),
      'summary.count': (job) => summaries.countFinished(job),
      canary: (job) => canary.jobFinished(job),
      'wave.action': async (job) => {
        await waveEngine.jobFinished(job);
        await noFlowFollowUp.afterWaveJob(job);
      },
    },
    agentSecrets: config.agentSecrets,
    leaseMs: config.jobLeaseMs,
    maxAttempts: config.jobMaxAttempts,
    logger: logger.child({ part: 'relay' }),
    timers,
    ...(options.relayNow ? { now: options.relayNow } : {}),
    ...(options.streamIdleMs ? { streamIdleMs: options.streamIdleMs } : {}),
    listener: {
      onProgress: (job, scanned) => verify.onProgress(job, scanned),
      onScanArriving: (jobId, head) => verify.onScanArriving(jobId, head),
      onJobRequeued: (job, attempts, reason) => verify.onJobRequeued(job, attempts, reason),
    },
  });
  let listenUrl = '';
  const audit = new AuditService(store, () => config.publicUrl ?? listenUrl, config.linkSigningKey);
  const agents = new AgentService({
    store,
    approvers: config.approvals.approvers,
    staticAgents: [...config.agentSecrets.keys()],
    enrollmentTtlMs: config.enrollmentTtlMs,
    leasesReleased: async () => {
      await relay.expireLeases();
      jobs.wakeAgents();
    },
  });
  const app = createTeamsApp(adapter, {
    store,
    verify,
    runbook,
    audit,
    agents,
    waves,
    waveEngine,
    summaries,
    ledger,
    servers,
    noFlow,
    botAppId: config.botAuth?.appId ?? '',
    logger,
  });
  const deduper = new ActivityDeduper(store, logger.child({ part: 'dedupe' }));

  const server = restify.createServer({ name: 'syncshift', handleUncaughtExceptions: false });
  // Before routing: no route, the relay's included, may inflate a compressed body.
  server.pre(refuseEncodedBodies);
  server.server.requestTimeout = 0;
  server.pre(bodyDeadline(options.bodyDeadlineMs ?? 300_000, isStreamedResult));
  server.pre(bodyIdleLimit(options.bodyIdleMs ?? config.bodyIdleMs, isStreamedResult));
  // Body limits are per route: agent results can be large, nothing else may be.
  server.use(restify.plugins.queryParser({ mapParams: false }));
  const turnLogger = logger.child({ part: 'activities' });
  // In production mode a request without a token that could be valid is refused before its body is read.
  const tokenGate: restify.RequestHandler[] = config.botAuth ? [requireBotToken(turnLogger)] : [];
  server.post(
    '/api/messages',
    ...tokenGate,
    ...jsonBody(MAX_ACTIVITY_BYTES),
    async (req: restify.Request, res: restify.Response) => {
      await adapter.handleRequest(
        req,
        res,
        async (context) => {
          // Runs only after the token was validated, so a forged request cannot burn a real activity id.
          await deduper.handleOnce(context.activity, async (work) => {
            attachTurnWork(context, work);
            await app.run(context);
          });
        },
        turnLogger,
      );
    },
  );
  server.get('/healthz', (_req, res, next) => {
    res.send(200, { ok: true, mode: config.botAuth ? 'production' : 'local' });
    next();
  });
  relay.register(server);
  server.get('/exports/audit', async (req, res) => {
    const result = await audit.download(req.query as Record<string, string | undefined>);
    res.writeHead(result.status, {
      'content-type': result.contentType,
      'content-disposition':
        result.status === 200 ? `attachment; filename="syncshift-audit.${req.query.format}"` : 'inline',
    });
    res.end(result.body);
  });

  await new Promise<void>((resolve) => server.listen(config.port, config.host, resolve));
  const address = server.address() as unknown as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  listenUrl = `http://${host}:${address.port}`;
  // Leases that ran out and results stored but never applied while the bot was down (a crash right
  // after accepting a result), then verifications that still owe their card.
  const relayLog = logger.child({ part: 'relay' });
  const startup = relay
    .sweep()
    .catch((err: Error) =>
      relayLog.error(
        { err: err.message },
        'the start-up sweep of leases and unapplied results failed; the timer tries again',
      ),
    )
    .then(async () => void (await verify.resumeUnreported()))
    .catch((err: Error) => logger.error({ err: err.message }, 'resuming unreported verifications failed'));
  const interval = options.summaryIntervalMs ?? 30_000;
  const stopSummaryTimer = interval > 0 ? startSummaryTimer(summaries, logger, interval) : () => undefined;
  const canaryPollMs = options.canary?.pollMs ?? 15_000;
  const stopCanaryTimer =
    canaryPollMs > 0 ? startCanaryTimer(canary, logger.child({ part: 'canary' }), canaryPollMs) : async () => undefined;
  const followUpPollMs = followUpOptions.pollMs ?? 15_000;
  // Its first look, at once, resumes checks a stopped instance left pending.
  const stopFollowUpTimer =
    followUpPollMs > 0
      ? startNoFlowFollowUpTimer(noFlowFollowUp, logger.child({ part: 'no-flow-follow-up' }), followUpPollMs)
      : async () => undefined;
  const sweeper = startLeaseSweeper({
    sweep: () => relay.sweep(),
    intervalMs: options.leaseSweepMs ?? config.leaseSweepMs,
    timers,
    logger: relayLog,
  });

  return {
    url: `http://${host}:${address.port}`,
    server,
    verify,
    runbook,
    relay,
    jobs,
    waves,
    summaries,
    startup,
    canary,
    noFlowFollowUp,
    stop: async () => {
      stopSummaryTimer();
      await stopCanaryTimer();
      await stopFollowUpTimer();
      sweeper.stop();
      // Open long polls are answered now and no new connection is taken, so a rolling restart takes
      // seconds, not an agent's whole poll; requests under way (a result, a streamed scan) finish.
      relay.stopLeasing();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      // Summaries waiting for agent counts give up (and are retried later) before the store closes.
      await Promise.all([summaries.stop(), startup, sweeper.running()]).catch(() => undefined);
      await jobs.close();
      await closed;
    },
  };
}
