/**
 * Writes schemas/pipeline.schema.json from the declaration in
 * src/format/schema.ts (`npm run schema`). The file is committed for
 * editors; test/format/schema.test.ts fails when it is out of date.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { pipelineJsonSchema } from '../src/format/schema.js';
import { packageRoot } from '../src/package/package-root.js';

const file = path.join(packageRoot(), 'schemas', 'pipeline.schema.json');
writeFileSync(file, pipelineJsonSchema());
process.stdout.write(`wrote ${path.relative(process.cwd(), file)}\n`);
