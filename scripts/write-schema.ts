/**
 * Writes schemas/pipeline.schema.json and the validator compiled from it
 * (src/format/generated/pipeline-validator.cts) from the declaration in
 * src/format/schema.ts (`npm run schema`, which then builds again so that
 * dist/ holds the new validator). The JSON is committed for editors, the
 * validator so that no process compiles the schema; test/format/schema.test.ts
 * fails when either is out of date.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { GENERATED_VALIDATOR, pipelineValidatorSource } from '../src/format/pipeline-validator-source.js';
import { pipelineJsonSchema } from '../src/format/schema.js';
import { packageRoot } from '../src/package/package-root.js';

const files: [string, string][] = [
  [path.join(packageRoot(), 'schemas', 'pipeline.schema.json'), pipelineJsonSchema()],
  [path.join(packageRoot(), GENERATED_VALIDATOR), pipelineValidatorSource()],
];
for (const [file, text] of files) {
  writeFileSync(file, text);
  process.stdout.write(`wrote ${path.relative(process.cwd(), file)}\n`);
}
