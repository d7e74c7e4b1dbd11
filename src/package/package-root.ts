import { existsSync } from 'node:fs';
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
