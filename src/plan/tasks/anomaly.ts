import type { Diagnostic, Result } from '../../diagnostics/diagnostic.js';
import { didYouMean } from '../../diagnostics/did-you-mean.js';
import type { AnomalySpec, PipelineSpec } from '../../format/types.js';
import { assemblePlan } from '../compile-steps/assemble-plan.js';
import { resolveClasses } from '../compile-steps/classes.js';
import { setupTasks } from '../compile-steps/setup-tasks.js';
import { fingerprinted, withTask } from '../compile-steps/task-list.js';
import type { AnomalyPlan, BankTask, EvaluateTask, ExportTask, Plan, PlanInputs, PlanTask } from '../types.js';

/**
 * The patch layers when `anomaly.layers` is not written: mid-level blocks,
 * local enough to place a defect and deep enough to be robust to noise
 * (PatchCore takes a ResNet's layer2 and layer3 for the same reason). For
 * mobilenet_v2, measured on one-class MNIST (`npm run bench:anomaly`):
 * block_6 + block_13 at 64×64 gave a mean AUROC of 0.961 over the ten
 * digits; block_3 + block_6 was slower (a 16×16 grid) and no better on
 * the digits tried.
 */
const DEFAULT_LAYERS: Readonly<Record<string, readonly string[]>> = {
  mobilenet_v2: ['block_6_expand_relu', 'block_13_expand_relu'],
};
/** The memory bank is held in memory and written to the model folder: bounded, with a stated reason when it is not. */
export const MAX_BANK_BYTES = 256 * 1024 * 1024;
/** Every normal patch is held at once before the coreset is chosen (and projected on the backend: wasm's heap is 4 GiB). */
const MAX_PATCH_BYTES = 1024 * 1024 * 1024;
/**
 * The greedy coreset compares each patch with each centre it keeps, in JS
 * (128 numbers a pair): 300 normal digits at 64×64 (19 200 patches, 384
 * kept, 7·10⁶ pairs) take about 10 s here, so this bound is about an hour.
 */
const MAX_CORESET_PAIRS = 2e9;
const FLOAT_BYTES = 4;

/**
 * `task: anomaly`: no head and no stages. The frozen base's features at
 * `anomaly.layers`, as local patches of the normal training images, fill a
 * memory bank in one pass (bank); the threshold is a quantile of the normal
 * validation images' scores; the test split (every class) is scored normal
 * vs not (evaluate); the base cut at the deepest patch layer, the bank and
 * the threshold are exported together.
 */
/** The memory bank is built from the base as the artifacts give it: an adaptation would be silently ignored, so it is an error. */
function noAdaptation(spec: PipelineSpec): Diagnostic[] {
  if (!spec.adapt) return [];
  return [
    {
      file: spec.file,
      severity: 'error',
      path: ['adapt'],
      message: `task: anomaly does not adapt its base (adapt.method ${spec.adapt.method}): the memory bank's patch features come from the base as it is`,
      hint: 'remove adapt, or use task: classification',
    },
  ];
}

export function planAnomaly(spec: PipelineSpec, inputs: PlanInputs): Result<Plan> {
  const classes = resolveClasses(spec, inputs);
  const anomaly = spec.anomaly!;
  const patches = patchLayers(spec, inputs, anomaly);
  const normal = normalClasses(spec, anomaly, classes.names);
  const problems = [
    ...classes.diagnostics,
    ...patches.diagnostics,
    ...normal.diagnostics,
    ...needsValidation(spec, inputs),
    ...noAdaptation(spec),
  ];
  if (problems.length > 0 || !patches.value) return { ok: false, diagnostics: problems };

  const { layers, cut, grid, channels } = patches.value;
  const normalTrain = normal.indexes.reduce((sum, c) => sum + (inputs.dataset.trainPerClass[c] ?? 0), 0);
  const patchCount = normalTrain * grid[0] * grid[1];
  const bankPatches = Math.max(1, Math.ceil(patchCount * anomaly.coreset));
  const bankBytes = bankPatches * channels * FLOAT_BYTES;
  const tooMuch = bankBounds(spec, { patchCount, bankPatches, bankBytes, channels });
  if (tooMuch.length > 0) return { ok: false, diagnostics: tooMuch };
  const plan: AnomalyPlan = {
    normal: normal.indexes.map((c) => classes.names[c]!),
    normalClasses: normal.indexes,
    layers,
    grid,
    channels,
    coreset: anomaly.coreset,
    quantile: anomaly.quantile,
    bank: { patches: bankPatches, bytes: bankBytes, fromPatches: patchCount },
  };
  const resolved = { ...spec, base: { ...spec.base, cut } };
  // The data's splits and the base cut at the deepest patch layer, as for every task; no head.
  const setup = setupTasks(resolved, inputs, [])
    .filter((t) => t.kind === 'data' || t.kind === 'base')
    // The description only (no fingerprint covers it): the facts' output shape is at the file's cut, not this one.
    .map((t) =>
      t.kind === 'base'
        ? { ...t, description: `${spec.base.model} cut at ${cut}, frozen: its maps at ${layers.join(' and ')}` }
        : t,
    );
  const banked = withTask<BankTask>(setup, {
    id: 'bank',
    kind: 'bank',
    dependsOn: ['data', 'base'],
    description: `memory bank: ${layers.join(' + ')} as ${grid.join('×')} patches of ${channels} features from ${normalTrain} normal training images, ${bankPatches} kept (coreset ${anomaly.coreset}, ${mib(bankBytes)}); threshold at the ${anomaly.quantile} quantile of normal validation scores`,
    config: { ...plan, seed: spec.seed },
  });
  const evaluated =
    inputs.dataset.counts.test > 0
      ? withTask<EvaluateTask>(banked, {
          id: 'evaluate',
          kind: 'evaluate',
          on: 'images',
          dependsOn: ['bank', 'data'],
          description: `score the test split (every class; normal: ${plan.normal.join(', ')}): AUROC, average precision, F1 at the threshold`,
          config: {},
        })
      : banked;
  const exported = fingerprinted<ExportTask>(evaluated, {
    id: 'export',
    kind: 'export',
    dependsOn: ['bank'],
    config: { classNames: classes.names, normal: plan.normal },
    ...(spec.export.demoPage !== undefined ? { demoPage: spec.export.demoPage } : {}),
    description: `export the base cut at ${cut} (tfjs LayersModel), the memory bank and its threshold, with labels.json and preprocessing.json`,
  });
  const tasks: PlanTask[] = [...evaluated, exported];
  const assembled = assemblePlan(resolved, atCut(inputs, cut), {
    names: classes.names,
    head: [],
    features: {
      mode: 'precompute',
      headLayersApplied: 0,
      shape: [...grid, channels],
      bytes: patchCount * channels * FLOAT_BYTES,
    },
    stages: [],
    tasks,
    exported,
  });
  return { ok: true, warnings: [], value: { ...assembled, task: 'anomaly', anomaly: plan } };
}

interface PatchLayers {
  layers: string[];
  /** The deepest patch layer: where the base is cut. */
  cut: string;
  /** The largest grid among the layers: every layer's map is resized to it. */
  grid: [number, number];
  /** Features per patch: the layers' channels, concatenated. */
  channels: number;
}

/** The patch layers, written or the zoo's default, each a feature map of the base. */
function patchLayers(
  spec: PipelineSpec,
  inputs: PlanInputs,
  anomaly: AnomalySpec,
): { value?: PatchLayers; diagnostics: Diagnostic[] } {
  const error = (path: Diagnostic['path'], message: string, hint?: string): { diagnostics: Diagnostic[] } => ({
    diagnostics: [{ file: spec.file, path, message, hint, severity: 'error' }],
  });
  const layers = anomaly.layers.length > 0 ? anomaly.layers : [...(DEFAULT_LAYERS[spec.base.model] ?? [])];
  if (layers.length === 0) {
    return error(
      ['anomaly'],
      `\`${spec.base.model}\` has no default patch layers`,
      'name them: `anomaly: { layers: [<a mid-level feature map>, <a deeper one>] }` (`tlpipe describe` lists the layers)',
    );
  }
  const known = inputs.base.layers;
  const positions: number[] = [];
  const shapes: number[][] = [];
  for (const [i, name] of layers.entries()) {
    const at = known.findIndex((l) => l.name === name);
    const shape = known[at]?.outputShape;
    if (at < 0) {
      return error(
        ['anomaly', 'layers', i],
        `the base has no layer \`${name}\` below its cut`,
        didYouMean(
          name,
          known.map((l) => l.name),
        ) ?? 'list the layers with `tlpipe describe`',
      );
    }
    if (!shape || shape.length !== 3) {
      return error(
        ['anomaly', 'layers', i],
        `\`${name}\` outputs ${shape ? `[${shape.join(', ')}]` : 'several tensors'}, not a feature map [height, width, channels]`,
        'name a convolutional layer (its activation), e.g. block_3_expand_relu',
      );
    }
    positions.push(at);
    shapes.push(shape);
  }
  const largest = shapes.reduce((a, b) => (b[0]! * b[1]! > a[0]! * a[1]! ? b : a));
  return {
    value: {
      layers,
      cut: known[Math.max(...positions)]!.name,
      grid: [largest[0]!, largest[1]!],
      channels: shapes.reduce((sum, s) => sum + s[2]!, 0),
    },
    diagnostics: [],
  };
}

/** The normal classes by label, each named in the data. */
function normalClasses(
  spec: PipelineSpec,
  anomaly: AnomalySpec,
  names: string[],
): { indexes: number[]; diagnostics: Diagnostic[] } {
  const diagnostics: Diagnostic[] = [];
  const indexes: number[] = [];
  for (const [i, name] of anomaly.normal.entries()) {
    const index = names.indexOf(name);
    if (index >= 0) indexes.push(index);
    else
      diagnostics.push({
        file: spec.file,
        path: ['anomaly', 'normal', i],
        message: `no class is named \`${name}\`; the classes are ${names.join(', ')}`,
        hint: didYouMean(name, names) ?? 'name a class folder (or one of `dataset.classNames`)',
        severity: 'error',
      });
  }
  if (diagnostics.length === 0 && indexes.length === names.length) {
    diagnostics.push({
      file: spec.file,
      path: ['anomaly', 'normal'],
      message: 'every class is normal, so the test split has no anomalies to find',
      hint: 'leave at least one class out of `anomaly.normal`',
      severity: 'error',
    });
  }
  return { indexes: indexes.sort((a, b) => a - b), diagnostics };
}

/**
 * What fitting the bank holds and does, bounded before anything runs: every
 * normal patch is held at once (and projected on the backend) before the
 * coreset is chosen, the greedy compares every patch with every centre it
 * keeps, and the bank itself is written to the model folder.
 */
function bankBounds(
  spec: PipelineSpec,
  size: { patchCount: number; bankPatches: number; bankBytes: number; channels: number },
): Diagnostic[] {
  const error = (path: Diagnostic['path'], message: string, hint: string): Diagnostic => ({
    file: spec.file,
    path,
    message,
    hint,
    severity: 'error',
  });
  const patchBytes = size.patchCount * size.channels * FLOAT_BYTES;
  const smaller = 'lower `dataset.limit.perClass` (fewer normal images) or the image size (fewer patches per image)';
  if (patchBytes > MAX_PATCH_BYTES)
    return [
      error(
        ['dataset', 'limit'],
        `the normal training images make ${size.patchCount} patches × ${size.channels} features (${mib(patchBytes)}), held at once to choose the bank from: over tlpipe's ${mib(MAX_PATCH_BYTES)}`,
        smaller,
      ),
    ];
  if (size.patchCount * size.bankPatches > MAX_CORESET_PAIRS)
    return [
      error(
        ['anomaly', 'coreset'],
        `choosing ${size.bankPatches} of ${size.patchCount} patches compares every patch with every one kept (${(size.patchCount * size.bankPatches).toExponential(1)} pairs): over tlpipe's ${MAX_CORESET_PAIRS.toExponential(0)}`,
        `lower \`anomaly.coreset\` (fewer kept), or ${smaller}`,
      ),
    ];
  if (size.bankBytes > MAX_BANK_BYTES)
    return [
      error(
        ['anomaly', 'coreset'],
        `the memory bank would hold ${size.bankPatches} patches × ${size.channels} features (${mib(size.bankBytes)}), over tlpipe's ${mib(MAX_BANK_BYTES)}`,
        `lower \`anomaly.coreset\`, or ${smaller}`,
      ),
    ];
  return [];
}

/** The threshold is a quantile of normal validation scores: images the bank was not made from. */
function needsValidation(spec: PipelineSpec, inputs: PlanInputs): Diagnostic[] {
  return inputs.dataset.counts.validation > 0
    ? []
    : [
        {
          file: spec.file,
          path: ['dataset', 'validation'],
          message:
            "the anomaly threshold is taken from normal validation images' scores, and this pipeline holds none out",
          hint: 'hold out a fraction of the training images, e.g. `validation: 0.2` (only the normal ones are used)',
          severity: 'error',
        },
      ];
}

const mib = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;

/**
 * The base's facts at the anomaly cut, the deepest patch layer: the facts
 * were gathered at the file's cut (the zoo's feature layer), above it, and
 * plan.json lists the layers the exported model keeps.
 */
function atCut(inputs: PlanInputs, cut: string): PlanInputs {
  const end = inputs.base.layers.findIndex((l) => l.name === cut);
  if (end < 0) return inputs;
  const layers = inputs.base.layers.slice(0, end + 1);
  const kept = layers[end]!;
  return {
    ...inputs,
    base: {
      ...inputs.base,
      layers,
      // layerCount counts the input layer too; `layers` leaves it out.
      layerCount: inputs.base.layerCount - inputs.base.layers.length + layers.length,
      paramCount: layers.reduce((sum, l) => sum + l.params, 0),
      ...(kept.outputShape ? { cutOutputShape: kept.outputShape } : {}),
    },
  };
}
