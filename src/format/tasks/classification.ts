import type { RuleFinding, SpecRule } from '../rules.js';
import { KNOWN_CLASS_COUNTS } from '../zoo-catalog.js';
import { headIsWritten, stagesOrStrategy } from './common-rules.js';
import type { TaskFormat } from './task-format.js';

/** The last layer produces the class scores: dense, one unit per class, softmax or linear. */
export const headEndsInClassifier: SpecRule = ({ head, dataset }) => {
  const i = head.length - 1;
  const last = head[i];
  if (last === undefined) return [];
  if (last.type !== 'dense') {
    return [
      {
        path: ['head', i],
        message: `the head must end with a dense layer that outputs one score per class, not \`${last.type}\``,
        hint: 'add `- dense: { units: classes, activation: softmax }` at the end',
      },
    ];
  }
  const findings: RuleFinding[] = [];
  const known = dataset.classNames?.length ?? KNOWN_CLASS_COUNTS[dataset.format];
  if (typeof last.units === 'number' && known !== undefined && last.units !== known) {
    findings.push({
      path: ['head', i, 'dense', 'units'],
      message: `the last layer outputs ${last.units} scores, but the dataset has ${known} classes`,
      hint: 'write `units: classes` and tlpipe fills in the class count',
    });
  }
  if (last.activation !== 'softmax' && last.activation !== 'linear') {
    findings.push({
      path: ['head', i, 'dense', 'activation'],
      message: `the last layer's activation must be softmax (probabilities) or linear (logits), not ${last.activation}`,
      hint: 'tlpipe trains with categorical cross-entropy over the classes',
    });
  }
  return findings;
};

/** One label per example, from a head that ends in a dense layer with `units: classes`. */
export const classificationFormat: TaskFormat = {
  description:
    'classification (the default): one class per example (image or row), scored by accuracy, per-class F1 and a confusion matrix',
  ownKeys: [],
  fileRules: [headIsWritten, stagesOrStrategy],
  // `units: classes` only last is still a common rule (a warning on any dense layer).
  rules: [headEndsInClassifier],
  monitors: [],
  sweepMetrics: ['val_accuracy', 'val_loss', 'test_accuracy', 'test_loss'],
};
