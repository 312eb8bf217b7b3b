import { OU } from '../../src/sandbox/forest-spec';
import { SIMULATED_CLOUD_SYNC_JOB_ID, SIMULATED_CLOUD_SYNC_SP_ID } from '../../src/sandbox/sim-synchronization';
import { ADELE } from '../helpers/activities';
import { firstCard, startBotHarness, type BotHarness } from '../helpers/bot-harness';
import { cardProblems } from '../helpers/card-check';
import { cardText } from '../helpers/fake-connector';

/**
 * The OU ownership ledger through the bot: `/ou status` and the daily summary read the stored
 * runbook and Cloud Sync's scope from Graph, and raise "both engines write" when someone puts the
 * pilot OU into Cloud Sync's scope behind SyncShift's back (a schema PUT straight to the simulator).
 */
describe('OU ownership ledger: /ou status and the summary alarm', () => {
  let h: BotHarness;
  let migrationId: string;

  beforeAll(async () => {
    h = await startBotHarness();
    expect((await h.say('/migration start "Ledger"', ADELE)).length).toBe(3);
    migrationId = (await h.store.migrations.findByConversation(h.conversationId))!.id;
    // Step 5 as the agent's scan of the pilot OU stored it (AD's spelling of the DN).
    const step5 = (await h.store.runbook.listSteps(migrationId)).find((s) => s.n === 5)!;
    expect(
      await h.store.runbook.saveStep(
        migrationId,
        {
          ...step5,
          status: 'done',
          evidence: { pilotOu: OU.rAndD, users: 7, disabled: 0, job: 'test' },
          updatedBy: 'Adele Vance',
          updatedAt: new Date(),
        },
        step5.version,
      ),
    ).toBe(true);
    // A bot with a fresh PGlite store starts slowly on a loaded machine.
  }, 180_000);

  afterAll(async () => {
    await h?.close();
  });

  async function ouStatus(): Promise<string> {
    const card = firstCard(await h.say('/ou status', ADELE));
    expect(cardProblems(card)).toEqual([]);
    return cardText(card);
  }

  it('shows the pilot owned by Connect Sync while Cloud Sync covers nothing', async () => {
    const text = await ouStatus();
    expect(text).toContain(`pilot: ${OU.rAndD}`);
    expect(text).toContain('owned by Connect Sync');
    expect(text).toContain(`Cloud Sync job ${SIMULATED_CLOUD_SYNC_JOB_ID}: Paused`);
    expect(text).not.toContain('ALARM');
  });

  it('raises "both engines write" in /ou status and the summary once the OU is put into scope behind its back', async () => {
    const schemaUrl = `${h.graph.url}/beta/servicePrincipals/${SIMULATED_CLOUD_SYNC_SP_ID}/synchronization/jobs/${SIMULATED_CLOUD_SYNC_JOB_ID}`;
    const auth = { authorization: `Bearer ${h.graph.token}` };
    const schema = (await (await fetch(`${schemaUrl}/schema`, { headers: auth })).json()) as {
      synchronizationRules: { containerFilter: { includedContainers: string[] } }[];
    };
    schema.synchronizationRules[0]!.containerFilter.includedContainers = [OU.rAndD];
    const put = await fetch(`${schemaUrl}/schema`, {
      method: 'PUT',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify(schema),
    });
    expect(put.status).toBe(204);
    expect((await fetch(`${schemaUrl}/start`, { method: 'POST', headers: auth })).status).toBe(204);

    const status = await ouStatus();
    expect(status).toContain(`ALARM: Both engines write ${OU.rAndD}`);
    expect(status).toContain('The two engines disagree with the ledger');

    const from = h.connector.calls.length;
    await h.say('/summary now', ADELE);
    const summary = await h.connector.waitFor(
      (c) => cardText(c.activity.attachments?.[0]?.content ?? {}).includes('OU ownership · pilot'),
      { from, timeoutMs: 30_000 },
    );
    const text = cardText(summary.activity.attachments![0]!.content);
    expect(text).toContain(`OU ownership · pilot · ${OU.rAndD}: owned by Connect Sync`);
    expect(text).toContain(`ALARM: Both engines write ${OU.rAndD}`);

    // Taken out again (the job paused): the engines agree with the ledger once more.
    expect((await fetch(`${schemaUrl}/pause`, { method: 'POST', headers: auth })).status).toBe(204);
    expect(await ouStatus()).not.toContain('ALARM');
  });
});
