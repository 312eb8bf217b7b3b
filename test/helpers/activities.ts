import { randomUUID } from 'node:crypto';

export interface TestUser {
  id: string;
  name: string;
  aadObjectId: string;
}

export const ADELE: TestUser = {
  id: '29:adele',
  name: 'Adele Vance',
  aadObjectId: '00000000-0000-0000-0000-00000000ad01',
};
export const MEGAN: TestUser = {
  id: '29:megan',
  name: 'Megan Bowen',
  aadObjectId: '00000000-0000-0000-0000-00000000ad02',
};

/** A Teams message activity as the Bot Framework service would deliver it. */
export function messageActivity(input: {
  text: string;
  from: TestUser;
  conversationId: string;
  serviceUrl: string;
  mentionBot?: boolean;
  conversationType?: 'channel' | 'personal' | 'groupChat';
}): Record<string, unknown> {
  const bot = { id: '28:syncshift', name: 'SyncShift' };
  const text = input.mentionBot ? `<at>SyncShift</at> ${input.text}` : input.text;
  return {
    type: 'message',
    id: randomUUID(),
    timestamp: new Date().toISOString(),
    channelId: 'msteams',
    serviceUrl: input.serviceUrl,
    from: { id: input.from.id, name: input.from.name, aadObjectId: input.from.aadObjectId },
    recipient: bot,
    conversation: {
      id: input.conversationId,
      conversationType: input.conversationType ?? 'channel',
      tenantId: 'tenant-1',
    },
    channelData: { tenant: { id: 'tenant-1' } },
    text,
    textFormat: 'plain',
    locale: 'en-US',
    ...(input.mentionBot ? { entities: [{ type: 'mention', text: '<at>SyncShift</at>', mentioned: bot }] } : {}),
  };
}

/**
 * A click on an Adaptive Card button (Action.Execute) as Teams delivers it: an adaptiveCard/action
 * invoke, whose answer (the card this person now sees) comes back in the HTTP response.
 */
export function cardActionActivity(input: {
  verb: string;
  data: unknown;
  from: TestUser;
  conversationId: string;
  serviceUrl: string;
  conversationType?: 'channel' | 'personal' | 'groupChat';
  replyToId?: string | null;
}): Record<string, unknown> {
  return {
    type: 'invoke',
    name: 'adaptiveCard/action',
    id: randomUUID(),
    channelId: 'msteams',
    serviceUrl: input.serviceUrl,
    from: { id: input.from.id, name: input.from.name, aadObjectId: input.from.aadObjectId },
    recipient: { id: '28:syncshift', name: 'SyncShift' },
    conversation: {
      id: input.conversationId,
      conversationType: input.conversationType ?? 'channel',
      tenantId: 'tenant-1',
    },
    ...(input.replyToId !== undefined ? { replyToId: input.replyToId } : {}),
    value: { action: { type: 'Action.Execute', verb: input.verb, data: input.data }, trigger: 'manual' },
  };
}

export async function postActivity(
  botUrl: string,
  activity: Record<string, unknown>,
  headers: Record<string, string> = {},
): Promise<Response> {
  return fetch(`${botUrl}/api/messages`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(activity),
  });
}
