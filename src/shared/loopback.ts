/**
 * Whether a host name stays on this machine. Both the bot and the agent allow plain http (and the
 * bot runs without token checks) only there. IPv6 literals come without brackets.
 */
export function isLoopback(host: string): boolean {
  return host === '127.0.0.1' || host === '::1' || host === 'localhost';
}
