import { COMMAND_HELP, parseCommand, visibleControls } from '../../src/runbook/commands';

describe('parseCommand', () => {
  it('parses the commands', () => {
    expect(parseCommand('/help')).toEqual({ kind: 'help' });
    expect(parseCommand('/migration start "Contoso pilot"')).toEqual({
      kind: 'migration.start',
      name: 'Contoso pilot',
    });
    expect(parseCommand('/migration start \u201cCurly\u201d')).toEqual({ kind: 'migration.start', name: 'Curly' });
    expect(parseCommand('/verify pilot OU=Sales')).toEqual({ kind: 'verify.pilot', ou: 'OU=Sales' });
    expect(parseCommand('/VERIFY Pilot  OU=Sales (EMEA),DC=x')).toEqual({
      kind: 'verify.pilot',
      ou: 'OU=Sales (EMEA),DC=x',
    });
    expect(parseCommand('/verify list missing')).toEqual({
      kind: 'verify.list',
      verification: 'last',
      list: 'missing',
      page: 1,
    });
    expect(parseCommand('/verify list extra 3 #ABCDEF12')).toEqual({
      kind: 'verify.list',
      verification: 'abcdef12',
      list: 'extra',
      page: 3,
    });
    expect(parseCommand('/verify list notsynced 2')).toEqual({
      kind: 'verify.list',
      verification: 'last',
      list: 'notsynced',
      page: 2,
    });
  });

  it('parses /audit, with an export optionally narrowed to one person', () => {
    expect(parseCommand('/audit')).toEqual({ kind: 'audit', export: null, limit: 20 });
    expect(parseCommand('/audit export csv')).toEqual({ kind: 'audit', export: 'csv', limit: 0 });
    expect(parseCommand('/audit export JSON Adele Vance')).toEqual({
      kind: 'audit',
      export: 'json',
      limit: 0,
      person: 'Adele Vance',
    });
    expect(parseCommand('/audit export csv "Adele Vance"')).toEqual({
      kind: 'audit',
      export: 'csv',
      limit: 0,
      person: 'Adele Vance',
    });
    expect(parseCommand('/audit export csv 00000000-0000-0000-0000-00000000AD01')).toEqual({
      kind: 'audit',
      export: 'csv',
      limit: 0,
      person: '00000000-0000-0000-0000-00000000AD01',
    });
    expect(parseCommand('/audit export xml Adele')).toMatchObject({
      kind: 'invalid',
      usage: '/audit [export csv|json [person]]',
    });
    expect(COMMAND_HELP.find((c) => c.usage.startsWith('/audit'))!.usage).toBe('/audit [export csv|json [person]]');
  });

  it('explains invalid uses', () => {
    expect(parseCommand('/migration start')).toMatchObject({ kind: 'invalid', reason: 'The migration needs a name.' });
    expect(parseCommand('/migration stop')).toMatchObject({ kind: 'invalid' });
    expect(parseCommand('/verify pilot')).toMatchObject({ kind: 'invalid', reason: 'Say which OU to verify.' });
    expect(parseCommand('/verify list nope')).toMatchObject({ kind: 'invalid' });
    expect(parseCommand('/verify list missing x')).toMatchObject({ kind: 'invalid' });
  });

  it('refuses a message with a control character, whatever the command, and says which one', () => {
    expect(parseCommand('/migration start "a\u0000b"')).toEqual({
      kind: 'invalid',
      command: '/migration',
      reason: 'The message contains an invisible control character (U+0000), so nothing was done.',
      usage: 'type it again without it: /migration start "<name>"',
    });
    expect(parseCommand('/verify pilot OU=Sa\u001bles')).toMatchObject({
      kind: 'invalid',
      command: '/verify',
      reason: expect.stringContaining('(U+001B)') as unknown,
    });
    expect(parseCommand('/wave add W1 OU=A\u007f')).toMatchObject({
      kind: 'invalid',
      reason: expect.stringContaining('(U+007F)') as unknown,
    });
    expect(parseCommand('/fro\u0000b')).toMatchObject({
      kind: 'invalid',
      command: '/fro\\u0000b',
      usage: 'type it again without it',
    });
    expect(parseCommand('hello\u0007')).toMatchObject({ kind: 'invalid', command: 'Your message' });
    // Tabs and line breaks are text, not controls.
    expect(parseCommand('/migration start "a\tb"')).toEqual({ kind: 'migration.start', name: 'a\tb' });
    expect(parseCommand('/verify pilot\r\nOU=Sales')).toEqual({ kind: 'verify.pilot', ou: 'OU=Sales' });
  });

  it('writes control characters out, so they can be stored and shown as typed', () => {
    expect(visibleControls('a\u0000b\u001f\u007f\tc\n')).toBe('a\\u0000b\\u001f\\u007f\tc\n');
  });

  it('parses the agent commands and refuses names that could not be agent ids', () => {
    expect(parseCommand('/agent list')).toEqual({ kind: 'agent.list' });
    expect(parseCommand('/agent enroll dc-agent-1')).toEqual({ kind: 'agent.enroll', name: 'dc-agent-1' });
    expect(parseCommand('/Agent ROTATE dc.agent_2')).toEqual({ kind: 'agent.rotate', name: 'dc.agent_2' });
    expect(parseCommand('/agent revoke dc-agent-1')).toEqual({ kind: 'agent.revoke', name: 'dc-agent-1' });
    expect(parseCommand('/agent enroll')).toMatchObject({ kind: 'invalid', command: '/agent enroll' });
    expect(parseCommand('/agent enroll a b')).toMatchObject({ kind: 'invalid', command: '/agent enroll' });
    expect(parseCommand('/agent enroll ../../etc/passwd')).toMatchObject({ kind: 'invalid' });
    expect(parseCommand("/agent revoke x';DROP TABLE agents;--")).toMatchObject({ kind: 'invalid' });
    expect(parseCommand('/agent delete x')).toMatchObject({ kind: 'invalid', command: '/agent' });
    expect(parseCommand('/agent list all')).toMatchObject({ kind: 'invalid' });
  });

  it('parses /rollback: the pilot, or a wave by its name', () => {
    expect(parseCommand('/rollback pilot')).toEqual({ kind: 'rollback.pilot' });
    expect(parseCommand('/rollback PILOT')).toEqual({ kind: 'rollback.pilot' });
    expect(parseCommand('/rollback Wave1')).toEqual({ kind: 'rollback.wave', name: 'Wave1' });
    expect(parseCommand('/rollback "Wave 2"')).toEqual({ kind: 'rollback.wave', name: 'Wave 2' });
    expect(parseCommand('/rollback')).toMatchObject({
      kind: 'invalid',
      command: '/rollback',
      usage: '/rollback pilot|<wave>',
    });
    expect(parseCommand('/rollback pilot now')).toMatchObject({ kind: 'invalid', command: '/rollback' });
  });

  it('parses /ou noflow: the pilot or one wave, quoted when its name has spaces', () => {
    expect(parseCommand('/ou noflow pilot')).toEqual({ kind: 'ou.noflow', target: 'pilot' });
    expect(parseCommand('/OU NoFlow PILOT')).toEqual({ kind: 'ou.noflow', target: 'pilot' });
    expect(parseCommand('/ou noflow Wave1')).toEqual({ kind: 'ou.noflow', target: 'Wave1' });
    expect(parseCommand('/ou noflow "Wave 2"')).toEqual({ kind: 'ou.noflow', target: 'Wave 2' });
    expect(parseCommand('/ou noflow')).toMatchObject({
      kind: 'invalid',
      command: '/ou noflow',
      reason: 'Say which OUs to check: the pilot or a wave.',
      usage: '/ou noflow <pilot|wave name>',
    });
    expect(parseCommand('/ou noflow pilot Wave1')).toMatchObject({ kind: 'invalid', command: '/ou noflow' });
    expect(parseCommand('/ou noflow OU=Sales,DC=x')).toMatchObject({ kind: 'invalid', command: '/ou noflow' });
    expect(parseCommand('/ou status')).toEqual({ kind: 'ou.status' });
    expect(parseCommand('/ou')).toMatchObject({ kind: 'invalid', usage: '/ou status or /ou noflow <pilot|wave name>' });
    expect(COMMAND_HELP.find((c) => c.usage === '/ou noflow <pilot|wave name>')?.example).toBe('/ou noflow pilot');
  });

  it("parses /wave rules and /wave scope with one wave's name", () => {
    expect(parseCommand('/wave rules Wave1')).toEqual({ kind: 'wave.rules', name: 'Wave1' });
    expect(parseCommand('/wave SCOPE "Wave 2"')).toEqual({ kind: 'wave.scope', name: 'Wave 2' });
    expect(parseCommand('/wave rules')).toMatchObject({
      kind: 'invalid',
      command: '/wave rules',
      usage: '/wave rules <name>',
    });
    expect(parseCommand('/wave scope a b')).toMatchObject({ kind: 'invalid', command: '/wave scope' });
  });

  it('treats everything else as unknown', () => {
    expect(parseCommand('hello')).toEqual({ kind: 'unknown', text: 'hello' });
    expect(parseCommand('/frobnicate')).toEqual({ kind: 'unknown', text: '/frobnicate' });
  });

  it('has help with an example for every command', () => {
    for (const help of COMMAND_HELP) {
      expect(help.example.startsWith('/')).toBe(true);
      expect(parseCommand(help.example).kind).not.toMatch(/unknown|invalid/);
    }
  });
});
