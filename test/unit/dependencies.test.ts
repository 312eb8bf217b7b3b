import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * What package-lock.json installs, checked against what Node 24 and the registry accept: nothing
 * that calls an internal Node 24 removed, and none of the uuid releases npm marks deprecated.
 */

const lock = JSON.parse(readFileSync(join(__dirname, '..', '..', 'package-lock.json'), 'utf8')) as {
  packages: Record<string, { version?: string }>;
};
const installed = Object.entries(lock.packages)
  .filter(([path]) => path !== '')
  .map(([path, entry]) => ({
    name: path.slice(path.lastIndexOf('node_modules/') + 'node_modules/'.length),
    version: entry.version ?? '',
  }));

describe('package-lock.json', () => {
  it('holds no package that needs process.binding("http_parser"), which Node 24 removed (restify 11 pulled them in through spdy)', () => {
    expect(
      installed.filter((p) => ['spdy', 'spdy-transport', 'http-deceiver', 'handle-thing'].includes(p.name)),
    ).toEqual([]);
    expect(installed.filter((p) => p.name === 'restify').map((p) => Number(p.version.split('.')[0]))).toEqual([12]);
  });

  it('installs uuid 11 only: npm marks 10 and older deprecated, and the dependants call only uuid.v4()', () => {
    const uuids = installed.filter((p) => p.name === 'uuid');
    expect(uuids.length).toBeGreaterThan(0);
    expect(uuids.filter((p) => Number(p.version.split('.')[0]) !== 11)).toEqual([]);
  });
});
