import type { Diagnostic } from '../../diagnostics/diagnostic.js';
import { headShapeProblems } from '../../format/head-shape.js';
import type { PipelineSpec } from '../../format/types.js';
import type { Plan, PlanInputs, ResolvedHeadLayer } from '../types.js';

/**
 * The head with `units: classes` replaced by the class count found in the
 * data. Problems: layers that cannot take the base's output shape, and a
 * last dense layer whose score count is not the class count.
 */
export function resolveHead(
  spec: PipelineSpec,
  inputs: PlanInputs,
): { head: ResolvedHeadLayer[]; diagnostics: Diagnostic[] } {
  const { numClasses } = inputs.dataset;
  const diagnostics: Diagnostic[] = [];
  const error = (path: Diagnostic['path'], message: string, hint?: string): void => {
    diagnostics.push({ file: spec.file, path, message, hint, severity: 'error' });
  };
  for (const problem of headShapeProblems(spec.head, inputs.base.cutOutputShape.length)) {
    error(['head', problem.index], problem.message, problem.hint);
  }
  const head = spec.head.map((layer): ResolvedHeadLayer =>
    layer.type === 'dense' ? { ...layer, units: layer.units === 'classes' ? numClasses : layer.units } : layer,
  );
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

/** Weights of the head layers, from the feature shape they receive. */
export function headParamCount(head: readonly ResolvedHeadLayer[], featureShape: number[]): number {
  let shape = featureShape;
  let total = 0;
  for (const layer of head) {
    if (layer.type === 'globalAveragePooling2d' || layer.type === 'globalMaxPooling2d')
      shape = [shape[shape.length - 1]!];
    else if (layer.type === 'flatten') shape = [shape.reduce((a, b) => a * b, 1)];
    else if (layer.type === 'dense') {
      total += shape[shape.length - 1]! * layer.units + (layer.useBias ? layer.units : 0);
      shape = [...shape.slice(0, -1), layer.units];
    } else if (layer.type === 'conv2d') {
      total += layer.kernelSize[0] * layer.kernelSize[1] * shape[shape.length - 1]! * layer.filters + layer.filters;
      const out = (n: number): number =>
        layer.padding === 'same'
          ? Math.ceil(n / layer.strides)
          : Math.ceil((n - layer.kernelSize[0] + 1) / layer.strides);
      shape = [out(shape[0]!), out(shape[1]!), layer.filters];
    } else if (layer.type === 'maxPooling2d') {
      const out = (n: number): number =>
        layer.padding === 'same' ? Math.ceil(n / layer.strides) : Math.floor((n - layer.poolSize) / layer.strides) + 1;
      shape = [out(shape[0]!), out(shape[1]!), shape[2]!];
    } else if (layer.type === 'batchNormalization') {
      // gamma and beta learn; the moving statistics are counted as weights but do not.
      total += 2 * shape[shape.length - 1]!;
    } else if (layer.type === 'reshape') shape = layer.targetShape;
  }
  return total;
}

/** The loss the head's last layer calls for: its softmax's output, or raw scores (logits). */
export function lossFor(head: readonly ResolvedHeadLayer[]): Plan['loss'] {
  const last = head[head.length - 1];
  return last?.type === 'dense' && last.activation === 'softmax'
    ? 'categoricalCrossentropy'
    : 'softmaxCrossEntropyFromLogits';
}
