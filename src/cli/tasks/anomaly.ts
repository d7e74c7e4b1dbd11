import type { DatasetReport } from '../../api/index.js';
import type { Plan } from '../../plan/types.js';
import { terminalText } from '../terminal-text.js';
import type { TaskLines } from './task-lines.js';

/** Anomaly: the bank and the threshold instead of stages; the normal classes' share of the data; a score and a verdict. */
export const anomalyLines: TaskLines = {
  plan: (plan) => bankLines(plan),
  data: (report) => (report.normal ? normalImages(report, report.normal) : undefined),
  answers: (p) => p.anomaly !== undefined,
  prediction: (p) =>
    `${terminalText(p.file)}: ${p.anomaly!.anomalous ? 'anomalous' : 'normal'} (score ${p.anomaly!.score.toFixed(3)}, threshold ${p.anomaly!.threshold.toFixed(3)})`,
};

/** What a `task: anomaly` plan does instead of training: the patches, the bank, the threshold. */
function bankLines(plan: Plan): string[] {
  const anomaly = plan.anomaly;
  if (!anomaly) return [];
  const mib = (anomaly.bank.bytes / 2 ** 20).toFixed(1);
  return [
    `task: anomaly — normal: ${anomaly.normal.map(terminalText).join(', ')}; every other class is anomalous`,
    `patches: ${anomaly.layers.join(' + ')}, each map averaged over 3×3 and resized to ${anomaly.grid.join('×')}, ${anomaly.channels} features per patch`,
    `memory bank: ${anomaly.bank.patches} of the ${anomaly.bank.fromPatches} normal training patches (greedy coreset ${anomaly.coreset}, ${mib} MiB), in model/ with the threshold`,
    `threshold: the ${anomaly.quantile} quantile of the normal validation images' scores`,
    `pixels: ${plan.normalize.description}`,
    'what learns: nothing — the base stays frozen and the bank is filled in one pass',
  ];
}

/** Which of the examples the bank, the threshold and the test use. */
function normalImages(report: DatasetReport, normal: string[]): string {
  const indexes = normal.map((name) => report.classNames.indexOf(name)).filter((c) => c >= 0);
  const sum = (split: 'train' | 'validation'): number =>
    indexes.reduce((n, c) => n + (report.counts[split][c] ?? 0), 0);
  return `task anomaly: the memory bank is filled from the ${sum('train')} training images of the normal classes (${normal.map(terminalText).join(', ')}), the threshold taken from their ${sum('validation')} validation images; the test split scores every class`;
}
