import { stagedPlanLines } from '../format-plan.js';
import { terminalText } from '../terminal-text.js';
import type { TaskLines } from './task-lines.js';

/** Classification: the staged plan; an image's (or row's) most likely classes. */
export const classificationLines: TaskLines = {
  plan: (plan) => stagedPlanLines(plan),
  // The default: every prediction that is not another task's.
  answers: () => true,
  prediction: (p) =>
    `${terminalText(p.file)}: ${p.top.map((t) => `${terminalText(t.label)} ${(t.probability * 100).toFixed(1)}%`).join(', ')}`,
};
