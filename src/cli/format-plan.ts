import { stringify } from 'yaml';
import { describeSchedule } from '../api/describe.js';
import type { Plan, PlanStage } from '../plan/types.js';
import { TEXT_WIDTH, wrapParagraph } from './text-table.js';
import { describeAlignment, stageBatchNorm } from '../api/describe.js';
import { TASK_LINES } from './tasks/registry.js';
import { terminalText } from './terminal-text.js';

/** The plan as a table a person reads before spending minutes on a run. */
export function formatPlan(plan: Plan): string {
  const rows = plan.tasks.map((t) => [t.id, t.fingerprint.slice(0, 12), t.dependsOn.join(', ') || '–', t.description]);
  const header = ['task', 'fingerprint', 'after'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const heading = [
    ...(plan.strategy ? [describeStrategy(plan.strategy), ''] : []),
    `pipeline ${plan.pipeline}  plan ${plan.fingerprint.slice(0, 8)}  seed ${plan.seed}  backend ${plan.backend}`,
    // Class names come from the data (folder names, classNames): shown escaped.
    `classes (${plan.classes.count}): ${plan.classes.names.map(terminalText).join(', ')}`,
  ];
  const top = [...heading, ...TASK_LINES[plan.task ?? 'classification'].plan(plan)];
  // Each line of the top part, and the table's last column, wrap to fit TEXT_WIDTH.
  return [
    ...top.flatMap((l) => l.split('\n')).flatMap((l) => (l === '' ? [''] : wrapParagraph(l))),
    '',
    // One line per task (id, fingerprint, what it runs after: wrapped under itself when long), and under it what it does, wrapped.
    ...taskTable(header, widths, rows),
  ].join('\n');
}

/** What a plan that trains stages does (classification, segmentation): features, loss, checkpoints, pixels or rows, and what learns in each stage. */
export function stagedPlanLines(plan: Plan): string[] {
  const examples = plan.data.columns ? 'rows' : 'images';
  const features =
    plan.base.model === 'none'
      ? `none: there is no base, so the head trains on the ${plan.data.columns ? 'rows' : 'image batches'} themselves`
      : plan.stages.every((s) => s.trainable === 'base+head')
        ? `none: every stage trains base layers, so ${examples} run through the whole model`
        : plan.features.mode === 'precompute'
          ? `precomputed once with the frozen base (${(plan.features.bytes / 2 ** 20).toFixed(1)} MiB in memory), kept in the stage cache for later runs with the same data, base and pooling`
          : `the base runs on every batch, so features cannot be cached: ${plan.features.reason}`;
  const stageLines = plan.stages.flatMap((stage) => {
    const share = `${stage.trainableParams.toLocaleString('en-US')} of ${stage.totalParams.toLocaleString('en-US')} weights learn`;
    const how = `    ${describeTraining(stage)}`;
    if (stage.trainable === 'head') return [`  ${stage.name}: head only (base frozen); ${share}`, how];
    return [
      `  ${stage.name}: head + ${stage.trainableBaseLayers.length} of ${plan.base.layers.length} base layers; batch norm ${stageBatchNorm(plan, stage)}; ${share}`,
      how,
      `    ${describePrefix(stage)}`,
      ...(stage.alignment ? [`    ${describeAlignment(stage.alignment)}`] : []),
      ...layerRuns(plan.base.layers, new Set(stage.trainableBaseLayers)).map((line) => `    ${line}`),
    ];
  });
  return [
    `features: ${features}`,
    ...(plan.adapt
      ? [
          `adapt: AdaBN, each domain with its own statistics: ${plan.adapt.batchNormLayers} batch-norm layers re-estimated on the ${plan.adapt.training} training images (the head trains with them), then on the ${plan.adapt.images} target images (adapt.images) for the evaluation and the exported model; no other weight changes`,
        ]
      : []),
    `loss: ${plan.loss}`,
    `checkpoints: every ${plan.checkpoints.every} epoch(s), keep the last ${plan.checkpoints.keepLast}${plan.checkpoints.best ? ` and the best by ${plan.checkpoints.monitor} (${plan.checkpoints.mode})` : ''}`,
    plan.data.columns
      ? `rows: ${plan.data.columns.length} feature columns (${plan.data.columns.map(terminalText).join(', ')}), each standardised with the training split's mean and std`
      : `pixels: ${plan.normalize.description}${
          plan.augment
            ? `; augmented: ${Object.entries(plan.augment)
                .filter(([, v]) => v)
                .map(([k, v]) => (v === true ? k : `${k} ${v}`))
                .join(', ')}`
            : ''
        }`,
    ...(plan.baseline === 'scratch'
      ? [
          'baseline: the same architecture and stages from random initialisation (every layer trains, batch norm learns), recorded beside this run',
        ]
      : []),
    'what learns:',
    ...stageLines,
  ];
}

/**
 * The task table: id, fingerprint and the tasks it runs after, each row with
 * what it does wrapped under it. When the ids are so long that "after" does
 * not fit beside them (long stage names), it goes on a line of its own under
 * the row instead, so no line passes TEXT_WIDTH.
 */
function taskTable(header: string[], widths: number[], rows: string[][]): string[] {
  const columns = (cells: string[]): string =>
    cells
      .map((cell, i) => cell.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  const besides = widths[0]! + 2 + widths[1]! + 2 + widths[2]! <= TEXT_WIDTH;
  const shown = besides ? 3 : 2;
  return [
    columns(header.slice(0, shown)),
    columns(widths.slice(0, shown).map((w) => '-'.repeat(w))),
    ...rows.flatMap((row) => [
      columns(row.slice(0, shown)),
      ...(besides ? [] : wrapParagraph(`  after: ${row[2]}`, TEXT_WIDTH, 2)),
      ...wrapParagraph(`  ${row[3]}`, TEXT_WIDTH, 2),
    ]),
  ];
}

/** What the strategy chose and filled, as YAML to copy into the file to pin or change it. */
function describeStrategy(strategy: NonNullable<Plan['strategy']>): string {
  const chosen = strategy.requested === 'auto' ? `auto → ${strategy.chosen}` : strategy.chosen;
  const m = strategy.measurement;
  const why = m
    ? [
        `  ${m.sentence}`,
        `  linear probes (${m.sample.fit}/class fitted, ${m.sample.score}/class scored): ${m.probes.map((p) => `${p.cut} ${p.accuracy.toFixed(2)}`).join(', ')}`,
      ]
    : [];
  const filled =
    Object.keys(strategy.filled).length > 0
      ? [
          '  it fills (keys written in the file win; copy these to pin or change them):',
          ...stringify(strategy.filled)
            .trimEnd()
            .split('\n')
            .map((l) => `    ${l}`),
        ]
      : ['  the file writes every key it would fill'];
  return [`strategy ${chosen}`, ...why, ...filled].join('\n');
}

/** What a fine-tuning stage runs images through: above its frozen prefix, or the whole model and why. */
function describePrefix(stage: PlanStage): string {
  const prefix = stage.frozenPrefix;
  if (!prefix) return `images run through the whole model every step (${stage.whole ?? 'no frozen prefix'})`;
  const size = `${(prefix.bytes / 2 ** 20).toFixed(1)} MiB`;
  return prefix.mode === 'precompute'
    ? `trains above ${prefix.boundary}: the frozen prefix's output (${prefix.shape.join('×')}) computed once per example and kept (${size})`
    : `trains above ${prefix.boundary}: the frozen prefix runs every batch, outside the gradient tape (${prefix.reason})`;
}

/** Optimizer, rates per parameter group, schedule and callbacks of one stage, in one line. */
function describeTraining(stage: PlanStage): string {
  const { optimizer, parameterGroups: groups } = stage;
  const rates =
    new Set(groups.map((g) => g.learningRate)).size === 1
      ? `lr ${groups[0]!.learningRate}`
      : `lr ${groups.map((g) => `${g.name} ${g.learningRate}`).join(', ')} (one optimizer each)`;
  const extras = [
    optimizer.momentum > 0 ? `momentum ${optimizer.momentum}${optimizer.nesterov ? ' nesterov' : ''}` : '',
    optimizer.weightDecay > 0 ? `weight decay ${optimizer.weightDecay}` : '',
    `schedule ${describeSchedule(stage.schedule)}`,
    stage.earlyStopping
      ? `early stopping on ${stage.earlyStopping.monitor} (${stage.earlyStopping.mode}, patience ${stage.earlyStopping.patience}${stage.earlyStopping.restoreBest ? ', restore best' : ''})`
      : '',
    stage.reduceLROnPlateau
      ? `lr ×${stage.reduceLROnPlateau.factor} on a ${stage.reduceLROnPlateau.monitor} plateau of ${stage.reduceLROnPlateau.patience} epoch(s)`
      : '',
    stage.labelSmoothing > 0 ? `label smoothing ${stage.labelSmoothing}` : '',
    stage.classWeights ? `class weights ${stage.classWeights.map((w) => w.toFixed(3)).join(' ')}` : '',
  ].filter((s) => s !== '');
  return [`${optimizer.name} ${rates}, batch ${stage.batchSize}`, ...extras].join('; ');
}

/** The base's layers as runs of consecutive layers in the same state, one table row per run. */
function layerRuns(layers: Plan['base']['layers'], trainable: ReadonlySet<string>): string[] {
  const runs: { first: string; last: string; count: number; params: number; learns: boolean }[] = [];
  for (const layer of layers) {
    const learns = trainable.has(layer.name);
    const run = runs[runs.length - 1];
    if (run && run.learns === learns) {
      run.last = layer.name;
      run.count++;
      run.params += layer.params;
    } else runs.push({ first: layer.name, last: layer.name, count: 1, params: layer.params, learns });
  }
  const rows = runs.map((r) => [
    r.learns ? 'trainable' : 'frozen',
    r.count === 1 ? r.first : `${r.first} … ${r.last}`,
    `${r.count} layer${r.count === 1 ? '' : 's'}`,
    `${r.params.toLocaleString('en-US')} weights`,
  ]);
  const widths = [0, 1, 2, 3].map((i) => Math.max(...rows.map((row) => row[i]!.length)));
  return rows.map((row) =>
    row.map((cell, i) => (i === 3 ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!))).join('  '),
  );
}
