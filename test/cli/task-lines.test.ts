import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Prediction } from '../../src/api/index.js';
import { folderTasks, modelTasks } from '../../src/api/tasks/registry.js';
import { formatPrediction } from '../../src/cli/tasks/registry.js';

describe('a prediction is printed by the task whose answer it carries', () => {
  const top = [
    { label: 'cat', probability: 0.75 },
    { label: 'dog', probability: 0.25 },
  ];
  const cases: { name: string; prediction: Prediction; line: string }[] = [
    {
      name: 'classification (no other answer)',
      prediction: { file: 'a.png', top },
      line: 'a.png: cat 75.0%, dog 25.0%',
    },
    {
      name: 'segmentation: class shares of the pixels, and the mask file',
      prediction: { file: 'a.png', top, segmentation: { fractions: { cat: 0.75, dog: 0.25 }, mask: 'out/a.png' } },
      line: 'a.png: cat 75.0% of pixels, dog 25.0% of pixels → out/a.png',
    },
    {
      name: 'anomaly: the verdict with its score and threshold',
      prediction: {
        file: 'a.png',
        top: [{ label: 'anomalous', probability: 1 }],
        anomaly: { score: 2.5, threshold: 1.25, anomalous: true, heat: { grid: [1, 1], values: [2.5] } },
      },
      line: 'a.png: anomalous (score 2.500, threshold 1.250)',
    },
  ];
  for (const c of cases) it(c.name, () => assert.equal(formatPrediction(c.prediction), c.line));
});

describe("the API's task registry: the order a model folder is told by", () => {
  it('tasks with files of their own first; among those told by the model, classification (the default, it holds any) last', () => {
    assert.deepEqual(
      folderTasks().map(([name]) => name),
      ['anomaly'],
    );
    assert.equal(modelTasks().at(-1)![0], 'classification');
    assert.deepEqual(
      modelTasks()
        .map(([name]) => name)
        .sort(),
      ['classification', 'segmentation'],
    );
  });
});
