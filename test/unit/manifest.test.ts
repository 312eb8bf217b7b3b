import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { inflateSync } from 'node:zlib';
import { COMMAND_HELP, parseCommand } from '../../src/runbook/commands';

/**
 * The Teams app package: the manifest is checked offline against the official schema that ships in
 * @microsoft/app-manifest (the Microsoft 365 Agents Toolkit's own manifest library), the icons
 * against Teams' size and colour rules, and the command menu against what the bot understands.
 */

const ROOT = join(__dirname, '..', '..');
const APP_PACKAGE = join(ROOT, 'appPackage');

/** What Agents Toolkit puts into the ${{...}} placeholders at provision time; any other placeholder fails. */
const SAMPLE_ENV: Record<string, string> = {
  TEAMS_APP_ID: '3f2504e0-4f89-41d3-9a0c-0305e82c3301',
  BOT_ID: '9b2c6f4e-1d7a-4c8e-b5f3-2a6d8e0c4b17',
  APP_NAME_SUFFIX: '-local',
  DEVELOPER_WEBSITE_URL: 'https://contoso.example/syncshift',
  DEVELOPER_PRIVACY_URL: 'https://contoso.example/syncshift/privacy',
  DEVELOPER_TERMS_OF_USE_URL: 'https://contoso.example/syncshift/terms',
};

interface CommandList {
  scopes: string[];
  commands: { title: string; description?: string }[];
}
interface Manifest {
  $schema: string;
  manifestVersion: string;
  bots: { botId: string; scopes: string[]; supportsFiles?: boolean; commandLists?: CommandList[] }[];
  icons: { color: string; outline: string };
  [key: string]: unknown;
}

function loadManifest(): Manifest {
  const text = readFileSync(join(APP_PACKAGE, 'manifest.json'), 'utf8').replace(
    /\$\{\{([A-Za-z0-9_]+)\}\}/g,
    (whole, name: string) => {
      const value = SAMPLE_ENV[name];
      if (value === undefined)
        throw new Error(`manifest.json uses ${whole}, which this test has no sample value for; add one to SAMPLE_ENV.`);
      return value;
    },
  );
  return JSON.parse(text) as Manifest;
}

function schemaPathFor(manifestVersion: string): string {
  const packageDir = dirname(require.resolve('@microsoft/app-manifest/package.json'));
  const folder = manifestVersion === 'devPreview' ? 'vDevPreview' : `v${manifestVersion}`;
  return join(packageDir, 'build', 'json-schemas', 'teams', folder, 'MicrosoftTeams.schema.json');
}

/**
 * Runs the package's own validator (AppManifestUtils.validateAgainstSchema, the one the toolkit's
 * teamsApp/validateManifest uses) with the bundled schema, so nothing is fetched. It runs in a plain
 * Node child because the package loads an ESM-only dependency that Jest's module loader cannot.
 */
function validateWithPackage(schemaPath: string, manifests: unknown[]): string[][] {
  const script = `
    const { AppManifestUtils } = require('@microsoft/app-manifest');
    const input = JSON.parse(require('node:fs').readFileSync(0, 'utf8'));
    const schema = JSON.parse(require('node:fs').readFileSync(input.schemaPath, 'utf8'));
    Promise.all(input.manifests.map((m) => AppManifestUtils.validateAgainstSchema(m, schema)))
      .then((results) => process.stdout.write(JSON.stringify(results)))
      .catch((err) => { console.error(err && err.stack ? err.stack : String(err)); process.exit(1); });
  `;
  const child = spawnSync(process.execPath, ['-e', script], {
    cwd: ROOT,
    input: JSON.stringify({ schemaPath, manifests }),
    encoding: 'utf8',
    timeout: 30_000,
  });
  if (child.status !== 0) {
    throw new Error(
      `@microsoft/app-manifest could not validate (exit ${child.status}). It needs Node.js >= 20.19 (require of ES modules).\n${child.stderr}`,
    );
  }
  return JSON.parse(child.stdout) as string[][];
}

interface DecodedPng {
  width: number;
  height: number;
  colorType: number;
  /** RGBA, 8 bits per channel, row-major. */
  rgba: Buffer;
}

/** Enough of PNG to check Teams icons: 8-bit greyscale/RGB(A), no palette, no interlace, all five filters. */
function decodePng(file: string): DecodedPng {
  const data = readFileSync(file);
  expect(data.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))).toBe(true);
  let offset = 8;
  let header: Buffer | undefined;
  const idat: Buffer[] = [];
  while (offset < data.length) {
    const length = data.readUInt32BE(offset);
    const type = data.toString('ascii', offset + 4, offset + 8);
    const body = data.subarray(offset + 8, offset + 8 + length);
    if (type === 'IHDR') header = body;
    else if (type === 'IDAT') idat.push(body);
    else if (type === 'IEND') break;
    offset += 12 + length;
  }
  if (!header) throw new Error(`${file}: no IHDR chunk`);
  const width = header.readUInt32BE(0);
  const height = header.readUInt32BE(4);
  const bitDepth = header[8]!;
  const colorType = header[9]!;
  const interlace = header[12]!;
  const channels = ({ 0: 1, 2: 3, 4: 2, 6: 4 } as Record<number, number | undefined>)[colorType];
  if (bitDepth !== 8 || channels === undefined || interlace !== 0) {
    throw new Error(
      `${file}: bit depth ${bitDepth}, colour type ${colorType}, interlace ${interlace} is not handled here; save it as 8-bit RGBA.`,
    );
  }
  const raw = inflateSync(Buffer.concat(idat));
  const stride = width * channels;
  const pixels = Buffer.alloc(stride * height);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)]!;
    const line = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    for (let x = 0; x < stride; x++) {
      const a = x >= channels ? pixels[y * stride + x - channels]! : 0;
      const b = y > 0 ? pixels[(y - 1) * stride + x]! : 0;
      const c = x >= channels && y > 0 ? pixels[(y - 1) * stride + x - channels]! : 0;
      let predictor: number;
      if (filter === 0) predictor = 0;
      else if (filter === 1) predictor = a;
      else if (filter === 2) predictor = b;
      else if (filter === 3) predictor = (a + b) >> 1;
      else if (filter === 4) {
        const p = a + b - c;
        const pa = Math.abs(p - a);
        const pb = Math.abs(p - b);
        const pc = Math.abs(p - c);
        predictor = pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
      } else throw new Error(`${file}: unknown filter ${filter} on row ${y}`);
      pixels[y * stride + x] = (line[x]! + predictor) & 0xff;
    }
  }
  const rgba = Buffer.alloc(width * height * 4);
  for (let i = 0; i < width * height; i++) {
    const px = pixels.subarray(i * channels, (i + 1) * channels);
    const [r, g, b, alpha] =
      channels === 1
        ? [px[0]!, px[0]!, px[0]!, 255]
        : channels === 2
          ? [px[0]!, px[0]!, px[0]!, px[1]!]
          : [px[0]!, px[1]!, px[2]!, channels === 4 ? px[3]! : 255];
    rgba[i * 4] = r;
    rgba[i * 4 + 1] = g;
    rgba[i * 4 + 2] = b;
    rgba[i * 4 + 3] = alpha;
  }
  return { width, height, colorType, rgba };
}

/** "/verify list <missing|extra|mismatched> [page]" → ["/verify", "list"]; "/help" → ["/help"]. */
function leadingWords(text: string, count = 2): string[] {
  return text.trim().toLowerCase().split(/\s+/).slice(0, count);
}

describe('Teams app package', () => {
  const manifest = loadManifest();
  const bot = manifest.bots[0]!;

  it('uses the schema version it declares, and that schema ships in @microsoft/app-manifest', () => {
    expect(manifest.$schema).toBe(
      `https://developer.microsoft.com/json-schemas/teams/v${manifest.manifestVersion}/MicrosoftTeams.schema.json`,
    );
    const schemaPath = schemaPathFor(manifest.manifestVersion);
    expect(existsSync(schemaPath)).toBe(true);
    const schema = JSON.parse(readFileSync(schemaPath, 'utf8')) as {
      properties: { manifestVersion: { const?: string } };
    };
    expect(schema.properties.manifestVersion.const).toBe(manifest.manifestVersion);
  });

  it('is valid against the official schema, which really is applied (a broken copy fails)', () => {
    const tooManyCommands = structuredClone(manifest);
    tooManyCommands.bots[0]!.commandLists![0]!.commands = Array.from({ length: 13 }, (_, i) => ({
      title: `/c${i}`,
      description: 'x',
    }));
    const badBotId = structuredClone(manifest);
    badBotId.bots[0]!.botId = '${{BOT_ID}}';

    const [errors, tooManyErrors, badBotIdErrors] = validateWithPackage(schemaPathFor(manifest.manifestVersion), [
      manifest,
      tooManyCommands,
      badBotId,
    ]);

    expect(errors).toEqual([]);
    expect(tooManyErrors!.join('\n')).toMatch(/commandLists\/0\/commands .*must NOT have more than 12 items/);
    expect(badBotIdErrors!.join('\n')).toMatch(/\/bots\/0\/botId/);
  });

  it('declares the bot for personal, team and group chat, without files, with one command list per scope', () => {
    expect(manifest.bots).toHaveLength(1);
    expect(bot.botId).toBe(SAMPLE_ENV.BOT_ID);
    expect([...bot.scopes].sort()).toEqual(['groupChat', 'personal', 'team']);
    expect(bot.supportsFiles).toBe(false);
    const lists = bot.commandLists ?? [];
    expect(lists.length).toBeLessThanOrEqual(3);
    expect(lists.flatMap((l) => l.scopes).sort()).toEqual(['groupChat', 'personal', 'team']);
    for (const list of lists) {
      expect(list.commands.length).toBeGreaterThan(0);
      expect(list.commands.length).toBeLessThanOrEqual(12);
      for (const command of list.commands) expect(command.title.length).toBeLessThanOrEqual(128);
    }
  });

  // The menu may hold fewer commands than the bot has (3 lists × 12 commands at most), never more.
  it('lists only commands the bot implements: each title starts like a COMMAND_HELP usage and parses', () => {
    const usages = COMMAND_HELP.map((h) => h.usage);
    const usagePrefixes = COMMAND_HELP.map((h) => h.usage.trim().toLowerCase().split(/\s+/));
    for (const list of bot.commandLists ?? []) {
      for (const { title } of list.commands) {
        const words = leadingWords(title);
        const known = usagePrefixes.some((usage) => words.every((w, i) => usage[i] === w));
        if (!known)
          throw new Error(
            `Manifest command "${title}" is not in COMMAND_HELP (${usages.join(', ')}); implement it before listing it.`,
          );
        expect(parseCommand(title).kind).not.toBe('unknown');
      }
    }
  });

  it('has a 192×192 colour icon', () => {
    const color = decodePng(join(APP_PACKAGE, manifest.icons.color));
    expect([color.width, color.height]).toEqual([192, 192]);
  });

  it('has a 32×32 outline icon that is only white on transparent', () => {
    const outline = decodePng(join(APP_PACKAGE, manifest.icons.outline));
    expect([outline.width, outline.height]).toEqual([32, 32]);
    let drawn = 0;
    const offenders: string[] = [];
    for (let i = 0; i < outline.width * outline.height; i++) {
      const [r, g, b, a] = outline.rgba.subarray(i * 4, i * 4 + 4);
      if (a === 0) continue;
      drawn++;
      if (r !== 255 || g !== 255 || b !== 255)
        offenders.push(`(${i % outline.width},${Math.floor(i / outline.width)}) rgba(${r},${g},${b},${a})`);
    }
    expect(offenders.slice(0, 5)).toEqual([]);
    expect(drawn).toBeGreaterThan(0);
  });
});
