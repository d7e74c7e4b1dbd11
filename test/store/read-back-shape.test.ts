import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { Type } from '@sinclair/typebox';
import { UserError } from '../../src/diagnostics/user-error.js';
import { packageRoot } from '../../src/package/package-root.js';
import { READ_BACK_SCHEMAS } from '../../src/store/read-back-schemas.js';
import {
  checkShape,
  newReadBackAjv,
  precompiledValidator,
  shapeJson,
  shapeProblem,
} from '../../src/store/read-back-shape.js';
import {
  GENERATED_READ_BACK_VALIDATORS,
  readBackValidatorSources,
} from '../../src/store/read-back-validators-source.js';

const Summary = Type.Object({
  status: Type.Literal('completed'),
  stages: Type.Array(Type.Object({ epochsRun: Type.Integer({ minimum: 0 }) })),
  resources: Type.Object({ seconds: Type.Number({ minimum: 0 }) }),
});
const good = {
  status: 'completed',
  stages: [{ epochsRun: 3 }],
  resources: { seconds: 1.5 },
  extra: 'newer versions add fields',
};

describe('the shape of a file read back', () => {
  const cases: { name: string; value: unknown; problem: string | undefined }[] = [
    { name: 'as written, with fields a newer version added', value: good, problem: undefined },
    { name: 'an array', value: [], problem: 'the whole file must be object' },
    { name: 'null', value: null, problem: 'the whole file must be object' },
    {
      name: "a number where a number list's item goes",
      value: { ...good, stages: [{ epochsRun: 'three' }] },
      problem: '/stages/0/epochsRun must be integer',
    },
    {
      name: 'a negative duration',
      value: { ...good, resources: { seconds: -1 } },
      problem: '/resources/seconds must be >= 0',
    },
    { name: 'another status', value: { ...good, status: 'running' }, problem: '/status must be equal to constant' },
    {
      name: 'a field missing',
      value: { status: 'completed', stages: [] },
      problem: "the whole file must have required property 'resources'",
    },
  ];
  for (const c of cases) it(c.name, () => assert.equal(shapeProblem(Summary, c.value), c.problem));

  it('names the value itself as the caller says (a line of a file)', () =>
    assert.equal(shapeProblem(Summary, 7, 'the line'), 'the line must be object'));

  it('checkShape returns the value as it is', () =>
    assert.equal(checkShape(Summary, good, 'summary.json', 'a summary'), good));

  it('checkShape: a user error naming the file, what was expected and why, with the hint', () => {
    assert.throws(
      () => checkShape(Summary, [], '/r/summary.json', "a run's summary", 'run it again'),
      (error: unknown) => {
        assert.ok(error instanceof UserError);
        assert.equal(error.message, "/r/summary.json is not a run's summary: the whole file must be object");
        assert.equal(error.hint, 'run it again');
        return true;
      },
    );
  });
});

describe("the store's read-back validators, compiled at build time", () => {
  it('are what the listed shapes compile to, one module each and no other (run `npm run schema` after changing a shape)', () => {
    const dir = path.join(packageRoot(), GENERATED_READ_BACK_VALIDATORS);
    const expected = readBackValidatorSources();
    assert.deepEqual(readdirSync(dir).sort(), [...expected.keys()].sort());
    // Not assert.equal: its diff of two 0.5 MB texts says less than the command that fixes them.
    for (const [name, text] of expected)
      assert.ok(readFileSync(path.join(dir, name), 'utf8') === text, `${name} is out of date: run \`npm run schema\``);
  });

  it('serve every listed shape, and a shape not listed is compiled at run time', () => {
    for (const schema of READ_BACK_SCHEMAS)
      assert.ok(precompiledValidator(schema), JSON.stringify(schema).slice(0, 80));
    assert.equal(precompiledValidator(Summary), undefined);
  });

  // What a damaged file is told is what the run-time compiled validator says: the same ajv, options and first error.
  const damaged: unknown[] = [[], null, 7, {}, { status: 'completed' }, { version: 'one' }, { shape: [0] }];
  for (const [i, schema] of READ_BACK_SCHEMAS.entries())
    it(`listed shape ${i} rejects damage as the run-time compiled one does`, () => {
      const atRunTime = newReadBackAjv().compile(shapeJson(schema));
      const built = precompiledValidator(schema)!;
      for (const value of damaged) {
        assert.equal(built(value), atRunTime(value));
        assert.deepEqual(built.errors, atRunTime.errors);
      }
    });
});
