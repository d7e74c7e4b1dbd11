import type { SegmentationEvaluation } from '../../api/index.js';
import { stagedPlanLines } from '../format-plan.js';
import { terminalText } from '../terminal-text.js';
import type { TaskLines } from './task-lines.js';

/** Segmentation: the staged plan; a mask's classes by their share of the pixels, and where its PNG went. */
export const segmentationLines: TaskLines<'segmentation'> = {
  evaluation: (e) => formatSegmentation(e),
  plan: (plan) => stagedPlanLines(plan),
  answers: (p) => p.segmentation !== undefined,
  prediction: (p) =>
    `${terminalText(p.file)}: ${p.top.map((t) => `${terminalText(t.label)} ${(t.probability * 100).toFixed(1)}% of pixels`).join(', ')}${p.segmentation?.mask ? ` → ${terminalText(p.segmentation.mask)}` : ''}`,
};

/** A segmentation model's: mean IoU and pixel accuracy, IoU per class with its true pixels, the images of lowest mean IoU. */
function formatSegmentation({ metrics, classNames }: SegmentationEvaluation): string {
  const shown = classNames.map(terminalText);
  const width = Math.max(5, ...shown.map((n) => n.length));
  const perClass = classNames.map((name, i) => {
    const { iou, pixels } = metrics.perClass[name]!;
    // No IoU: the class is in neither the truth nor the prediction, and is left out of the mean.
    return `  ${shown[i]!.padEnd(width)}  ${iou === null ? '–'.padEnd(6) : iou.toFixed(4)}  ${String(pixels).padStart(11)}`;
  });
  return [
    `mean IoU ${metrics.meanIoU.toFixed(4)}  pixel accuracy ${metrics.pixelAccuracy.toFixed(4)}  loss ${metrics.loss.toFixed(4)}  (${metrics.examples} images)`,
    '',
    `  ${'class'.padEnd(width)}  IoU     true pixels`,
    ...perClass,
    '',
    'lowest mean IoU:',
    ...metrics.worst.map((w) => `  ${terminalText(w.example)}: ${w.meanIoU.toFixed(4)}`),
  ].join('\n');
}
