import { Module } from 'node:module';
import { dirname } from 'node:path';

/**
 * restify 11 loads spdy when it is imported, for a `spdy` server option SyncShift never uses, and
 * spdy's http-deceiver calls process.binding('http_parser') as it loads: Node's DEP0111 warning on
 * every start. Imported before restify, this puts a stand-in for spdy in the module cache, so the
 * real one is never loaded. restify 12 dropped spdy (it needs Node 22); with it, spdy does not
 * resolve from restify and this does nothing, and the file can go.
 */
function standInForSpdy(): void {
  let path: string;
  try {
    path = require.resolve('spdy', { paths: [dirname(require.resolve('restify'))] });
  } catch {
    return;
  }
  if (require.cache[path]) return;
  const stub = new Module(path);
  stub.filename = path;
  stub.loaded = true;
  stub.exports = {
    createServer: (): never => {
      throw new Error('SyncShift does not serve SPDY: restify\'s spdy option is not supported.');
    },
  };
  require.cache[path] = stub;
}

standInForSpdy();
