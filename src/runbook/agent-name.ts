/**
 * What an agent may be called. One definition for the chat command, the relay header and the
 * agent's own settings: if they disagreed, an agent could be enrolled under a name it cannot use.
 * Letters, digits, dot, underscore and hyphen keep it safe in headers, file names and audit rows.
 */
export const AGENT_NAME = /^[A-Za-z0-9._-]{1,64}$/;
