/**
 * Writes docs/reference/pipeline.md (from the pipeline schema) and
 * docs/reference/cli.md (from the command table, the TLPIPE_* settings and
 * the exit codes): `npm run docs`. test/scripts/reference.test.ts fails when
 * the committed pages differ from what this writes.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { packageRoot } from '../src/package/package-root.js';
import { referencePages } from './reference/reference-pages.js';

for (const [file, text] of referencePages()) {
  const target = path.join(packageRoot(), file);
  mkdirSync(path.dirname(target), { recursive: true });
  writeFileSync(target, text);
  process.stdout.write(`wrote ${file}\n`);
}
