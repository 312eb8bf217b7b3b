import { loadAgentConfig } from '../../src/agent/agent-config';
import { parseAgentSecrets } from '../../src/config';
import { enrollResponse } from '../../src/relay/protocol';
import { parseCommand } from '../../src/runbook/commands';

/** The chat command, the relay, the bot's static agents and the agent's settings must agree on agent names. */
describe('one agent-name rule everywhere', () => {
  const agentEnv = {
    SYNCSHIFT_RELAY_URL: 'http://127.0.0.1:1',
    SYNCSHIFT_AGENT_SECRET: 'x'.repeat(24),
    LDAP_URL: 'ldaps://dc:636',
    LDAP_BIND_DN: 'CN=x',
    LDAP_PASSWORD: 'p',
  };
  const accepted = (name: string): boolean[] => [
    parseCommand(`/agent enroll ${name}`).kind === 'agent.enroll',
    enrollResponse.safeParse({ agentId: name, secret: 's'.repeat(40) }).success,
    (() => {
      try {
        return parseAgentSecrets(`${name}:${'s'.repeat(24)}`).has(name);
      } catch {
        return false;
      }
    })(),
    (() => {
      try {
        loadAgentConfig({ ...agentEnv, SYNCSHIFT_AGENT_ID: name });
        return true;
      } catch {
        return false;
      }
    })(),
  ];

  it.each([
    ['dc-agent_1.contoso', true],
    ['a'.repeat(64), true],
    ['a'.repeat(65), false],
    ['../agent', false],
    ['agent one', false],
    ['agént', false],
  ])('%s → accepted everywhere: %s', (name, ok) => {
    expect(accepted(name)).toEqual([ok, ok, ok, ok]);
  });
});
