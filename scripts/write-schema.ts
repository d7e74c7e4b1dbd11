/**
 * Writes schemas/pipeline.schema.json and the validator compiled from it
 * (src/format/generated/pipeline-validator.cts), and the store's read-back
 * validators (src/store/generated/read-back/shape_*.cts, one per shape), from the declaration in
 * src/format/schema.ts (`npm run schema`, which then builds again so that
 * dist/ holds the new validator). The JSON is committed for editors, the
 * validator so that no process compiles the schema; test/format/schema.test.ts
 * fails when either is out of date.
 */
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { GENERATED_VALIDATOR, pipelineValidatorSource } from '../src/format/pipeline-validator-source.js';
import { pipelineJsonSchema } from '../src/format/schema.js';
import { packageRoot } from '../src/package/package-root.js';
import { GENERATED_READ_BACK_VALIDATORS, readBackValidatorSources } from '../src/store/read-back-validators-source.js';

// The read-back validators' folder holds exactly the listed shapes' modules: a shape edited or unlisted leaves none.
const readBackDir = path.join(packageRoot(), GENERATED_READ_BACK_VALIDATORS);
mkdirSync(readBackDir, { recursive: true });
for (const name of readdirSync(readBackDir)) rmSync(path.join(readBackDir, name));
const files: [string, string][] = [
  [path.join(packageRoot(), 'schemas', 'pipeline.schema.json'), pipelineJsonSchema()],
  [path.join(packageRoot(), GENERATED_VALIDATOR), pipelineValidatorSource()],
  ...[...readBackValidatorSources()].map(([name, text]): [string, string] => [path.join(readBackDir, name), text]),
];
for (const [file, text] of files) {
  writeFileSync(file, text);
  process.stdout.write(`wrote ${path.relative(process.cwd(), file)}\n`);
}
