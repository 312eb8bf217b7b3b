import { ClientSecretCredential, ManagedIdentityCredential } from '@azure/identity';
import type { BotConfig } from '../config';
import type { Logger } from '../shared/logger';
import { createGraphCloudDirectory } from './graph-cloud-directory';
import type { CloudDirectory } from './types';

/**
 * Picks the Graph credential from configuration: a client secret when one is configured, the static
 * token only for the simulator, otherwise the App Service's managed identity.
 */
export function createCloudDirectoryFromConfig(graph: BotConfig['graph'], logger: Logger): CloudDirectory {
  const base = { baseUrl: graph.baseUrl, logger };
  if (graph.staticToken) return createGraphCloudDirectory({ ...base, staticToken: graph.staticToken });
  if (graph.tenantId && graph.clientId && graph.clientSecret) {
    return createGraphCloudDirectory({
      ...base,
      credential: new ClientSecretCredential(graph.tenantId, graph.clientId, graph.clientSecret),
    });
  }
  return createGraphCloudDirectory({
    ...base,
    credential: graph.clientId
      ? new ManagedIdentityCredential({ clientId: graph.clientId })
      : new ManagedIdentityCredential(),
  });
}
