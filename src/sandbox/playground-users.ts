import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The people in the sandbox's Agents Playground. Its built-in users carry object ids such as
 * 00000000-0000-0000-0000-0000000000020, one digit too long to be GUIDs, so SYNCSHIFT_APPROVERS
 * (Entra object ids) could not name them. The sandbox writes its own config file instead, with the
 * same names and valid ids. Alex is the person at the browser; Megan is a second member of the
 * group chat, who can act through the Playground's conversation API.
 */
export interface PlaygroundUser {
  /** Bot Framework channel account id inside the Playground. */
  id: string;
  name: string;
  upn: string;
  aadObjectId: string;
}

export const PLAYGROUND_USERS = {
  alex: {
    id: 'user-id-0',
    name: 'Alex Wilber',
    upn: 'alexw@contoso.com',
    aadObjectId: '6e1f0a20-0000-4000-8000-000000000020',
  },
  megan: {
    id: 'user-id-1',
    name: 'Megan Bowen',
    upn: 'meganb@contoso.com',
    aadObjectId: '6e1f0a20-0000-4000-8000-000000000021',
  },
  adele: {
    id: 'user-id-2',
    name: 'Adele Vance',
    upn: 'adelev@contoso.com',
    aadObjectId: '6e1f0a20-0000-4000-8000-000000000022',
  },
  isaiah: {
    id: 'user-id-3',
    name: 'Isaiah Langer',
    upn: 'isaiahl@contoso.com',
    aadObjectId: '6e1f0a20-0000-4000-8000-000000000023',
  },
  patti: {
    id: 'user-id-4',
    name: 'Patti Fernandez',
    upn: 'pattif@contoso.com',
    aadObjectId: '6e1f0a20-0000-4000-8000-000000000024',
  },
  lynne: {
    id: 'user-id-5',
    name: 'Lynne Robbins',
    upn: 'lynner@contoso.com',
    aadObjectId: '6e1f0a20-0000-4000-8000-000000000025',
  },
} as const satisfies Record<string, PlaygroundUser>;

/** The chat where several people meet the bot; the Playground labels its button with this name. */
export const PLAYGROUND_GROUP_CHAT = { name: 'Identity team' } as const;

/** Alex and Megan may approve; one approval is needed, and nobody approves their own request. */
export const SANDBOX_APPROVERS: readonly string[] = [
  PLAYGROUND_USERS.alex.aadObjectId,
  PLAYGROUND_USERS.megan.aadObjectId,
];

const CONFIG_FILE = '.m365agentsplayground.yml';

function userYaml(u: PlaygroundUser, indent: string): string {
  const [given, surname] = u.name.split(' ');
  return [
    `id: ${u.id}`,
    `name: ${u.name}`,
    // Spelled as the Playground's schema spells it.
    `userPrincipleName: ${u.upn}`,
    `aadObjectId: ${u.aadObjectId}`,
    `givenName: ${given ?? u.name}`,
    `surname: ${surname ?? ''}`,
    `email: ${u.upn}`,
  ].join(`\n${indent}`);
}

/** Writes the Playground's config (its schema wants at least five other users) (read from its working directory) and returns the file's path. */
export function writePlaygroundConfig(dir: string): string {
  const path = join(dir, CONFIG_FILE);
  const { alex, ...others } = PLAYGROUND_USERS;
  const text = `# Written by the SyncShift sandbox at every start (src/sandbox/playground-users.ts); edits are lost.
version: "0.1.1"
tenantId: 6e1f0a20-0000-4000-8000-000000000001
bot:
  id: 6e1f0a20-0000-4000-8000-000000000011
  name: SyncShift
currentUser:
  ${userYaml(alex, '  ')}
users:
${Object.values(others)
  .map((u) => `  - ${userYaml(u, '    ')}`)
  .join('\n')}
personalChat:
  id: __PERSONAL_CHAT_ID__
groupChat:
  id: __GROUP_CHAT_ID__
  name: ${PLAYGROUND_GROUP_CHAT.name}
team:
  id: team-id
  name: Identity
  aadGroupId: 6e1f0a20-0000-4000-8000-000000000031
  channels:
    - id: channel-migration-id
      name: Migration
`;
  writeFileSync(path, text);
  return path;
}
