import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import path from 'node:path';
import { GENERATED_VALIDATOR, pipelineValidatorSource } from '../../src/format/pipeline-validator-source.js';
import { pipelineJsonSchema } from '../../src/format/schema.js';
import { packageRoot, SCHEMA_PATH } from '../../src/package/package-root.js';

type Schema = {
  description?: string;
  properties?: Record<string, Schema>;
  prefixItems?: Schema[];
  items?: Schema;
  $defs?: Record<string, Schema>;
  $ref?: string;
};

/** Every property schema in the document, with its JSON path. */
function properties(schema: Schema, at = '#'): { at: string; schema: Schema }[] {
  const out: { at: string; schema: Schema }[] = [];
  for (const [name, child] of Object.entries(schema.properties ?? {})) {
    out.push({ at: `${at}/properties/${name}`, schema: child }, ...properties(child, `${at}/properties/${name}`));
  }
  for (const [name, child] of Object.entries(schema.$defs ?? {})) out.push(...properties(child, `${at}/$defs/${name}`));
  (schema.prefixItems ?? []).forEach((child, i) => out.push({ at: `${at}/prefixItems/${i}`, schema: child }));
  if (schema.items) out.push(...properties(schema.items, `${at}/items`));
  return out;
}

describe('schemas/pipeline.schema.json', () => {
  const schema = JSON.parse(readFileSync(SCHEMA_PATH(), 'utf8')) as Schema & { $schema: string };

  it('is what src/format/schema.ts declares (run `npm run schema` after changing the declaration)', () => {
    assert.equal(readFileSync(SCHEMA_PATH(), 'utf8'), pipelineJsonSchema());
  });

  it('compiles to the validator in src/format/generated (run `npm run schema` after changing the declaration)', () => {
    // Not assert.equal: its diff of two 400 kB texts says less than the command that fixes them.
    const committed = readFileSync(path.join(packageRoot(), GENERATED_VALIDATOR), 'utf8');
    assert.ok(committed === pipelineValidatorSource(), `${GENERATED_VALIDATOR} is out of date: run \`npm run schema\``);
  });

  it('is JSON Schema 2020-12', () => {
    assert.equal(schema.$schema, 'https://json-schema.org/draft/2020-12/schema');
  });

  it('describes every property (editors show these descriptions)', () => {
    const all = properties(schema);
    assert.ok(all.length > 30, `only ${all.length} properties found`);
    const undescribed = all.filter(({ schema }) => !schema.description).map(({ at }) => at);
    assert.deepEqual(undescribed, []);
  });
});
