import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { AnomalyEvaluation, Evaluation, SegmentationEvaluation } from '../../src/api/index.js';
import { evaluationRecord } from '../../src/api/evaluate.js';
import { formatEvaluated } from '../../src/cli/format-results.js';

const segmentation: SegmentationEvaluation = {
  task: 'segmentation',
  on: 'its test split (2 images)',
  classNames: ['sky', 'grass', 'road'],
  metrics: {
    task: 'segmentation',
    loss: 0.5,
    pixelAccuracy: 0.75,
    accuracy: 0.75,
    meanIoU: 0.6,
    perClass: { sky: { iou: 0.5, pixels: 100 }, grass: { iou: 0.7, pixels: 28 }, road: { iou: null, pixels: 0 } },
    examples: 2,
    worst: [
      { example: 'a.jpg', meanIoU: 0.4 },
      { example: 'b.jpg', meanIoU: 0.8 },
    ],
  },
};

const threshold = {
  threshold: 1.5,
  truePositives: 3,
  falsePositives: 1,
  falseNegatives: 1,
  trueNegatives: 1,
  precision: 0.75,
  recall: 0.75,
  f1: 0.75,
};

const anomaly: AnomalyEvaluation = {
  task: 'anomaly',
  on: 'data (6 images)',
  classNames: ['good', 'scratch', 'dent'],
  normal: ['good'],
  unseen: ['dent'],
  metrics: {
    task: 'anomaly',
    examples: 6,
    normalExamples: 2,
    anomalousExamples: 4,
    auroc: 0.875,
    averagePrecision: null,
    atThreshold: threshold,
    f1: 0.75,
    accuracy: 4 / 6,
    perClass: {
      good: { normal: true, examples: 2, meanScore: 1, flagged: 1 },
      scratch: { normal: false, examples: 2, meanScore: 2, flagged: 2 },
      dent: { normal: false, examples: 2, meanScore: 1.75, flagged: 1 },
    },
    histograms: { edges: [0, 1], counts: {} },
    worst: [{ example: 'dent/d1.png', actual: 'dent', anomalous: true, score: 1.25 }],
  },
};

const CASES: { name: string; evaluation: Evaluation; lines: string[] }[] = [
  {
    name: 'segmentation: mean IoU and pixel accuracy, IoU per class (– for a class in neither truth nor prediction), the lowest images',
    evaluation: segmentation,
    lines: [
      'evaluated seg/0001 on its test split (2 images)',
      'mean IoU 0.6000  pixel accuracy 0.7500  loss 0.5000  (2 images)',
      '',
      '  class  IoU     true pixels',
      '  sky    0.5000          100',
      '  grass  0.7000           28',
      '  road   –                 0',
      '',
      'lowest mean IoU:',
      '  a.jpg: 0.4000',
      '  b.jpg: 0.8000',
    ],
  },
  {
    name: 'anomaly: AUROC (n/a where undefined) and the rest at the threshold, each class and how it counts, the unseen said',
    evaluation: anomaly,
    lines: [
      'evaluated ones/0001 on data (6 images)',
      'AUROC 0.8750  average precision n/a  F1 0.7500  accuracy 0.6667  (6 images: 2 normal, 4 anomalous)',
      "at the model's threshold 1.500: precision 0.7500, recall 0.7500",
      '',
      '  class    counts as  images  mean score  flagged',
      '  good     normal          2      1.0000        1',
      '  scratch  anomalous       2      2.0000        2',
      '  dent     unseen          2      1.7500        1',
      '',
      "not among the run's classes, so scored as anomalous: dent",
      '',
      'most wrongly judged (furthest on the wrong side of the threshold):',
      '  dent/d1.png: dent (anomalous), score 1.2500',
    ],
  },
];

describe('tlpipe evaluate prints each task’s evaluation', () => {
  for (const c of CASES)
    it(c.name, () => {
      const run = c.evaluation.task === 'anomaly' ? 'ones/0001' : 'seg/0001';
      assert.deepEqual(formatEvaluated(run, c.evaluation).split('\n'), c.lines);
    });

  it('--json and evaluation.json: `on`, then the metrics; an anomaly model’s also names its normal and unseen classes', () => {
    assert.deepEqual(evaluationRecord(segmentation), { on: segmentation.on, ...segmentation.metrics });
    assert.deepEqual(evaluationRecord(anomaly), {
      on: anomaly.on,
      ...anomaly.metrics,
      normalClasses: ['good'],
      unseenClasses: ['dent'],
    });
  });
});
