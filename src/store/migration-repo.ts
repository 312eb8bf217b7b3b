import { mapMigration, type MigrationRecord } from './migration-record';
import type { Db } from './sql';

export interface MigrationRepo {
  /** Creates the migration for a conversation; returns null when the conversation already has one. */
  create(input: { name: string; conversationId: string; createdBy: string }): Promise<MigrationRecord | null>;
  findByConversation(conversationId: string): Promise<MigrationRecord | null>;
}

export function createMigrationRepo(db: Db): MigrationRepo {
  return {
    async create(input) {
      // ON CONFLICT against the partial unique index: concurrent creates for one conversation cannot both win.
      const rows = await db.query(
        `INSERT INTO migrations (name, conversation_id, created_by) VALUES ($1, $2, $3)
           ON CONFLICT (conversation_id) WHERE status = 'active' DO NOTHING
           RETURNING id, name, conversation_id, created_by, created_at`,
        [input.name, input.conversationId, input.createdBy],
      );
      return rows[0] ? mapMigration(rows[0]) : null;
    },
    async findByConversation(conversationId) {
      const rows = await db.query(
        `SELECT id, name, conversation_id, created_by, created_at FROM migrations
           WHERE conversation_id = $1 AND status = 'active'`,
        [conversationId],
      );
      return rows[0] ? mapMigration(rows[0]) : null;
    },
  };
}
