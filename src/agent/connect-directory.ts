import { connectLdapDirectory } from '../directory/ldap-directory';
import type { Directory } from '../directory/types';
import { assertNever } from '../shared/assert-never';
import type { DirectorySelection } from './agent-config';

/** Opens the directory the agent's configuration selected. */
export async function connectConfiguredDirectory(selection: DirectorySelection): Promise<Directory> {
  switch (selection.kind) {
    case 'ldap':
      return connectLdapDirectory({
        url: selection.url,
        bindDn: selection.bindDn,
        password: selection.password,
        ...(selection.caPath ? { caPath: selection.caPath } : {}),
        pageSize: selection.pageSize,
      });
    case 'simulated': {
      // Loaded only when asked for: an agent reading a real directory never loads the in-memory one.
      const { openSimulatedDirectory } = await import('../directory/simulated-directory');
      return openSimulatedDirectory(selection.forestFile, selection.pageSize);
    }
    default:
      return assertNever(selection);
  }
}
