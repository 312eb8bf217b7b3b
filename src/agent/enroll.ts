import { enrollResponse, type EnrollRequest } from '../relay/protocol';
import { AppError } from '../shared/errors';
import { assertRelayUrlSafe } from './agent-config';
import { writeCredentialFile, type AgentCredential } from './credential-file';

/**
 * Exchanges a one-time enrollment code for this agent's credential and writes it to `out` (0600).
 * The credential never leaves this machine again except as the bearer on HTTPS requests to the bot.
 */
export async function enrollAgent(input: {
  url: string;
  code: string;
  out: string;
  agentVersion: string;
  fetchImpl?: typeof fetch;
}): Promise<AgentCredential> {
  assertRelayUrlSafe(input.url, '--url');
  const base = input.url.replace(/\/+$/, '');
  const body: EnrollRequest = { code: input.code.trim(), agentVersion: input.agentVersion };
  let res: Response;
  try {
    res = await (input.fetchImpl ?? fetch)(`${base}/relay/v1/agents/enroll`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
  } catch (err) {
    throw new AppError('RELAY.ENROLLMENT_REFUSED', `Cannot reach the bot at ${base}: ${(err as Error).message}.`, {
      hint: 'Check the URL and that this server may open HTTPS connections to it.',
    });
  }
  const text = await res.text();
  let json: unknown = null;
  try {
    json = JSON.parse(text);
  } catch {
    // not JSON; reported below
  }
  if (!res.ok) {
    const message = (json as { message?: string; hint?: string } | null)?.message ?? text.slice(0, 300);
    throw new AppError('RELAY.ENROLLMENT_REFUSED', `The bot refused the enrollment (${res.status}): ${message}`, {
      hint: (json as { hint?: string } | null)?.hint ?? 'Ask an approver for a new code with /agent enroll <name>.',
    });
  }
  const parsed = enrollResponse.safeParse(json);
  if (!parsed.success)
    throw new AppError(
      'RELAY.ENROLLMENT_REFUSED',
      'The bot answered the enrollment with something this agent does not understand.',
      { hint: 'Check that --url points at the SyncShift bot and that agent and bot versions match.' },
    );
  const credential: AgentCredential = {
    agentId: parsed.data.agentId,
    secret: parsed.data.secret,
    relayUrl: base,
    enrolledAt: new Date().toISOString(),
  };
  writeCredentialFile(input.out, credential);
  return credential;
}
