import { actorOf } from '../../src/bot/handlers/commands';
import { AuditService, toCsv } from '../../src/services/audit-service';
import type { AuditEntry, Store } from '../../src/store/types';

const at = new Date('2026-03-01T09:00:00.000Z');
const rows: AuditEntry[] = [
  {
    at,
    actor: '00000000-0000-0000-0000-00000000ad01',
    actorName: 'Adele Vance',
    action: 'step.confirm',
    target: 'step 1',
    outcome: 'done',
    details: { by: 'Adele Vance' },
    conversationId: 'conv',
  },
  {
    at,
    actor: 'syncshift',
    actorName: 'SyncShift',
    action: 'verify.report',
    target: 'OU=Sales',
    outcome: 'reported',
    details: null,
    conversationId: 'conv',
  },
];

/** Records which person each read asked for; the filtering itself is the store's (store.test.ts). */
function service(): { audit: AuditService; asked: (string | undefined)[] } {
  const asked: (string | undefined)[] = [];
  const store = {
    audit: {
      forConversation: (_conversationId: string, _limit: number, person?: string) => {
        asked.push(person);
        return Promise.resolve(person === undefined ? rows : rows.filter((r) => r.actorName === person));
      },
    },
  } as unknown as Store;
  return {
    audit: new AuditService(
      store,
      () => 'https://bot.example.invalid',
      'key',
      () => at,
    ),
    asked,
  };
}

const query = (url: string): Record<string, string> => Object.fromEntries(new URL(url).searchParams);

describe('audit export', () => {
  it('puts the actor id and name in their own columns, the name after the columns that were there before', () => {
    const [header, first, second] = toCsv(rows).split('\r\n');
    expect(header).toBe('at,actor,action,target,outcome,details,conversation_id,actor_name');
    expect(first).toBe(
      '2026-03-01T09:00:00.000Z,00000000-0000-0000-0000-00000000ad01,step.confirm,step 1,done,"{""by"":""Adele Vance""}",conv,Adele Vance',
    );
    expect(second).toBe('2026-03-01T09:00:00.000Z,syncshift,verify.report,OU=Sales,reported,null,conv,SyncShift');
  });

  it('signs the person into a one-person link, so it cannot be widened or pointed at someone else', async () => {
    const { audit, asked } = service();
    const url = audit.exportUrl('conv', 'json', 'Adele Vance');
    const ok = await audit.download(query(url));
    expect(ok.status).toBe(200);
    expect((JSON.parse(ok.body) as AuditEntry[]).map((e) => e.actorName)).toEqual(['Adele Vance']);
    expect(asked).toEqual(['Adele Vance']);

    const widened = query(url);
    delete widened.person;
    expect((await audit.download(widened)).status).toBe(403);
    expect((await audit.download({ ...query(url), person: 'Megan Bowen' })).status).toBe(403);
    expect((await audit.download(query(audit.exportUrl('conv', 'csv')))).status).toBe(200);
    expect(asked).toEqual(['Adele Vance', undefined]);
  });

  it('names the person on the export card', () => {
    const { audit } = service();
    expect(JSON.stringify(audit.exportCard('conv', 'csv', 'Adele Vance'))).toContain(
      'Audit export (CSV) of Adele Vance',
    );
    expect(JSON.stringify(audit.exportCard('conv', 'csv'))).toContain('Audit export (CSV)"');
  });
});

describe('actorOf', () => {
  it('takes the Entra object id (lower-cased) and the display name, with control characters written out', () => {
    expect(
      actorOf({ id: '29:adele', aadObjectId: '00000000-0000-0000-0000-00000000AD01', name: 'Adele Vance' }),
    ).toEqual({ id: '00000000-0000-0000-0000-00000000ad01', name: 'Adele Vance' });
    expect(actorOf({ id: '29:Bot', name: 'a\u0000b' })).toEqual({ id: '29:bot', name: 'a\\u0000b' });
    expect(actorOf({ id: '29:Anon' })).toEqual({ id: '29:anon', name: '29:anon' });
  });
});
