import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The folder holding tlpipe's package.json, whether running from src/ or dist/src/. */
export function packageRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!existsSync(path.join(dir, 'package.json')) || !existsSync(path.join(dir, 'schemas'))) {
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error('tlpipe: cannot find the package root (package.json beside schemas/)');
    dir = parent;
  }
  return dir;
}

export const SCHEMA_PATH = (): string => path.join(packageRoot(), 'schemas', 'pipeline.schema.json');

/** The installed tlpipe's version, from its package.json. */
export const version: string = (
  JSON.parse(readFileSync(path.join(packageRoot(), 'package.json'), 'utf8')) as { version: string }
).version;

/** The JSON Schema of pipeline files, for editors and validators (also `tlpipe/schema.json`). */
export const schemaPath = (): string => SCHEMA_PATH();
