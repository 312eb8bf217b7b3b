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
  | { kind: 'adsyncServiceStop' };

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
  /** The action that undoes this step, when it changed something. */
  undo?: 'schedulerStart' | 'schedulerStop' | 'disableRules' | 'adsyncServiceStart';
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
      'The agent counts the OU and compares it with the cloud; the count is the baseline step 12 checks against.',
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
  },
  {
    n: 10,
    title: 'Install the provisioning agent',
    guidance:
      'Install the Microsoft Entra provisioning agent (three agents recommended for high availability) on domain-joined Windows Server 2016+ hosts.',
    check: person,
    mutating: false,
    optional: false,
    dependsOn: [9],
  },
  {
    n: 11,
    title: 'Configure Cloud Sync for the pilot OU',
    guidance: 'New configuration → the domain → Scoping filters → Selected organizational units → the pilot OU.',
    check: person,
    mutating: false,
    optional: false,
    dependsOn: [10],
  },
  {
    n: 12,
    title: 'Verify the pilot objects are provisioned',
    guidance:
      'The agent counts the OU again; the cloud count must match step 7 with nothing missing and every onPremisesImmutableId matching.',
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
      'Every wave verified: counts match and provisioning logs show Cloud Sync owns the objects (the wave summary shows both; /summary now).',
    check: person,
    mutating: false,
    optional: false,
    dependsOn: [14],
  },
  {
    n: 16,
    title: 'Stop Connect Sync and leave it disabled',
    guidance:
      'The agent stops the ADSync service and disables it. Leave it disabled for a while before decommissioning.',
    check: { kind: 'adsyncServiceStop' },
    mutating: true,
    optional: false,
    dependsOn: [15],
    undo: 'adsyncServiceStart',
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
