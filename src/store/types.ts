/**
 * The store's ports. Implementations live beside this file; callers depend only on these types.
 * Every write that the bot relies on after a crash goes through here.
 */

import type { Actor } from '../runbook/actor';
import type { OnPremUser } from '../runbook/ou-comparison';
import type { JobPurpose } from './job-purpose';
import type { MigrationRecord } from './migration-record';
import type { Db } from './sql';

// Defined beside its row mapping (which the runbook repository shares); callers take it from here.
export type { MigrationRecord };

export type JobState = 'queued' | 'leased' | 'succeeded' | 'failed';

export interface JobRecord {
  id: string;
  kind: string;
  /** Which consumer the finished job goes to. */
  purpose: JobPurpose;
  payload: unknown;
  state: JobState;
  conversationId: string;
  migrationId: string | null;
  requestedBy: Actor;
  agentId: string | null;
  leaseExpiresAt: Date | null;
  attempts: number;
  progress: unknown;
  result: unknown;
  error: unknown;
  createdAt: Date;
  updatedAt: Date;
  finishedAt: Date | null;
  /** When the consumer (runbook, wave count, verify) finished with the result; null until then. */
  appliedAt: Date | null;
}

/** Leases that ran out, as the sweep found them; each job is in at most one list, on one instance. */
export interface ExpiredLeases {
  /** Started mutating jobs, failed with RELAY.OUTCOME_UNKNOWN. */
  outcomeUnknown: JobRecord[];
  /** Retryable jobs that used up their attempts, failed with RELAY.AGENT_LOST. */
  exhausted: JobRecord[];
  /** Retryable jobs back in the queue (result not included). */
  requeued: JobRecord[];
}

export interface VerificationRecord {
  id: string;
  jobId: string;
  conversationId: string;
  migrationId: string | null;
  /** The OU as the person typed it. */
  ouInput: string;
  /** Set once the agent has resolved the OU. */
  baseDn: string | null;
  cardActivityId: string | null;
  status: 'running' | 'reported' | 'failed';
  /** Counts and truncated lists shown on the card. */
  summary: unknown;
  /** Full missing/extra/mismatched lists for `/verify list`. */
  report: unknown;
  createdAt: Date;
  reportedAt: Date | null;
}

/** What happened, as a caller records it; who did it is passed beside it (see Store.audit.record). */
export interface AuditEvent {
  action: string;
  target: string | null;
  outcome: string;
  details?: unknown;
  conversationId: string | null;
  /** Defaults to the database's now(). */
  at?: Date;
}

export interface AuditEntry {
  at: Date;
  /** The actor's id: an Entra object id for a person, `syncshift`, `agent:<name>` (older rows may hold a display name). */
  actor: string;
  /** The actor's name as people read it. */
  actorName: string;
  action: string;
  target: string | null;
  outcome: string;
  details: unknown;
  conversationId: string | null;
}

export interface Store {
  readonly db: Db;
  runbook: import('./runbook-repo').RunbookRepo;
  waves: import('./wave-repo').WaveRepo;
  /** Relay agents: enrollment, credentials (as digests), revocation and health. */
  agents: import('./agent-repo').AgentRepo;
  /** Activity ids already handled, so a redelivery from Teams is processed once across instances. */
  activities: import('./agent-repo').ActivityRepo;
  migrations: {
    /** Creates the migration for a conversation; returns null when the conversation already has one. */
    create(input: { name: string; conversationId: string; createdBy: string }): Promise<MigrationRecord | null>;
    findByConversation(conversationId: string): Promise<MigrationRecord | null>;
  };
  conversations: {
    /** Upserts the Bot Framework conversation reference (JSON) so the bot can post proactively. */
    saveReference(conversationId: string, reference: unknown): Promise<void>;
    getReference(conversationId: string): Promise<unknown | null>;
  };
  jobs: {
    /**
     * Stores a job only; services queue through src/jobs (JobQueue), which also audits and wakes agents.
     * `mutating`: the job changes something, so it is never handed out twice (see expireMutating).
     */
    enqueue(input: {
      kind: string;
      purpose: JobPurpose;
      payload: unknown;
      conversationId: string;
      migrationId: string | null;
      requestedBy: Actor;
      mutating?: boolean;
    }): Promise<JobRecord>;
    /**
     * Atomically hands the oldest job `agentId` can run to it (FOR UPDATE SKIP LOCKED), or returns
     * null. `actions`: what the agent declared it runs (null: anything). A revoked agent gets nothing.
     * A job that has been leased `maxAttempts` times is not handed out again.
     */
    lease(input: {
      agentId: string;
      leaseMs: number;
      now: Date;
      maxAttempts?: number;
      actions?: readonly string[] | null;
    }): Promise<JobRecord | null>;
    /** Fails started mutating jobs whose lease ran out with RELAY.OUTCOME_UNKNOWN, and returns them. */
    expireMutating(input: { now: Date; claimMs?: number }): Promise<JobRecord[]>;
    /**
     * Everything that happens to leases that ran out: started mutating jobs become outcome unknown,
     * retryable ones go back to the queue, or fail once they have used up `maxAttempts`.
     */
    expireLeases(input: { now: Date; maxAttempts?: number; claimMs?: number }): Promise<ExpiredLeases>;
    /**
     * Ends the leases `agentId` holds now (so expireLeases takes them at `now`) when the bot knows
     * the agent is no longer working on them: `except` lists the jobs it says it still holds;
     * `jobIds` limits it to those jobs, and `quietSince` to jobs with no word from the agent (no
     * progress, heartbeat or result) since then. Returns the ids of the jobs it ended.
     */
    endLeasesEarly(input: {
      agentId: string;
      now: Date;
      except?: readonly string[];
      jobIds?: readonly string[];
      quietSince?: Date;
    }): Promise<string[]>;
    /**
     * Stores progress only while `agentId` holds the lease; returns false otherwise. `starting`
     * records that the agent is about to act: from then on a mutating job is never handed out again.
     */
    reportProgress(input: {
      jobId: string;
      agentId: string;
      progress: unknown;
      leaseMs: number;
      now: Date;
      starting?: boolean;
    }): Promise<boolean>;
    /**
     * Stores piece `seq` of upload `upload` (an id the bot gives each upload of a scan) of a scan's
     * users (a JSON array, already checked) while `agentId` may still finish the job; returns false
     * otherwise. Two uploads of one job never touch each other's pieces.
     */
    putResultPiece(input: {
      jobId: string;
      agentId: string;
      upload: string;
      seq: number;
      usersJson: string;
    }): Promise<boolean>;
    /** Drops the pieces of an upload that was refused or cut off; never those of the upload the job finished with. */
    dropResultUpload(input: { jobId: string; upload: string }): Promise<void>;
    /** A stored scan's users, piece by piece, in the order the agent sent them: the pieces of the upload the job finished with. */
    resultUsers(jobId: string): AsyncIterable<OnPremUser[]>;
    /**
     * Finishes a job leased by `agentId` (or last leased by it and not taken by another agent since);
     * returns null and changes nothing otherwise. The caller holds the claim to apply the result.
     * `resultUpload` names the upload whose pieces hold the scan's users; every other upload's pieces are dropped.
     */
    finish(input: {
      jobId: string;
      agentId: string;
      outcome: 'succeeded' | 'failed';
      result: unknown;
      error: unknown;
      now: Date;
      claimMs?: number;
      resultUpload?: string | null;
    }): Promise<JobRecord | null>;
    /** Claims up to `limit` finished jobs whose result was never applied and nobody is applying; returns their ids. */
    claimUnapplied(input: { now: Date; claimMs?: number; limit: number }): Promise<string[]>;
    /** Extends the claim while a consumer is still working on the result. */
    renewApplyClaim(input: { jobId: string; now: Date; claimMs?: number }): Promise<boolean>;
    /** The consumer is done with the result: it is never handed out again. */
    markApplied(input: { jobId: string; now: Date }): Promise<void>;
    /** The consumer failed: try again after `retryAfterMs`, or stop after `maxFailures` failures. */
    releaseApplyClaim(input: {
      jobId: string;
      now: Date;
      retryAfterMs: number;
      maxFailures: number;
    }): Promise<'retry' | 'gave-up'>;
    /** Queued jobs, by action, that no active agent seen since `onlineSince` has said it can run. */
    waitingForCapableAgent(input: { onlineSince: Date }): Promise<{ action: string; jobs: number; since: Date }[]>;
    get(jobId: string): Promise<JobRecord | null>;
    /** Fails jobs that no agent has taken yet (their requester gave up waiting); returns how many. */
    cancelQueued(input: { jobIds: string[]; reason: string; now: Date }): Promise<number>;
  };
  verifications: {
    create(input: {
      jobId: string;
      conversationId: string;
      migrationId: string | null;
      ouInput: string;
    }): Promise<VerificationRecord>;
    setCardActivityId(id: string, activityId: string): Promise<void>;
    findByJob(jobId: string): Promise<VerificationRecord | null>;
    get(id: string): Promise<VerificationRecord | null>;
    /** Latest first. */
    listByConversation(conversationId: string, limit: number): Promise<VerificationRecord[]>;
    complete(input: {
      id: string;
      status: 'reported' | 'failed';
      baseDn: string | null;
      summary: unknown;
      report: unknown;
      now: Date;
    }): Promise<void>;
    /** Verifications whose job finished but whose card was never updated (the bot stopped in between). */
    listUnreported(): Promise<VerificationRecord[]>;
  };
  audit: {
    /** The one way anything is put on the record. Append-only: there is no update or delete. */
    record(actor: Actor, event: AuditEvent): Promise<void>;
    latest(limit: number): Promise<AuditEntry[]>;
    /** The newest `limit` entries of one conversation, oldest first; `person` keeps only the rows of the actor with that id or name (any case). */
    forConversation(conversationId: string, limit: number, person?: string): Promise<AuditEntry[]>;
  };
  close(): Promise<void>;
}
