import { toDate } from './sql';

/** One migration: a conversation's walk through the runbook. */
export interface MigrationRecord {
  id: string;
  name: string;
  conversationId: string;
  createdBy: string;
  createdAt: Date;
}

export function mapMigration(row: Record<string, unknown>): MigrationRecord {
  return {
    id: String(row.id),
    name: String(row.name),
    conversationId: String(row.conversation_id),
    createdBy: String(row.created_by),
    createdAt: toDate(row.created_at),
  };
}
