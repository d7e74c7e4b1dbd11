import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { curvesSection } from '../../src/render/curve-charts.js';
import { ttaSection } from '../../src/render/tta-section.js';

const curve = { roc: { x: [0, 0, 1], y: [0, 1, 1] }, pr: { x: [0, 1], y: [1, 1] } };
const ranked = { auroc: 1, averagePrecision: 1, support: 3 };

describe('the ROC and precision-recall charts of report.html', () => {
  const cases: {
    name: string;
    classNames: string[];
    curves?: Record<string, typeof curve | null>;
    lines: number;
    legend: RegExp[];
    positive?: string;
  }[] = [
    {
      name: 'three classes: a line each in both charts',
      classNames: ['a', 'b', 'c'],
      curves: { a: curve, b: curve, c: curve },
      lines: 3,
      legend: [/a \(AUC 1\.000\)/, /c \(AP 1\.000\)/],
    },
    {
      name: 'two classes: the positive (second) class alone',
      classNames: ['cat', 'dog'],
      curves: { cat: curve, dog: curve },
      lines: 1,
      legend: [/dog \(AUC 1\.000\)/, /the positive class, dog, against cat/],
    },
    {
      name: 'two classes with a tuned threshold: its positive class, even when it is the first',
      classNames: ['cat', 'dog'],
      curves: { cat: curve, dog: curve },
      positive: 'cat',
      lines: 1,
      legend: [/cat \(AUC 1\.000\)/, /the positive class, cat, against dog/],
    },
    {
      name: 'a class without curves (no example of it) is left out',
      classNames: ['a', 'b', 'c'],
      curves: { a: curve, b: null, c: curve },
      lines: 2,
      legend: [/c \(AUC/],
    },
    {
      name: 'a class name is text, never markup',
      classNames: ['<img src=x onerror=alert(1)>', 'b', 'c'],
      curves: { '<img src=x onerror=alert(1)>': curve, b: curve, c: curve },
      lines: 3,
      legend: [/&lt;img src=x onerror=alert\(1\)&gt; \(AUC/],
    },
    { name: 'a run written before the curves: no section', classNames: ['a', 'b', 'c'], lines: 0, legend: [] },
  ];
  for (const c of cases)
    it(c.name, () => {
      const perClass = Object.fromEntries(c.classNames.map((n) => [n, ranked]));
      const html = curvesSection(
        {
          perClass,
          ...(c.curves ? { curves: c.curves } : {}),
          ...(c.positive ? { decision: { threshold: { positive: c.positive } } } : {}),
        },
        c.classNames,
      );
      if (c.lines === 0) return assert.equal(html, '');
      for (const kind of ['roc', 'pr']) {
        const svg = new RegExp(`<svg class="${kind}"[\\s\\S]*?</svg>`).exec(html)?.[0] ?? '';
        assert.equal((svg.match(/<polyline class="curve"/g) ?? []).length, c.lines, kind);
      }
      assert.match(html, /<line class="chance"/);
      assert.doesNotMatch(html, /class="chart"/, 'svg.chart names the metric line charts only');
      assert.doesNotMatch(html, /<img/);
      for (const legend of c.legend) assert.match(html, legend);
    });
});

describe('the test-time augmentation table of report.html', () => {
  const plain = {
    accuracy: 0.5,
    loss: 1,
    topK: { top1: 0.5, top2: 0.75 },
    calibration: { ece: 0.2 },
    perClass: { a: { auroc: 0.6 }, b: { auroc: 0.8 } },
  };
  it('nothing without test-time augmentation', () => assert.equal(ttaSection(plain), ''));
  it('without and with, side by side, and the views', () => {
    const html = ttaSection({
      ...plain,
      tta: {
        ...plain,
        accuracy: 0.625,
        examples: 8,
        confusionMatrix: [],
        perClass: {
          a: { precision: 0, recall: 0, f1: 0, support: 4, auroc: 0.7, averagePrecision: 0.7 },
          b: { precision: 0, recall: 0, f1: 0, support: 4, auroc: 0.9, averagePrecision: 0.9 },
        },
        calibration: { ece: 0.1, bins: [] },
        transforms: ['flip'],
        views: ['identity', 'mirror'],
      },
    });
    assert.match(html, /averaged over 2 views \(identity, mirror\)/);
    assert.match(html, /<th>accuracy<\/th><td>0\.5000<\/td><td><b id="tta-accuracy">0\.6250<\/b><\/td>/);
    assert.match(html, /<th>top-2 accuracy<\/th><td>0\.7500<\/td><td>0\.7500<\/td>/);
    assert.match(html, /<th>mean one-vs-rest AUROC<\/th><td>0\.7000<\/td><td>0\.8000<\/td>/);
  });
});
