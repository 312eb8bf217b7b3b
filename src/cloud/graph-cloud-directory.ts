/**
 * CloudDirectory over Microsoft Graph v1.0 with @microsoft/microsoft-graph-client.
 *
 * The client's default middleware chain is replaced on purpose:
 * - its AuthenticationHandler attaches the token only to https:// Graph hosts (or configured
 *   customHosts), so a loopback simulator on http:// would silently get no Authorization header;
 * - its RetryHandler adds random jitter, caps waits at 180 s, and sleeps with a private setTimeout,
 *   which makes retries neither bounded the way we want nor testable.
 * Our chain is Retry -> Auth -> HTTPMessageHandler: the token is fetched per attempt, so a long
 * Retry-After wait cannot leave us retrying with an expired token.
 */
import {
  Client,
  GraphError,
  HTTPMessageHandler,
  type AuthenticationProvider,
  type Context,
  type Middleware,
} from '@microsoft/microsoft-graph-client';
import { TokenCredentialAuthenticationProvider } from '@microsoft/microsoft-graph-client/authProviders/azureTokenCredentials';
import type { TokenCredential } from '@azure/identity';
import { z } from 'zod';
import { AppError } from '../shared/errors';
import { connectionFailure } from './connection-failure';
import type { Logger } from '../shared/logger';
import type { CloudContact, CloudGroup, CloudObjectChange, CloudUser } from '../runbook/cloud-users';
import type { CloudSyncScope } from '../runbook/cloud-sync-scope';
import { CLOUD_SYNC_WRITE_PERMISSION, type CloudDirectory, type CloudSyncJob, type CloudSyncJobRef } from './types';

export interface GraphCloudDirectoryOptions {
  /** Graph service root without version: https://graph.microsoft.com, a national cloud, or a simulator URL. */
  baseUrl: string;
  /** Production credential; the token scope is `${baseUrl}/.default`. */
  credential?: TokenCredential;
  /** Fixed bearer token for the simulator/sandbox only. */
  staticToken?: string;
  /** $top per page, 1..999. Default 999. */
  pageSize?: number;
  /**
   * Retries per request (GET: 429, 5xx and lost connections; anything else: 429, 503 and connections
   * that never carried the request). Default 5.
   */
  maxRetries?: number;
  /** Upper bound for one wait, in ms, whatever Retry-After says. Default 60 000. */
  maxWaitMs?: number;
  /** First backoff step in ms when Retry-After is missing; doubles per attempt. Default 1 000. */
  baseBackoffMs?: number;
  /** Injected so tests can observe waits without sitting through them. */
  sleep?: (ms: number) => Promise<void>;
  logger?: Logger;
}

const API_VERSION = 'v1.0';
/** What a verify compares, and nothing more: every selected property is bytes on each of 100 pages. */
export const USERS_SELECT = ['id', 'userPrincipalName', 'onPremisesDistinguishedName', 'onPremisesImmutableId'];
/** /users/delta cannot filter on onPremisesSyncEnabled, so it is selected and filtered on our side. */
const DELTA_SELECT = [...USERS_SELECT, 'onPremisesSyncEnabled'];

/** group resource (v1.0): onPremisesSecurityIdentifier is the synced AD group's SID. */
export const GROUPS_SELECT = ['id', 'displayName', 'onPremisesSecurityIdentifier'];
/** orgContact resource (v1.0): no on-premises DN or anchor, so mail is what a verify matches on. */
export const CONTACTS_SELECT = ['id', 'displayName', 'mail'];
/**
 * The delta queries cannot filter on onPremisesSyncEnabled either (group delta, orgContact delta:
 * only `id eq`), so it is selected and filtered on our side, as for users.
 */
const GROUPS_DELTA_SELECT = [...GROUPS_SELECT, 'onPremisesSyncEnabled'];
const CONTACTS_DELTA_SELECT = [...CONTACTS_SELECT, 'onPremisesSyncEnabled'];
/**
 * A GET changes nothing, so any answer that may be transient is worth another try. Other methods
 * are retried only when Graph says it did not process the request (throttled, unavailable): a 500,
 * 502 or 504 may come after the change was made.
 */
const RETRYABLE_IDEMPOTENT = new Set([429, 500, 502, 503, 504]);
const RETRYABLE_OTHER = new Set([429, 503]);

const isIdempotent = (method: string | undefined): boolean =>
  method === undefined || ['GET', 'HEAD'].includes(method.toUpperCase());

export function isRetryableGraphAnswer(method: string | undefined, status: number): boolean {
  return (isIdempotent(method) ? RETRYABLE_IDEMPOTENT : RETRYABLE_OTHER).has(status);
}

/**
 * No answer at all (refused, reset, timed out, DNS not answering): a Graph outage of a few seconds
 * looks like this, so it is retried like a 503, with the same backoff and limit. A misspelt host or
 * an untrusted certificate is not. Other methods only when the request cannot have reached Graph.
 */
export function isRetryableGraphFailure(method: string | undefined, err: unknown): boolean {
  const failure = connectionFailure(err);
  return failure !== null && failure.transient && (isIdempotent(method) || failure.notSent);
}
const PERMISSION_HINT =
  'Check that the app registration has the Microsoft Graph application permission User.Read.All with admin consent, and that the token is for this cloud.';

export function createGraphCloudDirectory(options: GraphCloudDirectoryOptions): CloudDirectory {
  const base = parseBaseUrl(options.baseUrl);
  const pageSize = options.pageSize ?? 999;
  if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > 999) {
    throw new AppError('CONFIG.INVALID', `Graph page size ${pageSize} is out of range.`, {
      hint: 'Use a whole number from 1 to 999; Graph rejects anything else for /users.',
    });
  }
  const maxRetries = options.maxRetries ?? 5;
  if (!Number.isInteger(maxRetries) || maxRetries < 0) {
    throw new AppError('CONFIG.INVALID', `Graph maxRetries ${maxRetries} is not a non-negative whole number.`, {
      hint: 'Use 0 to disable retries, or a small number such as 5.',
    });
  }
  const authProvider = createAuthProvider(options, base);
  const retry = new RetryMiddleware({
    maxRetries,
    maxWaitMs: options.maxWaitMs ?? 60_000,
    baseBackoffMs: options.baseBackoffMs ?? 1_000,
    sleep: options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms))),
    logger: options.logger,
  });
  const auth = new AuthMiddleware(authProvider, base.origin);
  retry.setNext(auth);
  auth.setNext(new HTTPMessageHandler());
  const client = Client.initWithMiddleware({ baseUrl: base.href, defaultVersion: API_VERSION, middleware: retry });

  /**
   * The client re-parses a path given to api() and only strips the host from https:// URLs, so an
   * absolute http:// nextLink would be glued onto baseUrl. We turn every nextLink back into a
   * version + relative path ourselves, and refuse links to another origin so the token never leaks.
   */
  const requestForNextLink = (nextLink: string) => {
    const link = new URL(nextLink);
    const prefix = base.pathname.replace(/\/+$/, '') + '/';
    if (link.origin !== base.origin || !link.pathname.startsWith(prefix)) {
      throw new AppError(
        'CLOUD.ERROR',
        `Graph returned a nextLink outside the configured base URL (${link.origin}); stopped paging rather than send the token elsewhere.`,
        {
          hint: `Check that GRAPH_BASE_URL (${base.origin}) is the Graph endpoint for this tenant's cloud.`,
        },
      );
    }
    const [version = API_VERSION, ...rest] = link.pathname.slice(prefix.length).split('/');
    return client.api(`/${rest.join('/')}${link.search}`).version(version);
  };

  /** One page: fetched, checked with the operation's page check, failures turned into AppErrors. */
  const readPage = async <T>(
    request: ReturnType<typeof client.api>,
    operation: GraphOperation,
    check: PageCheck<T>,
    pagesDone: number,
  ): Promise<GraphPage<T>> => {
    let raw: unknown;
    try {
      raw = await request.get();
    } catch (err) {
      throw toAppError(err, { maxRetries, origin: base.origin }, pagesDone, operation);
    }
    const checked = check(raw);
    if (!checked.ok) {
      throw new AppError(
        'CLOUD.ERROR',
        `Graph returned a page in an unexpected shape while ${operation.doing} (${checked.path || 'root'}: ${checked.message}).`,
        {
          hint: 'Check that GRAPH_BASE_URL points at Microsoft Graph (not a proxy or login page), without a version such as /v1.0.',
          details: { page: pagesDone + 1 },
        },
      );
    }
    return checked.page;
  };

  /**
   * Follows @odata.nextLink until the last page; returns the count and the deltaLink when Graph sends
   * one. `headers` go on every next page too: an advanced query's nextLink needs ConsistencyLevel
   * again, and Graph answers 400 without it.
   */
  const follow = async <T>(
    first: ReturnType<typeof client.api>,
    operation: GraphOperation,
    check: PageCheck<T>,
    onPage: (items: T[]) => void | Promise<void>,
    headers: Record<string, string> = {},
  ): Promise<{ total: number; deltaLink: string | undefined }> => {
    let total = 0;
    let pages = 0;
    let deltaLink: string | undefined;
    let pending: Promise<GraphPage<T>> | undefined = readPage(first, operation, check, 0);
    while (pending) {
      const page: GraphPage<T> = await pending;
      pages += 1;
      // The next page is requested before this one is handed on, so Graph serves it while the caller
      // compares: at 100,000 users that overlap is most of the gap to fetching the pages alone.
      // Only one page ahead, so memory stays at two pages.
      const next = page['@odata.nextLink'];
      pending =
        next === undefined ? undefined : readPage(requestForNextLink(next).headers(headers), operation, check, pages);
      // Awaited above on the next turn; this only keeps a failure from counting as unhandled while onPage runs or throws.
      pending?.catch(() => undefined);
      total += page.value.length;
      deltaLink = page['@odata.deltaLink'];
      // The request for the next page is only written to its socket once the event loop turns;
      // handing this page on first would keep Graph idle while it is compared.
      await new Promise((resolve) => setImmediate(resolve));
      await onPage(page.value);
      options.logger?.debug({ page: pages, items: page.value.length, total, operation: operation.doing }, 'graph page');
    }
    return { total, deltaLink };
  };

  /** One call to the synchronization API (beta only for containerFilter), failures turned into AppErrors. */
  const syncCall = async (
    method: 'GET' | 'PUT' | 'POST',
    path: string,
    operation: GraphOperation,
    body?: unknown,
  ): Promise<unknown> => {
    const request = client.api(path).version(SYNC_API_VERSION);
    try {
      if (method === 'GET') return await request.get();
      if (method === 'PUT') return await request.put(body);
      return await request.post(body ?? {});
    } catch (err) {
      throw toAppError(err, { maxRetries, origin: base.origin }, 0, operation);
    }
  };

  return {
    async listSyncedUsers(onPage: (users: CloudUser[]) => void | Promise<void>): Promise<number> {
      const first = client.api('/users').filter('onPremisesSyncEnabled eq true').select(USERS_SELECT).top(pageSize);
      const { total } = await follow(first, USERS_OPERATION, checkUsersPage, onPage);
      return total;
    },

    async latestUsersDeltaLink() {
      const first = client.api('/users/delta').select(DELTA_SELECT).query({ $deltatoken: 'latest' });
      const { deltaLink } = await follow(first, DELTA_OPERATION, zodPage(deltaPageSchema), () => undefined);
      if (deltaLink === undefined) {
        throw new AppError(
          'CLOUD.ERROR',
          'Graph answered a users delta request for the latest token without a deltaLink.',
          {
            hint: 'This should not happen with Microsoft Graph; check that GRAPH_BASE_URL points at Microsoft Graph.',
          },
        );
      }
      return deltaLink;
    },

    async listSyncedGroups(onPage: (groups: CloudGroup[]) => void | Promise<void>): Promise<number> {
      const first = client.api('/groups').filter('onPremisesSyncEnabled eq true').select(GROUPS_SELECT).top(pageSize);
      const { total } = await follow(first, GROUPS_OPERATION, zodPage(groupsPageSchema), (value) =>
        onPage(
          value.map((g) => ({
            id: g.id,
            displayName: g.displayName ?? null,
            onPremisesSecurityIdentifier: g.onPremisesSecurityIdentifier ?? null,
          })),
        ),
      );
      return total;
    },

    async listSyncedContacts(onPage: (contacts: CloudContact[]) => void | Promise<void>): Promise<number> {
      // The orgContact page says its $filter needs advanced query parameters; they are harmless
      // where they are not needed, so they are always sent.
      const first = client
        .api('/contacts')
        .header('ConsistencyLevel', 'eventual')
        .count(true)
        .filter('onPremisesSyncEnabled eq true')
        .select(CONTACTS_SELECT)
        .top(pageSize);
      const { total } = await follow(
        first,
        CONTACTS_OPERATION,
        zodPage(contactsPageSchema),
        (value) => onPage(value.map((c) => ({ id: c.id, displayName: c.displayName ?? null, mail: c.mail ?? null }))),
        { ConsistencyLevel: 'eventual' },
      );
      return total;
    },

    async usersByImmutableId(anchor) {
      const found: CloudUser[] = [];
      // Filtering onPremisesImmutableId needs advanced query parameters (users resource, "filter" notes).
      const first = client
        .api('/users')
        .header('ConsistencyLevel', 'eventual')
        .query({ $count: 'true' })
        .filter(`onPremisesImmutableId eq ${odataString(anchor)}`)
        .select(USERS_SELECT)
        .top(10);
      await follow(first, USER_LOOKUP_OPERATION, checkUsersPage, (users) => void found.push(...users));
      return found;
    },

    async usersDelta(deltaLink, onPage) {
      const first =
        deltaLink === null ? client.api('/users/delta').select(DELTA_SELECT) : requestForNextLink(deltaLink);
      const { total, deltaLink: next } = await follow(first, DELTA_OPERATION, zodPage(deltaPageSchema), (value) =>
        onPage(
          value.map((u) => ({
            id: u.id,
            removed: u['@removed'] !== undefined,
            ...(u.userPrincipalName !== undefined ? { userPrincipalName: u.userPrincipalName } : {}),
            ...(u.onPremisesDistinguishedName !== undefined
              ? { onPremisesDistinguishedName: u.onPremisesDistinguishedName }
              : {}),
            ...(u.onPremisesImmutableId !== undefined ? { onPremisesImmutableId: u.onPremisesImmutableId } : {}),
            ...(u.onPremisesSyncEnabled !== undefined ? { onPremisesSyncEnabled: u.onPremisesSyncEnabled } : {}),
          })),
        ),
      );
      if (next === undefined) {
        throw new AppError('CLOUD.ERROR', 'Graph ended a users delta round without a deltaLink.', {
          hint: 'This should not happen with Microsoft Graph; check that GRAPH_BASE_URL points at Microsoft Graph.',
        });
      }
      return { deltaLink: next, changes: total };
    },

    async groupsDelta(deltaLink, onPage) {
      const first =
        deltaLink === null ? client.api('/groups/delta').select(GROUPS_DELTA_SELECT) : requestForNextLink(deltaLink);
      const { total, deltaLink: next } = await follow(
        first,
        GROUPS_DELTA_OPERATION,
        zodPage(groupsDeltaPageSchema),
        (value) =>
          onPage(
            value.map((g) =>
              objectChange(
                g,
                g.onPremisesSecurityIdentifier === undefined ? {} : { key: g.onPremisesSecurityIdentifier },
              ),
            ),
          ),
      );
      return { deltaLink: endOfRound(next, 'groups'), changes: total };
    },

    async contactsDelta(deltaLink, onPage) {
      const first =
        deltaLink === null
          ? client.api('/contacts/delta').select(CONTACTS_DELTA_SELECT)
          : requestForNextLink(deltaLink);
      const { total, deltaLink: next } = await follow(
        first,
        CONTACTS_DELTA_OPERATION,
        zodPage(contactsDeltaPageSchema),
        (value) => onPage(value.map((c) => objectChange(c, c.mail === undefined ? {} : { key: c.mail }))),
      );
      return { deltaLink: endOfRound(next, 'contacts'), changes: total };
    },

    async provisioningEvents(input, onPage) {
      // OData string literals double their single quotes; the job id pattern keeps it simple anyway.
      // gt, not ge: provisioning logs filter activityDateTime with eq/gt/lt only, and Graph answers 400 to ge/le.
      const filter = `jobId eq '${input.jobId.replace(/'/g, "''")}' and activityDateTime gt ${input.since.toISOString()}`;
      const first = client.api('/auditLogs/provisioning').filter(filter).top(Math.min(pageSize, 500));
      const { total } = await follow(first, PROVISIONING_OPERATION, zodPage(provisioningPageSchema), (value) =>
        onPage(
          value.map((e) => {
            const status = e.provisioningStatusInfo ?? e.statusInfo ?? null;
            return {
              id: e.id,
              activityDateTime: e.activityDateTime,
              status: status?.status ?? 'unknown',
              // An entry without a jobId cannot be shown to belong to the job; '' never matches one.
              jobId: e.jobId ?? '',
              action: e.provisioningAction ?? e.action ?? null,
              sourceId: e.sourceIdentity?.id || null,
              targetId: e.targetIdentity?.id || null,
              sourceDisplayName: e.sourceIdentity?.displayName ?? null,
              errorCode: status?.errorInformation?.errorCode ?? null,
              reason: status?.errorInformation?.reason ?? null,
            };
          }),
        ),
      );
      return total;
    },

    async findProvisioningJob(servicePrincipalId) {
      const raw = await syncCall('GET', `${spPath(servicePrincipalId)}/synchronization/jobs`, READ_JOBS);
      const jobs = parseSync(jobsSchema, raw, READ_JOBS).value;
      const found = jobs.filter((j) => j.templateId === PROVISIONING_TEMPLATE);
      if (found.length !== 1)
        throw new AppError(
          'CLOUD.ERROR',
          found.length === 0
            ? `Service principal ${servicePrincipalId} has no ${PROVISIONING_TEMPLATE} job (it has ${jobs.map((j) => j.templateId).join(', ') || 'no jobs'}).`
            : `Service principal ${servicePrincipalId} has ${found.length} ${PROVISIONING_TEMPLATE} jobs; SyncShift cannot tell which one holds the scope.`,
          {
            hint: "Set CLOUD_SYNC_SERVICE_PRINCIPAL_ID to the object id of the Cloud Sync configuration's service principal (Enterprise applications, named after the AD domain).",
          },
        );
      return toJob(servicePrincipalId, found[0]!);
    },

    async listJobs(servicePrincipalId) {
      const raw = await syncCall('GET', `${spPath(servicePrincipalId)}/synchronization/jobs`, READ_JOBS);
      return parseSync(jobsSchema, raw, READ_JOBS).value.map((j) => toJob(servicePrincipalId, j));
    },

    async readJob(job) {
      const raw = await syncCall('GET', jobPath(job), READ_JOBS);
      return toJob(job.servicePrincipalId, parseSync(jobSchema, raw, READ_JOBS));
    },

    async readScope(job) {
      return scopeOf(
        parseSync(syncSchemaSchema, await syncCall('GET', `${jobPath(job)}/schema`, READ_SCHEMA), READ_SCHEMA),
      );
    },

    async updateScope(job, change) {
      const schema = parseSync(
        syncSchemaSchema,
        await syncCall('GET', `${jobPath(job)}/schema`, READ_SCHEMA),
        READ_SCHEMA,
      );
      const before = scopeOf(schema);
      const result = change(before);
      if (!result.ok || !result.changed) return { before, change: result };
      const lists = new Map(result.rules.map((r) => [r.id, r.includedContainers]));
      // The update replaces the whole schema: everything is sent back as read, only the filters change.
      const { '@odata.context': _context, ...body } = schema;
      const written = {
        ...body,
        synchronizationRules: schema.synchronizationRules.map((rule) => {
          const list = lists.get(rule.id);
          return list === undefined
            ? rule
            : { ...rule, containerFilter: { ...(rule.containerFilter ?? {}), includedContainers: list } };
        }),
      };
      await syncCall('PUT', `${jobPath(job)}/schema`, WRITE_SCHEMA, written);
      return { before, change: result };
    },

    async pauseJob(job) {
      await syncCall('POST', `${jobPath(job)}/pause`, PAUSE_JOB);
    },

    async startJob(job) {
      await syncCall('POST', `${jobPath(job)}/start`, START_JOB);
    },
  };
}

/** One group or contact delta entry as the copy keeps it: only what Graph sent, `key` as the caller names it. */
function objectChange(
  o: {
    id: string;
    '@removed'?: unknown;
    displayName?: string | null | undefined;
    onPremisesSyncEnabled?: boolean | null | undefined;
  },
  key: { key?: string | null },
): CloudObjectChange {
  return {
    id: o.id,
    removed: o['@removed'] !== undefined,
    ...(o.displayName !== undefined ? { displayName: o.displayName } : {}),
    ...key,
    ...(o.onPremisesSyncEnabled !== undefined ? { onPremisesSyncEnabled: o.onPremisesSyncEnabled } : {}),
  };
}

/** A delta round ends with a deltaLink; without one the copy could not be followed on. */
function endOfRound(deltaLink: string | undefined, what: string): string {
  if (deltaLink === undefined)
    throw new AppError('CLOUD.ERROR', `Graph ended a ${what} delta round without a deltaLink.`, {
      hint: 'This should not happen with Microsoft Graph; check that GRAPH_BASE_URL points at Microsoft Graph.',
    });
  return deltaLink;
}

interface GraphPage<T> {
  '@odata.nextLink'?: string | undefined;
  '@odata.deltaLink'?: string | undefined;
  value: T[];
}

type PageCheckResult<T> = { ok: true; page: GraphPage<T> } | { ok: false; path: string; message: string };
type PageCheck<T> = (raw: unknown) => PageCheckResult<T>;

function zodPage<T>(schema: z.ZodType<GraphPage<T>>): PageCheck<T> {
  return (raw) => {
    const parsed = schema.safeParse(raw);
    if (parsed.success) return { ok: true, page: parsed.data };
    const issue = parsed.error.issues[0];
    return { ok: false, path: issue?.path.join('.') ?? '', message: issue?.message ?? 'invalid' };
  };
}

const USER_TEXT_FIELDS = ['userPrincipalName', 'onPremisesDistinguishedName', 'onPremisesImmutableId'] as const;

/**
 * The /users page check. A 100,000-user verify reads 100 of these pages, and zod's copy of every
 * user object was a third of the cloud side's time and most of its garbage; this checks the same
 * shape in place and fills absent fields with null, so the page itself is what the caller gets.
 */
function checkUsersPage(raw: unknown): PageCheckResult<CloudUser> {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
    return { ok: false, path: '', message: 'expected an object' };
  const page = raw as Record<string, unknown>;
  const next = page['@odata.nextLink'];
  if (next !== undefined && (typeof next !== 'string' || !URL.canParse(next)))
    return { ok: false, path: '@odata.nextLink', message: 'expected a URL' };
  const value = page.value;
  if (!Array.isArray(value)) return { ok: false, path: 'value', message: 'expected an array' };
  for (let i = 0; i < value.length; i++) {
    const user = value[i] as Record<string, unknown> | null;
    if (typeof user !== 'object' || user === null)
      return { ok: false, path: `value.${i}`, message: 'expected an object' };
    if (typeof user.id !== 'string' || user.id === '')
      return { ok: false, path: `value.${i}.id`, message: 'expected a non-empty string' };
    for (const field of USER_TEXT_FIELDS) {
      const v = user[field];
      if (v === undefined) user[field] = null;
      else if (v !== null && typeof v !== 'string')
        return { ok: false, path: `value.${i}.${field}`, message: 'expected a string or null' };
    }
  }
  return { ok: true, page: page as unknown as GraphPage<CloudUser> };
}

interface GraphOperation {
  doing: string;
  permissionHint: string;
  /** The permission a 401/403 means is missing; such an answer becomes CLOUD.FORBIDDEN naming it. */
  permission?: string;
}

const USERS_OPERATION: GraphOperation = { doing: 'listing synced users', permissionHint: PERMISSION_HINT };
const USER_LOOKUP_OPERATION: GraphOperation = {
  doing: 'looking up a user by onPremisesImmutableId',
  permissionHint: PERMISSION_HINT,
};
const DELTA_OPERATION: GraphOperation = {
  doing: 'reading user changes (delta query)',
  permissionHint: PERMISSION_HINT,
};
const GROUPS_OPERATION: GraphOperation = {
  doing: 'listing synced groups',
  permissionHint:
    'Check that the app registration has the Microsoft Graph application permission GroupMember.Read.All (or Group.Read.All) with admin consent.',
};
const CONTACTS_OPERATION: GraphOperation = {
  doing: 'listing synced organisational contacts',
  permissionHint:
    'Check that the app registration has the Microsoft Graph application permission OrgContact.Read.All with admin consent.',
};
const GROUPS_DELTA_OPERATION: GraphOperation = {
  doing: 'reading group changes (delta query)',
  permissionHint: GROUPS_OPERATION.permissionHint,
};
const CONTACTS_DELTA_OPERATION: GraphOperation = {
  doing: 'reading organisational contact changes (delta query)',
  permissionHint: CONTACTS_OPERATION.permissionHint,
};
const PROVISIONING_OPERATION: GraphOperation = {
  doing: 'reading Cloud Sync provisioning logs',
  permissionHint:
    'Check that the app registration has the Microsoft Graph application permission ProvisioningLog.Read.All (or AuditLog.Read.All) with admin consent, and that the tenant has Entra ID P1 or P2 (provisioning logs need it).',
};

const nullableString = z.string().nullable().optional();
const pageLinks = { '@odata.nextLink': z.string().url().optional() };
const groupsPageSchema = z.object({
  ...pageLinks,
  value: z.array(
    z.object({ id: z.string().min(1), displayName: nullableString, onPremisesSecurityIdentifier: nullableString }),
  ),
});
const contactsPageSchema = z.object({
  ...pageLinks,
  value: z.array(z.object({ id: z.string().min(1), displayName: nullableString, mail: nullableString })),
});
const deltaPageSchema = z.object({
  '@odata.nextLink': z.string().url().optional(),
  '@odata.deltaLink': z.string().url().optional(),
  value: z.array(
    z.object({
      id: z.string().min(1),
      '@removed': z.object({ reason: z.string().optional() }).passthrough().optional(),
      userPrincipalName: nullableString,
      onPremisesDistinguishedName: nullableString,
      onPremisesImmutableId: nullableString,
      onPremisesSyncEnabled: z.boolean().nullable().optional(),
    }),
  ),
});

const removedSchema = z.object({ reason: z.string().optional() }).passthrough().optional();
const groupsDeltaPageSchema = z.object({
  '@odata.nextLink': z.string().url().optional(),
  '@odata.deltaLink': z.string().url().optional(),
  value: z.array(
    z.object({
      id: z.string().min(1),
      '@removed': removedSchema,
      displayName: nullableString,
      onPremisesSecurityIdentifier: nullableString,
      onPremisesSyncEnabled: z.boolean().nullable().optional(),
    }),
  ),
});
const contactsDeltaPageSchema = z.object({
  '@odata.nextLink': z.string().url().optional(),
  '@odata.deltaLink': z.string().url().optional(),
  value: z.array(
    z.object({
      id: z.string().min(1),
      '@removed': removedSchema,
      displayName: nullableString,
      mail: nullableString,
      onPremisesSyncEnabled: z.boolean().nullable().optional(),
    }),
  ),
});

const statusInfoSchema = z
  .object({
    status: z.string(),
    errorInformation: z
      .object({ errorCode: nullableString, reason: nullableString })
      .passthrough()
      .nullable()
      .optional(),
  })
  .passthrough()
  .nullable()
  .optional();
const identitySchema = z
  .object({ id: nullableString, displayName: nullableString })
  .passthrough()
  .nullable()
  .optional();
const provisioningPageSchema = z.object({
  '@odata.nextLink': z.string().url().optional(),
  value: z.array(
    z
      .object({
        id: z.string().min(1),
        activityDateTime: z.string(),
        jobId: nullableString,
        // v1.0 names them provisioningAction and provisioningStatusInfo; older (beta) payloads say action and statusInfo.
        provisioningAction: nullableString,
        action: nullableString,
        provisioningStatusInfo: statusInfoSchema,
        statusInfo: statusInfoSchema,
        sourceIdentity: identitySchema,
        targetIdentity: identitySchema,
      })
      .passthrough(),
  ),
});

/**
 * The synchronization API's containerFilter is documented on beta only (containerFilter resource
 * type); the job and schema calls exist on v1.0 too, but one version for all of them keeps the
 * schema we read and the schema we write the same shape.
 */
const SYNC_API_VERSION = 'beta';
const PROVISIONING_TEMPLATE = 'AD2AADProvisioning';

const syncOperation = (doing: string, permission: string): GraphOperation => ({
  doing,
  permission,
  permissionHint: `Grant the app registration the Microsoft Graph application permission ${permission} with admin consent.`,
});
const READ_JOBS = syncOperation('reading the Cloud Sync jobs', 'Synchronization.Read.All');
const READ_SCHEMA = syncOperation("reading the Cloud Sync job's schema (its OU scope)", 'Synchronization.Read.All');
const WRITE_SCHEMA = syncOperation("writing the Cloud Sync job's schema (its OU scope)", CLOUD_SYNC_WRITE_PERMISSION);
const PAUSE_JOB = syncOperation('pausing the Cloud Sync job', CLOUD_SYNC_WRITE_PERMISSION);
const START_JOB = syncOperation('starting the Cloud Sync job', CLOUD_SYNC_WRITE_PERMISSION);

const spPath = (id: string): string => `/servicePrincipals/${encodeURIComponent(id)}`;
const jobPath = (job: CloudSyncJobRef): string =>
  `${spPath(job.servicePrincipalId)}/synchronization/jobs/${encodeURIComponent(job.jobId)}`;

const jobSchema = z
  .object({
    id: z.string().min(1),
    templateId: z.string(),
    status: z.object({ code: z.string() }).passthrough().nullable().optional(),
  })
  .passthrough();
const jobsSchema = z.object({ value: z.array(jobSchema) }).passthrough();
const ruleSchema = z
  .object({
    id: z.string().min(1),
    containerFilter: z
      .object({ includedContainers: z.array(z.string()).nullable().optional() })
      .passthrough()
      .nullable()
      .optional(),
  })
  .passthrough();
const syncSchemaSchema = z
  .object({ '@odata.context': z.string().optional(), synchronizationRules: z.array(ruleSchema) })
  .passthrough();

function toJob(servicePrincipalId: string, job: z.infer<typeof jobSchema>): CloudSyncJob {
  return { servicePrincipalId, jobId: job.id, templateId: job.templateId, statusCode: job.status?.code ?? 'unknown' };
}

/** A rule without containerFilter (or with an empty list) filters nothing: the containerFilter doc's "no filtering". */
function scopeOf(schema: z.infer<typeof syncSchemaSchema>): CloudSyncScope {
  return {
    rules: schema.synchronizationRules.map((r) => ({
      id: r.id,
      includedContainers: [...(r.containerFilter?.includedContainers ?? [])],
    })),
  };
}

function parseSync<T>(schema: z.ZodType<T>, raw: unknown, operation: GraphOperation): T {
  const parsed = schema.safeParse(raw);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  throw new AppError(
    'CLOUD.ERROR',
    `Graph answered in an unexpected shape while ${operation.doing} (${issue?.path.join('.') || 'root'}: ${issue?.message ?? 'invalid'}).`,
    { hint: 'Check that GRAPH_BASE_URL points at Microsoft Graph, and that the ids name a Cloud Sync configuration.' },
  );
}

function parseBaseUrl(raw: string): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new AppError('CONFIG.INVALID', `Graph baseUrl '${raw}' is not a valid URL.`, {
      hint: 'Use the service root, e.g. https://graph.microsoft.com (no /v1.0).',
    });
  }
  if (/\/(v1\.0|beta)\/?$/.test(url.pathname)) {
    throw new AppError('CONFIG.INVALID', `Graph baseUrl '${raw}' includes an API version.`, {
      hint: 'Drop the /v1.0 or /beta suffix; the version is added per request.',
    });
  }
  if (!url.pathname.endsWith('/')) url.pathname += '/';
  return url;
}

function createAuthProvider(options: GraphCloudDirectoryOptions, base: URL): AuthenticationProvider {
  if (options.credential && options.staticToken) {
    throw new AppError('CONFIG.INVALID', 'Both a credential and a static Graph token were given.', {
      hint: 'Pass credential for real tenants, or staticToken for the simulator, not both.',
    });
  }
  if (options.credential) {
    return new TokenCredentialAuthenticationProvider(options.credential, { scopes: [`${base.origin}/.default`] });
  }
  if (options.staticToken) {
    const token = options.staticToken;
    return { getAccessToken: async () => token };
  }
  throw new AppError('CONFIG.INVALID', 'No way to authenticate to Microsoft Graph was configured.', {
    hint: 'Pass a TokenCredential from @azure/identity (or staticToken for the simulator).',
  });
}

/** Sets (never appends) the bearer token, and only for our own origin. */
class AuthMiddleware implements Middleware {
  private next: Middleware | undefined;

  constructor(
    private readonly provider: AuthenticationProvider,
    private readonly origin: string,
  ) {}

  setNext(next: Middleware): void {
    this.next = next;
  }

  async execute(context: Context): Promise<void> {
    const url = typeof context.request === 'string' ? context.request : context.request.url;
    if (new URL(url).origin === this.origin) {
      const token = await this.provider.getAccessToken();
      // Lower-case key on purpose: the header names are normalised to lower case, and a retry must
      // replace the previous attempt's value, not send "Bearer a, Bearer a".
      context.options = {
        ...context.options,
        headers: { ...toPlainHeaders(context.options?.headers), authorization: `Bearer ${token}` },
      };
    }
    await this.next?.execute(context);
  }
}

function toPlainHeaders(headers: HeadersInit | undefined): Record<string, string> {
  const plain: Record<string, string> = {};
  if (!headers) return plain;
  const put = (value: string, key: string): void => {
    plain[key.toLowerCase()] = value;
  };
  if (Array.isArray(headers)) for (const [key, value] of headers as Array<[string, string]>) put(value, key);
  else if (typeof (headers as Headers).forEach === 'function') (headers as Headers).forEach(put);
  else for (const [key, value] of Object.entries(headers as Record<string, string>)) put(value, key);
  return plain;
}

interface RetryOptions {
  maxRetries: number;
  maxWaitMs: number;
  baseBackoffMs: number;
  sleep: (ms: number) => Promise<void>;
  logger: Logger | undefined;
}

/**
 * Retries what isRetryableGraphAnswer allows. Retry-After wins when present (Graph's throttling guidance); otherwise the
 * wait doubles from baseBackoffMs. No jitter: one client paging sequentially gains nothing from it,
 * and deterministic waits keep tests exact. Every wait is capped at maxWaitMs.
 */
class RetryMiddleware implements Middleware {
  private next: Middleware | undefined;

  constructor(private readonly options: RetryOptions) {}

  setNext(next: Middleware): void {
    this.next = next;
  }

  async execute(context: Context): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        await this.next?.execute(context);
      } catch (err) {
        if (!isRetryableGraphFailure(context.options?.method, err) || attempt >= this.options.maxRetries) throw err;
        const waitMs = Math.min(this.options.baseBackoffMs * 2 ** attempt, this.options.maxWaitMs);
        this.options.logger?.warn(
          { cause: connectionFailure(err)?.code, attempt: attempt + 1, maxRetries: this.options.maxRetries, waitMs },
          'Graph could not be reached; retrying',
        );
        await this.options.sleep(waitMs);
        continue;
      }
      const response = context.response;
      if (
        !response ||
        !isRetryableGraphAnswer(context.options?.method, response.status) ||
        attempt >= this.options.maxRetries
      )
        return;
      const waitMs = this.waitFor(response, attempt);
      // Drain the failed body so keep-alive sockets are reused rather than leaked.
      await response.arrayBuffer().catch(() => undefined);
      this.options.logger?.warn(
        { status: response.status, attempt: attempt + 1, maxRetries: this.options.maxRetries, waitMs },
        'Graph asked us to back off; retrying',
      );
      await this.options.sleep(waitMs);
    }
  }

  private waitFor(response: Response, attempt: number): number {
    const header = response.headers.get('Retry-After');
    let ms: number | undefined;
    if (header !== null) {
      const seconds = Number(header);
      ms = Number.isFinite(seconds) ? seconds * 1000 : Date.parse(header) - Date.now();
    }
    if (ms === undefined || Number.isNaN(ms)) ms = this.options.baseBackoffMs * 2 ** attempt;
    return Math.min(Math.max(0, Math.ceil(ms)), this.options.maxWaitMs);
  }
}

/** Graph/network failures to AppError; messages carry status and Graph's code, never tokens or stacks. */
function toAppError(
  err: unknown,
  { maxRetries, origin }: { maxRetries: number; origin: string },
  pagesDone: number,
  operation: GraphOperation,
): AppError {
  if (err instanceof AppError) return err;
  const details = { pagesDone };
  if (err instanceof GraphError && err.statusCode > 0) {
    const status = err.statusCode;
    const graphCode = err.code ?? 'unknown';
    const what = `Microsoft Graph answered ${status} (${graphCode}) while ${operation.doing}`;
    if (status === 429) {
      return new AppError('CLOUD.THROTTLED', `${what}, still throttled after ${maxRetries} retries.`, {
        hint: 'Graph is throttling this app in this tenant; wait a few minutes and run the verify again, and avoid running several verifies at once.',
        details: { ...details, status, graphCode, retryAfter: err.headers?.get('Retry-After') ?? undefined },
      });
    }
    // Every call here is a GET, retried on these; what is left after the retries is an outage.
    if (status === 500 || status === 502 || status === 503 || status === 504) {
      return new AppError('CLOUD.UNAVAILABLE', `${what}, still failing after ${maxRetries} retries.`, {
        hint: 'Graph is temporarily unavailable; check the Microsoft 365 service health page and try again later.',
        details: { ...details, status, graphCode },
      });
    }
    if ((status === 401 || status === 403) && operation.permission) {
      return new AppError('CLOUD.FORBIDDEN', `${what}: the app registration lacks ${operation.permission}.`, {
        hint: operation.permissionHint,
        details: { ...details, status, graphCode, permission: operation.permission },
      });
    }
    if (status === 401 || status === 403) {
      return new AppError('CLOUD.ERROR', `${what}: the app is not allowed to read this.`, {
        hint: operation.permissionHint,
        details: { ...details, status, graphCode },
      });
    }
    return new AppError('CLOUD.ERROR', `${what}: ${sanitize(err.message)}`, {
      hint:
        status >= 500
          ? 'Graph failed on its side; try again later, and report the request-id if it persists.'
          : 'The request was rejected; this is likely a bug in SyncShift, please report it with this message.',
      details: { ...details, status, graphCode, requestId: err.requestId ?? undefined },
    });
  }
  // No HTTP status: fetch itself failed (refused, reset, DNS, TLS) or the token could not be obtained.
  const failure = connectionFailure(err);
  if (failure) {
    const retried =
      isRetryableGraphFailure('GET', err) && maxRetries > 0 ? `, still failing after ${maxRetries} retries` : '';
    const where = `the bot's network, proxy, firewall and DNS`;
    return new AppError(
      'CLOUD.UNAVAILABLE',
      `Could not reach Microsoft Graph at ${origin} while ${operation.doing}: ${failure.cause} (${failure.code})${retried}.`,
      {
        hint:
          failure.kind === 'tls'
            ? `Check that GRAPH_BASE_URL (${origin}) is the Graph endpoint, and that the bot trusts its certificate (a TLS-inspecting proxy needs its CA in NODE_EXTRA_CA_CERTS).`
            : failure.kind === 'dns' && !failure.transient
              ? `Check the host name in GRAPH_BASE_URL (${origin}) and ${where}.`
              : `Graph or the way to it was down; check ${where}, and that GRAPH_BASE_URL (${origin}) is right, then try again.`,
        details: { ...details, cause: failure.code },
      },
    );
  }
  // Duck-typed: errors come from another realm under some runners, so `instanceof Error` can lie.
  // The graph client wraps such errors in a GraphError with no status; when it does not recognise
  // them as Error (the realm case) the original sits in `body`.
  const original = err instanceof GraphError && typeof err.body === 'object' && err.body !== null ? err.body : err;
  const { message } = (typeof original === 'object' && original !== null ? original : {}) as { message?: unknown };
  const reason = typeof message === 'string' ? sanitize(message) : 'unknown error';
  if (reason === 'fetch failed') {
    // fetch failed for a reason without a code (a port fetch refuses to use, say): its cause's words.
    const said = (original as { cause?: { message?: unknown } }).cause?.message;
    return new AppError(
      'CLOUD.UNAVAILABLE',
      `Could not reach Microsoft Graph at ${origin} while ${operation.doing}: ${typeof said === 'string' ? sanitize(said) : 'the request failed before Graph answered'}.`,
      {
        hint: `Check GRAPH_BASE_URL (${origin}) and the bot's network, proxy, firewall and DNS.`,
        details,
      },
    );
  }
  return new AppError('CLOUD.ERROR', `Could not call Microsoft Graph: ${reason}.`, {
    hint: 'If this is a sign-in failure, check the tenant id, client id and secret/certificate of the app registration.',
    details,
  });
}

/** Graph messages are safe, but credential errors can echo secrets; strip anything token-like. */
function sanitize(message: string): string {
  return message
    .replace(/Bearer\s+\S+/gi, 'Bearer [redacted]')
    .replace(/eyJ[\w-]+\.[\w-]+\.[\w-]*/g, '[redacted-jwt]')
    .slice(0, 300);
}

/**
 * A string literal for a $filter. The Graph client puts the filter into the URL as given, and a
 * raw '+' there reads as a space (form encoding), so a base64 anchor with a '+' (about 3 in 10
 * canaries) matched nothing. Graph's "query parameters" page asks for reserved characters to be
 * percent-encoded; '%', '+', '&' and '#' are the ones that change how a query string is read.
 */
function odataString(value: string): string {
  const encoded = value.replace(/[%+&#]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  return `'${encoded.replace(/'/g, "''")}'`;
}
