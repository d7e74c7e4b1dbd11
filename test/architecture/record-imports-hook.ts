/**
 * Preloaded with `--import` (through NODE_OPTIONS) into a CLI process under
 * test: registers record-imports-loader.ts, which appends every module the
 * process imports to the file named by TLPIPE_RECORD_IMPORTS, and records
 * every module it `require`s (CommonJS, which those hooks do not see: the
 * generated validators, and what they and ajv require) to the same file.
 */
import { appendFileSync } from 'node:fs';
import Module, { register } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

register('./record-imports-loader.js', import.meta.url);

// Module._load is CommonJS's require() (not require.resolve, which finds a package's files without loading its code);
// internal to Node, hence untyped here.
const cjs = Module as unknown as {
  _load: (request: string, parent: unknown, isMain: boolean) => unknown;
  _resolveFilename: (request: string, parent: unknown, isMain: boolean) => string;
};
const load = cjs._load;
cjs._load = function (this: unknown, request: string, parent: unknown, isMain: boolean): unknown {
  const loaded = load.call(this, request, parent, isMain);
  const file = process.env['TLPIPE_RECORD_IMPORTS'];
  const filename = file ? cjs._resolveFilename(request, parent, isMain) : '';
  if (file && path.isAbsolute(filename)) appendFileSync(file, `${pathToFileURL(filename).href}\n`);
  return loaded;
};
