import type { AdaptiveCardJson } from '../../src/cards/render';
import { cardText } from '../../src/cards/card-text';
import type { CloudDirectory } from '../../src/cloud/types';
import { JobQueue } from '../../src/jobs/job-queue';
import { ConnectSyncServers } from '../../src/services/connect-sync-servers';
import { RunbookService } from '../../src/services/runbook-service';
import type { CardSink } from '../../src/services/card-sink';
import { createLogger } from '../../src/shared/logger';
import { eventually } from '../helpers/eventually';
import { pgliteBackend, useStore } from '../helpers/store-backends';

/**
 * Posts wait for room under Teams' rate limits. A step that changes while its card is still
 * waiting to be posted has no card id yet, so that change must reach the card once it is posted.
 */
class HeldCardSink implements CardSink {
  readonly cards = new Map<string, AdaptiveCardJson>();
  private held: (() => void) | undefined;
  private holdNext = false;
  private counter = 0;

  holdNextPost(): void {
    this.holdNext = true;
  }

  get holding(): boolean {
    return this.held !== undefined;
  }

  release(): void {
    this.held?.();
    this.held = undefined;
  }

  async post(_conversationId: string, card: AdaptiveCardJson): Promise<string> {
    const id = `card-${++this.counter}`;
    if (this.holdNext) {
      this.holdNext = false;
      await new Promise<void>((resolve) => (this.held = resolve));
    }
    this.cards.set(id, card);
    return id;
  }

  async update(_conversationId: string, activityId: string, card: AdaptiveCardJson): Promise<void> {
    this.cards.set(activityId, card);
  }
}

describe('runbook step cards under paced posting', () => {
  const store = useStore(pgliteBackend());

  it('brings a late-posted card up to date with what happened while it waited', async () => {
    const sink = new HeldCardSink();
    const jobs = new JobQueue({ store: store() });
    const policy = { approvers: [], required: 1, ttlMs: 3_600_000 };
    const logger = createLogger('test', 'silent');
    const service = new RunbookService({
      store: store(),
      cloud: {} as CloudDirectory, // confirm-only steps never reach the cloud
      cards: sink,
      logger,
      policy,
      jobs,
      servers: new ConnectSyncServers({ store: store(), jobs, cards: sink, policy, logger }),
    });
    const migration = (await store().migrations.create({
      name: 'Paced',
      conversationId: '19:paced@thread.tacv2',
      createdBy: '29:adele',
    }))!;
    await service.started(migration);
    // Steps 17 and 18 are two person steps in a row; the ones before are done as stored state.
    for (const s of await store().runbook.listSteps(migration.id))
      if (s.n < 17) await store().runbook.saveStep(migration.id, { ...s, status: 'done' }, s.version);
    await service.stepCardPosted(migration.id, 17, 'card-0');
    const adele = { id: '29:adele', name: 'Adele Vance' };

    sink.holdNextPost();
    const confirm17 = service.handleAction({
      verb: 'step.confirm',
      data: { migrationId: migration.id, n: 17 },
      conversationId: migration.conversationId,
      actor: adele,
    });
    await eventually(() => sink.holding, { what: "step 18's card post to be held", timeoutMs: 10_000, intervalMs: 5 });
    // Step 18's card is rendered ("Not started") but not yet posted; step 18 is confirmed meanwhile.
    expect((await store().runbook.listSteps(migration.id))[17]!.cardActivityId).toBeNull();
    await service.handleAction({
      verb: 'step.confirm',
      data: { migrationId: migration.id, n: 18 },
      conversationId: migration.conversationId,
      actor: adele,
    });
    sink.release();
    await confirm17;

    const step18 = (await store().runbook.listSteps(migration.id))[17]!;
    expect(step18.status).toBe('done');
    expect(step18.cardActivityId).not.toBeNull();
    const shown = cardText(sink.cards.get(step18.cardActivityId!));
    expect(shown).toContain('Step 18 of 18');
    expect(shown).toContain('Done');
    expect(shown).not.toContain('Not started');
  });
});
