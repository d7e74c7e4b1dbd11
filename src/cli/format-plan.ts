import type { Plan } from '../plan/types.js';

/** The plan as a table a person reads before spending minutes on a run. */
export function formatPlan(plan: Plan): string {
  const rows = plan.tasks.map((t) => [t.id, t.fingerprint.slice(0, 12), t.dependsOn.join(', ') || '–', t.description]);
  const header = ['task', 'fingerprint', 'after', 'what'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]): string => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ');
  const features =
    plan.features.mode === 'precompute'
      ? `precomputed once with the frozen base (${(plan.features.bytes / 2 ** 20).toFixed(1)} MiB in memory)`
      : `the base runs on every batch: ${plan.features.reason}`;
  return [
    `pipeline ${plan.pipeline}  plan ${plan.fingerprint.slice(0, 8)}  seed ${plan.seed}  backend ${plan.backend}`,
    `classes (${plan.classes.count}): ${plan.classes.names.join(', ')}`,
    `features: ${features}`,
    `loss: ${plan.loss}${plan.classWeights ? `, class weights ${plan.classWeights.map((w) => w.toFixed(3)).join(' ')}` : ''}`,
    `pixels: ${plan.normalize.description}${plan.augment ? `; augmented: ${Object.entries(plan.augment).filter(([, v]) => v).map(([k, v]) => (v === true ? k : `${k} ${v}`)).join(', ')}` : ''}`,
    '',
    line(header),
    line(widths.map((w) => '-'.repeat(w))),
    ...rows.map(line),
  ].join('\n');
}
