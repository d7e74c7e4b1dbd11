import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { confusionMatrixCsv, csvField } from '../../../src/store/report-file.js';
import {
  accuracyOf,
  calibrationOf,
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

describe('testMetrics: one-vs-rest rankings and calibration', () => {
  // a: right at 0.7; b: wrong at 0.5 (b ties example 3's 0.3); c: wrong at 0.6 (c ties example 1's 0.1).
  const m = testMetrics(
    [0, 1, 2],
    [
      [0.7, 0.2, 0.1],
      [0.5, 0.3, 0.2],
      [0.6, 0.3, 0.1],
    ],
    1.5,
    ['a', 'b', 'c'],
    ['x', 'y', 'z'],
    2,
  );
  const rankings: { name: string; cls: string; auroc: number | null; averagePrecision: number | null }[] = [
    { name: 'a class ranked above every other example: 1 and 1', cls: 'a', auroc: 1, averagePrecision: 1 },
    // b's 0.3 beats 0.2 and ties 0.3 (half a pair): (1 + ½) / 2; at 0.3, one of two is b: precision ½ at recall 1.
    { name: 'a tie counts half, as scikit-learn counts it', cls: 'b', auroc: 0.75, averagePrecision: 0.5 },
    // c's 0.1 loses to 0.2 and ties 0.1: (0 + ½) / 2; c is found only at the lowest threshold, one of three.
    { name: 'a class ranked low', cls: 'c', auroc: 0.25, averagePrecision: 1 / 3 },
  ];
  for (const r of rankings)
    it(`rankings: ${r.name}`, () => {
      assert.equal(m.perClass[r.cls]!.auroc, r.auroc);
      assert.equal(m.perClass[r.cls]!.averagePrecision, r.averagePrecision);
    });

  it('rankings are null for a model that diverged (NaN probabilities), not the ranks of an arbitrary sort', () => {
    const diverged = testMetrics(
      [0, 1],
      [
        [Number.NaN, Number.NaN],
        [Number.NaN, Number.NaN],
      ],
      Number.NaN,
      ['a', 'b'],
      ['x', 'y'],
      1,
    );
    for (const m of Object.values(diverged.perClass)) assert.deepEqual([m.auroc, m.averagePrecision], [null, null]);
    assert.deepEqual(
      diverged.calibration.bins.map((b) => b.count),
      new Array(10).fill(0),
    );
  });

  it('rankings are null where they are undefined: a class with no test example, or with every one', () => {
    const one = testMetrics(
      [0, 0],
      [
        [0.9, 0.1],
        [0.6, 0.4],
      ],
      1,
      ['a', 'b'],
      ['x', 'y'],
      1,
    );
    assert.equal(one.perClass['a']!.auroc, null, 'no negatives: no ROC curve');
    assert.equal(one.perClass['a']!.averagePrecision, 1);
    assert.deepEqual([one.perClass['b']!.auroc, one.perClass['b']!.averagePrecision], [null, null]);
  });

  it('calibration: each bin holds its examples, their mean probability and accuracy; the ECE weighs the gaps', () => {
    const filled = m.calibration.bins.filter((b) => b.count > 0);
    assert.deepEqual(
      filled.map((b) => [b.lower, b.count, b.confidence, b.accuracy]),
      [
        [0.5, 1, 0.5, 0],
        [0.6, 1, 0.6, 0],
        [0.7, 1, 0.7, 1],
      ],
    );
    assert.equal(m.calibration.bins.length, 10);
    assert.ok(
      m.calibration.bins.filter((b) => b.count === 0).every((b) => b.confidence === null && b.accuracy === null),
    );
    assert.ok(Math.abs(m.calibration.ece - (0.5 + 0.6 + 0.3) / 3) < 1e-12, String(m.calibration.ece));
  });

  const calibrationCases: {
    name: string;
    actual: number[];
    probabilities: number[][];
    ece: number;
    lastBin: number;
  }[] = [
    {
      name: 'right three times in four at 0.75: calibrated, ECE 0',
      actual: [0, 0, 0, 1],
      probabilities: [
        [0.75, 0.25],
        [0.75, 0.25],
        [0.75, 0.25],
        [0.75, 0.25],
      ],
      ece: 0,
      lastBin: 0,
    },
    {
      name: 'a probability of exactly 1 falls in the last bin; wrong at 1 is a gap of 1',
      actual: [1, 0],
      probabilities: [
        [1, 0],
        [1, 0],
      ],
      ece: 0.5,
      lastBin: 2,
    },
    { name: 'no examples: ECE 0, every bin empty', actual: [], probabilities: [], ece: 0, lastBin: 0 },
    {
      name: 'a diverged model (NaN) is in no bin, and the others are binned as ever',
      actual: [0, 0],
      probabilities: [
        [Number.NaN, Number.NaN],
        [1, 0],
      ],
      ece: 0,
      lastBin: 1,
    },
  ];
  for (const c of calibrationCases)
    it(`calibration: ${c.name}`, () => {
      const got = calibrationOf(c.actual, c.probabilities);
      assert.ok(Math.abs(got.ece - c.ece) < 1e-12, `${got.ece}`);
      assert.equal(got.bins.at(-1)!.count, c.lastBin);
      assert.equal(
        got.bins.reduce((n, b) => n + b.count, 0),
        c.probabilities.filter((p) => p.every(Number.isFinite)).length,
      );
    });
});
