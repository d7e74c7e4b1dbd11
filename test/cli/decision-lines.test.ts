import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { DecisionMetrics } from '../../src/api/index.js';
import { decisionLines } from '../../src/cli/tasks/decision-lines.js';

const bins = Array.from({ length: 10 }, (_, k) => ({
  lower: k / 10,
  upper: (k + 1) / 10,
  count: 0,
  confidence: null,
  accuracy: null,
}));
const binary = { accuracy: 0.9, precision: 0.8, recall: 1, f1: 0.8889, balancedAccuracy: 0.9 };

describe('tlpipe evaluate: the decision rule in a few lines', () => {
  const cases: { name: string; decision: DecisionMetrics | undefined; lines: RegExp[] }[] = [
    { name: 'no rule: nothing', decision: undefined, lines: [] },
    {
      name: 'calibration: the temperature, ECE and NLL before → after',
      decision: {
        calibration: {
          temperature: 2.7489,
          before: { ece: 0.2569, nll: 2.4579, bins },
          after: { ece: 0.0577, nll: 1.3863, bins },
        },
      },
      lines: [/^ {2}temperature 2\.749: expected calibration error 0\.2569 → 0\.0577, NLL 2\.4579 → 1\.3863$/],
    },
    {
      name: 'a threshold: its value and class, tuned beside argmax',
      decision: {
        threshold: {
          positive: 'four',
          value: 0.1846,
          metric: 'precisionAtRecall',
          recall: 0.95,
          tuned: binary,
          argmax: binary,
        },
      },
      lines: [
        /^ {2}threshold 0\.1846 on four \(tuned for precision at recall ≥ 0\.95 on validation\)$/,
        /^ {4}tuned: {2}accuracy 0\.9000/,
        /^ {4}argmax: accuracy/,
      ],
    },
    {
      name: 'abstain: coverage and the accuracy answered',
      decision: {
        abstain: { confidence: 0.6, coverage: 0.45, answered: 90, accuracyAnswered: 0.7667, accuracyAll: 0.585 },
      },
      lines: [/^ {2}abstain below 0\.6: answers 45\.0% \(90\), accuracy 0\.7667 on those \(0\.5850 on all\)$/],
    },
  ];
  for (const c of cases)
    it(c.name, () => {
      const lines = decisionLines(c.decision);
      if (c.lines.length === 0) return assert.deepEqual(lines, []);
      assert.equal(lines[1], 'decision rule (decision.json):');
      for (const line of c.lines)
        assert.ok(
          lines.some((l) => line.test(l)),
          `${line} in\n${lines.join('\n')}`,
        );
    });
});
