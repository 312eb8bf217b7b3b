import type { CloudSyncApi } from '../cloud/types';
import { scopeWithOu, scopeWithoutOu, type ScopeReading } from '../runbook/cloud-sync-scope';
import { isPasswordHashJob, type PhsJobRead } from '../runbook/connect-sync-servers';
import { AppError, asAppError } from '../shared/errors';

/**
 * The Cloud Sync scope changes SyncShift makes, as reusable calls: step 11 and each wave add an OU,
 * their undo and `/rollback` take it out again (or pause the job when it is the last OU). Each
 * change reads the result back, because only a read says what Cloud Sync will do.
 * Pages: docs/cloud-sync-scope.md.
 */

export type ScopeWrite =
  /** Written (or nothing to write) and read back; `did` says what was sent, in order. */
  | { ok: true; did: string[]; after: ScopeReading }
  /** Graph answered 403: the app registration lacks `permission`; a person must do it by hand. */
  | { ok: false; permission: string; message: string };

export class CloudSyncScopeService {
  constructor(
    private readonly cloud: CloudSyncApi,
    private readonly servicePrincipalId: string | null,
  ) {}

  /** Where the configuration is, or why SyncShift cannot reach it. */
  private requireConfigured(): string {
    if (this.servicePrincipalId) return this.servicePrincipalId;
    throw new AppError('CONFIG.INVALID', 'No Cloud Sync configuration is set, so SyncShift cannot read its scope.', {
      hint: "An administrator sets CLOUD_SYNC_SERVICE_PRINCIPAL_ID to the object id of the Cloud Sync configuration's service principal (Enterprise applications, named after the AD domain).",
    });
  }

  /** The AD2AADProvisioning job, its status and its scope, read now. */
  async readScope(): Promise<ScopeReading> {
    const job = await this.cloud.findProvisioningJob(this.requireConfigured());
    const scope = await this.cloud.readScope(job);
    return { servicePrincipalId: job.servicePrincipalId, jobId: job.jobId, statusCode: job.statusCode, scope };
  }

  /**
   * Cloud Sync's password hash sync jobs (template AD2AADPasswordHash), listed now for step 16. A
   * 401/403 is returned as 'forbidden' (the requester's word then stands in, unverified); any other
   * failure, an unset configuration included, as 'failed' with what to do.
   */
  async readPasswordHashJobs(now: Date): Promise<PhsJobRead> {
    try {
      const servicePrincipalId = this.requireConfigured();
      const jobs = await this.cloud.listJobs(servicePrincipalId);
      return {
        kind: 'read',
        at: now,
        servicePrincipalId,
        jobs: jobs.filter(isPasswordHashJob).map((j) => ({ jobId: j.jobId, statusCode: j.statusCode })),
      };
    } catch (err) {
      const e = asAppError(err);
      if (e.code === 'CLOUD.FORBIDDEN') return { kind: 'forbidden', message: e.message };
      return { kind: 'failed', message: e.message, hint: e.hint ?? null };
    }
  }

  /** Adds the OU to the scope (as given: the DN AD wrote) and starts the job unless it runs. */
  async addOuToScope(ouDn: string): Promise<ScopeWrite> {
    return this.forbiddenAsResult(async () => {
      const job = await this.cloud.findProvisioningJob(this.requireConfigured());
      const did: string[] = [];
      const { change } = await this.cloud.updateScope(job, (scope) => scopeWithOu(scope, ouDn));
      if (!change.ok) throw new AppError('CLOUD.ERROR', change.reason);
      if (change.changed) did.push('schema updated');
      // A paused job provisions nothing: the OU is only handed over once the job runs.
      if (job.statusCode === 'Paused' || job.statusCode === 'NotRun') {
        await this.cloud.startJob(job);
        did.push('job started');
      }
      return { ok: true, did, after: await this.readScope() };
    });
  }

  /**
   * Takes the OU out of the scope; when it is the last OU (an empty list would cover the whole
   * domain) the job is paused instead, as the pilot tutorial's rollback allows.
   */
  async removeOuFromScope(ouDn: string): Promise<ScopeWrite> {
    return this.forbiddenAsResult(async () => {
      const job = await this.cloud.findProvisioningJob(this.requireConfigured());
      const did: string[] = [];
      const { change } = await this.cloud.updateScope(job, (scope) => scopeWithoutOu(scope, ouDn));
      if (change.ok && change.changed) did.push('schema updated');
      if (!change.ok) {
        await this.cloud.pauseJob(job);
        did.push('job paused (the OU was the last in scope)');
      }
      return { ok: true, did, after: await this.readScope() };
    });
  }

  /** Pauses the job: Cloud Sync stops for every OU of the configuration. */
  async pauseCloudSyncJob(): Promise<ScopeWrite> {
    return this.forbiddenAsResult(async () => {
      await this.cloud.pauseJob(await this.cloud.findProvisioningJob(this.requireConfigured()));
      return { ok: true, did: ['job paused'], after: await this.readScope() };
    });
  }

  /** Starts (resumes) the job. */
  async startCloudSyncJob(): Promise<ScopeWrite> {
    return this.forbiddenAsResult(async () => {
      await this.cloud.startJob(await this.cloud.findProvisioningJob(this.requireConfigured()));
      return { ok: true, did: ['job started'], after: await this.readScope() };
    });
  }

  private async forbiddenAsResult(run: () => Promise<ScopeWrite>): Promise<ScopeWrite> {
    try {
      return await run();
    } catch (err) {
      const e = asAppError(err);
      const permission = e.details?.permission;
      if (e.code === 'CLOUD.FORBIDDEN' && typeof permission === 'string')
        return { ok: false, permission, message: e.message };
      throw e;
    }
  }
}
