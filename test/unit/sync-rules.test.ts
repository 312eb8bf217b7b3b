import { ADSYNC_SCRIPTS, SCRIPT_ID_MARKER } from '../../src/agent/powershell/scripts';
import { AppError } from '../../src/shared/errors';
import {
  AdsyncError,
  MAX_RULE_NAME_LENGTH,
  freePrecedences,
  planNoFlowRules,
  psQuote,
  renderRulesScriptPreview,
  rulePlanListSchema,
} from '../../src/runbook/sync-rules';

const OU = 'OU=Pilot,OU=Staff,DC=contoso,DC=com';

describe('planNoFlowRules', () => {
  it('plans an inbound and an outbound rule per object type, as in the tutorial', () => {
    const plan = planNoFlowRules({ ouDn: OU, usedPrecedences: [] });
    expect(
      plan.map((r) => [r.key, r.direction, r.connectorRole, r.sourceObjectType, r.targetObjectType, r.linkType]),
    ).toEqual([
      ['inbound-user', 'Inbound', 'ad', 'user', 'person', 'Join'],
      ['outbound-user', 'Outbound', 'entra', 'person', 'user', 'JoinNoFlow'],
      ['inbound-group', 'Inbound', 'ad', 'group', 'group', 'Join'],
      ['outbound-group', 'Outbound', 'entra', 'group', 'group', 'JoinNoFlow'],
      ['inbound-contact', 'Inbound', 'ad', 'contact', 'person', 'Join'],
      ['outbound-contact', 'Outbound', 'entra', 'person', 'contact', 'JoinNoFlow'],
    ]);
    const inbound = plan[0]!;
    expect(inbound.scope).toEqual([{ attribute: 'dn', value: OU, operator: 'ENDSWITH' }]);
    expect(inbound.attributeFlows).toEqual([
      { flowType: 'Constant', source: 'true', destination: 'cloudNoFlow', valueMergeType: 'Update' },
    ]);
    const outbound = plan[1]!;
    expect(outbound.scope).toEqual([{ attribute: 'cloudNoFlow', value: 'true', operator: 'EQUAL' }]);
    expect(outbound.attributeFlows).toEqual([]);
    expect(inbound.name).toBe('In from AD - User cloudNoFlow (SyncShift) Pilot');
    expect(outbound.name).toBe('Out to AAD - User JoinNoFlow (SyncShift) Pilot');
    expect(() => rulePlanListSchema.parse(plan)).not.toThrow();
  });

  it('takes distinct free precedences from 99 downwards, skipping used ones', () => {
    const plan = planNoFlowRules({ ouDn: OU, usedPrecedences: [99, 97, 100, 101, 5] });
    expect(plan.map((r) => r.precedence)).toEqual([98, 96, 95, 94, 93, 92]);
  });

  it('plans only the object types asked for, once each', () => {
    const plan = planNoFlowRules({ ouDn: OU, usedPrecedences: [], objectTypes: ['group', 'group'] });
    expect(plan.map((r) => r.key)).toEqual(['inbound-group', 'outbound-group']);
    expect(() => planNoFlowRules({ ouDn: OU, usedPrecedences: [], objectTypes: [] })).toThrow(AppError);
  });

  it('fails with PRECEDENCE_EXHAUSTED when the custom range is too full', () => {
    const used = Array.from({ length: 96 }, (_, i) => i); // 0..95 used: 96..99 free, 6 needed
    let caught: unknown;
    try {
      planNoFlowRules({ ouDn: OU, usedPrecedences: used });
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(AdsyncError);
    expect((caught as AdsyncError).code).toBe('ADSYNC.PRECEDENCE_EXHAUSTED');
    expect((caught as AdsyncError).toJSON()).toMatchObject({
      details: { needed: 6, free: 4 },
      hint: expect.stringContaining('Rules Editor'),
    });
    expect(freePrecedences(used, 4)).toEqual([99, 98, 97, 96]);
  });

  it('keeps the OU exactly as given in the scope, however odd its characters', () => {
    const nasty = 'OU=O\'Brien $(Remove-Item x) \\; \\"quote\\" `whoami`,DC=contoso,DC=com';
    const plan = planNoFlowRules({ ouDn: nasty, usedPrecedences: [] });
    expect(plan[0]!.scope[0]!.value).toBe(nasty);
    expect(plan[0]!.ouDn).toBe(nasty);
    expect(plan[0]!.name).toBe(
      'In from AD - User cloudNoFlow (SyncShift) O\'Brien $(Remove-Item x) ; "quote" `whoami`',
    );
  });

  it('truncates long OU names so rule names stay within the limit', () => {
    const plan = planNoFlowRules({ ouDn: `OU=${'x'.repeat(400)},DC=contoso,DC=com`, usedPrecedences: [] });
    for (const r of plan) {
      expect(r.name.length).toBeLessThanOrEqual(MAX_RULE_NAME_LENGTH);
      expect(r.name.endsWith('...')).toBe(true);
    }
  });

  it.each([
    ['', 'empty'],
    ['Pilot', 'not a DN'],
    ['OU=Pilot', 'no domain components'],
    ['OU=Pi\nlot,DC=x', 'control characters'],
    ['OU=a;b,DC=x', 'bad syntax'],
  ])('refuses %j (%s) with INPUT.BAD_DN', (ouDn) => {
    expect(() => planNoFlowRules({ ouDn, usedPrecedences: [] })).toThrow(
      expect.objectContaining({ code: 'INPUT.BAD_DN' }),
    );
  });
});

describe('renderRulesScriptPreview', () => {
  it('renders the Microsoft cmdlet sequence for each rule', () => {
    const plan = planNoFlowRules({ ouDn: OU, usedPrecedences: [], objectTypes: ['user'] });
    const text = renderRulesScriptPreview(plan, {
      adConnectorName: 'contoso.com',
      entraConnectorName: 'contoso.onmicrosoft.com - AAD',
    });
    expect(text).toContain("$adConnector = Get-ADSyncConnector -Name 'contoso.com'");
    expect(text).toContain("-Direction 'Inbound' -Precedence 99");
    expect(text).toContain("-Connector $adConnector.Identifier -LinkType 'Join'");
    expect(text).toContain(
      "-Source @('true') -Destination 'cloudNoFlow' -FlowType 'Constant' -ValueMergeType 'Update'",
    );
    expect(text).toContain(`-ArgumentList 'dn', '${OU}', 'ENDSWITH'`);
    expect(text).toContain("-Connector $entraConnector.Identifier -LinkType 'JoinNoFlow'");
    expect(text).toContain("-ArgumentList 'cloudNoFlow', 'true', 'EQUAL'");
    expect(text.match(/Add-ADSyncRule /g)).toHaveLength(2);
    expect(renderRulesScriptPreview(plan)).toContain(
      "# $adConnector = Get-ADSyncConnector -Name '<your AD connector>'",
    );
  });

  it('quotes values so nothing in an OU name can run when the preview is pasted', () => {
    const nasty = 'OU=O\'Brien \u2019$(Remove-Item x) \\; \\"q\\",DC=contoso,DC=com';
    const text = renderRulesScriptPreview(planNoFlowRules({ ouDn: nasty, usedPrecedences: [], objectTypes: ['user'] }));
    expect(text).toContain("'OU=O''Brien \u2019\u2019$(Remove-Item x) \\; \\\"q\\\",DC=contoso,DC=com'");
  });

  it('psQuote doubles every kind of single quote and splices control characters', () => {
    expect(psQuote("a'b")).toBe("'a''b'");
    expect(psQuote('a\u2018b\u201bc')).toBe("'a\u2018\u2018b\u201b\u201bc'");
    expect(psQuote('$(x) `y` "z"')).toBe('\'$(x) `y` "z"\'');
    expect(psQuote('a\nb')).toBe("('a' + [char]0x0a + 'b')");
  });
});

describe('fixed PowerShell scripts', () => {
  it.each(ADSYNC_SCRIPTS.map((s) => [s.id, s] as const))('%s keeps the shape -Command - needs', (id, script) => {
    const lines = script.text.split('\n');
    expect(lines[0]).toBe(`${SCRIPT_ID_MARKER}${id}`);
    expect(lines[1]).toBe('& {');
    // One statement, run by the empty line after it; an empty line inside would cut it short.
    expect(script.text.endsWith('\n}\n\n')).toBe(true);
    expect(lines.slice(0, -2).every((l) => l.trim() !== '')).toBe(true);
    expect(/^[\x09\x0a\x20-\x7e]*$/.test(script.text)).toBe(true);
    // A backtick continuation only works when it is the very last character on the line.
    expect(lines.every((l) => !/`\s+$/.test(l))).toBe(true);
    expect(script.text).toContain('Write-SyncShiftEnvelope ([ordered]@{ ok = $true; result = $result })');
  });

  it('have unique ids and braces that balance', () => {
    expect(new Set(ADSYNC_SCRIPTS.map((s) => s.id)).size).toBe(ADSYNC_SCRIPTS.length);
    for (const s of ADSYNC_SCRIPTS) {
      const stripped = s.text.replace(/'[^']*'/g, "''").replace(/"[^"]*"/g, '""');
      expect([s.id, (stripped.match(/\{/g) ?? []).length]).toEqual([s.id, (stripped.match(/\}/g) ?? []).length]);
      expect([s.id, (stripped.match(/\(/g) ?? []).length]).toEqual([s.id, (stripped.match(/\)/g) ?? []).length]);
    }
  });

  it('read parameters only from SYNCSHIFT_PARAMS', () => {
    for (const s of ADSYNC_SCRIPTS) expect(s.text).toContain('ConvertFrom-Json -InputObject $env:SYNCSHIFT_PARAMS');
  });
});
