import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { confusionMatrixCsv, csvField } from '../../../src/store/report-file.js';
import {
  accuracyOf,
  galleryPositions,
  confusionMatrix,
  perClassMetrics,
  testMetrics,
} from '../../../src/engine/evaluate/metrics.js';

describe('test metrics', () => {
  // actual:    a a a b b c
  // predicted: a a b b c c
  const matrix = confusionMatrix([0, 0, 0, 1, 1, 2], [0, 0, 1, 1, 2, 2], 3);

  it('confusion matrix is [actual][predicted]', () => {
    assert.deepEqual(matrix, [
      [2, 1, 0],
      [0, 1, 1],
      [0, 0, 1],
    ]);
  });

  it('accuracy is the diagonal over the total', () => {
    assert.equal(accuracyOf(matrix), 4 / 6);
  });

  const cases: { cls: string; precision: number; recall: number; support: number }[] = [
    { cls: 'a', precision: 1, recall: 2 / 3, support: 3 },
    { cls: 'b', precision: 1 / 2, recall: 1 / 2, support: 2 },
    { cls: 'c', precision: 1 / 2, recall: 1, support: 1 },
  ];
  const metrics = perClassMetrics(matrix, ['a', 'b', 'c']);
  for (const c of cases) {
    it(`per-class ${c.cls}`, () => {
      const m = metrics[c.cls]!;
      assert.equal(m.precision, c.precision);
      assert.equal(m.recall, c.recall);
      assert.equal(m.support, c.support);
      assert.equal(m.f1, (2 * c.precision * c.recall) / (c.precision + c.recall));
    });
  }

  it('a class never predicted has precision 0, not NaN', () => {
    const m = perClassMetrics(confusionMatrix([0, 1], [0, 0], 2), ['x', 'y']);
    assert.deepEqual(m['y'], { precision: 0, recall: 0, f1: 0, support: 1 });
  });
});

describe('testMetrics', () => {
  // Three examples of classes a, b, c with the model's probabilities.
  const probabilities = [
    [0.7, 0.2, 0.1], // a: right
    [0.5, 0.3, 0.2], // b: wrong, b is 2nd
    [0.6, 0.3, 0.1], // c: wrong, c is 3rd
  ];
  const m = testMetrics([0, 1, 2], probabilities, 1.5, ['a', 'b', 'c'], ['x.png', 'y.png', 'z.png'], 2);

  it('top-k counts an example when its class is among the k most probable', () => {
    assert.deepEqual(m.topK, { top1: 1 / 3, top2: 2 / 3, top3: 1 });
    assert.equal(m.accuracy, m.topK['top1']);
  });

  it('lists the examples given the lowest probability for their class, worst first', () => {
    assert.deepEqual(m.worst, [
      { example: 'z.png', actual: 'c', predicted: 'a', probabilityOfActual: 0.1, probabilityOfPredicted: 0.6 },
      { example: 'y.png', actual: 'b', predicted: 'a', probabilityOfActual: 0.3, probabilityOfPredicted: 0.5 },
    ]);
  });

  it('lists only misclassified examples, even when a right one has a lower probability for its class', () => {
    // x is right with p 0.4; y is wrong with p 0.45 for its class.
    const close = testMetrics(
      [0, 1],
      [
        [0.4, 0.3, 0.3],
        [0.55, 0.45, 0],
      ],
      1,
      ['a', 'b', 'c'],
      ['x', 'y'],
      5,
    );
    assert.deepEqual(
      close.worst.map((w) => w.example),
      ['y'],
    );
  });

  it('chooses for a report the worst misclassified and, per class, its hardest examples right or wrong', () => {
    const actual = [0, 0, 0, 1, 1, 2];
    const probabilities = [
      [0.9, 0.1, 0],
      [0.3, 0.7, 0],
      [0.5, 0.2, 0.3],
      [0.2, 0.8, 0],
      [0.6, 0.4, 0],
      [0.1, 0.1, 0.8],
    ];
    assert.deepEqual(galleryPositions(actual, probabilities, 3, 8, 2), {
      worst: [1, 4],
      perClass: [[1, 2], [4, 3], [5]],
    });
    assert.deepEqual(galleryPositions(actual, probabilities, 3, 1, 1), { worst: [1], perClass: [[1], [4], [5]] });
  });

  it('writes the confusion matrix as CSV, quoting names that need it', () => {
    assert.equal(
      confusionMatrixCsv(
        [
          [1, 2],
          [3, 4],
        ],
        ['cat', 'dog, big'],
      ),
      'actual \\ predicted,cat,"dog, big"\ncat,1,2\n"dog, big",3,4\n',
    );
  });
});

describe('CSV a spreadsheet opens safely', () => {
  const cases: [name: string, field: string, written: string][] = [
    ['a formula', '=HYPERLINK("http://x")', `"'=HYPERLINK(""http://x"")"`],
    ['a plus', '+1', `"'+1"`],
    ['a minus', '-2+3', `"'-2+3"`],
    ['an at sign', '@SUM(A1)', `"'@SUM(A1)"`],
    ['a leading tab', '\tx', `"'\tx"`],
    ['a leading carriage return', '\rx', `"'\rx"`],
    ['a line break inside', 'a\nb', '"a\nb"'],
    ['a plain name', 'dog', 'dog'],
  ];
  for (const [name, field, written] of cases) it(name, () => assert.equal(csvField(field), written));

  it('class names in confusion-matrix.csv are neutralised in the header and the rows', () => {
    assert.equal(
      confusionMatrixCsv(
        [
          [1, 0],
          [0, 1],
        ],
        ['=cmd', 'ok'],
      ),
      `actual \\ predicted,"'=cmd",ok\n"'=cmd",1,0\nok,0,1\n`,
    );
  });
});
