import type { Actor } from '../runbook/actor';
import { assertLimit, jsonParam, timeParam, toDate, toJson, toStringOrNull, type Db, type Row } from './sql';

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

export interface AuditRepo {
  /** The one way anything is put on the record. Append-only: there is no update or delete. */
  record(actor: Actor, event: AuditEvent): Promise<void>;
  latest(limit: number): Promise<AuditEntry[]>;
  /** The newest `limit` entries of one conversation, oldest first; `person` keeps only the rows of the actor with that id or name (any case). */
  forConversation(conversationId: string, limit: number, person?: string): Promise<AuditEntry[]>;
}

/** Read from the audit_entries view, which names the actor of rows written before actor_name existed. */
const AUDIT_COLUMNS = 'at, actor, actor_name, action, target, outcome, details, conversation_id';

function mapAudit(row: Row): AuditEntry {
  return {
    at: toDate(row.at),
    actor: String(row.actor),
    actorName: String(row.actor_name),
    action: String(row.action),
    target: toStringOrNull(row.target),
    outcome: String(row.outcome),
    details: toJson(row.details),
    conversationId: toStringOrNull(row.conversation_id),
  };
}

export function createAuditRepo(db: Db): AuditRepo {
  return {
    async record(actor, event) {
      await db.query(
        `INSERT INTO audit_log (at, actor, actor_name, action, target, outcome, details, conversation_id)
           VALUES (COALESCE($1::timestamptz, now()), $2, $3, $4, $5, $6, $7::jsonb, $8)`,
        [
          timeParam(event.at),
          actor.id,
          actor.name,
          event.action,
          event.target ?? null,
          event.outcome,
          jsonParam(event.details),
          event.conversationId ?? null,
        ],
      );
    },
    async latest(limit) {
      assertLimit(limit, 'audit.latest');
      const rows = await db.query(`SELECT ${AUDIT_COLUMNS} FROM audit_entries ORDER BY at DESC, seq DESC LIMIT $1`, [
        limit,
      ]);
      return rows.map(mapAudit);
    },
    async forConversation(conversationId, limit, person) {
      // Oldest first: an export reads as a timeline. A person is matched by id or by name, since
      // people know each other by name and older rows hold only a name.
      const byPerson = person === undefined ? '' : 'AND (lower(actor) = lower($3) OR lower(actor_name) = lower($3))';
      const rows = await db.query(
        `SELECT ${AUDIT_COLUMNS} FROM (
             SELECT seq, ${AUDIT_COLUMNS} FROM audit_entries
             WHERE conversation_id = $1 ${byPerson} ORDER BY at DESC, seq DESC LIMIT $2) latest ORDER BY at, seq`,
        person === undefined ? [conversationId, limit] : [conversationId, limit, person],
      );
      return rows.map(mapAudit);
    },
  };
}
