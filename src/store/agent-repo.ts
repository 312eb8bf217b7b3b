import { jsonParam, timeParam, toDate, toDateOrNull, type Db, type Row } from './sql';

export type AgentStatus = 'active' | 'revoked';

export interface AgentRecord {
  name: string;
  status: AgentStatus;
  /** SHA-256 (hex) of the enrolled credential; null for an agent configured in SYNCSHIFT_AGENT_SECRETS. */
  secretSha256: string | null;
  enrolledAt: Date | null;
  enrolledBy: string | null;
  revokedAt: Date | null;
  lastSeenAt: Date | null;
  version: string | null;
  actionsRun: number;
  /** The actions its latest lease request said it can run; null when it never said (an older agent, offered nothing). */
  actions: string[] | null;
  readOnly: boolean | null;
  /** The job this agent holds right now, if any. */
  lease: { jobId: string; kind: string; expiresAt: Date } | null;
}

export type EnrollmentPurpose = 'enroll' | 'rotate';

export interface AgentRepo {
  get(name: string): Promise<AgentRecord | null>;
  list(): Promise<AgentRecord[]>;
  addEnrollmentCode(input: {
    codeSha256: string;
    agentName: string;
    purpose: EnrollmentPurpose;
    createdBy: string;
    expiresAt: Date;
  }): Promise<void>;
  /**
   * Spends a code and gives its agent the new credential, atomically. Null when the code is unknown,
   * already used or expired; nothing changes then.
   */
  redeemEnrollmentCode(input: {
    codeSha256: string;
    secretSha256: string;
    now: Date;
  }): Promise<{ agentName: string; purpose: EnrollmentPurpose; createdBy: string } | null>;
  /**
   * Revokes an agent and ends its leases at `now`, so its jobs are handled as if the agent had
   * vanished: read-only ones go to the next agent, mutating ones become "outcome unknown".
   */
  revoke(input: { name: string; by: string; now: Date }): Promise<{ releasedJobs: number }>;
  /** Records that the agent was heard from; creates the row for an agent configured by environment. */
  touch(input: { name: string; version: string | null; now: Date }): Promise<void>;
  /** Counts a delivered result towards "actions run". */
  countResult(name: string): Promise<void>;
  /** Records what the agent said, in a lease request, it can run. */
  declareCapabilities(input: { name: string; actions: readonly string[]; readOnly: boolean }): Promise<void>;
  /** Agents with an unspent, unexpired code: shown as "pending" until they enroll. */
  pendingEnrollments(now: Date): Promise<{ agentName: string; expiresAt: Date }[]>;
}

export interface ActivityRepo {
  /** True the first time a key is seen (by any bot instance sharing the database), false after. */
  markSeen(key: string, now: Date): Promise<boolean>;
  /** Makes a key unseen again, so the next delivery of that activity is handled. */
  forget(key: string): Promise<void>;
  /** Forgets keys older than `before`; Teams stops retrying long before a day has passed. */
  prune(before: Date): Promise<number>;
}

const AGENT_COLUMNS = `a.name, a.status, a.secret_sha256, a.enrolled_at, a.enrolled_by, a.revoked_at, a.last_seen_at, a.version, a.actions_run, a.actions, a.read_only,
  l.id AS lease_job_id, l.kind AS lease_kind, l.lease_expires_at AS lease_expires_at`;
const AGENT_FROM = `agents a LEFT JOIN LATERAL (
    SELECT id, kind, lease_expires_at FROM jobs j WHERE j.agent_id = a.name AND j.state = 'leased' ORDER BY j.seq DESC LIMIT 1) l ON true`;

function mapAgent(row: Row): AgentRecord {
  return {
    name: String(row.name),
    status: row.status as AgentStatus,
    secretSha256: row.secret_sha256 === null || row.secret_sha256 === undefined ? null : String(row.secret_sha256),
    enrolledAt: toDateOrNull(row.enrolled_at),
    enrolledBy: row.enrolled_by === null || row.enrolled_by === undefined ? null : String(row.enrolled_by),
    revokedAt: toDateOrNull(row.revoked_at),
    lastSeenAt: toDateOrNull(row.last_seen_at),
    version: row.version === null || row.version === undefined ? null : String(row.version),
    actionsRun: Number(row.actions_run),
    actions: Array.isArray(row.actions) ? row.actions.map(String) : null,
    readOnly: row.read_only === null || row.read_only === undefined ? null : Boolean(row.read_only),
    lease: row.lease_job_id
      ? { jobId: String(row.lease_job_id), kind: String(row.lease_kind), expiresAt: toDate(row.lease_expires_at) }
      : null,
  };
}

export function createAgentRepo(db: Db): AgentRepo {
  return {
    async get(name) {
      const rows = await db.query(`SELECT ${AGENT_COLUMNS} FROM ${AGENT_FROM} WHERE a.name = $1`, [name]);
      return rows[0] ? mapAgent(rows[0]) : null;
    },
    async list() {
      const rows = await db.query(`SELECT ${AGENT_COLUMNS} FROM ${AGENT_FROM} ORDER BY a.name`);
      return rows.map(mapAgent);
    },
    async addEnrollmentCode(input) {
      await db.query(
        `INSERT INTO agent_enrollment_codes (code_sha256, agent_name, purpose, created_by, expires_at) VALUES ($1, $2, $3, $4, $5::timestamptz)`,
        [input.codeSha256, input.agentName, input.purpose, input.createdBy, timeParam(input.expiresAt)],
      );
    },
    async redeemEnrollmentCode({ codeSha256, secretSha256, now }) {
      return db.transaction(async (tx) => {
        const spent = await tx.query(
          `UPDATE agent_enrollment_codes SET used_at = $2::timestamptz
            WHERE code_sha256 = $1 AND used_at IS NULL AND expires_at > $2::timestamptz
           RETURNING agent_name, purpose, created_by`,
          [codeSha256, timeParam(now)],
        );
        const code = spent[0];
        if (!code) return null;
        const agentName = String(code.agent_name);
        await tx.query(
          `INSERT INTO agents (name, status, secret_sha256, enrolled_at, enrolled_by) VALUES ($1, 'active', $2, $3::timestamptz, $4)
           ON CONFLICT (name) DO UPDATE SET status = 'active', secret_sha256 = EXCLUDED.secret_sha256, enrolled_at = EXCLUDED.enrolled_at,
             enrolled_by = EXCLUDED.enrolled_by, revoked_at = NULL, revoked_by = NULL`,
          [agentName, secretSha256, timeParam(now), String(code.created_by)],
        );
        // Other codes for this agent are void: one credential at a time.
        await tx.query(
          `UPDATE agent_enrollment_codes SET used_at = $2::timestamptz WHERE agent_name = $1 AND used_at IS NULL`,
          [agentName, timeParam(now)],
        );
        return { agentName, purpose: code.purpose as EnrollmentPurpose, createdBy: String(code.created_by) };
      });
    },
    async revoke({ name, by, now }) {
      return db.transaction(async (tx) => {
        await tx.query(
          `INSERT INTO agents (name, status, revoked_at, revoked_by) VALUES ($1, 'revoked', $2::timestamptz, $3)
           ON CONFLICT (name) DO UPDATE SET status = 'revoked', revoked_at = EXCLUDED.revoked_at, revoked_by = EXCLUDED.revoked_by`,
          [name, timeParam(now), by],
        );
        // Unspent codes would let the revoked agent straight back in.
        await tx.query(
          `UPDATE agent_enrollment_codes SET used_at = $2::timestamptz WHERE agent_name = $1 AND used_at IS NULL`,
          [name, timeParam(now)],
        );
        const released = await tx.query(
          `UPDATE jobs SET lease_expires_at = $2::timestamptz, updated_at = $2::timestamptz
            WHERE agent_id = $1 AND state = 'leased' RETURNING id`,
          [name, timeParam(now)],
        );
        return { releasedJobs: released.length };
      });
    },
    async touch({ name, version, now }) {
      await db.query(
        `INSERT INTO agents (name, last_seen_at, version) VALUES ($1, $2::timestamptz, $3)
         ON CONFLICT (name) DO UPDATE SET last_seen_at = EXCLUDED.last_seen_at, version = COALESCE(EXCLUDED.version, agents.version)`,
        [name, timeParam(now), version],
      );
    },
    async countResult(name) {
      await db.query(`UPDATE agents SET actions_run = actions_run + 1 WHERE name = $1`, [name]);
    },
    async declareCapabilities({ name, actions, readOnly }) {
      // Only when it changed: lease requests arrive every few seconds per agent.
      await db.query(
        `UPDATE agents SET actions = $2::jsonb, read_only = $3
          WHERE name = $1 AND (actions IS DISTINCT FROM $2::jsonb OR read_only IS DISTINCT FROM $3)`,
        [name, jsonParam([...actions]), readOnly],
      );
    },
    async pendingEnrollments(now) {
      const rows = await db.query(
        `SELECT agent_name, max(expires_at) AS expires_at FROM agent_enrollment_codes
          WHERE used_at IS NULL AND expires_at > $1::timestamptz GROUP BY agent_name ORDER BY agent_name`,
        [timeParam(now)],
      );
      return rows.map((row) => ({ agentName: String(row.agent_name), expiresAt: toDate(row.expires_at) }));
    },
  };
}

export function createActivityRepo(db: Db): ActivityRepo {
  return {
    async markSeen(key, now) {
      const rows = await db.query(
        `INSERT INTO seen_activities (activity_key, seen_at) VALUES ($1, $2::timestamptz) ON CONFLICT (activity_key) DO NOTHING RETURNING activity_key`,
        [key, timeParam(now)],
      );
      return rows.length === 1;
    },
    async forget(key) {
      await db.query(`DELETE FROM seen_activities WHERE activity_key = $1`, [key]);
    },
    async prune(before) {
      const rows = await db.query(
        `DELETE FROM seen_activities WHERE seen_at < $1::timestamptz RETURNING activity_key`,
        [timeParam(before)],
      );
      return rows.length;
    },
  };
}
