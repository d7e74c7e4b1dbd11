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
  const stageLines = plan.stages.map((stage) => {
    const share = `${stage.trainableParams.toLocaleString('en-US')} of ${stage.totalParams.toLocaleString('en-US')} weights learn`;
    if (stage.trainable === 'head') return `  ${stage.name}: head only (base frozen); ${share}`;
    return `  ${stage.name}: head + ${stage.trainableBaseLayers.length} of ${plan.base.layers.length} base layers (${collapse(stage.trainableBaseLayers, plan.base.layers.map((l) => l.name))}); batch norm ${stage.batchNorm}; ${share}`;
  });
  return [
    `pipeline ${plan.pipeline}  plan ${plan.fingerprint.slice(0, 8)}  seed ${plan.seed}  backend ${plan.backend}`,
    `classes (${plan.classes.count}): ${plan.classes.names.join(', ')}`,
    `features: ${features}`,
    `loss: ${plan.loss}${plan.classWeights ? `, class weights ${plan.classWeights.map((w) => w.toFixed(3)).join(' ')}` : ''}`,
    `pixels: ${plan.normalize.description}${plan.augment ? `; augmented: ${Object.entries(plan.augment).filter(([, v]) => v).map(([k, v]) => (v === true ? k : `${k} ${v}`)).join(', ')}` : ''}`,
    'what learns:',
    ...stageLines,
    '',
    line(header),
    line(widths.map((w) => '-'.repeat(w))),
    ...rows.map(line),
  ].join('\n');
}

/** Trainable layers as runs of consecutive base layers: "block_15_expand…Conv_1_bn (22)". */
function collapse(trainable: string[], layers: string[]): string {
  const set = new Set(trainable);
  const runs: string[] = [];
  let start = -1;
  layers.forEach((name, i) => {
    if (set.has(name) && start < 0) start = i;
    if ((!set.has(name) || i === layers.length - 1) && start >= 0) {
      const end = set.has(name) ? i : i - 1;
      runs.push(end === start ? layers[start]! : `${layers[start]}…${layers[end]} (${end - start + 1})`);
      start = -1;
    }
  });
  return runs.join(', ');
}
