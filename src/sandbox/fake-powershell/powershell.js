#!/usr/bin/env node
'use strict';
/*
 * Stand-in for Windows PowerShell + the ADSync module, for tests on Linux.
 *
 * It does not interpret PowerShell. It checks that it was called the way the executor calls the
 * real thing, that the script on stdin is byte-identical to one of the fixed scripts (sha256 from
 * FAKE_PWSH_SCRIPT_HASHES, so user data cannot have been spliced into the text), reads the
 * parameters from SYNCSHIFT_PARAMS, and emulates what that script would do against the JSON state
 * file at FAKE_ADSYNC_STATE. It answers with the same one-line JSON envelope.
 *
 * Knobs in the state file: scheduler.StagingModeEnabled (a staging server: every mutating script
 * refuses, as the real ones do), syncCycleInProgress, cycleStuck, failCmdlet {"<Cmdlet>": "message" or
 * {"message", "after": n}}, slowMs, output ("garbage" | "wrongShape"), adsyncModuleMissing,
 * service: null (ADSync not installed), cycleDurationMs (a started cycle completes that long after it
 * started, on the next script run; absent: it runs until a test ends it), cycleCompletesAt (set by
 * Start-ADSyncSyncCycle; tests move it into the past to end the cycle).
 *
 * The no-flow check (issue 16): a completed cycle records its runs (what Get-ADSyncRunProfileResult
 * returns) and the sync rules it ran with (syncedRules). A metaverse object carries cloudNoFlow when a
 * rule that was enabled at the last completed cycle set it: an inbound rule on the AD connector for
 * the object's type, a Constant flow to cloudNoFlow, and a scope the object's DN meets. connectorSpace
 * lists the AD connector's objects; without it every DN asked about under the connector's partitions is
 * taken to be imported, as a user.
 */
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');

const EXPECTED_ARGS = ['-NoProfile', '-NonInteractive', '-ExecutionPolicy', 'Bypass', '-Command', '-'];

function die(message, exitCode) {
  process.stderr.write(`fake-powershell: ${message}\n`);
  process.exit(exitCode);
}

class CmdletError extends Error {
  constructor(message, cmdlet, code) {
    super(message);
    this.cmdlet = cmdlet;
    this.code = code;
  }
}

function fail(code, message) {
  throw new CmdletError(message, null, code);
}

async function main() {
  const args = process.argv.slice(2);
  if (JSON.stringify(args) !== JSON.stringify(EXPECTED_ARGS)) die(`unexpected arguments ${JSON.stringify(args)}`, 64);

  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  const text = Buffer.concat(chunks).toString('utf8');
  const marker = /^# syncshift-script: (\S+)\n/.exec(text);
  if (!marker) die('the script does not start with a syncshift-script marker line', 65);
  const id = marker[1];
  const hashes = JSON.parse(process.env.FAKE_PWSH_SCRIPT_HASHES || '{}');
  const actual = crypto.createHash('sha256').update(text, 'utf8').digest('hex');
  if (!hashes[id]) die(`unknown script id ${id}`, 65);
  if (hashes[id] !== actual) die(`script ${id} differs from the fixed constant (sha256 ${actual})`, 65);

  const statePath = process.env.FAKE_ADSYNC_STATE;
  if (!statePath) die('FAKE_ADSYNC_STATE is not set', 66);
  const state = JSON.parse(fs.readFileSync(statePath, 'utf8'));
  state.calls = state.calls || [];
  state.scriptsRun = state.scriptsRun || [];
  finishCycleIfDue(state);
  state.scriptsRun.push(id);
  if (process.env.SYNCSHIFT_PARAMS === undefined) die('SYNCSHIFT_PARAMS is not set', 66);
  const params = JSON.parse(process.env.SYNCSHIFT_PARAMS);
  // Names only, so tests can check what the child inherited without the stand-in storing values.
  state.envNames = Object.keys(process.env).sort();

  if (state.slowMs) await new Promise((r) => setTimeout(r, state.slowMs));
  // Real PowerShell prints warnings and banners before the result; the executor must skip them.
  process.stdout.write('WARNING: fake PowerShell: output before the result line\n');
  if (state.output === 'garbage') {
    process.stdout.write('this is not JSON\n{"half":\n');
    save(statePath, state);
    return;
  }

  let envelope;
  try {
    const handler = SCRIPTS[id];
    if (!handler) die(`no emulation for ${id}`, 70);
    const result = handler(state, params);
    envelope = { ok: true, result: state.output === 'wrongShape' ? { unexpected: true } : result };
  } catch (err) {
    if (!(err instanceof CmdletError)) throw err;
    envelope = {
      ok: false,
      error: { message: err.message, type: 'System.InvalidOperationException', cmdlet: err.cmdlet, code: err.code },
    };
  }
  save(statePath, state);
  process.stdout.write(JSON.stringify(envelope) + '\n');
}

function save(statePath, state) {
  fs.writeFileSync(statePath, JSON.stringify(state, null, 2));
}

/** Runs one emulated cmdlet: logs it and honours failCmdlet. */
function cmdlet(state, name, args, fn) {
  const earlier = state.calls.filter((c) => c.cmdlet === name).length;
  state.calls.push(args === undefined ? { cmdlet: name } : { cmdlet: name, args });
  // "message", or {"message", "after": n} to let the first n calls through.
  const failure = state.failCmdlet && state.failCmdlet[name];
  if (typeof failure === 'string') throw new CmdletError(failure, name, null);
  if (failure && earlier >= (failure.after || 0)) throw new CmdletError(failure.message, name, null);
  return fn ? fn() : undefined;
}

function importAdsync(state) {
  if (state.adsyncModuleMissing)
    fail(
      'NOT_AVAILABLE',
      "The ADSync PowerShell module could not be loaded: The specified module 'ADSync' was not loaded because no valid module file was found in any module directory.",
    );
  cmdlet(state, 'Import-Module', { name: 'ADSync' });
}

function schedulerState(state) {
  const s = cmdlet(state, 'Get-ADSyncScheduler', undefined, () => state.scheduler);
  const running = cmdlet(state, 'Get-ADSyncConnectorRunStatus', undefined, () => state.runningConnector || null);
  return {
    syncCycleEnabled: !!s.SyncCycleEnabled,
    syncCycleInProgress: !!state.syncCycleInProgress,
    stagingModeEnabled: !!s.StagingModeEnabled,
    schedulerSuspended: !!s.SchedulerSuspended,
    maintenanceEnabled: !!s.MaintenanceEnabled,
    nextSyncCyclePolicyType: String(s.NextSyncCyclePolicyType),
    nextSyncCycleStartTimeInUTC: s.NextSyncCycleStartTimeInUTC || null,
    currentlyEffectiveSyncCycleInterval: s.CurrentlyEffectiveSyncCycleInterval || null,
    runningConnector: running,
  };
}

/** Assert-SyncShiftNotStaging: every mutating script asks the server itself before changing anything. */
function assertNotStaging(state, what) {
  const s = cmdlet(state, 'Get-ADSyncScheduler', undefined, () => state.scheduler);
  if (s.StagingModeEnabled)
    fail(
      'STAGING_SERVER',
      `This Connect Sync server is in staging mode, so SyncShift refused to ${what}. Nothing was changed. Run it on the active Connect Sync server (the agent named with /server); make changes on a staging server by hand.`,
    );
}

const busy = (s) => s.syncCycleInProgress || !!s.runningConnector;

function serviceOrFail(state) {
  if (!state.service) fail('NOT_AVAILABLE', 'The ADSync service is not installed on this server.');
  return state.service;
}

/**
 * Ends a running cycle whose time has come: runs recorded for each connector, the rules it synced with
 * kept (they decide what the metaverse holds until the next cycle), the scheduler idle again.
 */
function finishCycleIfDue(state) {
  if (!state.syncCycleInProgress || state.cycleStuck || !state.cycleCompletesAt) return;
  if (Date.now() < Date.parse(state.cycleCompletesAt)) return;
  const start = state.cycleStartedAt || new Date().toISOString();
  const end = new Date().toISOString();
  const full = state.lastStartedPolicy === 'Initial';
  state.runHistory = state.runHistory || [];
  let number = state.runHistory.reduce((n, r) => Math.max(n, r.RunNumber || 0), 0);
  const record = (connector, profile) =>
    state.runHistory.push({
      RunHistoryId: crypto.randomUUID(),
      ConnectorId: connector.Identifier,
      ConnectorName: connector.Name,
      RunProfileName: profile,
      RunNumber: ++number,
      IsRunComplete: true,
      Result: 'success',
      StartDate: start,
      EndDate: end,
    });
  for (const c of state.connectors) {
    record(c, full ? 'Full Import' : 'Delta Import');
    record(c, full ? 'Full Synchronization' : 'Delta Synchronization');
  }
  for (const c of state.connectors) record(c, 'Export');
  state.syncedRules = JSON.parse(JSON.stringify(state.rules));
  state.syncCycleInProgress = false;
  state.runningConnector = null;
  state.cycleCompletesAt = null;
}

const AD_TO_MV = { user: 'person', inetOrgPerson: 'person', contact: 'person', group: 'group' };

/** Does a condition of a rule's scope hold for this object? Only the operators SyncShift plans. */
function conditionHolds(condition, dn) {
  const attribute = String(condition.Attribute).toLowerCase();
  const value = String(condition.ComparisonValue);
  const op = String(condition.ComparisonOperator).toUpperCase();
  // Case-insensitive like AD's own DN comparison (**unverified** for Connect Sync's ENDSWITH).
  if (attribute === 'dn' && op === 'ENDSWITH') return dn.toLowerCase().endsWith(value.toLowerCase());
  return false;
}

/** cloudNoFlow as the last completed cycle left it in the metaverse for this connector space object. */
function mvCloudNoFlow(state, adConnectorId, dn, objectType) {
  const rules = state.syncedRules || [];
  return rules.some(
    (r) =>
      !r.Disabled &&
      r.Direction === 'Inbound' &&
      r.Connector === adConnectorId &&
      r.SourceObjectType === objectType &&
      (r.AttributeFlowMappings || []).some(
        (f) =>
          f.Destination === 'cloudNoFlow' && f.FlowType === 'Constant' && String(f.Source[0]).toLowerCase() === 'true',
      ) &&
      (r.ScopeFilter || []).some((group) => group.length > 0 && group.every((c) => conditionHolds(c, dn))),
  );
}

/** The metaverse object id joined to a connector space object: stable per DN, as a GUID. */
function mvIdFor(dn) {
  const h = crypto.createHash('sha256').update(dn.toLowerCase(), 'utf8').digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-8${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

function dnWithin(dn, base) {
  const d = dn.toLowerCase();
  const b = base.toLowerCase();
  return d === b || d.endsWith(',' + b);
}

/** Get-ADSyncCSObject -ConnectorName -DistinguishedName: the object, or null when it is not there. */
function csObject(state, connector, dn) {
  return cmdlet(state, 'Get-ADSyncCSObject', { ConnectorName: connector.Name, DistinguishedName: dn }, () => {
    let type = null;
    if (Array.isArray(state.connectorSpace)) {
      const found = state.connectorSpace.find((o) => o.DistinguishedName.toLowerCase() === dn.toLowerCase());
      type = found ? found.ObjectType : null;
    } else if ((connector.Partitions || []).some((p) => dnWithin(dn, p))) {
      type = 'user';
    }
    if (!type) return null;
    return {
      ConnectorName: connector.Name,
      ConnectorId: connector.Identifier,
      DistinguishedName: dn,
      ObjectType: type,
      // Objects of a type the default rules do not project stay disconnectors.
      ConnectedMVObjectId: AD_TO_MV[type] ? mvIdFor(dn) : '00000000-0000-0000-0000-000000000000',
    };
  });
}

/** Get-ADSyncMVObject -Identifier: the attributes as Name/Values pairs. */
function mvObject(state, adConnectorId, cs) {
  return cmdlet(state, 'Get-ADSyncMVObject', { Identifier: cs.ConnectedMVObjectId }, () => {
    const attributes = [{ Name: 'sourceAnchor', Values: ['fake'] }];
    if (mvCloudNoFlow(state, adConnectorId, cs.DistinguishedName, cs.ObjectType))
      attributes.push({ Name: 'cloudNoFlow', Values: [true] });
    return { Identifier: cs.ConnectedMVObjectId, ObjectType: AD_TO_MV[cs.ObjectType], Attributes: attributes };
  });
}

const SCRIPTS = {
  'adsync.getScheduler'(state) {
    importAdsync(state);
    return schedulerState(state);
  },

  'adsync.stopScheduler'(state) {
    importAdsync(state);
    assertNotStaging(state, 'stop the sync scheduler');
    cmdlet(state, 'Set-ADSyncScheduler', { SyncCycleEnabled: false }, () => {
      state.scheduler.SyncCycleEnabled = false;
    });
    let s = schedulerState(state);
    if (s.syncCycleInProgress || s.runningConnector) {
      cmdlet(state, 'Stop-ADSyncSyncCycle', undefined, () => {
        if (!state.cycleStuck) {
          state.syncCycleInProgress = false;
          state.runningConnector = null;
        }
      });
    }
    s = schedulerState(state);
    return { stopped: !(s.syncCycleInProgress || s.runningConnector), scheduler: s };
  },

  'adsync.startScheduler'(state, p) {
    importAdsync(state);
    if (p.policyType !== 'Delta' && p.policyType !== 'Initial')
      fail('INVALID_PARAMS', 'policyType must be Delta or Initial.');
    assertNotStaging(state, 'start the sync scheduler');
    if (busy(state)) fail('SYNC_IN_PROGRESS', 'A sync cycle is still running, so a new one was not started.');
    cmdlet(state, 'Set-ADSyncScheduler', { SyncCycleEnabled: true }, () => {
      state.scheduler.SyncCycleEnabled = true;
    });
    cmdlet(state, 'Start-ADSyncSyncCycle', { PolicyType: p.policyType }, () => {
      state.syncCycleInProgress = true;
      state.runningConnector = state.connectors[0] ? state.connectors[0].Name : null;
      state.lastStartedPolicy = p.policyType;
      const now = Date.now();
      state.cycleStartedAt = new Date(now).toISOString();
      state.cycleCompletesAt =
        typeof state.cycleDurationMs === 'number' ? new Date(now + state.cycleDurationMs).toISOString() : null;
    });
    return { started: true, policyType: p.policyType, startResult: 'Success', scheduler: schedulerState(state) };
  },

  'adsync.exportConfig'(state, p) {
    importAdsync(state);
    if (!fs.existsSync(p.baseDir) || !fs.statSync(p.baseDir).isDirectory())
      fail('INVALID_PARAMS', `The backup folder ${p.baseDir} does not exist on this server.`);
    if (!/^[A-Za-z0-9._-]{1,100}$/.test(p.folderName))
      fail('INVALID_PARAMS', 'The backup subfolder name is not a plain folder name.');
    const dir = path.join(p.baseDir, p.folderName);
    if (fs.existsSync(dir)) fail('REFUSED', `The backup folder ${dir} already exists; nothing was written.`);
    fs.mkdirSync(dir);
    cmdlet(state, 'Get-ADSyncServerConfiguration', { Path: dir }, () => {
      const files = { 'GlobalSettings/GlobalSettings.xml': '<globalSettings/>' };
      for (const c of state.connectors)
        files[`Connectors/Connector_{${c.Identifier}}.xml`] = `<connector name="${c.Name}"/>`;
      for (const r of state.rules)
        files[`SynchronizationRules/SynchronizationRule_{${r.Identifier}}.xml`] =
          `<rule precedence="${r.Precedence}"/>`;
      for (const [rel, content] of Object.entries(files)) {
        fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
        fs.writeFileSync(path.join(dir, rel), content);
      }
    });
    let files = 0;
    let bytes = 0;
    const walk = (d) => {
      for (const e of fs.readdirSync(d, { withFileTypes: true })) {
        const full = path.join(d, e.name);
        if (e.isDirectory()) walk(full);
        else {
          files++;
          bytes += fs.statSync(full).size;
        }
      }
    };
    walk(dir);
    return { path: dir, files, bytes };
  },

  'adsync.listRules'(state) {
    importAdsync(state);
    const rules = cmdlet(state, 'Get-ADSyncRule', undefined, () => state.rules).map((r) => ({
      identifier: r.Identifier,
      name: r.Name,
      description: r.Description || '',
      direction: r.Direction,
      precedence: r.Precedence,
      immutableTag: r.ImmutableTag || '',
      disabled: !!r.Disabled,
      connector: r.Connector,
      sourceObjectType: r.SourceObjectType,
      targetObjectType: r.TargetObjectType,
      linkType: r.LinkType,
    }));
    const connectors = cmdlet(state, 'Get-ADSyncConnector', undefined, () => state.connectors).map((c) => ({
      identifier: c.Identifier,
      name: c.Name,
      type:
        c.ConnectorTypeName === 'AD' ? 'AD' : /Azure Active Directory|Entra/.test(c.SubType || '') ? 'Entra' : 'Other',
      connectorTypeName: c.ConnectorTypeName,
      subType: c.SubType || '',
      partitions: c.Partitions || [],
    }));
    return { rules, connectors };
  },

  'adsync.createRule'(state, p) {
    importAdsync(state);
    assertNotStaging(state, 'create a sync rule');
    const r = p.rule;
    const clash = cmdlet(state, 'Get-ADSyncRule', undefined, () => state.rules).find(
      (x) => x.Precedence === r.precedence,
    );
    if (clash) fail('RULE_CONFLICT', `Precedence ${r.precedence} is already used by the rule ${clash.Name}.`);
    if (!state.connectors.some((c) => c.Identifier === p.connectorId)) {
      cmdlet(state, 'New-ADSyncRule', undefined, () => {
        throw new CmdletError(`Connector ${p.connectorId} was not found.`, 'New-ADSyncRule', null);
      });
    }
    const rule = cmdlet(
      state,
      'New-ADSyncRule',
      { Name: r.name, Precedence: r.precedence, Direction: r.direction },
      () => ({
        Identifier: p.identifier,
        Name: r.name,
        Description: r.description,
        Direction: r.direction,
        Precedence: r.precedence,
        ImmutableTag: '',
        Disabled: false,
        Connector: p.connectorId,
        SourceObjectType: r.sourceObjectType,
        TargetObjectType: r.targetObjectType,
        LinkType: r.linkType,
        AttributeFlowMappings: [],
        ScopeFilter: [],
      }),
    );
    for (const f of r.attributeFlows) {
      cmdlet(state, 'Add-ADSyncAttributeFlowMapping', { Destination: f.destination }, () => {
        rule.AttributeFlowMappings.push({
          Source: [f.source],
          Destination: f.destination,
          FlowType: f.flowType,
          ValueMergeType: f.valueMergeType,
        });
      });
    }
    const conditions = r.scope.map((c) => ({
      Attribute: c.attribute,
      ComparisonValue: c.value,
      ComparisonOperator: c.operator,
    }));
    cmdlet(state, 'Add-ADSyncScopeConditionGroup', undefined, () => {
      rule.ScopeFilter.push(conditions);
    });
    cmdlet(state, 'Add-ADSyncRule', { Identifier: rule.Identifier }, () => {
      state.rules.push(rule);
    });
    return { identifier: rule.Identifier, name: rule.Name, precedence: rule.Precedence };
  },

  'adsync.setRulesDisabled'(state, p) {
    importAdsync(state);
    assertNotStaging(state, 'change sync rules');
    const found = p.identifiers.map((id) => {
      const rule = cmdlet(state, 'Get-ADSyncRule', { Identifier: id }, () =>
        state.rules.find((r) => r.Identifier.toLowerCase() === String(id).toLowerCase()),
      );
      if (!rule) fail('NOT_FOUND', `No sync rule has the identifier ${id}.`);
      if (rule.ImmutableTag)
        fail('REFUSED', `The rule ${rule.Name} is a built-in rule; SyncShift only changes rules it created.`);
      if (!String(rule.Name).includes('(SyncShift)'))
        fail('REFUSED', `The rule ${rule.Name} was not created by SyncShift; SyncShift only changes rules it created.`);
      return rule;
    });
    return {
      rules: found.map((rule) => {
        rule.Disabled = !!p.disabled;
        cmdlet(state, 'Add-ADSyncRule', { Identifier: rule.Identifier });
        return { identifier: rule.Identifier, name: rule.Name, disabled: !!p.disabled };
      }),
    };
  },

  // Get-ADSyncGlobalSettings returns an object whose Parameters each have Name and Value;
  // Get-ADSyncConnector's ObjectInclusionList/AttributeInclusionList are string lists;
  // Get-ADSyncAADCompanyFeature returns one object of boolean properties.
  'adsync.readiness'(state) {
    importAdsync(state);
    const prefixes = ['Microsoft.OptionalFeature.', 'Microsoft.SynchronizationOption.', 'Microsoft.Synchronize.'];
    const settings = cmdlet(state, 'Get-ADSyncGlobalSettings', undefined, () => ({
      Parameters: state.globalSettings || [],
    }))
      .Parameters.filter((p) => prefixes.some((x) => String(p.Name).startsWith(x)))
      .map((p) => ({ name: String(p.Name), value: p.Value === null || p.Value === undefined ? '' : String(p.Value) }));
    const connectors = cmdlet(state, 'Get-ADSyncConnector', undefined, () => state.connectors).map((c) => ({
      name: c.Name,
      type:
        c.ConnectorTypeName === 'AD' ? 'AD' : /Azure Active Directory|Entra/.test(c.SubType || '') ? 'Entra' : 'Other',
      connectorTypeName: c.ConnectorTypeName,
      subType: c.SubType || '',
      partitions: (c.Partitions || []).map((dn) => {
        const scope = (c.PartitionScope || {})[dn] || {};
        return { dn, included: scope.ContainerInclusionList || [], excluded: scope.ContainerExclusionList || [] };
      }),
      objectTypes: c.ObjectInclusionList || [],
      attributeCount: (c.AttributeInclusionList || []).length,
    }));
    const entra = connectors.filter((c) => c.type === 'Entra');
    const features = {};
    if (entra.length === 1) {
      const f = cmdlet(state, 'Get-ADSyncAADCompanyFeature', { ConnectorName: entra[0].name }, () => ({
        ...(state.companyFeatures || {}),
      }));
      for (const [k, v] of Object.entries(f)) if (typeof v === 'boolean') features[k] = v;
    }
    const rules = cmdlet(state, 'Get-ADSyncRule', undefined, () => state.rules).map((r) => ({
      identifier: r.Identifier,
      name: r.Name,
      description: r.Description || '',
      direction: r.Direction,
      precedence: r.Precedence,
      immutableTag: r.ImmutableTag || '',
      disabled: !!r.Disabled,
      connector: r.Connector,
      sourceObjectType: r.SourceObjectType,
      targetObjectType: r.TargetObjectType,
      linkType: r.LinkType,
    }));
    const scheduler = cmdlet(state, 'Get-ADSyncScheduler', undefined, () => state.scheduler);
    return {
      globalSettings: settings,
      companyFeatures: features,
      stagingModeEnabled: !!scheduler.StagingModeEnabled,
      connectors,
      rules,
    };
  },

  // Emulates the script's loop: per DN, Get-ADSyncCSObject then Get-ADSyncMVObject; [string]$true is "True".
  'adsync.noFlowCheck'(state, p) {
    importAdsync(state);
    if (!p.connectorName) fail('INVALID_PARAMS', 'No AD connector name was given.');
    const connector = state.connectors.find((c) => c.Name.toLowerCase() === String(p.connectorName).toLowerCase());
    const objects = (p.dns || []).map((dn) => {
      const out = {
        dn: String(dn),
        inConnectorSpace: false,
        csObjectType: null,
        mvObjectId: null,
        cloudNoFlow: null,
        readError: null,
      };
      let cs = null;
      try {
        if (!connector)
          throw new CmdletError(`Connector ${p.connectorName} was not found.`, 'Get-ADSyncCSObject', null);
        cs = csObject(state, connector, out.dn);
      } catch (err) {
        if (!(err instanceof CmdletError)) throw err;
        out.readError = err.message;
      }
      if (!cs) return out;
      out.inConnectorSpace = true;
      out.csObjectType = cs.ObjectType;
      if (cs.ConnectedMVObjectId === '00000000-0000-0000-0000-000000000000') return out;
      out.mvObjectId = cs.ConnectedMVObjectId;
      try {
        const mv = mvObject(state, connector.Identifier, cs);
        const attr = mv.Attributes.find((a) => a.Name === 'cloudNoFlow');
        if (attr && attr.Values.length > 0 && attr.Values[0] !== null)
          out.cloudNoFlow = attr.Values[0] === true ? 'True' : String(attr.Values[0]);
      } catch (err) {
        if (!(err instanceof CmdletError)) throw err;
        out.readError = err.message;
      }
      return out;
    });
    let runs = [];
    let scheduler = null;
    if (p.readRuns) {
      runs = cmdlet(state, 'Get-ADSyncRunProfileResult', { ConnectorId: p.connectorId, NumberRequested: 20 }, () =>
        (state.runHistory || [])
          .filter((r) => r.ConnectorId === p.connectorId)
          .sort((a, b) => b.RunNumber - a.RunNumber)
          .slice(0, 20),
      ).map((r) => ({
        connectorName: r.ConnectorName,
        runProfileName: r.RunProfileName,
        result: r.Result,
        isRunComplete: !!r.IsRunComplete,
        // As the script writes them: UTC to the millisecond.
        startDate: r.StartDate ? new Date(r.StartDate).toISOString() : null,
        endDate: r.EndDate ? new Date(r.EndDate).toISOString() : null,
      }));
      scheduler = schedulerState(state);
    }
    return { objects, runs, scheduler };
  },

  'adsync.stopService'(state) {
    const svc = serviceOrFail(state);
    const previous = svc.StartType;
    if (svc.Status !== 'Running')
      fail(
        'REFUSED',
        `The ADSync service is ${svc.Status}, so SyncShift cannot read whether this server is in staging mode and changed nothing. Start it, or disable it by hand.`,
      );
    importAdsync(state);
    assertNotStaging(state, 'stop the ADSync service');
    cmdlet(state, 'Stop-Service', { Name: 'ADSync' }, () => {
      svc.Status = 'Stopped';
    });
    cmdlet(state, 'Set-Service', { Name: 'ADSync', StartupType: 'Disabled' }, () => {
      svc.StartType = 'Disabled';
    });
    return { status: svc.Status, startType: svc.StartType, previousStartType: previous };
  },

  'adsync.startService'(state, p) {
    const svc = serviceOrFail(state);
    const previous = svc.StartType;
    if (p.startType !== 'Automatic' && p.startType !== 'Manual')
      fail('INVALID_PARAMS', 'startType must be Automatic or Manual.');
    cmdlet(state, 'Set-Service', { Name: 'ADSync', StartupType: p.startType }, () => {
      svc.StartType = p.startType;
    });
    cmdlet(state, 'Start-Service', { Name: 'ADSync' }, () => {
      svc.Status = 'Running';
    });
    importAdsync(state);
    if (cmdlet(state, 'Get-ADSyncScheduler', undefined, () => state.scheduler).StagingModeEnabled) {
      // As the script does: everything back as it was, then the refusal.
      cmdlet(state, 'Stop-Service', { Name: 'ADSync' }, () => {
        svc.Status = 'Stopped';
      });
      cmdlet(state, 'Set-Service', { Name: 'ADSync', StartupType: previous }, () => {
        svc.StartType = previous;
      });
      assertNotStaging(state, 'start the ADSync service');
    }
    return { status: svc.Status, startType: svc.StartType, previousStartType: previous };
  },
};

main().catch((err) => die(err && err.stack ? err.stack : String(err), 70));
