import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatDiagnostic } from '../../src/diagnostics/diagnostic.js';
import { loadPipelineText } from '../../src/format/load-pipeline.js';

const pipeline = (evaluate: string): string => `dataset:
  format: mnist
  validation: 0.2
head:
  - globalAveragePooling2d: {}
  - dense: { units: classes, activation: softmax }
train:
  stages:
    - epochs: 1
evaluate: ${evaluate}
`;

const load = (text: string) => loadPipelineText('/work/pipelines/p.yaml', text, { displayName: 'p.yaml' });

describe('evaluate.folds and evaluate.fold', () => {
  const valid: { name: string; evaluate: string; folds?: number; fold?: number }[] = [
    { name: 'folds alone: the k-fold run', evaluate: '{ folds: 5 }', folds: 5 },
    { name: 'one fold of them', evaluate: '{ folds: 5, fold: 5 }', folds: 5, fold: 5 },
    { name: 'the first fold', evaluate: '{ folds: 2, fold: 1 }', folds: 2, fold: 1 },
  ];
  for (const c of valid)
    it(`valid: ${c.name}`, () => {
      const loaded = load(pipeline(c.evaluate));
      assert.ok(loaded.ok, loaded.ok ? '' : loaded.diagnostics.map((d) => formatDiagnostic(d)).join('\n'));
      assert.equal(loaded.value.spec.evaluate.folds, c.folds);
      assert.equal(loaded.value.spec.evaluate.fold, c.fold);
    });

  const invalid: { name: string; evaluate: string; message: RegExp; line: number }[] = [
    { name: 'a fold without folds', evaluate: '{ fold: 2 }', message: /sets no `evaluate.folds`/, line: 10 },
    {
      name: 'a fold beyond k',
      evaluate: '{ folds: 3, fold: 4 }',
      message: /fold 4 is not one of the 3 folds/,
      line: 10,
    },
    {
      name: 'fold 0 (folds count from 1)',
      evaluate: '{ folds: 3, fold: 0 }',
      message: />= 1|at least 1|minimum/i,
      line: 10,
    },
    {
      name: 'one fold is not a cross-validation',
      evaluate: '{ folds: 1 }',
      message: />= 2|at least 2|minimum/i,
      line: 10,
    },
  ];
  for (const c of invalid)
    it(`invalid: ${c.name}`, () => {
      const loaded = load(pipeline(c.evaluate));
      assert.equal(loaded.ok, false);
      if (loaded.ok) return;
      const said = loaded.diagnostics.map((d) => formatDiagnostic(d)).join('\n');
      assert.match(said, c.message);
      assert.ok(
        loaded.diagnostics.some((d) => d.line === c.line),
        said,
      );
    });

  it('k-fold with validation on the test split is refused: the folds are the validation', () => {
    const loaded = load(pipeline('{ folds: 3 }').replace('validation: 0.2', 'validation: test'));
    assert.equal(loaded.ok, false);
    if (!loaded.ok) assert.match(loaded.diagnostics[0]!.message, /validates on the test split/);
  });
});
