import { pgliteBackend, postgresBackend, useStore } from '../helpers/store-backends';

const T0 = new Date('2026-03-28T07:00:00.000Z');
const at = (ms: number): Date => new Date(T0.getTime() + ms);
// The lease clock (the relay's in the bot) is the real one here, so a 1 ms lease has run out after sleep(20).
const leaseNow = (): Date => new Date();
let counter = 0;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const unique = (what: string): string => `${what}-${process.pid}-${(counter += 1)}`;

describe.each([pgliteBackend(), postgresBackend()])('wave and summary store on $name', (backend) => {
  const store = useStore(backend);
  let migrationId: string;
  beforeEach(async () => {
    const m = await store().migrations.create({ name: 'waves', conversationId: unique('conv'), createdBy: 'adele' });
    migrationId = m!.id;
  });

  test('a wave name is unique per migration among live waves, and can be reused after removal', async () => {
    const first = await store().waves.createWave({
      migrationId,
      name: 'Wave1',
      scheduledFor: '2026-12-07',
      createdBy: 'adele',
      ous: ['OU=Sales', 'OU=R\\,D'],
      now: T0,
    });
    expect(first).not.toBeNull();
    expect(first!.ous.map((o) => o.input)).toEqual(['OU=Sales', 'OU=R\\,D']);
    expect(
      await store().waves.createWave({
        migrationId,
        name: 'wave1',
        scheduledFor: null,
        createdBy: 'megan',
        ous: ['OU=X'],
        now: T0,
      }),
    ).toBeNull();
    const listed = await store().waves.listWaves(migrationId);
    expect(listed).toHaveLength(1);
    expect(listed[0]).toMatchObject({ name: 'Wave1', scheduledFor: '2026-12-07' });
    expect(await store().waves.removeWave({ migrationId, name: 'WAVE1', now: T0 })).toMatchObject({ name: 'Wave1' });
    expect(await store().waves.listWaves(migrationId)).toEqual([]);
    expect(
      await store().waves.createWave({
        migrationId,
        name: 'Wave1',
        scheduledFor: null,
        createdBy: 'megan',
        ous: ['OU=X'],
        now: T0,
      }),
    ).not.toBeNull();
  });

  test('20 instances claiming the same day at once: exactly one wins', async () => {
    const claims = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        store().summaries.claimScheduled({
          migrationId,
          localDate: '2026-03-28',
          claimedBy: `bot-${i}`,
          now: T0,
          leaseNow: leaseNow(),
          claimMs: 60_000,
        }),
      ),
    );
    expect(claims.filter((c) => c !== null)).toHaveLength(1);
    expect((await store().summaries.listSummaries(migrationId)).filter((s) => s.kind === 'scheduled')).toHaveLength(1);
  });

  test('a dead claim is taken over after its lease runs out, a posted summary never is', async () => {
    const claim = await store().summaries.claimScheduled({
      migrationId,
      localDate: '2026-03-28',
      claimedBy: 'bot-a',
      now: T0,
      leaseNow: leaseNow(),
      claimMs: 60_000,
    });
    expect(claim).toMatchObject({ status: 'claimed', attempts: 1 });
    expect(
      await store().summaries.claimScheduled({
        migrationId,
        localDate: '2026-03-28',
        claimedBy: 'bot-b',
        now: T0,
        leaseNow: leaseNow(),
        claimMs: 60_000,
      }),
    ).toBeNull();
    // Leases run on the lease clock: a lease of 1 ms has run out after a few ms, whatever `now` says.
    expect(
      await store().summaries.extendClaim({ id: claim!.id, claimedBy: 'bot-a', leaseNow: leaseNow(), claimMs: 1 }),
    ).toBe(true);
    await sleep(20);
    const takeover = await store().summaries.claimScheduled({
      migrationId,
      localDate: '2026-03-28',
      claimedBy: 'bot-b',
      now: T0,
      leaseNow: leaseNow(),
      claimMs: 60_000,
    });
    expect(takeover).toMatchObject({ id: claim!.id, claimedBy: 'bot-b', status: 'claimed', attempts: 2 });
    // The instance that lost the claim cannot send or finish it any more.
    expect(
      await store().summaries.markSending({ id: takeover!.id, claimedBy: 'bot-a', content: {}, now: at(62_000) }),
    ).toBe(false);
    expect(
      await store().summaries.markSending({
        id: takeover!.id,
        claimedBy: 'bot-b',
        content: { totals: { provisioned: 5 } },
        now: at(62_000),
      }),
    ).toBe(true);
    expect(
      await store().summaries.markPosted({ id: takeover!.id, claimedBy: 'bot-a', activityId: 'late', now: at(62_000) }),
    ).toBe(false);
    expect(
      await store().summaries.markPosted({
        id: takeover!.id,
        claimedBy: 'bot-b',
        activityId: 'act-1',
        now: at(62_000),
      }),
    ).toBe(true);
    expect(
      await store().summaries.claimScheduled({
        migrationId,
        localDate: '2026-03-28',
        claimedBy: 'bot-c',
        now: at(10 * 3_600_000),
        leaseNow: leaseNow(),
        claimMs: 60_000,
      }),
    ).toBeNull();
    const posted = await store().summaries.previousScheduled(migrationId, '2026-03-29');
    expect(posted).toMatchObject({
      localDate: '2026-03-28',
      status: 'posted',
      activityId: 'act-1',
      content: { totals: { provisioned: 5 } },
    });
    expect(await store().summaries.previousScheduled(migrationId, '2026-03-28')).toBeNull();
    // On-demand summaries do not use up the day.
    await store().summaries.createOnDemand({
      migrationId,
      localDate: '2026-03-29',
      claimedBy: 'bot-a',
      now: at(1),
      leaseNow: leaseNow(),
      claimMs: 1,
    });
    expect(
      await store().summaries.claimScheduled({
        migrationId,
        localDate: '2026-03-29',
        claimedBy: 'bot-a',
        now: at(2),
        leaseNow: leaseNow(),
        claimMs: 60_000,
      }),
    ).not.toBeNull();
  });

  test('an instance whose schedule clock runs ahead cannot take a live claim', async () => {
    expect(
      await store().summaries.claimScheduled({
        migrationId,
        localDate: '2026-04-02',
        claimedBy: 'bot-a',
        now: T0,
        leaseNow: leaseNow(),
        claimMs: 60_000,
      }),
    ).not.toBeNull();
    // bot-b's schedule clock is a day ahead; were leases judged by `now` instead of the lease clock it would win here.
    expect(
      await store().summaries.claimScheduled({
        migrationId,
        localDate: '2026-04-02',
        claimedBy: 'bot-b',
        now: at(24 * 3_600_000),
        leaseNow: leaseNow(),
        claimMs: 60_000,
      }),
    ).toBeNull();
    expect(
      (await store().summaries.listSummaries(migrationId)).find((r) => r.localDate === '2026-04-02'),
    ).toMatchObject({
      claimedBy: 'bot-a',
      status: 'claimed',
    });
  });

  test('a renewed claim is not taken over; only its holder can renew it', async () => {
    const claim = await store().summaries.claimScheduled({
      migrationId,
      localDate: '2026-04-01',
      claimedBy: 'bot-a',
      now: T0,
      leaseNow: leaseNow(),
      claimMs: 1,
    });
    expect(
      await store().summaries.extendClaim({
        id: claim!.id,
        claimedBy: 'bot-b',
        leaseNow: leaseNow(),
        claimMs: 600_000,
      }),
    ).toBe(false);
    expect(
      await store().summaries.extendClaim({ id: claim!.id, claimedBy: 'bot-a', leaseNow: leaseNow(), claimMs: 60_000 }),
    ).toBe(true);
    // Without the renewal the 1 ms claim would have run out by now.
    await sleep(20);
    expect(
      await store().summaries.claimScheduled({
        migrationId,
        localDate: '2026-04-01',
        claimedBy: 'bot-b',
        now: T0,
        leaseNow: leaseNow(),
        claimMs: 60_000,
      }),
    ).toBeNull();
    expect(
      await store().summaries.extendClaim({ id: claim!.id, claimedBy: 'bot-a', leaseNow: leaseNow(), claimMs: 1 }),
    ).toBe(true);
    await sleep(20);
    expect(
      await store().summaries.claimScheduled({
        migrationId,
        localDate: '2026-04-01',
        claimedBy: 'bot-b',
        now: T0,
        leaseNow: leaseNow(),
        claimMs: 60_000,
      }),
    ).toMatchObject({ claimedBy: 'bot-b' });
    expect(
      await store().summaries.extendClaim({ id: claim!.id, claimedBy: 'bot-a', leaseNow: leaseNow(), claimMs: 60_000 }),
    ).toBe(false);
  });

  test('a failed attempt is retried after its back-off, by any instance', async () => {
    const claim = await store().summaries.claimScheduled({
      migrationId,
      localDate: '2026-03-30',
      claimedBy: 'bot-a',
      now: T0,
      leaseNow: leaseNow(),
      claimMs: 1,
    });
    await store().summaries.markFailed({
      id: claim!.id,
      claimedBy: 'bot-a',
      error: 'CLOUD.UNAVAILABLE: Graph down',
      retryAt: at(900_000),
    });
    expect((await store().summaries.listSummaries(migrationId)).find((r) => r.id === claim!.id)).toMatchObject({
      status: 'failed',
      error: 'CLOUD.UNAVAILABLE: Graph down',
    });
    // Not before the back-off, even though the original claim has run out.
    await sleep(20);
    expect(
      await store().summaries.claimScheduled({
        migrationId,
        localDate: '2026-03-30',
        claimedBy: 'bot-b',
        now: at(1_500),
        leaseNow: leaseNow(),
        claimMs: 1_000,
      }),
    ).toBeNull();
    expect(
      await store().summaries.claimScheduled({
        migrationId,
        localDate: '2026-03-30',
        claimedBy: 'bot-b',
        now: at(900_001),
        leaseNow: leaseNow(),
        claimMs: 1_000,
      }),
    ).toMatchObject({ status: 'claimed', error: null, attempts: 2, lastError: 'CLOUD.UNAVAILABLE: Graph down' });
    // Given up (no retry time): never claimed again.
    await store().summaries.markFailed({ id: claim!.id, claimedBy: 'bot-b', error: 'still down', retryAt: null });
    expect(
      await store().summaries.claimScheduled({
        migrationId,
        localDate: '2026-03-30',
        claimedBy: 'bot-c',
        now: at(99 * 3_600_000),
        leaseNow: leaseNow(),
        claimMs: 1_000,
      }),
    ).toBeNull();
    expect((await store().summaries.listSummaries(migrationId)).find((r) => r.id === claim!.id)).toMatchObject({
      status: 'gave_up',
      error: 'still down',
    });
  });

  test('a summary that went to Teams is never claimed again: not while sending, not after an unknown outcome, not after its holder died', async () => {
    const sending = await store().summaries.claimScheduled({
      migrationId,
      localDate: '2026-05-01',
      claimedBy: 'bot-a',
      now: T0,
      leaseNow: leaseNow(),
      claimMs: 1,
    });
    expect(
      await store().summaries.markSending({ id: sending!.id, claimedBy: 'bot-a', content: { day: 1 }, now: T0 }),
    ).toBe(true);
    await sleep(20);
    // bot-a died mid-post: its lease ran out, but the card may be in the chat.
    expect(
      await store().summaries.claimScheduled({
        migrationId,
        localDate: '2026-05-01',
        claimedBy: 'bot-b',
        now: at(3_600_000),
        leaseNow: leaseNow(),
        claimMs: 60_000,
      }),
    ).toBeNull();

    const unknown = await store().summaries.claimScheduled({
      migrationId,
      localDate: '2026-05-02',
      claimedBy: 'bot-a',
      now: T0,
      leaseNow: leaseNow(),
      claimMs: 1,
    });
    await store().summaries.markSending({ id: unknown!.id, claimedBy: 'bot-a', content: { day: 2 }, now: T0 });
    await store().summaries.markOutcomeUnknown({ id: unknown!.id, claimedBy: 'bot-a', error: 'Teams answered 502' });
    // markFailed only applies to claimed/sending rows: a late failure report cannot reopen it.
    await store().summaries.markFailed({ id: unknown!.id, claimedBy: 'bot-a', error: 'x', retryAt: T0 });
    await sleep(20);
    expect(
      await store().summaries.claimScheduled({
        migrationId,
        localDate: '2026-05-02',
        claimedBy: 'bot-b',
        now: at(3_600_000),
        leaseNow: leaseNow(),
        claimMs: 60_000,
      }),
    ).toBeNull();
    // Its numbers still count as that day's for the change since then.
    expect(await store().summaries.previousScheduled(migrationId, '2026-05-03')).toMatchObject({
      localDate: '2026-05-02',
      status: 'outcome_unknown',
      content: { day: 2 },
    });

    // One note each, to one caller: the dead sender's row at once, the unknown one only after `sentBefore`.
    const notices = (before: Date) =>
      Promise.all(
        [0, 1, 2].map(() =>
          store().summaries.claimDeliveryNotices({ migrationId, sentBefore: before, now: at(1), leaseNow: leaseNow() }),
        ),
      );
    expect((await notices(new Date(T0.getTime() - 1))).flat().map((r) => r.localDate)).toEqual(['2026-05-01']);
    expect((await notices(T0)).flat().map((r) => r.localDate)).toEqual(['2026-05-02']);
    expect((await notices(at(3_600_000))).flat()).toEqual([]);
  });

  test('the provisioning log position moves with what was counted; entries out of the next overlap are forgotten', async () => {
    await store().summarySettings.setProvisioningJob({
      migrationId,
      jobId: 'AD2AADProvisioning.abc.def',
      setBy: 'adele',
      now: T0,
    });
    await store().summarySettings.commitLogWindow({
      migrationId,
      readUntil: at(60_000),
      entries: [
        { id: 'e1', at: at(-10_000) },
        { id: 'e2', at: at(50_000) },
      ],
      forgetBefore: at(0),
    });
    expect((await store().summarySettings.getSettings(migrationId))!.logsReadUntil!.toISOString()).toBe(
      at(60_000).toISOString(),
    );
    expect([...(await store().summarySettings.seenLogEntries(migrationId))]).toEqual(['e2']);
    await store().summarySettings.commitLogWindow({
      migrationId,
      readUntil: at(120_000),
      entries: [
        { id: 'e2', at: at(50_000) },
        { id: 'e3', at: at(110_000) },
      ],
      forgetBefore: at(60_000),
    });
    expect([...(await store().summarySettings.seenLogEntries(migrationId))]).toEqual(['e3']);
  });

  test('delta changes: absent properties are kept, null clears, @removed deletes, a full read replaces', async () => {
    await store().cloudSnapshots.applyCloudChanges({
      migrationId,
      full: true,
      deltaLink: 'https://graph/v1.0/users/delta?$deltatoken=1',
      now: T0,
      changes: [
        {
          id: 'u1',
          removed: false,
          userPrincipalName: 'u1@x',
          onPremisesDistinguishedName: 'CN=U1,OU=Sales,DC=contoso,DC=com',
          onPremisesImmutableId: 'AAA=',
          onPremisesSyncEnabled: true,
        },
        {
          id: 'u2',
          removed: false,
          userPrincipalName: 'u2@x',
          onPremisesDistinguishedName: 'CN=U2,OU=Sales,DC=contoso,DC=com',
          onPremisesImmutableId: 'BBB=',
          onPremisesSyncEnabled: true,
        },
        {
          id: 'c1',
          removed: false,
          userPrincipalName: 'cloud@x',
          onPremisesDistinguishedName: null,
          onPremisesImmutableId: null,
          onPremisesSyncEnabled: null,
        },
      ],
    });
    expect((await store().cloudSnapshots.cloudUsers(migrationId)).map((u) => u.id).sort()).toEqual(['u1', 'u2']);
    await store().cloudSnapshots.applyCloudChanges({
      migrationId,
      full: false,
      deltaLink: 'https://graph/v1.0/users/delta?$deltatoken=2',
      now: at(1),
      changes: [
        { id: 'u1', removed: false, onPremisesDistinguishedName: 'CN=U1,OU=Moved,DC=contoso,DC=com' },
        { id: 'u2', removed: false, onPremisesImmutableId: null },
        { id: 'c1', removed: true },
        {
          id: 'u3',
          removed: false,
          userPrincipalName: 'u3@x',
          onPremisesDistinguishedName: 'CN=U3,OU=Sales,DC=contoso,DC=com',
          onPremisesImmutableId: 'CCC=',
          onPremisesSyncEnabled: true,
        },
      ],
    });
    const users = new Map((await store().cloudSnapshots.cloudUsers(migrationId)).map((u) => [u.id, u]));
    expect(users.get('u1')).toEqual({
      id: 'u1',
      userPrincipalName: 'u1@x',
      onPremisesDistinguishedName: 'CN=U1,OU=Moved,DC=contoso,DC=com',
      onPremisesImmutableId: 'AAA=',
    });
    expect(users.get('u2')).toMatchObject({
      onPremisesImmutableId: null,
      onPremisesDistinguishedName: 'CN=U2,OU=Sales,DC=contoso,DC=com',
    });
    expect(users.has('u3')).toBe(true);
    expect(await store().cloudSnapshots.getSnapshot(migrationId)).toMatchObject({
      deltaLink: 'https://graph/v1.0/users/delta?$deltatoken=2',
      fullReads: 1,
      deltaReads: 1,
    });

    await store().cloudSnapshots.applyCloudChanges({
      migrationId,
      full: true,
      deltaLink: 'd3',
      now: at(2),
      changes: [
        {
          id: 'u9',
          removed: false,
          onPremisesSyncEnabled: true,
          onPremisesDistinguishedName: 'CN=U9,DC=contoso,DC=com',
        },
      ],
    });
    expect((await store().cloudSnapshots.cloudUsers(migrationId)).map((u) => u.id)).toEqual(['u9']);
  });

  test('a full read of 2,500 users is applied in batches', async () => {
    const changes = Array.from({ length: 2500 }, (_, i) => ({
      id: `bulk-${i}`,
      removed: false,
      userPrincipalName: `b${i}@x`,
      onPremisesDistinguishedName: `CN=B${i},OU=Bulk,DC=contoso,DC=com`,
      onPremisesImmutableId: `id${i}`,
      onPremisesSyncEnabled: true,
    }));
    await store().cloudSnapshots.applyCloudChanges({ migrationId, full: true, deltaLink: 'd', now: T0, changes });
    expect(await store().cloudSnapshots.cloudUsers(migrationId)).toHaveLength(2500);
  });

  test('count jobs a summary gave up on are cancelled while queued, never once an agent has them', async () => {
    const enqueue = () =>
      store().jobs.enqueue({
        kind: 'directory.scanOu',
        purpose: 'summary.count',
        payload: { action: 'directory.scanOu', ou: 'OU=X' },
        conversationId: unique('conv'),
        migrationId,
        requestedBy: { id: 'syncshift:summary', name: 'syncshift:summary' },
      });
    const leasedJob = await enqueue();
    expect((await store().jobs.lease({ agentId: 'agent-x', leaseMs: 60_000, now: new Date() }))?.id).toBe(leasedJob.id);
    const queued = await enqueue();
    expect(
      await store().jobs.cancelQueued({ jobIds: [queued.id, leasedJob.id, 'not-a-uuid'], reason: 'gave up', now: T0 }),
    ).toBe(1);
    expect(await store().jobs.get(queued.id)).toMatchObject({
      state: 'failed',
      error: { code: 'JOB.CANCELLED', message: 'gave up' },
    });
    expect((await store().jobs.get(leasedJob.id))!.state).toBe('leased');
  });

  test('schedule and job settings; changing the job keeps the schedule start', async () => {
    expect(await store().summarySettings.getSettings(migrationId)).toBeNull();
    await store().summarySettings.setSchedule({
      migrationId,
      localTime: '08:00',
      timeZone: 'Europe/Berlin',
      setBy: 'adele',
      now: T0,
    });
    await store().summarySettings.setProvisioningJob({
      migrationId,
      jobId: 'AD2AADProvisioning.abc.def',
      setBy: 'megan',
      now: at(5_000),
    });
    const settings = await store().summarySettings.getSettings(migrationId);
    expect(settings).toMatchObject({
      localTime: '08:00',
      timeZone: 'Europe/Berlin',
      provisioningJobId: 'AD2AADProvisioning.abc.def',
      setBy: 'adele',
      logsReadUntil: null,
    });
    expect(settings!.setAt.toISOString()).toBe(T0.toISOString());
    expect((await store().summarySettings.listScheduled()).some((s) => s.migrationId === migrationId)).toBe(true);
    await store().cloudSyncConfirmed.addConfirmed(migrationId, ['u1', 'u2', 'u1'], T0);
    await store().cloudSyncConfirmed.addConfirmed(migrationId, ['u2', 'u3'], at(1));
    expect([...(await store().cloudSyncConfirmed.confirmedIds(migrationId))].sort()).toEqual(['u1', 'u2', 'u3']);
  });
});
