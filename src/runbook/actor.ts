/**
 * Who did something, as every audit row and job stores it: `id` is what identifies the person
 * (their Entra object id, lower-cased) so the trail can be filtered by person; `name` is what
 * people read. Names change and repeat; ids do not.
 */
export interface Actor {
  id: string;
  name: string;
}

/** SyncShift itself: reports, summaries, sweeps and approvals it carries out on its own. */
export const SYSTEM_ACTOR: Actor = { id: 'syncshift', name: 'SyncShift' };

/** The daily summary's own counting jobs, told apart from jobs a person asked for. */
export const SUMMARY_ACTOR: Actor = { id: 'syncshift:summary', name: 'SyncShift daily summary' };

/** Someone who has not proved who they are yet (an enrollment attempt with a bad code). */
export const ANONYMOUS_ACTOR: Actor = { id: 'anonymous', name: 'anonymous' };

/** A relay agent, by the name it was enrolled under. */
export function agentActor(agentName: string): Actor {
  return { id: `agent:${agentName}`, name: agentName };
}
