/**
 * The 18 steps of Microsoft's Connect Sync → Cloud Sync migration guide, in the guide's order.
 * `check` says who decides that a step is done: a person on the card, or software through the agent.
 */

export type StepCheck =
  | { kind: 'person' }
  /** `/readiness`: the agent reads Connect Sync and the forest; passes with no blocker, or each accepted by an approver. */
  | { kind: 'readiness' }
  /** The prerequisites read in the same report: passes when every one SyncShift can read holds. */
  | { kind: 'prerequisites' }
  /** Set the pilot OU: the agent resolves it and counts it. */
  | { kind: 'pilotOu' }
  /** Compare the pilot OU with the cloud (verify slice). `baseline` records the count; `provisioned` demands a clean match with the baseline. */
  | { kind: 'verify'; mode: 'baseline' | 'provisioned' }
  | { kind: 'exportConfig' }
  | { kind: 'schedulerStop' }
  | { kind: 'noFlowRules' }
  | { kind: 'schedulerStart' }
  | { kind: 'adsyncServiceStop' }
  /** Add the pilot OU to Cloud Sync's scope through Graph (the bot itself, not the agent), and start the job. */
  | { kind: 'cloudSyncScope' };

export interface StepDefinition {
  n: number;
  title: string;
  /** What the person should do or know, shown on the card. */
  guidance: string;
  check: StepCheck;
  /** Changes something on-premises: needs approval by someone other than the requester. */
  mutating: boolean;
  /** May be skipped with a reason. */
  optional: boolean;
  dependsOn: number[];
  /**
   * A person's confirmation is accepted only when this rule holds: `wavesConfirmed` asks that every
   * planned wave is confirmed by Cloud Sync in the latest summary (wavesConfirmedProblems).
   */
  confirmRequires?: 'wavesConfirmed';
  /** The action that undoes this step, when it changed something. */
  undo?: 'schedulerStart' | 'schedulerStop' | 'disableRules' | 'adsyncServiceStart' | 'removeFromScope';
  /**
   * Later steps that do not rest on what this step changed: this step may be undone while they are
   * done. Rollback needs it (the pilot tutorial rolls the rules back after Cloud Sync, whatever else
   * was installed meanwhile).
   */
  rollbackPast?: readonly number[];
  /**
   * Password hash sync (issue 16): step 10 asks whether Connect Sync's is on (step 11 is SyncShift's own Graph change, so the person answers on the step before); the final stop reads Cloud Sync's from
   * Graph when it was (its AD2AADPasswordHash job); the requester's answer stands in only when Graph refuses the read.
   */
  asksPhs?: 'connectSync' | 'cloudSync';
}

const person = { kind: 'person' } as const;

export const STEPS: readonly StepDefinition[] = [
  {
    n: 1,
    title: 'Choose the sync tool',
    guidance:
      "/readiness (or Run check): the agent reads the Connect Sync configuration and the forest, and each fact is checked against Cloud Sync's documented limits and unsupported features (device sync, custom sync rules, attribute filtering, 150,000 objects per domain, 50,000 members per group). Passes with no blocker, or when an approver accepts each blocker with a reason. PTA/ADFS sign-in is not read: check it yourself.",
    check: { kind: 'readiness' },
    mutating: false,
    optional: false,
    dependsOn: [],
  },
  {
    n: 2,
    title: 'Verify prerequisites',
    guidance:
      'From the same readiness report: Connect Sync is version 1.4.32.0 or later with Express settings (one forest, PHS, all users, groups and contacts), does not sync devices, and the source anchor is objectGUID or ms-DS-ConsistencyGuid. Still checked by you: the Cloud Sync prerequisites on the agent host (Hybrid Identity Administrator, gMSA, Windows Server 2016+, TLS 1.2, outbound URLs).',
    check: { kind: 'prerequisites' },
    mutating: false,
    optional: false,
    dependsOn: [1],
  },
  {
    n: 3,
    title: 'Back up the Connect Sync configuration',
    guidance:
      'The agent runs Get-ADSyncServerConfiguration into a new folder on the Connect Sync server. Changes made in PowerShell or the Rules Editor are not exported automatically.',
    check: { kind: 'exportConfig' },
    mutating: false,
    optional: false,
    dependsOn: [2],
  },
  {
    n: 4,
    title: 'Review the pilot tutorial',
    guidance:
      'Read "Pilot cloud sync for an existing synced AD forest". Objects stay in Connect Sync scope; the cloudNoFlow rules stop Connect Sync exporting them, except reference attributes such as manager.',
    check: person,
    mutating: false,
    optional: false,
    dependsOn: [3],
  },
  {
    n: 5,
    title: 'Create or identify the pilot OU',
    guidance: 'Type the pilot OU (OU=Pilot or a full DN). The agent checks that it exists and counts its users.',
    check: { kind: 'pilotOu' },
    mutating: false,
    optional: false,
    dependsOn: [4],
  },
  {
    n: 6,
    title: 'Move pilot users into the OU (optional)',
    guidance:
      'Move the users, groups and contacts of the pilot into the OU. Give pilot objects an ms-DS-ConsistencyGuid so Cloud Sync hard-matches them.',
    check: person,
    mutating: false,
    optional: true,
    dependsOn: [5],
  },
  {
    n: 7,
    title: 'Count the users in the OU (on-premises)',
    guidance:
      "The agent counts the OU and compares it with the cloud; the count is the baseline step 12 checks against. Pre-flight: users missing in Entra or with a different onPremisesImmutableId would fail Cloud Sync's hard match, so the step holds until they are fixed (count again) or an approver acknowledges them with a reason.",
    check: { kind: 'verify', mode: 'baseline' },
    mutating: false,
    optional: false,
    dependsOn: [5],
  },
  {
    n: 8,
    title: 'Stop the Connect Sync scheduler',
    guidance:
      'Stop-ADSyncSyncCycle, then Set-ADSyncScheduler -SyncCycleEnabled $false. Refused while a sync cycle is in progress.',
    check: { kind: 'schedulerStop' },
    mutating: true,
    optional: false,
    dependsOn: [7],
    undo: 'schedulerStart',
    // The provisioning agent (10) does not rest on a stopped scheduler: the pilot's rollback ends by
    // starting it again while the agent stays installed.
    rollbackPast: [10],
  },
  {
    n: 9,
    title: 'Create the custom sync rules',
    guidance:
      'Inbound Join rules on the AD connector scoped DN ENDSWITH the pilot OU with the constant cloudNoFlow=True, and outbound JoinNoFlow rules on the Entra connector scoped cloudNoFlow EQUAL True, for users, groups and contacts, at unused precedences in 0–99.',
    check: { kind: 'noFlowRules' },
    mutating: true,
    optional: false,
    dependsOn: [8],
    undo: 'disableRules',
    // Installing the provisioning agent (10) changes nothing Connect Sync exports; Cloud Sync's scope
    // (11) is what rests on the rules, and must be reopened first.
    rollbackPast: [10],
  },
  {
    n: 10,
    title: 'Install the provisioning agent',
    guidance:
      "Install the Microsoft Entra provisioning agent (three agents recommended for high availability) on domain-joined Windows Server 2016+ hosts. Say whether Connect Sync's password hash sync is on (Connect Sync wizard → View or export current configuration): if it is, the Cloud Sync configuration must have password hash sync on too, and step 16 asks for it.",
    check: person,
    mutating: false,
    optional: false,
    dependsOn: [9],
    asksPhs: 'connectSync',
  },
  {
    n: 11,
    title: 'Configure Cloud Sync for the pilot OU',
    guidance:
      "Create the domain's Cloud Sync configuration (New configuration → the domain). After approval SyncShift adds the pilot OU, exactly as AD wrote its DN, to the configuration's scope through Microsoft Graph and starts its job, then reads the scope back. Without Synchronization.ReadWrite.All, do it in the portal (Scoping filters → Selected organizational units) and press Check the scope.",
    check: { kind: 'cloudSyncScope' },
    mutating: true,
    optional: false,
    dependsOn: [10],
    undo: 'removeFromScope',
  },
  {
    n: 12,
    title: 'Verify the pilot objects are provisioned',
    guidance:
      "The agent counts the OU again; the cloud count must match step 7 with nothing missing and every onPremisesImmutableId matching, and every in-scope user must be named by a successful entry of the Cloud Sync job's provisioning logs (set the job with /summary job <job id>). Being in Entra with the right anchor is not enough: Connect Sync put the users there.",
    check: { kind: 'verify', mode: 'provisioned' },
    mutating: false,
    optional: false,
    dependsOn: [11],
  },
  {
    n: 13,
    title: 'Start the Connect Sync scheduler',
    guidance:
      'Set-ADSyncScheduler -SyncCycleEnabled $true, then a full cycle (Start-ADSyncSyncCycle -PolicyType Initial) because the rules changed.',
    check: { kind: 'schedulerStart' },
    mutating: true,
    optional: false,
    dependsOn: [12],
    undo: 'schedulerStop',
  },
  {
    n: 14,
    title: 'Plan the remaining waves',
    guidance:
      'Group the remaining OUs into waves with /wave add <name> <OU>... on <date>; the agent counts them and the card warns about Cloud Sync limits. Each wave stays in Connect Sync scope with the no-flow rules applied. /summary at 08:00 <time zone> posts a daily wave summary here.',
    check: person,
    mutating: false,
    optional: false,
    dependsOn: [13],
  },
  {
    n: 15,
    title: 'Verify all objects are provisioned',
    guidance:
      'Every planned wave confirmed by Cloud Sync: the latest wave summary shows each wave with all its users named by a successful entry of the Cloud Sync job (/summary now builds one). Marking it done is refused until then.',
    check: person,
    confirmRequires: 'wavesConfirmed',
    mutating: false,
    optional: false,
    dependsOn: [14],
  },
  {
    n: 16,
    title: 'Stop Connect Sync and leave it disabled',
    guidance:
      'The agent stops the ADSync service and disables it; its start type before the stop is kept, and the undo restores it. Stopping and disabling a service needs local Administrators rights on the Connect Sync server (ADSyncAdmins is not enough), so the agent there must run as a member of Administrators. Refused while another Connect Sync server would export the migrated objects again (/server staging), until every OU of the ownership ledger is confirmed by Cloud Sync (/ou status), and, when Connect Sync synced password hashes, until Graph shows the Cloud Sync password hash sync job Active. Leave it disabled for a while before decommissioning.',
    check: { kind: 'adsyncServiceStop' },
    mutating: true,
    optional: false,
    dependsOn: [15],
    undo: 'adsyncServiceStart',
    asksPhs: 'cloudSync',
  },
  {
    n: 17,
    title: 'Verify everything is good',
    guidance: 'Sign-ins, password hash sync and group memberships work for migrated users.',
    check: person,
    mutating: false,
    optional: false,
    dependsOn: [16],
  },
  {
    n: 18,
    title: 'Decommission Connect Sync',
    guidance: 'Uninstall Connect Sync once the validation period has passed.',
    check: person,
    mutating: false,
    optional: false,
    dependsOn: [17],
  },
];

export function stepDefinition(n: number): StepDefinition | undefined {
  return STEPS.find((s) => s.n === n);
}

/** A check that software decides, which exactly one step has. */
export type SoftwareCheck = Exclude<StepCheck, { kind: 'person' }>;

/**
 * The step with this check. Code finds steps by what they do, never by number, so the guide's
 * numbering lives in STEPS alone. Every software check belongs to exactly one step (a unit test says so).
 */
export function stepByCheck(check: SoftwareCheck): StepDefinition {
  const found = STEPS.find(
    (s) =>
      s.check.kind === check.kind &&
      (check.kind !== 'verify' || (s.check.kind === 'verify' && s.check.mode === check.mode)),
  );
  if (!found) throw new Error(`No runbook step has the check ${JSON.stringify(check)}.`);
  return found;
}

/** The step that asks this password hash sync question (exactly one does; a unit test says so). */
export function stepWhereAsked(asks: NonNullable<StepDefinition['asksPhs']>): number {
  const found = STEPS.find((s) => s.asksPhs === asks);
  if (!found) throw new Error(`No runbook step asks ${asks}.`);
  return found.n;
}
