import type { Diagnostic } from '../../diagnostics/diagnostic.js';
import type { HeadLayerEntry } from '../../format/head-layers/entry.js';
import { headLayerEntry } from '../../format/head-layers/registry.js';
import { headShapeProblems, headShapes, type Dim } from '../../format/head-shape.js';
import type { HeadLayerSpec, PipelineSpec } from '../../format/types.js';
import type { ExampleLoss, PlanInputs, ResolvedHeadLayer } from '../types.js';

/**
 * The head with `classes` (`units: classes`, `filters: classes`) replaced
 * by the class count found in the data. Problems: layers that cannot take
 * the base's output shape (skip connections checked against the base's
 * layers), and a last dense layer whose score count is not the class count.
 */
export function resolveHead(
  spec: PipelineSpec,
  inputs: Pick<PlanInputs, 'dataset' | 'base'>,
): { head: ResolvedHeadLayer[]; diagnostics: Diagnostic[] } {
  const { numClasses } = inputs.dataset;
  const diagnostics: Diagnostic[] = [];
  const error = (path: Diagnostic['path'], message: string, hint?: string): void => {
    diagnostics.push({ file: spec.file, path, message, hint, severity: 'error' });
  };
  for (const problem of headShapeProblems(spec.head, inputs.base.cutOutputShape, baseLayerShapes(inputs))) {
    error(['head', problem.index, ...(problem.key ?? [])], problem.message, problem.hint);
  }
  const head = spec.head.map((layer) => fillClasses(layer, numClasses));
  const lastIndex = head.length - 1;
  const last = head[lastIndex];
  if (last?.type === 'dense' && last.units !== numClasses) {
    error(
      ['head', lastIndex, 'dense', 'units'],
      `the last layer outputs ${last.units} scores, but the dataset has ${numClasses} classes`,
      'write `units: classes` and tlpipe fills in the class count',
    );
  }
  return { head, diagnostics };
}

/** The layer with its entry's `classes` option (if it has one and says so) made the class count. */
function fillClasses(layer: HeadLayerSpec, numClasses: number): ResolvedHeadLayer {
  const option = (headLayerEntry(layer.type) as HeadLayerEntry<HeadLayerSpec>).classesOption;
  const filled =
    option !== undefined && (layer as unknown as Record<string, unknown>)[option] === 'classes'
      ? { ...layer, [option]: numClasses }
      : layer;
  return filled as ResolvedHeadLayer;
}

/** The base's layers by name with their output shapes, when the facts have them (skip connections read them). */
function baseLayerShapes(inputs: Pick<PlanInputs, 'base'>): Map<string, readonly Dim[] | undefined> | undefined {
  const { layers } = inputs.base;
  return layers.length === 0 ? undefined : new Map(layers.map((l) => [l.name, l.outputShape]));
}

/** The base layers the head reads through skip connections, in order. */
export function headReadsBaseLayers(head: readonly HeadLayerSpec[]): string[] {
  return head.flatMap((layer) => (headLayerEntry(layer.type) as HeadLayerEntry<HeadLayerSpec>).reads?.(layer) ?? []);
}

/** Weights of the head layers, from the feature shape they receive: the fold of the entries' counts. */
export function headParamCount(
  head: readonly ResolvedHeadLayer[],
  featureShape: number[],
  base?: Pick<PlanInputs, 'base'>,
): number {
  const { shapes } = headShapes(head, featureShape, base && baseLayerShapes(base));
  // A layer past a shape problem is never planned (the problem is an error); it counts nothing here.
  return head.reduce((total, layer, i) => {
    const entry = headLayerEntry(layer.type) as HeadLayerEntry<HeadLayerSpec>;
    const input = shapes[i];
    return input ? total + entry.paramCount(layer as never, input as number[]) : total;
  }, 0);
}

/** The loss the head's last layer calls for: its softmax's output, or raw scores (logits). */
export function lossFor(head: readonly ResolvedHeadLayer[]): ExampleLoss {
  const last = head[head.length - 1];
  // Dense for a class per example, a convolution for a class per pixel (task: segmentation).
  return last !== undefined && 'activation' in last && last.activation === 'softmax'
    ? 'categoricalCrossentropy'
    : 'softmaxCrossEntropyFromLogits';
}
