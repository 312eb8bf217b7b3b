import { AppError } from '../shared/errors';
import { jsonParam, toJson, type Db } from './sql';

export interface ConversationRepo {
  /** Upserts the Bot Framework conversation reference (JSON) so the bot can post proactively. */
  saveReference(conversationId: string, reference: unknown): Promise<void>;
  getReference(conversationId: string): Promise<unknown | null>;
}

export function createConversationRepo(db: Db): ConversationRepo {
  return {
    async saveReference(conversationId, reference) {
      if (reference === undefined || reference === null) {
        throw new AppError('STORE.ERROR', `An empty conversation reference was saved for ${conversationId}.`, {
          hint: 'Pass the reference from TurnContext.getConversationReference(activity).',
        });
      }
      await db.query(
        `INSERT INTO conversation_refs (conversation_id, reference, updated_at) VALUES ($1, $2::jsonb, now())
           ON CONFLICT (conversation_id) DO UPDATE SET reference = EXCLUDED.reference, updated_at = EXCLUDED.updated_at`,
        [conversationId, jsonParam(reference)],
      );
    },
    async getReference(conversationId) {
      const rows = await db.query('SELECT reference FROM conversation_refs WHERE conversation_id = $1', [
        conversationId,
      ]);
      return rows[0] ? toJson(rows[0].reference) : null;
    },
  };
}
