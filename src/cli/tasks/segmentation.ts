import { stagedPlanLines } from '../format-plan.js';
import { terminalText } from '../terminal-text.js';
import type { TaskLines } from './task-lines.js';

/** Segmentation: the staged plan; a mask's classes by their share of the pixels, and where its PNG went. */
export const segmentationLines: TaskLines = {
  plan: (plan) => stagedPlanLines(plan),
  answers: (p) => p.segmentation !== undefined,
  prediction: (p) =>
    `${terminalText(p.file)}: ${p.top.map((t) => `${terminalText(t.label)} ${(t.probability * 100).toFixed(1)}% of pixels`).join(', ')}${p.segmentation?.mask ? ` → ${terminalText(p.segmentation.mask)}` : ''}`,
};
