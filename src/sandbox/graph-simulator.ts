/**
 * A small Microsoft Graph v1.0 stand-in for tests and the sandbox demo. It serves only what the
 * bot reads (GET /users, /users/{id}, /users/$count, /users/delta, /groups, /groups/delta, /contacts,
 * /contacts/delta,
 * /auditLogs/provisioning, and the Cloud Sync job's scope and pause/start, see sim-synchronization.ts) but
 * copies Graph's documented rules closely enough that a client which works here does not break on
 * its first contact with the real service:
 * default page 100, $top 1..999, opaque $skiptoken nextLinks, $select returning only what was asked,
 * onPremisesDistinguishedName not filterable, ne/not/$count needing ConsistencyLevel: eventual,
 * delta rounds returning every $select'ed property of a changed object unless Prefer: return=minimal.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../shared/logger';
import {
  SimHttpAnswer,
  SimSynchronization,
  type SimJobStatus,
  type SimSyncPermission,
  type SimSyncState,
} from './sim-synchronization';

export interface SimUser {
  id: string;
  userPrincipalName: string;
  displayName?: string;
  accountEnabled?: boolean;
  onPremisesSyncEnabled: boolean | null;
  onPremisesDistinguishedName: string | null;
  onPremisesImmutableId: string | null;
  onPremisesSamAccountName?: string | null;
  onPremisesLastSyncDateTime?: string | null;
}

/** A group as the group resource (v1.0) documents it; the properties a sync engine sets. */
export interface SimGroup {
  id: string;
  displayName: string;
  onPremisesSyncEnabled: boolean | null;
  /** The synced AD group's objectSid (S-1-5-21-…). */
  onPremisesSecurityIdentifier: string | null;
  onPremisesSamAccountName?: string | null;
  securityEnabled: boolean;
  mailEnabled: boolean;
  mail?: string | null;
}

/** An organisational contact as the orgContact resource (v1.0) documents it. */
export interface SimContact {
  id: string;
  displayName: string;
  mail: string | null;
  onPremisesSyncEnabled: boolean | null;
}

export interface SimProvisioningEvent {
  id?: string;
  activityDateTime: string;
  jobId: string;
  status: 'success' | 'failure' | 'skipped' | 'warning';
  /** What the cycle did to the object; Graph's provisioningAction (default create). */
  action?: 'create' | 'update' | 'delete' | 'disable' | 'stagedDelete' | 'other';
  /** The Entra user the entry is about (targetIdentity.id). */
  targetId: string | null;
  /** The AD object the entry is about (sourceIdentity.id); null when the entry does not say. */
  sourceId?: string | null;
  sourceDisplayName: string;
  /** The object type the entry names (sourceIdentity/targetIdentity identityType). Default User. */
  identityType?: string;
  /** The provisioning service principal of the job (provisioningServicePrincipal: id, name). */
  servicePrincipal?: { id: string; name: string } | null;
  cycleId?: string;
  changeId?: string;
  errorCode?: string;
  reason?: string;
}

export interface SimRequest {
  method: string;
  path: string;
  /** Decoded query parameters, e.g. { $select: 'id,userPrincipalName', $top: '999' }. */
  query: Record<string, string>;
  status: number;
}

export type SimFailureStatus = 429 | 503 | 500;

export interface GraphSimulator {
  /** Base like http://127.0.0.1:PORT; the Graph root is `${url}/v1.0`. */
  readonly url: string;
  /** The bearer token every request must carry. */
  readonly token: string;
  setUsers(users: SimUser[]): void;
  addUsers(users: SimUser[]): void;
  removeUser(id: string): boolean;
  users(): SimUser[];
  /** Changes some properties of one user, as a sync engine would (shows up in delta rounds). */
  updateUser(id: string, patch: Partial<Omit<SimUser, 'id'>>): boolean;
  /** Groups served by GET /v1.0/groups and /groups/delta (the difference to the last set is the change). */
  setGroups(groups: SimGroup[]): void;
  groups(): SimGroup[];
  /** Organisational contacts served by GET /v1.0/contacts and /contacts/delta, as setGroups. */
  setContacts(contacts: SimContact[]): void;
  contacts(): SimContact[];
  /** Adds Cloud Sync provisioning log entries (GET /v1.0/auditLogs/provisioning). */
  addProvisioningEvents(events: SimProvisioningEvent[]): void;
  /**
   * Makes GET /auditLogs/provisioning answer 403 as Graph does for an app without
   * ProvisioningLog.Read.All/AuditLog.Read.All ('permission') or a tenant without Entra ID P1/P2
   * ('licence'); null serves the logs again.
   */
  denyProvisioningLogs(reason: 'permission' | 'licence' | null): void;
  /** The Cloud Sync job's status and OU scope now (served at /beta/servicePrincipals/…/synchronization). */
  cloudSync(): SimSyncState;
  /**
   * Changes the Cloud Sync configuration behind the bot's back, as a person in the portal would:
   * the scope (each rule's includedContainers), the job's status, and/or the password hash sync
   * job (AD2AADPasswordHash: its status, or null for none, the default).
   */
  setCloudSync(change: {
    includedContainers?: string[];
    statusCode?: SimJobStatus;
    passwordHashJob?: SimJobStatus | null;
  }): void;
  /** What the app may do with the synchronization API: 'read' makes every write answer 403. */
  setCloudSyncPermission(permission: SimSyncPermission): void;
  /**
   * The next `count` authenticated requests fail with `status`; 429 and 503 carry Retry-After. With
   * `path`, only requests to exactly that path fail (others, such as a Cloud Sync scope read made
   * first, go through).
   */
  failNext(count: number, status: SimFailureStatus, options?: { retryAfterSeconds?: number; path?: string }): void;
  /** Per-request latency from now on; null answers at once again. */
  setLatency(latency: SimLatency | null): void;
  /** A 429 with Retry-After on every N-th authenticated request from now on; null stops it. */
  setThrottle(throttle: SimThrottle | null): void;
  /**
   * Every delta token issued so far stops working: Graph answers 400 syncStateNotFound, as it does
   * for a token older than its lifetime (7 days for directory objects).
   */
  expireDeltaTokens(): void;
  /** Every request seen, in order, including failed ones. */
  readonly requests: SimRequest[];
  /** Clears the request log and pending failures; users stay. */
  reset(): void;
  close(): Promise<void>;
}

/**
 * How long each answer takes: Graph over the internet, not loopback. A page of 999 users with
 * $select takes on the order of a second against Microsoft Graph; `fixedMs` plus a uniform random
 * `jitterMs` is added before every answer, failures included.
 */
export interface SimLatency {
  fixedMs: number;
  jitterMs?: number;
}

/**
 * A throttling pattern: every `every`-th authenticated request is answered 429 with Retry-After
 * (Graph's throttling guidance: wait that many seconds, then retry).
 */
export interface SimThrottle {
  every: number;
  retryAfterSeconds: number;
}

export interface GraphSimulatorOptions {
  port?: number;
  token?: string;
  users?: SimUser[];
  groups?: SimGroup[];
  contacts?: SimContact[];
  logger?: Logger;
  latency?: SimLatency;
  throttle?: SimThrottle;
}

const DEFAULT_PAGE_SIZE = 100;
const MAX_PAGE_SIZE = 999;

/** What GET /users returns without $select (user resource doc, "default properties"). */
const DEFAULT_PROPERTIES = [
  'businessPhones',
  'displayName',
  'givenName',
  'jobTitle',
  'mail',
  'mobilePhone',
  'officeLocation',
  'preferredLanguage',
  'surname',
  'userPrincipalName',
  'id',
] as const;

/**
 * Properties $select accepts. Real Graph knows many more; an unknown name gets Graph's own 400 here
 * so a typo in the client fails in tests rather than silently returning nothing.
 */
const SELECTABLE = new Set<string>([
  ...DEFAULT_PROPERTIES,
  'accountEnabled',
  'onPremisesSyncEnabled',
  'onPremisesDistinguishedName',
  'onPremisesImmutableId',
  'onPremisesSamAccountName',
  'onPremisesLastSyncDateTime',
  'onPremisesSecurityIdentifier',
  'onPremisesDomainName',
  'onPremisesUserPrincipalName',
  'mailNickname',
  'createdDateTime',
]);

type Operator = 'eq' | 'ne';
/** Per property: operators served by default, and those that need advanced query (AQ) parameters. */
const FILTERABLE: Record<string, { plain: Operator[]; advanced: Operator[] }> = {
  id: { plain: ['eq'], advanced: ['ne'] },
  userPrincipalName: { plain: ['eq'], advanced: ['ne'] },
  onPremisesSyncEnabled: { plain: ['eq'], advanced: ['ne'] },
  onPremisesImmutableId: { plain: [], advanced: ['eq', 'ne'] },
  onPremisesSamAccountName: { plain: [], advanced: ['eq', 'ne'] },
};

type Literal = string | boolean | null;
interface Filter {
  property: string;
  operator: Operator;
  value: Literal;
  negated: boolean;
}

class GraphHttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

export async function startGraphSimulator(options: GraphSimulatorOptions = {}): Promise<GraphSimulator> {
  const token = options.token ?? 'sim-token';
  const logger = options.logger;
  let directory: SimUser[] = [...(options.users ?? [])];
  let groups: SimGroup[] = [...(options.groups ?? [])];
  let contacts: SimContact[] = [...(options.contacts ?? [])];
  const changes = new ChangeTracker<SimUser>(() => directory, USERS_DELTA);
  changes.created(directory);
  // Groups and contacts have delta functions of their own (group delta, orgContact delta).
  const groupChanges = new ChangeTracker<SimGroup>(() => groups, collectionDelta(GROUP_RESOURCE));
  groupChanges.created(groups);
  const contactChanges = new ChangeTracker<SimContact>(() => contacts, collectionDelta(CONTACT_RESOURCE));
  contactChanges.created(contacts);
  const events: Required<SimProvisioningEvent>[] = [];
  const requests: SimRequest[] = [];
  const pendingFailures: Array<{
    status: SimFailureStatus;
    retryAfterSeconds: number | undefined;
    path: string | undefined;
  }> = [];
  let provisioningDenied: 'permission' | 'licence' | null = null;
  const synchronization = new SimSynchronization();
  let url = '';
  let latency = checkLatency(options.latency ?? null);
  let throttle = checkThrottle(options.throttle ?? null);
  /** Authenticated requests since the throttling pattern was set, for "every N-th". */
  let throttleCount = 0;

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const delay = latency ? latency.fixedMs + Math.random() * (latency.jitterMs ?? 0) : 0;
    if (delay <= 0) void answer(req, res);
    else setTimeout(() => void answer(req, res), delay);
  };

  const answer = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const parsed = new URL(req.url ?? '/', url);
    const query = Object.fromEntries(parsed.searchParams.entries());
    let status = 500;
    try {
      const body = req.method === 'GET' ? undefined : await readJsonBody(req);
      const result = route(req, parsed, body);
      status = result.status ?? 200;
      send(res, status, result.body, result.headers);
    } catch (err) {
      const e =
        err instanceof GraphHttpError
          ? err
          : err instanceof SimHttpAnswer
            ? new GraphHttpError(err.status, err.code ?? 'BadRequest', String(err.body))
            : new GraphHttpError(500, 'generalException', `Simulator fault: ${String(err)}`);
      status = e.status;
      send(res, e.status, graphError(e.code, e.message), e.headers);
    }
    requests.push({ method: req.method ?? 'GET', path: parsed.pathname, query, status });
    logger?.debug({ method: req.method, path: parsed.pathname, query, status }, 'graph simulator request');
  };

  const route = (
    req: IncomingMessage,
    parsed: URL,
    requestBody: unknown,
  ): { body: unknown; headers?: Record<string, string>; status?: number } => {
    const auth = req.headers.authorization;
    if (!auth || !auth.startsWith('Bearer ') || auth.slice('Bearer '.length).trim() === '') {
      throw new GraphHttpError(401, 'InvalidAuthenticationToken', 'Access token is empty.');
    }
    if (auth.slice('Bearer '.length).trim() !== token) {
      throw new GraphHttpError(401, 'InvalidAuthenticationToken', 'Access token validation failure. Invalid audience.');
    }

    // Throttling is judged per app+tenant, so only requests that got past authentication count.
    const failing = pendingFailures.findIndex((f) => f.path === undefined || parsed.pathname === f.path);
    const failure = failing >= 0 ? pendingFailures.splice(failing, 1)[0] : undefined;
    if (failure) throw injectedFailure(failure.status, failure.retryAfterSeconds);
    if (throttle && ++throttleCount % throttle.every === 0) throw injectedFailure(429, throttle.retryAfterSeconds);

    const segments = parsed.pathname.split('/').filter((s) => s !== '');
    // By default a changed object comes back with every $select'ed property; Prefer: return=minimal
    // asks for only those that changed (user delta, group delta: "Prefer" request header).
    const minimal = String(req.headers.prefer ?? '')
      .split(',')
      .some((p) => p.trim().toLowerCase() === 'return=minimal');
    if (req.method === 'GET' && segments.join('/') === 'v1.0/users/delta')
      return changes.delta(parsed.searchParams, `${url}/v1.0`, minimal);
    if (req.method === 'GET' && segments.join('/') === 'v1.0/groups/delta')
      return groupChanges.delta(parsed.searchParams, `${url}/v1.0`, minimal);
    if (req.method === 'GET' && segments.join('/') === 'v1.0/contacts/delta')
      return contactChanges.delta(parsed.searchParams, `${url}/v1.0`, minimal);
    if (req.method === 'GET' && segments.join('/') === 'v1.0/auditLogs/provisioning') {
      if (provisioningDenied === 'permission')
        throw new GraphHttpError(
          403,
          'Authorization_RequestDenied',
          'Insufficient privileges to complete the operation.',
        );
      if (provisioningDenied === 'licence')
        throw new GraphHttpError(
          403,
          'Authentication_RequestFromNonPremiumTenantOrB2CTenant',
          "Neither tenant is B2C or tenant doesn't have premium license",
        );
      return provisioningLogs(parsed.searchParams, `${url}/v1.0`, events);
    }
    const synced = synchronization.route(req.method ?? 'GET', segments, requestBody, `${url}/${segments[0]}`);
    if (synced) return { body: synced.body, status: synced.status };
    if (segments[0] === 'v1.0' && (segments[1] === 'groups' || segments[1] === 'contacts') && segments.length === 2) {
      if (req.method !== 'GET')
        throw new GraphHttpError(
          405,
          'Request_BadRequest',
          `The simulator is read-only; ${req.method ?? 'this method'} is not supported on ${parsed.pathname}.`,
        );
      const resource = segments[1] === 'groups' ? GROUP_RESOURCE : CONTACT_RESOURCE;
      const items = (segments[1] === 'groups' ? groups : contacts) as unknown as Record<string, unknown>[];
      return listCollection(
        resource,
        items,
        parsed.searchParams,
        isAdvancedQuery(req, parsed.searchParams),
        `${url}/v1.0`,
      );
    }
    if (segments[0] !== 'v1.0' || segments[1] !== 'users' || segments.length > 3) {
      throw new GraphHttpError(
        404,
        'Request_ResourceNotFound',
        `The simulator does not serve '${parsed.pathname}'; only GET /v1.0/users, /v1.0/users/{id}, /v1.0/users/$count, /v1.0/users/delta, /v1.0/groups, /v1.0/groups/delta, /v1.0/contacts, /v1.0/contacts/delta, /v1.0/auditLogs/provisioning and the Cloud Sync job's /beta/servicePrincipals/{id}/synchronization/jobs endpoints exist here.`,
      );
    }
    if (req.method !== 'GET') {
      throw new GraphHttpError(
        405,
        'Request_BadRequest',
        `The simulator is read-only; ${req.method ?? 'this method'} is not supported on ${parsed.pathname}.`,
      );
    }
    const params = parsed.searchParams;
    const advanced = isAdvancedQuery(req, params);
    const root = `${url}/v1.0`;

    if (segments[2] === '$count') {
      if (!hasEventualConsistency(req)) {
        throw new GraphHttpError(
          400,
          'Request_BadRequest',
          'Count is not currently supported without the ConsistencyLevel header set to eventual.',
        );
      }
      const matched = applyFilter(directory, parseFilter(params.get('$filter'), advanced.header && advanced.count));
      return { body: String(matched.length), headers: { 'content-type': 'text/plain' } };
    }

    const select = parseSelect(params.get('$select'));
    if (segments[2] !== undefined) {
      const user = directory.find((u) => u.id === decodeURIComponent(segments[2] ?? ''));
      if (!user) {
        throw new GraphHttpError(
          404,
          'Request_ResourceNotFound',
          `Resource '${segments[2]}' does not exist or one of its queried reference-property objects are not present.`,
        );
      }
      return {
        body: { '@odata.context': `${root}/$metadata#users${contextSelect(select)}/$entity`, ...project(user, select) },
      };
    }

    if (params.has('$count') && params.get('$count') !== 'false' && !advanced.header) {
      throw new GraphHttpError(
        400,
        'Request_BadRequest',
        '$count is not currently supported without the ConsistencyLevel header set to eventual.',
      );
    }
    const top = parseTop(params.get('$top'));
    const filter = parseFilter(params.get('$filter'), advanced.header && advanced.count);
    const offset = parseSkipToken(params.get('$skiptoken'), params.get('$filter'));
    const matched = applyFilter(directory, filter);
    const page = matched.slice(offset, offset + top);

    const body: Record<string, unknown> = { '@odata.context': `${root}/$metadata#users${contextSelect(select)}` };
    if (advanced.count) body['@odata.count'] = matched.length;
    if (offset + top < matched.length) {
      body['@odata.nextLink'] = nextLink(`${root}/users`, params, encodeSkipToken(offset + top, params.get('$filter')));
    }
    body.value = page.map((u) => project(u, select));
    return { body, headers: { 'x-ms-resource-unit': String(resourceUnits(select !== undefined, top)) } };
  };

  const server = createServer((req, res) => void handle(req, res));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    url,
    token,
    setUsers: (users) => {
      changes.replaced(directory, users);
      directory = [...users];
    },
    addUsers: (users) => {
      directory.push(...users);
      changes.created(users);
    },
    removeUser: (id) => {
      const before = directory.length;
      directory = directory.filter((u) => u.id !== id);
      if (directory.length !== before) changes.removed(id);
      return directory.length !== before;
    },
    updateUser: (id, patch) => {
      const index = directory.findIndex((u) => u.id === id);
      if (index < 0) return false;
      directory[index] = { ...directory[index]!, ...patch };
      changes.changed(id, Object.keys(patch));
      return true;
    },
    setGroups: (next) => {
      groupChanges.replaced(groups, next);
      groups = [...next];
    },
    groups: () => [...groups],
    setContacts: (next) => {
      contactChanges.replaced(contacts, next);
      contacts = [...next];
    },
    contacts: () => [...contacts],
    addProvisioningEvents: (added) => {
      for (const e of added)
        events.push({
          id: e.id ?? randomUUID(),
          errorCode: e.errorCode ?? '',
          reason: e.reason ?? '',
          action: e.action ?? 'create',
          sourceId: e.sourceId ?? null,
          identityType: e.identityType ?? 'User',
          servicePrincipal: e.servicePrincipal ?? null,
          cycleId: e.cycleId ?? randomUUID(),
          changeId: e.changeId ?? randomUUID(),
          ...e,
        } as Required<SimProvisioningEvent>);
    },
    denyProvisioningLogs: (reason) => {
      provisioningDenied = reason;
    },
    cloudSync: () => synchronization.state(),
    setCloudSync: (change) => synchronization.set(change),
    setCloudSyncPermission: (permission) => synchronization.setPermission(permission),
    users: () => [...directory],
    failNext: (count, status, failOptions = {}) => {
      for (let i = 0; i < count; i++)
        pendingFailures.push({ status, retryAfterSeconds: failOptions.retryAfterSeconds, path: failOptions.path });
    },
    expireDeltaTokens: () => {
      changes.expireTokens();
      groupChanges.expireTokens();
      contactChanges.expireTokens();
    },
    setLatency: (next) => {
      latency = checkLatency(next);
    },
    setThrottle: (next) => {
      throttle = checkThrottle(next);
      throttleCount = 0;
    },
    requests,
    reset: () => {
      requests.length = 0;
      pendingFailures.length = 0;
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        // fetch keeps sockets alive; without this close() waits for them to time out.
        server.closeAllConnections();
      }),
  };
}

/** What a delta function needs to know about its collection. */
interface DeltaResource<T> {
  /** The collection's path segment: users, groups, contacts. */
  name: string;
  parseSelect(raw: string | null): string[] | undefined;
  project(item: T, select: string[] | undefined): Record<string, unknown>;
}

const USERS_DELTA: DeltaResource<SimUser> = { name: 'users', parseSelect, project };

/** Groups and contacts: $select checked against the resource's properties, as their list does. */
function collectionDelta<T extends { id: string }>(resource: CollectionResource): DeltaResource<T> {
  return {
    name: resource.name,
    parseSelect: (raw) => {
      if (raw === null || raw.trim() === '') return undefined;
      const names = raw.split(',').map((n) => n.trim());
      for (const name of names)
        if (!resource.selectable.has(name))
          throw new GraphHttpError(
            400,
            'BadRequest',
            `Could not find a property named '${name}' on type '${resource.type}'.`,
          );
      return names;
    },
    project: (item, select) =>
      Object.fromEntries(
        (select ?? resource.defaults).map((n) => [n, (item as unknown as Record<string, unknown>)[n] ?? null]),
      ),
  };
}

/**
 * Change tracking for a delta function (/users/delta, /groups/delta, /contacts/delta). Every change
 * bumps a version; a deltaLink carries the version it was issued at, so the next round returns what
 * changed after it: new objects in full, changed objects with every selected property (or, with
 * Prefer: return=minimal, their id and only the selected properties that changed), deleted objects
 * as "@removed". An object whose changes touch no selected property is not returned.
 */
class ChangeTracker<T extends { id: string }> {
  private version = 0;
  /** Bumped by expireTokens(): tokens of an earlier epoch get Graph's syncStateNotFound. */
  private epoch = 0;
  private readonly createdAt = new Map<string, number>();
  private readonly propChangedAt = new Map<string, Map<string, number>>();
  private readonly removedAt = new Map<string, number>();
  /** Results of a round being paged, by round id: Graph's nextLinks hold the state, ours point here. */
  private readonly rounds = new Map<
    string,
    { items: Record<string, unknown>[]; endVersion: number; select: string[] | undefined }
  >();

  constructor(
    private readonly current: () => T[],
    private readonly resource: DeltaResource<T>,
  ) {}

  created(users: T[]): void {
    for (const u of users) {
      this.createdAt.set(u.id, ++this.version);
      this.removedAt.delete(u.id);
    }
  }

  removed(id: string): void {
    this.removedAt.set(id, ++this.version);
  }

  expireTokens(): void {
    this.epoch += 1;
  }

  changed(id: string, props: string[]): void {
    const v = ++this.version;
    const map = this.propChangedAt.get(id) ?? new Map<string, number>();
    for (const p of props) map.set(p, v);
    this.propChangedAt.set(id, map);
  }

  replaced(before: T[], after: T[]): void {
    const old = new Map(before.map((u) => [u.id, u]));
    const next = new Set(after.map((u) => u.id));
    for (const u of before) if (!next.has(u.id)) this.removed(u.id);
    for (const u of after) {
      const prev = old.get(u.id);
      if (!prev) {
        this.created([u]);
        continue;
      }
      const keys = new Set([...Object.keys(prev), ...Object.keys(u)]);
      const diff = [...keys].filter(
        (k) =>
          JSON.stringify((prev as unknown as Record<string, unknown>)[k]) !==
          JSON.stringify((u as unknown as Record<string, unknown>)[k]),
      );
      if (diff.length > 0) this.changed(u.id, diff);
    }
  }

  delta(params: URLSearchParams, root: string, minimal = false): { body: unknown } {
    const name = this.resource.name;
    if (params.has('$filter'))
      throw new GraphHttpError(
        400,
        'Request_BadRequest',
        `The simulator does not implement $filter on ${name} delta (Graph allows only id eq there).`,
      );
    const skip = params.get('$skiptoken');
    let roundId: string;
    let offset = 0;
    if (skip) {
      const [id = '', off = ''] = skip.split('.');
      if (!this.rounds.has(id) || !/^\d+$/.test(off))
        throw new GraphHttpError(400, 'Request_BadRequest', 'The $skiptoken is not valid.');
      roundId = id;
      offset = Number(off);
    } else {
      const token = params.get('$deltatoken');
      let since = -1;
      let select = this.resource.parseSelect(params.get('$select'));
      if (token === 'latest') {
        // Graph's "latest" token: no users, only a deltaLink from now on (delta query overview).
        return {
          body: {
            '@odata.context': `${root}/$metadata#${name}${contextSelect(select)}`,
            value: [],
            '@odata.deltaLink': `${root}/${name}/delta?$deltatoken=${encodeDeltaToken({ v: this.version, select, e: this.epoch })}`,
          },
        };
      }
      if (token !== null) {
        const state = decodeDeltaToken(token);
        if (state.e !== this.epoch)
          // What Graph answers for a token past its lifetime (7 days for directory objects).
          throw new GraphHttpError(
            400,
            'syncStateNotFound',
            'The sync state generation is not found. The delta token is expired and data must be synchronized again.',
          );
        since = state.v;
        select = state.select;
      }
      roundId = randomUUID().replace(/-/g, '');
      this.rounds.set(roundId, { items: this.collect(since, select, minimal), endVersion: this.version, select });
    }
    const round = this.rounds.get(roundId)!;
    const page = round.items.slice(offset, offset + DEFAULT_PAGE_SIZE);
    const body: Record<string, unknown> = {
      '@odata.context': `${root}/$metadata#${name}${contextSelect(round.select)}`,
      value: page,
    };
    if (offset + DEFAULT_PAGE_SIZE < round.items.length) {
      body['@odata.nextLink'] = `${root}/${name}/delta?$skiptoken=${roundId}.${offset + DEFAULT_PAGE_SIZE}`;
    } else {
      body['@odata.deltaLink'] =
        `${root}/${name}/delta?$deltatoken=${encodeDeltaToken({ v: round.endVersion, select: round.select, e: this.epoch })}`;
      this.rounds.delete(roundId);
    }
    return { body };
  }

  private collect(since: number, select: string[] | undefined, minimal: boolean): Record<string, unknown>[] {
    const out: Record<string, unknown>[] = [];
    for (const item of this.current()) {
      if (since < 0 || (this.createdAt.get(item.id) ?? 0) > since) {
        out.push(this.resource.project(item, select));
        continue;
      }
      const changed = [...(this.propChangedAt.get(item.id) ?? new Map<string, number>())]
        .filter(([p, v]) => v > since && (select === undefined || select.includes(p)))
        .map(([p]) => p);
      if (changed.length === 0) continue;
      const full = this.resource.project(item, select);
      out.push(minimal ? Object.fromEntries([['id', item.id], ...changed.map((p) => [p, full[p] ?? null])]) : full);
    }
    if (since >= 0) {
      const live = new Set(this.current().map((u) => u.id));
      for (const [id, v] of this.removedAt)
        if (v > since && !live.has(id)) out.push({ id, '@removed': { reason: 'changed' } });
    }
    return out;
  }
}

interface DeltaTokenState {
  v: number;
  select: string[] | undefined;
  /** The tracker's epoch when the token was issued; 0 for tokens without one. */
  e: number;
}

function encodeDeltaToken(state: DeltaTokenState): string {
  return Buffer.from(JSON.stringify(state)).toString('base64url');
}

function decodeDeltaToken(token: string): DeltaTokenState {
  try {
    const state = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as {
      v: unknown;
      select?: unknown;
      e?: unknown;
    };
    if (typeof state.v !== 'number') throw new Error('no version');
    return {
      v: state.v,
      select: Array.isArray(state.select) ? (state.select as string[]) : undefined,
      e: typeof state.e === 'number' ? state.e : 0,
    };
  } catch {
    throw new GraphHttpError(
      400,
      'Request_BadRequest',
      'The $deltatoken is not valid; start a new delta round without it.',
    );
  }
}

const PROVISIONING_FILTER_CLAUSE =
  /^(jobId) eq '((?:[^']|'')*)'$|^(activityDateTime) (eq|gt|lt) (\d{4}-\d{2}-\d{2}T[\d:.]+Z)$|^(statusInfo\/status|provisioningStatusInfo\/status) eq '(success|failure|skipped|warning)'$/;
/** Provisioning logs take eq/contains/gt/lt (list provisioningObjectSummary doc); Graph refuses ge and le on dates. */
const UNSUPPORTED_DATE_OPERATOR = /^activityDateTime (ge|le) /;

/** GET /auditLogs/provisioning with the filters summaries use (jobId, activityDateTime, status), newest first. */
function provisioningLogs(
  params: URLSearchParams,
  root: string,
  events: Required<SimProvisioningEvent>[],
): { body: unknown } {
  const filter = params.get('$filter');
  let matches = (_e: Required<SimProvisioningEvent>) => true;
  if (filter) {
    const tests: Array<(e: Required<SimProvisioningEvent>) => boolean> = [];
    for (const clause of filter.split(/\s+and\s+/)) {
      const unsupported = UNSUPPORTED_DATE_OPERATOR.exec(clause.trim());
      if (unsupported)
        throw new GraphHttpError(
          400,
          'BadRequest',
          `Invalid filter clause: the operator '${unsupported[1]}' is not supported for property 'activityDateTime'; use eq, gt or lt.`,
        );
      const m = PROVISIONING_FILTER_CLAUSE.exec(clause.trim());
      if (!m)
        throw new GraphHttpError(
          400,
          'Request_UnsupportedQuery',
          `Invalid filter clause: '${clause}'. The simulator supports jobId eq, activityDateTime eq/gt/lt and statusInfo/status eq.`,
        );
      if (m[1]) {
        const jobId = m[2]!.replace(/''/g, "'");
        tests.push((e) => e.jobId === jobId);
      } else if (m[3]) {
        const at = Date.parse(m[5]!);
        const op = m[4]!;
        tests.push((e) => {
          const t = Date.parse(e.activityDateTime);
          return op === 'eq' ? t === at : op === 'gt' ? t > at : t < at;
        });
      } else {
        const status = m[7]!;
        tests.push((e) => e.status === status);
      }
    }
    matches = (e) => tests.every((t) => t(e));
  }
  const top = params.has('$top') ? Number(params.get('$top')) : 50;
  if (!Number.isInteger(top) || top < 1 || top > 1000)
    throw new GraphHttpError(
      400,
      'Request_BadRequest',
      `Invalid page size ${params.get('$top')}: $top must be between 1 and 1000.`,
    );
  // The token is "<events logged when the first page was read>.<offset>": later pages read the same
  // events, as Graph's cursor does, so entries logged meanwhile neither repeat nor push others aside.
  const token = params.get('$skiptoken');
  const parts = token === null ? null : /^(\d+)\.(\d+)$/.exec(token);
  const seen = token === null ? events.length : Number(parts?.[1] ?? -1);
  const offset = token === null ? 0 : Number(parts?.[2] ?? -1);
  if (!Number.isSafeInteger(seen) || !Number.isSafeInteger(offset) || seen < 0 || seen > events.length || offset < 0)
    throw new GraphHttpError(400, 'Request_BadRequest', 'The $skiptoken is not valid.');
  const all = events
    .slice(0, seen)
    .filter(matches)
    .sort((a, b) => b.activityDateTime.localeCompare(a.activityDateTime));
  const page = all.slice(offset, offset + top);
  const body: Record<string, unknown> = {
    '@odata.context': `${root}/$metadata#auditLogs/provisioning`,
    // provisioningObjectSummary as the v1.0 resource page and the list example show it.
    value: page.map((e) => ({
      id: e.id,
      activityDateTime: e.activityDateTime,
      jobId: e.jobId,
      cycleId: e.cycleId,
      changeId: e.changeId,
      provisioningAction: e.action,
      provisioningStatusInfo: {
        status: e.status,
        errorInformation: e.status === 'failure' ? { errorCode: e.errorCode, reason: e.reason } : null,
      },
      initiatedBy: { id: '', displayName: 'Azure AD Provisioning Service', initiatorType: 'system' },
      servicePrincipal: e.servicePrincipal,
      sourceSystem: { id: null, displayName: 'Active Directory', details: {} },
      targetSystem: { id: null, displayName: 'Microsoft Entra ID', details: {} },
      sourceIdentity: { id: e.sourceId, displayName: e.sourceDisplayName, identityType: e.identityType, details: {} },
      targetIdentity: {
        id: e.targetId ?? '',
        displayName: e.targetId ? e.sourceDisplayName : '',
        identityType: e.identityType,
        details: {},
      },
    })),
  };
  if (offset + top < all.length) {
    body['@odata.nextLink'] = nextLink(`${root}/auditLogs/provisioning`, params, `${seen}.${offset + top}`);
  }
  return { body };
}

/**
 * Graph repeats the original query options in a nextLink and adds an opaque $skiptoken. Written by
 * hand because URLSearchParams would turn '$' into %24, which Graph does not do.
 */
function nextLink(base: string, params: URLSearchParams, skipToken: string): string {
  const kept = [...params].filter(([key]) => key !== '$skiptoken');
  kept.push(['$skiptoken', skipToken]);
  return `${base}?${kept.map(([k, v]) => `${encodeURIComponent(k).replace(/^%24/, '$')}=${encodeURIComponent(v)}`).join('&')}`;
}

/** A write's JSON body; Graph answers 400 to one it cannot read. */
async function readJsonBody(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new GraphHttpError(400, 'BadRequest', 'The request body is not valid JSON.');
  }
}

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (status === 204) {
    res.writeHead(204, { 'request-id': randomUUID(), ...headers });
    res.end();
    return;
  }
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(status, {
    'content-type':
      'application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8',
    'request-id': randomUUID(),
    ...headers,
  });
  res.end(text);
}

function graphError(code: string, message: string): unknown {
  return {
    error: {
      code,
      message,
      innerError: {
        date: new Date().toISOString().slice(0, 19),
        'request-id': randomUUID(),
        'client-request-id': randomUUID(),
      },
    },
  };
}

function injectedFailure(status: SimFailureStatus, retryAfterSeconds: number | undefined): GraphHttpError {
  if (status === 500)
    return new GraphHttpError(500, 'generalException', 'An unspecified error occurred (injected by the simulator).');
  const headers = { 'Retry-After': String(retryAfterSeconds ?? (status === 429 ? 2 : 1)) };
  if (status === 429) {
    return new GraphHttpError(
      429,
      'TooManyRequests',
      'Too many requests; wait for the Retry-After interval (injected by the simulator).',
      {
        ...headers,
        'x-ms-throttle-scope': 'Tenant_Application/ReadOnly/simulator-app/simulator-tenant',
      },
    );
  }
  return new GraphHttpError(
    503,
    'serviceNotAvailable',
    'The service is temporarily unavailable (injected by the simulator).',
    headers,
  );
}

function checkLatency(latency: SimLatency | null): SimLatency | null {
  if (latency === null) return null;
  const { fixedMs, jitterMs = 0 } = latency;
  if (!Number.isFinite(fixedMs) || !Number.isFinite(jitterMs) || fixedMs < 0 || jitterMs < 0)
    throw new Error(`Simulator latency ${fixedMs} ms + ${jitterMs} ms jitter: use numbers of 0 or more.`);
  return { fixedMs, jitterMs };
}

function checkThrottle(throttle: SimThrottle | null): SimThrottle | null {
  if (throttle === null) return null;
  if (!Number.isInteger(throttle.every) || throttle.every < 1 || !(throttle.retryAfterSeconds >= 0))
    throw new Error(
      `Simulator throttling every ${throttle.every} requests, Retry-After ${throttle.retryAfterSeconds} s: use a whole number of 1 or more, and 0 s or more.`,
    );
  return throttle;
}

function hasEventualConsistency(req: IncomingMessage): boolean {
  return String(req.headers.consistencylevel ?? '').toLowerCase() === 'eventual';
}

function isAdvancedQuery(req: IncomingMessage, params: URLSearchParams): { header: boolean; count: boolean } {
  return { header: hasEventualConsistency(req), count: params.get('$count') === 'true' };
}

function parseTop(raw: string | null): number {
  if (raw === null) return DEFAULT_PAGE_SIZE;
  const top = /^\d+$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isInteger(top) || top < 1 || top > MAX_PAGE_SIZE) {
    throw new GraphHttpError(
      400,
      'Request_BadRequest',
      `Invalid page size specified: '${raw}'. Must be between 1 and ${MAX_PAGE_SIZE} inclusive.`,
    );
  }
  return top;
}

function parseSelect(raw: string | null): string[] | undefined {
  if (raw === null || raw.trim() === '') return undefined;
  const names = raw.split(',').map((s) => s.trim());
  for (const name of names) {
    if (!SELECTABLE.has(name)) {
      throw new GraphHttpError(
        400,
        'BadRequest',
        `Could not find a property named '${name}' on type 'microsoft.graph.user'.`,
      );
    }
  }
  return names;
}

function contextSelect(select: string[] | undefined): string {
  return select ? `(${select.join(',')})` : '';
}

/**
 * Graph returns exactly the $select list; `id` is not added when left out (a $select without id
 * yields objects without id), which is why a client must always select id itself.
 */
function project(user: SimUser, select: string[] | undefined): Record<string, unknown> {
  const full: Record<string, unknown> = {
    id: user.id,
    businessPhones: [],
    displayName: user.displayName ?? null,
    givenName: null,
    jobTitle: null,
    mail: null,
    mobilePhone: null,
    officeLocation: null,
    preferredLanguage: null,
    surname: null,
    userPrincipalName: user.userPrincipalName,
    accountEnabled: user.accountEnabled ?? true,
    onPremisesSyncEnabled: user.onPremisesSyncEnabled,
    onPremisesDistinguishedName: user.onPremisesDistinguishedName,
    onPremisesImmutableId: user.onPremisesImmutableId,
    onPremisesSamAccountName: user.onPremisesSamAccountName ?? null,
    onPremisesLastSyncDateTime: user.onPremisesLastSyncDateTime ?? null,
  };
  const names = select ?? DEFAULT_PROPERTIES;
  return Object.fromEntries(names.map((name) => [name, full[name] ?? null]));
}

/**
 * Accepts `<property> eq|ne <literal>` optionally wrapped in `not(...)`. Graph accepts far more; the
 * simulator says so in its message rather than pretending the syntax itself is invalid.
 */
function parseFilter(raw: string | null, advancedQuery: boolean): Filter | undefined {
  if (raw === null || raw.trim() === '') return undefined;
  let text = raw.trim();
  let negated = false;
  const notMatch = /^not\s*\((.*)\)$/i.exec(text);
  if (notMatch?.[1] !== undefined) {
    negated = true;
    text = notMatch[1].trim();
  }
  const clause = /^([A-Za-z]+)\s+([a-z]+)\s+(.+)$/.exec(text);
  if (!clause) throw new GraphHttpError(400, 'BadRequest', `Invalid filter clause: could not parse '${raw}'.`);
  const [, property = '', operator = '', literalText = ''] = clause;
  if (operator !== 'eq' && operator !== 'ne') {
    if (['gt', 'ge', 'lt', 'le', 'in', 'and', 'or'].includes(operator)) {
      throw new GraphHttpError(
        400,
        'BadRequest',
        `The simulator supports only 'eq' and 'ne' in $filter; '${operator}' is valid Graph syntax but not simulated.`,
      );
    }
    throw new GraphHttpError(400, 'BadRequest', `Invalid filter clause: unknown operator '${operator}'.`);
  }
  const value = parseLiteral(literalText.trim(), raw);

  const rules = FILTERABLE[property];
  if (!rules || (!rules.plain.includes(operator) && !rules.advanced.includes(operator))) {
    throw new GraphHttpError(
      400,
      'Request_UnsupportedQuery',
      `Unsupported or invalid query filter clause specified for property '${property}' of resource 'User'.`,
    );
  }
  const needsAdvanced = negated || !rules.plain.includes(operator);
  if (needsAdvanced && !advancedQuery) {
    throw new GraphHttpError(
      400,
      'Request_UnsupportedQuery',
      `Unsupported filter '${raw}' without advanced query parameters; send header 'ConsistencyLevel: eventual' and '$count=true'.`,
    );
  }
  return { property, operator, value, negated };
}

function parseLiteral(text: string, raw: string): Literal {
  if (text === 'true') return true;
  if (text === 'false') return false;
  if (text === 'null') return null;
  const quoted = /^'((?:[^']|'')*)'$/.exec(text);
  if (quoted?.[1] !== undefined) return quoted[1].replace(/''/g, "'");
  throw new GraphHttpError(400, 'BadRequest', `Invalid filter clause: cannot read the value in '${raw}'.`);
}

function applyFilter(users: SimUser[], filter: Filter | undefined): SimUser[] {
  if (!filter) return users;
  return users.filter((user) => {
    const actual = (user as unknown as Record<string, unknown>)[filter.property] ?? null;
    const equal = actual === filter.value;
    const match = filter.operator === 'eq' ? equal : !equal;
    return filter.negated ? !match : match;
  });
}

// The token binds the position to the $filter it was issued for, so a client that edits the query
// between pages gets an error instead of silently skipped or repeated users.
function encodeSkipToken(offset: number, filter: string | null): string {
  return Buffer.from(JSON.stringify({ o: offset, f: filter ?? '' })).toString('base64url');
}

function parseSkipToken(raw: string | null, filter: string | null): number {
  if (raw === null) return 0;
  try {
    const decoded = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8')) as { o?: unknown; f?: unknown };
    if (typeof decoded.o === 'number' && Number.isInteger(decoded.o) && decoded.o >= 0 && decoded.f === (filter ?? ''))
      return decoded.o;
  } catch {
    // fall through to the error below
  }
  throw new GraphHttpError(
    400,
    'Request_BadRequest',
    'Invalid $skiptoken; follow @odata.nextLink exactly as returned instead of building or editing it.',
  );
}

/** GET users costs 2 units; $select and $top < 20 each take one off (throttling-limits doc). */
function resourceUnits(selected: boolean, top: number): number {
  return Math.max(1, 2 - (selected ? 1 : 0) - (top < 20 ? 1 : 0));
}

/** What the simulator knows of a directory collection other than users. */
interface CollectionResource {
  name: 'groups' | 'contacts';
  type: string;
  /** Returned without $select (the resource page's "default properties"; all of them for orgContact). */
  defaults: readonly string[];
  selectable: ReadonlySet<string>;
  filterable: Record<string, { plain: Operator[]; advanced: Operator[] }>;
}

// group resource (v1.0): onPremisesSyncEnabled supports eq by default; ne/not need advanced queries.
const GROUP_RESOURCE: CollectionResource = {
  name: 'groups',
  type: 'microsoft.graph.group',
  defaults: [
    'id',
    'displayName',
    'mail',
    'mailEnabled',
    'securityEnabled',
    'onPremisesSyncEnabled',
    'onPremisesSecurityIdentifier',
    'onPremisesSamAccountName',
  ],
  selectable: new Set([
    'id',
    'displayName',
    'mail',
    'mailEnabled',
    'securityEnabled',
    'onPremisesSyncEnabled',
    'onPremisesSecurityIdentifier',
    'onPremisesSamAccountName',
  ]),
  filterable: { id: { plain: ['eq'], advanced: ['ne'] }, onPremisesSyncEnabled: { plain: ['eq'], advanced: ['ne'] } },
};

// orgContact resource (v1.0): "Specific usage of $filter … is supported only when you use the
// ConsistencyLevel header set to eventual and $count"; the simulator takes the strict reading.
const CONTACT_RESOURCE: CollectionResource = {
  name: 'contacts',
  type: 'microsoft.graph.orgContact',
  defaults: ['id', 'displayName', 'mail', 'onPremisesSyncEnabled'],
  selectable: new Set(['id', 'displayName', 'mail', 'onPremisesSyncEnabled']),
  filterable: { onPremisesSyncEnabled: { plain: [], advanced: ['eq', 'ne'] } },
};

function listCollection(
  resource: CollectionResource,
  items: Record<string, unknown>[],
  params: URLSearchParams,
  advanced: { header: boolean; count: boolean },
  root: string,
): { body: unknown } {
  if (params.has('$count') && params.get('$count') !== 'false' && !advanced.header) {
    throw new GraphHttpError(
      400,
      'Request_BadRequest',
      '$count is not currently supported without the ConsistencyLevel header set to eventual.',
    );
  }
  let select: string[] | undefined;
  const rawSelect = params.get('$select');
  if (rawSelect !== null && rawSelect.trim() !== '') {
    select = rawSelect.split(',').map((n) => n.trim());
    for (const name of select)
      if (!resource.selectable.has(name))
        throw new GraphHttpError(
          400,
          'BadRequest',
          `Could not find a property named '${name}' on type '${resource.type}'.`,
        );
  }
  const top = parseTop(params.get('$top'));
  const filter = parseCollectionFilter(resource, params.get('$filter'), advanced.header && advanced.count);
  const offset = parseSkipToken(params.get('$skiptoken'), params.get('$filter'));
  const matched = filter
    ? items.filter((item) => {
        const equal = (item[filter.property] ?? null) === filter.value;
        const match = filter.operator === 'eq' ? equal : !equal;
        return filter.negated ? !match : match;
      })
    : items;
  const names = select ?? resource.defaults;
  const body: Record<string, unknown> = {
    '@odata.context': `${root}/$metadata#${resource.name}${contextSelect(select)}`,
  };
  if (advanced.count) body['@odata.count'] = matched.length;
  if (offset + top < matched.length)
    body['@odata.nextLink'] = nextLink(
      `${root}/${resource.name}`,
      params,
      encodeSkipToken(offset + top, params.get('$filter')),
    );
  body.value = matched
    .slice(offset, offset + top)
    .map((item) => Object.fromEntries(names.map((n) => [n, item[n] ?? null])));
  return { body };
}

function parseCollectionFilter(
  resource: CollectionResource,
  raw: string | null,
  advancedQuery: boolean,
): Filter | undefined {
  if (raw === null || raw.trim() === '') return undefined;
  let text = raw.trim();
  let negated = false;
  const notMatch = /^not\s*\((.*)\)$/i.exec(text);
  if (notMatch?.[1] !== undefined) {
    negated = true;
    text = notMatch[1].trim();
  }
  const clause = /^([A-Za-z]+)\s+(eq|ne)\s+(.+)$/.exec(text);
  if (!clause)
    throw new GraphHttpError(
      400,
      'BadRequest',
      `The simulator supports only '<property> eq|ne <value>' here, not '${raw}'.`,
    );
  const [, property = '', operator = '', literalText = ''] = clause;
  const rules = resource.filterable[property];
  const op = operator as Operator;
  if (!rules || (!rules.plain.includes(op) && !rules.advanced.includes(op)))
    throw new GraphHttpError(
      400,
      'Request_UnsupportedQuery',
      `Unsupported or invalid query filter clause specified for property '${property}' of resource '${resource.type}'.`,
    );
  if ((negated || !rules.plain.includes(op)) && !advancedQuery)
    throw new GraphHttpError(
      400,
      'Request_UnsupportedQuery',
      `Unsupported filter '${raw}' without advanced query parameters; send header 'ConsistencyLevel: eventual' and '$count=true'.`,
    );
  return { property, operator: op, value: parseLiteral(literalText.trim(), raw), negated };
}
