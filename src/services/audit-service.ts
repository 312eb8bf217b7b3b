import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { AdaptiveCardJson } from '../cards/render';
import { renderMessageCard } from '../cards/message-cards';
import type { AuditEntry, Store } from '../store/types';

export type ExportFormat = 'csv' | 'json';

/** An export link is good for this long; long enough to click, short enough not to matter if pasted elsewhere. */
const LINK_TTL_MS = 15 * 60_000;
const MAX_EXPORT_ROWS = 100_000;

/**
 * The audit trail in chat: the latest entries as a card, and all of a conversation's entries as a
 * signed, short-lived download link (Teams cannot receive arbitrary files in a channel).
 */
export class AuditService {
  private readonly key: Buffer;

  constructor(
    private readonly store: Store,
    /** A function: the listen address is known only once the server is up. */
    private readonly publicUrl: () => string,
    signingKey?: string,
    private readonly now: () => Date = () => new Date(),
  ) {
    this.key = signingKey ? Buffer.from(signingKey, 'utf8') : randomBytes(32);
  }

  async latestCard(conversationId: string, limit: number): Promise<AdaptiveCardJson> {
    const entries = await this.store.audit.forConversation(conversationId, limit);
    return renderMessageCard({
      title: `Audit: latest ${entries.length} entr${entries.length === 1 ? 'y' : 'ies'}`,
      text:
        entries.length === 0
          ? 'Nothing has been recorded in this conversation yet.'
          : 'Oldest first. Entries are append-only; the database refuses to change or delete them.',
      hint: 'Type /audit export csv (or json) for all entries.',
      items: entries.map(
        (e) => `${e.at.toISOString()} · ${e.actorName} · ${e.action}${e.target ? ` ${e.target}` : ''} → ${e.outcome}`,
      ),
    });
  }

  /** `person`: only the rows of the actor with that id or name. */
  exportCard(conversationId: string, format: ExportFormat, person?: string): AdaptiveCardJson {
    const url = this.exportUrl(conversationId, format, person);
    return renderMessageCard({
      title: `Audit export (${format.toUpperCase()})${person === undefined ? '' : ` of ${person}`}`,
      text: `Download: ${url}`,
      link: { title: 'Download', url },
      hint: `The link works for ${LINK_TTL_MS / 60_000} minutes and only for this conversation.`,
    });
  }

  exportUrl(conversationId: string, format: ExportFormat, person?: string): string {
    const expires = this.now().getTime() + LINK_TTL_MS;
    const sig = this.sign(conversationId, format, expires, person);
    const byPerson = person === undefined ? '' : `&person=${encodeURIComponent(person)}`;
    return `${this.publicUrl()}/exports/audit?conversation=${encodeURIComponent(conversationId)}&format=${format}${byPerson}&expires=${expires}&sig=${sig}`;
  }

  /** Checks a download request; returns the body to send or an error status with a reason. */
  async download(
    query: Record<string, string | undefined>,
  ): Promise<{ status: number; contentType: string; body: string }> {
    const { conversation, format, person, expires, sig } = query;
    const fail = (status: number, message: string): { status: number; contentType: string; body: string } => ({
      status,
      contentType: 'application/json',
      body: JSON.stringify({ message }),
    });
    if (!conversation || (format !== 'csv' && format !== 'json') || !expires || !sig || !/^\d+$/.test(expires))
      return fail(400, 'The export link is incomplete; ask for a new one with /audit export csv.');
    const expected = Buffer.from(this.sign(conversation, format, Number(expires), person), 'utf8');
    const given = Buffer.from(sig, 'utf8');
    if (expected.length !== given.length || !timingSafeEqual(expected, given))
      return fail(403, 'The export link is not valid.');
    if (Number(expires) < this.now().getTime())
      return fail(410, 'The export link has expired; ask for a new one with /audit export csv.');
    const entries = await this.store.audit.forConversation(conversation, MAX_EXPORT_ROWS, person);
    return format === 'json'
      ? { status: 200, contentType: 'application/json', body: JSON.stringify(entries, null, 2) }
      : { status: 200, contentType: 'text/csv; charset=utf-8', body: toCsv(entries) };
  }

  /** The person is signed too, so a link for one person's rows cannot be widened to everyone's. */
  private sign(conversationId: string, format: string, expires: number, person?: string): string {
    const signed = `${conversationId}\n${format}\n${expires}${person === undefined ? '' : `\n${person}`}`;
    return createHmac('sha256', this.key).update(signed).digest('base64url');
  }
}

export function toCsv(entries: AuditEntry[]): string {
  // actor_name goes last so the columns a spreadsheet already reads keep their places.
  const header = ['at', 'actor', 'action', 'target', 'outcome', 'details', 'conversation_id', 'actor_name'];
  const rows = entries.map((e) => [
    e.at.toISOString(),
    e.actor,
    e.action,
    e.target ?? '',
    e.outcome,
    JSON.stringify(e.details ?? null),
    e.conversationId ?? '',
    e.actorName,
  ]);
  return [header, ...rows].map((r) => r.map(csvCell).join(',')).join('\r\n') + '\r\n';
}

function csvCell(value: string): string {
  // A leading = + - @ makes spreadsheets evaluate the cell; audit data comes partly from chat input.
  const safe = /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
  return /[",\r\n]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}
