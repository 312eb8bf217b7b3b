import type { CloudDirectory } from '../cloud/types';
import type { CloudContact, CloudGroup } from '../runbook/cloud-users';
import type { OuComparison } from '../runbook/ou-comparison';
import { asAppError } from '../shared/errors';

type Read<T> = { items: T[] } | { error: string };

/**
 * Entra's synced groups and contacts for a summary's comparisons. Graph gives them no on-premises DN,
 * so every synced one is read (once per summary, and only when an OU holds the type) and each OU's
 * comparison matches its own by SID or mail, as a verify does (compare-ou.ts).
 */
export class SyncedOtherTypes {
  private groups: Promise<Read<CloudGroup>> | undefined;
  private contacts: Promise<Read<CloudContact>> | undefined;

  constructor(private readonly cloud: CloudDirectory) {}

  /**
   * Adds the synced groups and contacts to a comparison whose OU holds some. Returns what could not
   * be read: that type stays "Entra side not read", so none of it counts as confirmed.
   */
  async feed(comparison: OuComparison): Promise<string[]> {
    const problems: string[] = [];
    if (comparison.hasOnPrem('group') && this.cloud.listSyncedGroups) {
      const read = await (this.groups ??= readAll((onPage) => this.cloud.listSyncedGroups!(onPage)));
      if ('error' in read) problems.push(`the synced groups could not be read from Microsoft Graph (${read.error})`);
      else {
        for (const g of read.items) comparison.addCloudGroup(g);
        comparison.cloudTypeRead('group');
      }
    }
    if (comparison.hasOnPrem('contact') && this.cloud.listSyncedContacts) {
      const read = await (this.contacts ??= readAll((onPage) => this.cloud.listSyncedContacts!(onPage)));
      if ('error' in read) problems.push(`the synced contacts could not be read from Microsoft Graph (${read.error})`);
      else {
        for (const c of read.items) comparison.addCloudContact(c);
        comparison.cloudTypeRead('contact');
      }
    }
    return problems;
  }
}

async function readAll<T>(list: (onPage: (page: T[]) => void) => Promise<number>): Promise<Read<T>> {
  const items: T[] = [];
  try {
    await list((page) => {
      items.push(...page);
    });
    return { items };
  } catch (err) {
    return { error: asAppError(err).message };
  }
}
