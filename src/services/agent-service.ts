import { renderMessageCard } from '../cards/message-cards';
import type { AdaptiveCardJson } from '../cards/render';
import { newEnrollmentCode, normalizeEnrollmentCode, sha256Hex } from '../relay/agent-credentials';
import { ADSYNC_ACTIONS, MUTATING_ACTIONS } from '../relay/protocol';
import type { Actor } from '../runbook/actor';
import type { AgentRecord, EnrollmentPurpose } from '../store/agent-repo';
import type { Store } from '../store/types';

export interface AgentServiceOptions {
  store: Store;
  /** Entra object ids allowed to enroll, rotate and revoke agents (SYNCSHIFT_APPROVERS). */
  approvers: readonly string[];
  /** Agents configured through SYNCSHIFT_AGENT_SECRETS: listed even before they first call in. */
  staticAgents: readonly string[];
  enrollmentTtlMs: number;
  /** Called after a revocation released leases, so mutating jobs become "outcome unknown" at once. */
  leasesReleased: () => Promise<void>;
  now?: () => Date;
}

/** What the bot must send for an enrollment: the code goes privately, the channel only learns that it was sent. */
export type EnrollmentResult =
  | { ok: true; agentName: string; privateCard: AdaptiveCardJson; publicCard: AdaptiveCardJson }
  | { ok: false; card: AdaptiveCardJson };

/** `/agent ...`: enrollment codes, the agent list, revocation. Teams-free; the bot delivers the cards. */
export class AgentService {
  private readonly now: () => Date;

  constructor(private readonly options: AgentServiceOptions) {
    this.now = options.now ?? (() => new Date());
  }

  /** `/agent enroll` (a new or revoked agent) and `/agent rotate` (an existing one). */
  async issueCode(input: {
    name: string;
    purpose: EnrollmentPurpose;
    actor: Actor;
    conversationId: string;
  }): Promise<EnrollmentResult> {
    const { name, purpose, actor } = input;
    const verb = purpose === 'enroll' ? 'enroll' : 'rotate';
    const refused = this.refuseNonApprover(actor, `/agent ${verb}`);
    if (refused) {
      await this.audit(actor, `agent.${verb}`, name, 'refused', { reason: 'not an approver' }, input.conversationId);
      return { ok: false, card: refused };
    }
    const existing = await this.options.store.agents.get(name);
    const known = existing !== null || this.options.staticAgents.includes(name);
    if (purpose === 'enroll' && existing?.status === 'active' && existing.secretSha256 !== null) {
      return {
        ok: false,
        card: renderMessageCard({
          title: `Agent ${name} is already enrolled`,
          text: 'Enrolling again would replace its credential.',
          hint: `To give it a new credential on purpose, type /agent rotate ${name}.`,
          tone: 'warning',
        }),
      };
    }
    if (purpose === 'rotate' && !known) {
      return {
        ok: false,
        card: renderMessageCard({
          title: `There is no agent called ${name}`,
          text: 'Only an existing agent can be rotated.',
          hint: `Type /agent list to see the agents, or /agent enroll ${name} to add it.`,
          tone: 'warning',
        }),
      };
    }
    const code = newEnrollmentCode();
    const expiresAt = new Date(this.now().getTime() + this.options.enrollmentTtlMs);
    await this.options.store.agents.addEnrollmentCode({
      codeSha256: sha256Hex(normalizeEnrollmentCode(code)),
      agentName: name,
      purpose,
      createdBy: actor.id,
      expiresAt,
    });
    await this.audit(
      actor,
      `agent.${verb}.code`,
      name,
      'issued',
      { expiresAt: expiresAt.toISOString() },
      input.conversationId,
    );
    const minutes = Math.round(this.options.enrollmentTtlMs / 60_000);
    return {
      ok: true,
      agentName: name,
      privateCard: renderMessageCard({
        title: `Enrollment code for agent ${name}`,
        text: `On the agent's server, within ${minutes} minutes, run:\n\nsyncshift-agent enroll --url <this bot's https URL> --code ${code}`,
        hint: `The code works once and expires at ${expiresAt.toISOString()}. ${purpose === 'rotate' ? 'Once it is used, the old credential stops working.' : 'Do not paste it into a channel.'}`,
        tone: 'good',
        facts: [
          { title: 'Agent', value: name },
          { title: 'Code', value: code },
        ],
      }),
      publicCard: renderMessageCard({
        title: `Enrollment code for agent ${name} sent privately`,
        text: `${actor.name}, I sent you the code in a 1:1 chat. It works once, for ${minutes} minutes.`,
        hint: 'Type /agent list to see when the agent has enrolled.',
      }),
    };
  }

  async listCard(): Promise<AdaptiveCardJson> {
    const stored = await this.options.store.agents.list();
    const names = new Set(stored.map((a) => a.name));
    const lines = stored.map(describeAgent);
    for (const name of this.options.staticAgents) {
      if (!names.has(name)) lines.push(`${name} · active (SYNCSHIFT_AGENT_SECRETS) · never seen`);
    }
    for (const pending of await this.options.store.agents.pendingEnrollments(this.now())) {
      if (!names.has(pending.agentName))
        lines.push(
          `${pending.agentName} · waiting for enrollment (code valid until ${pending.expiresAt.toISOString()})`,
        );
    }
    // Work the routing holds back: no agent that can run it has been heard from lately.
    const waiting = (
      await this.options.store.jobs.waitingForCapableAgent({
        onlineSince: new Date(this.now().getTime() - ONLINE_WINDOW_MS),
      })
    ).map(
      (w) =>
        `Waiting: ${w.jobs} ${w.action} job(s) since ${w.since.toISOString()}, for an agent that can run ${w.action}; ${whoCanRun(w.action)}`,
    );
    return renderMessageCard({
      title: `Agents: ${lines.length}`,
      text:
        lines.length === 0
          ? 'No agent is enrolled or configured yet.'
          : 'name · status · enrolled · last seen · version · actions run · current lease · what it runs',
      hint: 'Approvers: /agent enroll <name> adds one, /agent rotate <name> replaces a credential, /agent revoke <name> locks one out.',
      items: [...lines.sort(), ...waiting],
    });
  }

  async revoke(input: { name: string; actor: Actor; conversationId: string }): Promise<AdaptiveCardJson> {
    const { name, actor } = input;
    const refused = this.refuseNonApprover(actor, '/agent revoke');
    if (refused) {
      await this.audit(actor, 'agent.revoke', name, 'refused', { reason: 'not an approver' }, input.conversationId);
      return refused;
    }
    const existing = await this.options.store.agents.get(name);
    if (!existing && !this.options.staticAgents.includes(name)) {
      return renderMessageCard({
        title: `There is no agent called ${name}`,
        text: 'Nothing was revoked.',
        hint: 'Type /agent list to see the agents.',
        tone: 'warning',
      });
    }
    const { releasedJobs } = await this.options.store.agents.revoke({ name, by: actor.id, now: this.now() });
    await this.audit(actor, 'agent.revoke', name, 'revoked', { releasedJobs }, input.conversationId);
    if (releasedJobs > 0) await this.options.leasesReleased();
    return renderMessageCard({
      title: `Agent ${name} revoked`,
      text: `Its next request is refused. ${releasedJobs === 0 ? 'It held no job.' : `It held ${releasedJobs} job(s): read-only ones go to another agent, changes it was making are marked "outcome unknown" for a person to check.`}`,
      hint: this.options.staticAgents.includes(name)
        ? `It is also listed in SYNCSHIFT_AGENT_SECRETS; remove it there. /agent enroll ${name} brings it back with a new credential.`
        : `/agent enroll ${name} brings it back with a new credential.`,
      tone: 'attention',
    });
  }

  private refuseNonApprover(actor: Actor, command: string): AdaptiveCardJson | null {
    if (this.options.approvers.includes(actor.id)) return null;
    return renderMessageCard({
      title: `${command} needs an approver`,
      text: `${actor.name} is not on the approver list, so agent credentials cannot be changed from this account.`,
      hint: 'Ask someone listed in SYNCSHIFT_APPROVERS.',
      tone: 'warning',
    });
  }

  private audit(
    actor: Actor,
    action: string,
    target: string,
    outcome: string,
    details: Record<string, unknown>,
    conversationId: string,
  ): Promise<void> {
    return this.options.store.audit.record(actor, {
      action,
      target,
      outcome,
      details: { by: actor.name, ...details },
      conversationId,
    });
  }
}

/**
 * A waiting agent calls in at least every 20 s (its long poll) and a busy one every 30 s at most (its
 * heartbeat); one not heard from for a minute is not counted on.
 */
const ONLINE_WINDOW_MS = 60_000;

function describeAgent(a: AgentRecord): string {
  const source = a.secretSha256 ? '' : ' (SYNCSHIFT_AGENT_SECRETS)';
  const enrolled = a.enrolledAt ? `enrolled ${a.enrolledAt.toISOString()}` : 'not enrolled';
  const seen = a.lastSeenAt ? `last seen ${a.lastSeenAt.toISOString()}` : 'never seen';
  const lease = a.lease
    ? `holds ${a.lease.kind} ${a.lease.jobId.slice(0, 8)} until ${a.lease.expiresAt.toISOString()}`
    : 'no lease';
  return `${a.name} · ${a.status}${source} · ${enrolled} · ${seen} · version ${a.version ?? 'unknown'} · ${a.actionsRun} action(s) run · ${lease} · ${describeCapabilities(a)}`;
}

function describeCapabilities(a: AgentRecord): string {
  if (a.actions === null) return 'runs: not declared (older agent; offered no job until it is updated)';
  const adsync = a.actions.filter((action) => action.startsWith('adsync.'));
  const others = a.actions.filter((action) => !action.startsWith('adsync.'));
  const parts = [...others, ...(adsync.length === ADSYNC_ACTIONS.length ? ['adsync.*'] : adsync)];
  return `runs: ${parts.length > 0 ? parts.join(', ') : 'nothing'}${a.readOnly ? ' (read-only)' : ''}`;
}

function whoCanRun(action: string): string {
  if (!action.startsWith('adsync.')) return 'start an agent (/agent list shows when each was last seen).';
  return MUTATING_ACTIONS.has(action)
    ? 'it runs on the Connect Sync server (SYNCSHIFT_ADSYNC_EXPORT_DIR set) and must not be read-only.'
    : 'it runs on the Connect Sync server (SYNCSHIFT_ADSYNC_EXPORT_DIR set).';
}
