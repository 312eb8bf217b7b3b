import { ActivityDeduper, type TurnWork } from '../../src/bot/activity-deduper';
import { createLogger } from '../../src/shared/logger';
import { eventually } from '../helpers/eventually';
import { pgliteBackend, useStore } from '../helpers/store-backends';

describe('activity deduper on a real store', () => {
  const backend = pgliteBackend();
  const store = useStore(backend);

  const activity = (id: string): Parameters<ActivityDeduper['handleOnce']>[0] =>
    ({ type: 'message', id, channelId: 'msteams', conversation: { id: '19:dedupe@thread.tacv2' } }) as Parameters<
      ActivityDeduper['handleOnce']
    >[0];

  it('a message whose handling failed is handled when Teams delivers it again', async () => {
    const deduper = new ActivityDeduper(store(), createLogger('test', 'silent'));
    const handled: string[] = [];
    let failNext = true;
    const handle = async (): Promise<void> => {
      if (failNext) {
        failNext = false;
        throw new Error('store briefly unavailable');
      }
      handled.push('run');
    };
    // The error must still reach the adapter, so Teams gets a 500 and retries.
    await expect(deduper.handleOnce(activity('a-1'), handle)).rejects.toThrow('store briefly unavailable');
    await deduper.handleOnce(activity('a-1'), handle);
    expect(handled).toEqual(['run']);
    // Once handled, a further redelivery is skipped as before.
    await deduper.handleOnce(activity('a-1'), handle);
    expect(handled).toEqual(['run']);
  });

  it('a message whose handling failed after it started changing state is not handled again on redelivery', async () => {
    const deduper = new ActivityDeduper(store(), createLogger('test', 'silent'));
    const queued: string[] = [];
    const handle = async (work: TurnWork): Promise<void> => {
      work.changingState();
      queued.push('job');
      throw new Error('the reply could not be sent');
    };
    await expect(deduper.handleOnce(activity('a-3'), handle)).rejects.toThrow('the reply could not be sent');
    await deduper.handleOnce(activity('a-3'), handle);
    expect(queued).toEqual(['job']);
  });

  it('a redelivery that arrives while the first delivery is still running is skipped', async () => {
    const deduper = new ActivityDeduper(store(), createLogger('test', 'silent'));
    let finish: () => void = () => undefined;
    let runs = 0;
    const slow = deduper.handleOnce(activity('a-2'), async () => {
      runs++;
      await new Promise<void>((resolve) => (finish = resolve));
    });
    // Let the first delivery claim its key before the second arrives.
    await eventually(() => runs > 0, { what: 'the first delivery to start', timeoutMs: 5_000, intervalMs: 0 });
    await deduper.handleOnce(activity('a-2'), async () => {
      runs++;
    });
    finish();
    await slow;
    expect(runs).toBe(1);
  });
});
