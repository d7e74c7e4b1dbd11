import type { ModelDescription, ServedAnswer } from './served-answers.js';
import { base64Bytes, type CheckedInstance } from './served-inputs.js';

/** An Open Inference Protocol request (KServe v2, Triton), as the schema lets it through. */
export interface InferRequest {
  id?: string;
  inputs: { name: string; shape: number[]; datatype: string; data: unknown[] }[];
}

interface OutputTensor {
  name: string;
  datatype: 'FP32' | 'BYTES' | 'BOOL';
  shape: number[];
  data: (number | string | boolean)[];
}

/**
 * The instances of an infer request: an image model takes one BYTES input
 * of shape [n] whose data are base64 images; a tabular model one numeric
 * input of shape [n, columns] (data flat, or nested by row) in the column
 * order GET /v2/models/{name} gives.
 */
export function inferInstances(
  body: InferRequest,
  model: ModelDescription,
  maxInstances: number,
): { instances: CheckedInstance[] } | { error: string; status?: number } {
  const input = body.inputs[0]!;
  const data = input.data.flat(2);
  const [n] = input.shape;
  if (n === undefined || n > maxInstances)
    return {
      error: `inputs[0].shape [${input.shape.join(', ')}] holds more than ${maxInstances} instances`,
      status: 413,
    };
  if (model.preprocessing.kind === 'image') {
    if (input.datatype !== 'BYTES' || input.shape.length !== 1)
      return {
        error: `an image model takes one BYTES input of shape [n] (base64 images); got ${input.datatype} [${input.shape.join(', ')}]`,
      };
    if (data.length !== n) return { error: `inputs[0] has shape [${n}] but ${data.length} data` };
    return {
      instances: data.map((item, i): CheckedInstance => {
        const bytes = typeof item === 'string' ? base64Bytes(item) : undefined;
        return bytes ? { kind: 'image', name: `instance ${i}`, bytes } : { error: 'not a base64 string' };
      }),
    };
  }
  const columns = model.preprocessing.columns.length;
  if (input.datatype === 'BYTES' || input.shape.length !== 2 || input.shape[1] !== columns)
    return {
      error: `a tabular model takes one numeric input of shape [n, ${columns}] (columns ${model.preprocessing.columns.join(', ')}); got ${input.datatype} [${input.shape.join(', ')}]`,
    };
  // Rows given nested must each be one row: flattened, [[1, 2, 3, 4], [5, 6]] would pass as two rows of 3 with a value moved.
  if (
    input.data.some(Array.isArray) &&
    (input.data.length !== n || input.data.some((row) => !Array.isArray(row) || row.length !== columns))
  )
    return {
      error: `inputs[0] has shape [${n}, ${columns}] but its nested data are not ${n} rows of ${columns} values`,
    };
  // One level only: a value nested deeper than its row is not a number.
  const values = input.data.flat();
  if (values.length !== n * columns || values.some((v) => typeof v !== 'number'))
    return { error: `inputs[0] has shape [${n}, ${columns}] but ${values.length} data, or data that are not numbers` };
  return {
    instances: Array.from({ length: n }, (_, i) => ({
      kind: 'row' as const,
      name: `instance ${i}`,
      values: values.slice(i * columns, (i + 1) * columns) as number[],
    })),
  };
}

/** The answers as output tensors, by the task's answer: labels always; probabilities, fractions and masks, or scores. */
export function inferResponse(
  body: Pick<InferRequest, 'id'>,
  model: ModelDescription,
  answers: ServedAnswer[],
): { model_name: string; model_version: string; id?: string; outputs: OutputTensor[] } {
  const n = answers.length;
  const classes = model.labels.length;
  const ok = answers.filter((a): a is Exclude<ServedAnswer, { error: string }> => !('error' in a));
  const outputs: OutputTensor[] = [{ name: 'label', datatype: 'BYTES', shape: [n], data: ok.map((a) => a.label) }];
  if (model.task === 'anomaly') {
    outputs.push(
      { name: 'score', datatype: 'FP32', shape: [n], data: ok.map((a) => ('score' in a ? a.score : NaN)) },
      {
        name: 'anomalous',
        datatype: 'BOOL',
        shape: [n],
        data: ok.map((a) => ('anomalous' in a ? a.anomalous : false)),
      },
      // The model's threshold, with each score: what the verdict was made against.
      { name: 'threshold', datatype: 'FP32', shape: [n], data: ok.map((a) => ('threshold' in a ? a.threshold : NaN)) },
    );
  } else if (model.task === 'segmentation') {
    outputs.push(
      {
        name: 'fractions',
        datatype: 'FP32',
        shape: [n, classes],
        data: ok.flatMap((a) => ('fractions' in a ? model.labels.map((l) => a.fractions[l] ?? 0) : [])),
      },
      { name: 'mask', datatype: 'BYTES', shape: [n], data: ok.map((a) => ('mask' in a ? a.mask.png : '')) },
    );
  } else {
    outputs.push({
      name: 'probabilities',
      datatype: 'FP32',
      shape: [n, classes],
      data: ok.flatMap((a) => ('probabilities' in a ? model.labels.map((l) => a.probabilities[l] ?? 0) : [])),
    });
  }
  return {
    model_name: model.name,
    model_version: model.run?.id ?? '0',
    ...(body.id !== undefined ? { id: body.id } : {}),
    outputs,
  };
}
