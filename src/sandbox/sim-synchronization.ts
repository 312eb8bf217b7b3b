/**
 * The synchronization API of one Cloud Sync configuration, as the Graph simulator serves it (beta):
 *
 * - GET  /servicePrincipals/{id}/synchronization/jobs           → { value: [synchronizationJob] }
 * - GET  /servicePrincipals/{id}/synchronization/jobs/{jobId}   → synchronizationJob
 * - GET  /servicePrincipals/{id}/synchronization/jobs/{jobId}/schema → synchronizationSchema
 * - PUT  …/schema  → 204; the body replaces the schema (synchronizationSchema update doc)
 * - POST …/pause, …/start → 204 (synchronizationJob pause/start docs)
 *
 * A configuration that syncs password hashes has a second job, template AD2AADPasswordHash ("How to
 * programmatically configure cloud sync using MS Graph API": one job per template, listed together).
 * It is absent until a test turns it on with `set({ passwordHashJob })`, or a person creates it with
 * POST …/jobs { templateId: 'AD2AADPasswordHash' } and starts it; its job and pause/start answer like
 * the provisioning job's. Its schema is not simulated (404): nothing reads it.
 *
 * The scope is `synchronizationRules[].containerFilter.includedContainers` (containerFilter
 * resource: OU DNs, an empty list means no filter). Writes need Synchronization.ReadWrite.All and
 * reads Synchronization.Read.All; `permission` makes the simulator answer 403 the way Graph does for
 * an app without them. The rule's id, name and object mappings are made up in Microsoft's shape:
 * no real tenant's schema was available to copy (docs/cloud-sync-scope.md says what is unverified).
 */

/** The service principal of the simulated configuration (one per AD domain in Cloud Sync). */
export const SIMULATED_CLOUD_SYNC_SP_ID = '5a4d60c1-0b7e-4c2a-9d10-00000000c511';
/** The Cloud Sync job id the simulated service writes provisioning logs under (`/summary job` takes it). */
export const SIMULATED_CLOUD_SYNC_JOB_ID = 'AD2AADProvisioning.5a4d60c1.0b7e3c2a-5a4d-4b6e-9f10-000000000011';
/** The password hash sync job, when the simulated configuration has one (the id shape of the provisioning job's). */
export const SIMULATED_PASSWORD_HASH_JOB_ID = 'AD2AADPasswordHash.5a4d60c1.0b7e3c2a-5a4d-4b6e-9f10-000000000012';
/** The schema's one synchronization rule (the provisionOnDemand doc's examples use a GUID like it). */
export const SIMULATED_CLOUD_SYNC_RULE_ID = '6c409270-f78a-4bc6-af23-7cf3ab6482fe';

export type SimJobStatus = 'NotRun' | 'Active' | 'Paused' | 'Quarantine';
export type SimSyncPermission = 'readWrite' | 'read' | 'none';

export interface SimSyncState {
  statusCode: SimJobStatus;
  /** Each rule's includedContainers, in order (one rule in this simulator). */
  includedContainers: string[][];
  /** The AD2AADPasswordHash job's status; absent: the configuration has no such job (no password hash sync). */
  passwordHashJob?: SimJobStatus;
}

export class SimHttpAnswer {
  constructor(
    readonly status: number,
    readonly body: unknown,
    readonly code?: string,
  ) {}
}

const forbidden = (): SimHttpAnswer =>
  new SimHttpAnswer(403, 'Insufficient privileges to complete the operation.', 'Authorization_RequestDenied');

export class SimSynchronization {
  private statusCode: SimJobStatus;
  private schema: Record<string, unknown>;
  private permission: SimSyncPermission = 'readWrite';
  private passwordHash: SimJobStatus | null = null;

  constructor(initial: { statusCode?: SimJobStatus; includedContainers?: string[] } = {}) {
    // A new configuration whose job has not been started provisions nothing; the runbook starts it.
    this.statusCode = initial.statusCode ?? 'Paused';
    this.schema = defaultSchema(initial.includedContainers ?? []);
  }

  state(): SimSyncState {
    const rules = (this.schema.synchronizationRules as { containerFilter?: { includedContainers?: string[] } }[]) ?? [];
    return {
      statusCode: this.statusCode,
      includedContainers: rules.map((r) => [...(r.containerFilter?.includedContainers ?? [])]),
      ...(this.passwordHash !== null ? { passwordHashJob: this.passwordHash } : {}),
    };
  }

  setPermission(permission: SimSyncPermission): void {
    this.permission = permission;
  }

  /**
   * A change made outside the bot (the portal, another admin): the scope of every rule, the
   * provisioning job's status, and/or the password hash sync job (a status; null removes the job).
   */
  set(change: {
    includedContainers?: string[];
    statusCode?: SimJobStatus;
    passwordHashJob?: SimJobStatus | null;
  }): void {
    if (change.statusCode) this.statusCode = change.statusCode;
    if (change.passwordHashJob !== undefined) this.passwordHash = change.passwordHashJob;
    const list = change.includedContainers;
    if (list)
      for (const rule of this.schema.synchronizationRules as { containerFilter?: { includedContainers?: string[] } }[])
        rule.containerFilter = { ...(rule.containerFilter ?? {}), includedContainers: [...list] };
  }

  /**
   * Serves a request under /beta (or /v1.0) /servicePrincipals/…; null when the path is not one of
   * these, so the caller answers 404. Throws SimHttpAnswer for errors.
   */
  route(method: string, segments: string[], body: unknown, root: string): { status: number; body?: unknown } | null {
    const [version, sp, spId, sync, jobs, jobId, action, ...rest] = segments;
    if ((version !== 'beta' && version !== 'v1.0') || sp !== 'servicePrincipals' || sync !== 'synchronization')
      return null;
    if (jobs !== 'jobs' || rest.length > 0) return null;
    if (spId !== SIMULATED_CLOUD_SYNC_SP_ID)
      throw new SimHttpAnswer(
        404,
        `Resource '${spId ?? ''}' does not exist or one of its queried reference-property objects are not present.`,
        'Request_ResourceNotFound',
      );
    const passwordHashJob = jobId === SIMULATED_PASSWORD_HASH_JOB_ID && this.passwordHash !== null;
    if (jobId !== undefined && jobId !== SIMULATED_CLOUD_SYNC_JOB_ID && !passwordHashJob)
      throw new SimHttpAnswer(404, `The job '${jobId}' was not found.`, 'NotFound');
    const write = method !== 'GET';
    if (this.permission === 'none' || (write && this.permission === 'read')) throw forbidden();

    if (jobId === undefined) {
      if (method === 'POST') return this.createJob(body, root);
      if (method !== 'GET') throw methodNotAllowed(method);
      const value = [this.job(), ...(this.passwordHash !== null ? [this.passwordHashJobBody(this.passwordHash)] : [])];
      return { status: 200, body: { '@odata.context': `${root}/$metadata#synchronizationJobs`, value } };
    }
    if (action === undefined) {
      if (method !== 'GET') throw methodNotAllowed(method);
      return {
        status: 200,
        body: {
          '@odata.context': `${root}/$metadata#synchronizationJobs/$entity`,
          ...(passwordHashJob ? this.passwordHashJobBody(this.passwordHash!) : this.job()),
        },
      };
    }
    if (passwordHashJob) {
      if (action !== 'pause' && action !== 'start')
        throw new SimHttpAnswer(404, `The simulator serves no '${action}' of the password hash sync job.`, 'NotFound');
      if (method !== 'POST') throw methodNotAllowed(method);
      this.passwordHash = action === 'pause' ? 'Paused' : 'Active';
      return { status: 204 };
    }
    if (action === 'schema') {
      if (method === 'GET')
        return {
          status: 200,
          body: {
            '@odata.context': `${root}/$metadata#synchronizationSchema/$entity`,
            ...structuredClone(this.schema),
          },
        };
      if (method === 'PUT') {
        this.schema = checkedSchema(body, this.schema);
        return { status: 204 };
      }
      throw methodNotAllowed(method);
    }
    if (action === 'pause' || action === 'start') {
      if (method !== 'POST') throw methodNotAllowed(method);
      this.statusCode = action === 'pause' ? 'Paused' : 'Active';
      return { status: 204 };
    }
    return null;
  }

  /**
   * POST …/synchronization/jobs { templateId: 'AD2AADPasswordHash' }: turns password hash sync on the
   * way Microsoft's Graph configuration page does; the new job is Paused until started (as that
   * page's sample answer shows). Only this template is simulated. A second create answers 409
   * (unverified: what Graph answers then is not documented).
   */
  private createJob(body: unknown, root: string): { status: number; body: unknown } {
    const templateId = (body as { templateId?: unknown } | null)?.templateId;
    if (templateId !== 'AD2AADPasswordHash')
      throw new SimHttpAnswer(
        400,
        `The simulator creates only AD2AADPasswordHash jobs, not '${String(templateId)}'.`,
        'BadRequest',
      );
    if (this.passwordHash !== null)
      throw new SimHttpAnswer(409, 'The configuration already has an AD2AADPasswordHash job.', 'Conflict');
    this.passwordHash = 'Paused';
    return {
      status: 201,
      body: {
        '@odata.context': `${root}/$metadata#synchronizationJobs/$entity`,
        ...this.passwordHashJobBody('Paused'),
      },
    };
  }

  private job(): Record<string, unknown> {
    return jobBody(SIMULATED_CLOUD_SYNC_JOB_ID, 'AD2AADProvisioning', this.statusCode);
  }

  private passwordHashJobBody(status: SimJobStatus): Record<string, unknown> {
    return jobBody(SIMULATED_PASSWORD_HASH_JOB_ID, 'AD2AADPasswordHash', status);
  }
}

/** A synchronizationJob in the shape the job list/get docs show (only the fields SyncShift reads, and a few more). */
function jobBody(id: string, templateId: string, code: SimJobStatus): Record<string, unknown> {
  return {
    id,
    templateId,
    schedule: { interval: 'PT2M', state: code === 'Paused' ? 'Disabled' : 'Active' },
    status: { code, countSuccessiveCompleteFailures: 0, escrowsPruned: false },
  };
}

function methodNotAllowed(method: string): SimHttpAnswer {
  return new SimHttpAnswer(405, `The method ${method} is not allowed on this resource.`, 'Request_BadRequest');
}

function defaultSchema(includedContainers: string[]): Record<string, unknown> {
  return {
    id: SIMULATED_CLOUD_SYNC_JOB_ID.split('.')[0],
    version: 'Date:2026-12-01T00:00:00Z~###~SyncShift simulator',
    synchronizationRules: [
      {
        id: SIMULATED_CLOUD_SYNC_RULE_ID,
        name: 'USER_GROUP_CONTACT_TO_AAD (simulated)',
        editable: true,
        priority: 1,
        sourceDirectoryName: 'Active Directory',
        targetDirectoryName: 'Azure Active Directory',
        metadata: [],
        containerFilter: { includedContainers: [...includedContainers] },
        groupFilter: { includedGroups: [] },
        objectMappings: [
          {
            name: 'Provision Active Directory users',
            enabled: true,
            flowTypes: 'Add, Update, Delete',
            sourceObjectName: 'user',
            targetObjectName: 'User',
            scope: null,
            attributeMappings: [],
            metadata: [],
          },
        ],
      },
    ],
    directories: [{ name: 'Active Directory' }, { name: 'Azure Active Directory' }],
  };
}

/**
 * A PUT body must be a whole schema: the update replaces what is there. Rule ids must be the
 * engine's own (the synchronizationRule doc), and a rule may filter by OU or by group, not both.
 */
function checkedSchema(body: unknown, current: Record<string, unknown>): Record<string, unknown> {
  const bad = (message: string): SimHttpAnswer => new SimHttpAnswer(400, message, 'BadRequest');
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    throw bad('The request body must be a synchronizationSchema object.');
  const rules = (body as { synchronizationRules?: unknown }).synchronizationRules;
  if (!Array.isArray(rules)) throw bad('synchronizationRules is required; the update replaces the whole schema.');
  const known = new Set((current.synchronizationRules as { id: string }[]).map((r) => r.id));
  for (const rule of rules as Record<string, unknown>[]) {
    if (typeof rule?.id !== 'string' || !known.has(rule.id))
      throw bad(`Unknown synchronization rule id '${String(rule?.id)}'.`);
    const containers = (rule.containerFilter as { includedContainers?: unknown } | undefined)?.includedContainers;
    if (containers !== undefined && (!Array.isArray(containers) || containers.some((c) => typeof c !== 'string')))
      throw bad('containerFilter.includedContainers must be a list of distinguished names.');
    const groups = (rule.groupFilter as { includedGroups?: unknown } | undefined)?.includedGroups;
    if (Array.isArray(containers) && containers.length > 0 && Array.isArray(groups) && groups.length > 0)
      throw bad('A rule cannot filter by both containers and groups.');
  }
  const { '@odata.context': _ignored, ...schema } = body as Record<string, unknown>;
  return structuredClone(schema);
}
