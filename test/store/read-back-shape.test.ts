import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Type } from '@sinclair/typebox';
import { UserError } from '../../src/diagnostics/user-error.js';
import { checkShape, shapeProblem } from '../../src/store/read-back-shape.js';

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
