import { randomBytes } from 'node:crypto';
import type { Directory } from '../../directory/types';
import type { CanaryPayload, CreateCanaryResult, DeleteCanaryResult } from '../../relay/protocol';
import { canaryAccountName, guidToBytes, guidToString } from '../../runbook/canary';
import { parseDn } from '../../runbook/dn';
import { sourceAnchor } from '../../runbook/ou-comparison';
import { AppError } from '../../shared/errors';
import { assertCanaryCreateAllowed, assertCanaryDeleteAllowed, type AgentPolicy } from '../agent-policy';

/**
 * The canary of step 12, on the agent's side: create a disabled user in the pilot OU, or delete
 * exactly that user again. The policy is checked here, on the agent's machine, before anything is
 * written. The password is drawn here, sent to the DC once and never logged, returned or stored.
 */

export async function createCanary(
  directory: Directory,
  policy: AgentPolicy,
  payload: Extract<CanaryPayload, { action: 'directory.createCanary' }>,
): Promise<CreateCanaryResult> {
  assertCanaryCreateAllowed(policy, payload.ouDn, payload.name);
  const classes = (await directory.objectClasses(payload.ouDn))?.map((c) => c.toLowerCase()) ?? null;
  if (classes === null)
    throw new AppError('DIRECTORY.OU_NOT_FOUND', `${payload.ouDn} does not exist, so no canary was created.`, {
      hint: 'Set the pilot OU again in step 5 of the runbook.',
    });
  if (!classes.includes('organizationalunit'))
    throw new AppError(
      'DIRECTORY.NOT_A_CONTAINER',
      `${payload.ouDn} is not an organizational unit; no canary was created.`,
      {
        hint: 'A canary goes only into the pilot OU.',
      },
    );
  const nc = await directory.defaultNamingContext();
  const created = await directory.createDisabledUser({
    parentDn: payload.ouDn,
    name: payload.name,
    samAccountName: canaryAccountName(payload.name),
    userPrincipalName: `${payload.name}@${domainOf(nc)}`,
    description: 'SyncShift canary for step 12: proves Cloud Sync provisions a new user. Safe to delete.',
    password: canaryPassword(),
  });
  return {
    name: payload.name,
    dn: created.dn,
    objectGuid: guidToString(created.objectGuid),
    // A new object has no ms-DS-ConsistencyGuid, so its anchor is its objectGUID.
    anchor: sourceAnchor(created.objectGuid, null),
    disabled: true,
  };
}

export async function deleteCanary(
  directory: Directory,
  policy: AgentPolicy,
  payload: Extract<CanaryPayload, { action: 'directory.deleteCanary' }>,
): Promise<DeleteCanaryResult> {
  const found = await directory.findByObjectGuid(guidToBytes(payload.objectGuid));
  if (!found)
    throw new AppError(
      'DIRECTORY.NOT_FOUND',
      `No object with objectGUID ${payload.objectGuid} exists; nothing was deleted.`,
      {
        hint: 'Someone may have deleted the canary by hand already; check the OU, then confirm step 12 on its card.',
      },
    );
  assertCanaryDeleteAllowed(policy, payload.name, found);
  await directory.deleteLeaf(found.dn);
  return { name: payload.name, dn: found.dn, objectGuid: payload.objectGuid };
}

/**
 * 32 random characters from four classes, so AD's default complexity rules accept it. Nobody ever
 * needs it: the account is disabled and is deleted again.
 */
function canaryPassword(): string {
  return `${randomBytes(24).toString('base64url')}aA1!`;
}

/** contoso.com from DC=contoso,DC=com. */
function domainOf(nc: string): string {
  const parsed = parseDn(nc);
  if (!parsed.ok) return 'invalid';
  return parsed.rdns
    .map((r) => r[0]!)
    .filter((a) => a.type.toLowerCase() === 'dc')
    .map((a) => a.value)
    .join('.');
}
