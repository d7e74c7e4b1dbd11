import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { inferInstances, inferResponse, type InferRequest } from '../../src/serve/open-inference.js';
import type { ModelDescription, ServedAnswer } from '../../src/serve/served-answers.js';
import { imageModel as imageDescription, tabularModel as tabularDescription } from './model-descriptions.js';

const imageModel: ModelDescription = {
  ...imageDescription(['daisy', 'rose', 'tulip']),
  run: { pipeline: 'flowers', id: '2026-12-06T10-00-00Z', dir: '/runs/flowers/x', fingerprint: 'abc' },
};
const tabularModel = tabularDescription(['setosa', 'versicolor', 'virginica'], ['petal', 'sepal', 'width']);

const b64 = (text: string): string => Buffer.from(text).toString('base64');
const request = (input: Partial<InferRequest['inputs'][number]>): InferRequest => ({
  inputs: [{ name: 'input', shape: [1], datatype: 'BYTES', data: [b64('x')], ...input }],
});

describe('inferInstances: an image model', () => {
  it('takes one BYTES input of shape [n] whose data are base64 images', () => {
    const read = inferInstances(
      request({ shape: [2], data: [b64('first image'), b64('second image')] }),
      imageModel,
      8,
    );
    assert.deepEqual(read, {
      instances: [
        { kind: 'image', name: 'instance 0', bytes: Buffer.from('first image') },
        { kind: 'image', name: 'instance 1', bytes: Buffer.from('second image') },
      ],
    });
  });

  it('an item that is not base64 text is that instance’s error, the others stand', () => {
    const read = inferInstances(request({ shape: [3], data: [b64('ok'), 'not base64!', 42] }), imageModel, 8);
    assert.ok('instances' in read);
    assert.deepEqual(
      read.instances.map((i) => ('error' in i ? i.error : i.name)),
      ['instance 0', 'not a base64 string', 'not a base64 string'],
    );
  });

  const refused: { name: string; input: Partial<InferRequest['inputs'][number]>; error: RegExp; status?: number }[] = [
    {
      name: 'a numeric datatype',
      input: { datatype: 'FP32', data: [1] },
      error: /one BYTES input of shape \[n\].*got FP32 \[1\]/,
    },
    { name: 'a shape of two dimensions', input: { shape: [1, 1] }, error: /got BYTES \[1, 1\]/ },
    { name: 'fewer data than the shape says', input: { shape: [2] }, error: /shape \[2\] but 1 data/ },
    {
      name: 'more data than the shape says',
      input: { shape: [1], data: [b64('a'), b64('b')] },
      error: /shape \[1\] but 2 data/,
    },
    {
      name: 'more instances than the server takes',
      input: { shape: [9], data: Array(9).fill(b64('a')) },
      error: /\[9\] holds more than 8 instances/,
      status: 413,
    },
  ];
  for (const c of refused)
    it(`refuses ${c.name}${c.status ? ` (${c.status})` : ''}`, () => {
      const read = inferInstances(request(c.input), imageModel, 8);
      assert.ok('error' in read, `taken: ${JSON.stringify(read)}`);
      assert.match(read.error, c.error);
      assert.equal(read.status, c.status);
    });
});

describe('inferInstances: a tabular model', () => {
  const rows = (read: ReturnType<typeof inferInstances>): unknown => {
    assert.ok('instances' in read, `refused: ${JSON.stringify(read)}`);
    return read.instances.map((i) => ('values' in i ? i.values : i));
  };
  const taken: { name: string; input: Partial<InferRequest['inputs'][number]>; rows: number[][] }[] = [
    {
      name: 'FP32 data, flat, row after row',
      input: { datatype: 'FP32', shape: [2, 3], data: [1, 2, 3, 4, 5, 6] },
      rows: [
        [1, 2, 3],
        [4, 5, 6],
      ],
    },
    {
      name: 'FP32 data nested by row',
      input: {
        datatype: 'FP32',
        shape: [2, 3],
        data: [
          [1, 2, 3],
          [4, 5, 6],
        ],
      },
      rows: [
        [1, 2, 3],
        [4, 5, 6],
      ],
    },
    {
      name: 'FP64 data',
      input: { datatype: 'FP64', shape: [1, 3], data: [0.5, -1.25, 1e-9] },
      rows: [[0.5, -1.25, 1e-9]],
    },
    { name: 'INT64 data', input: { datatype: 'INT64', shape: [1, 3], data: [1, 2, 3] }, rows: [[1, 2, 3]] },
  ];
  for (const c of taken)
    it(`takes ${c.name}`, () => {
      const read = inferInstances(request(c.input), tabularModel, 8);
      assert.deepEqual(rows(read), c.rows);
      assert.ok('instances' in read);
      assert.deepEqual(
        read.instances.map((i) => ('name' in i ? i.name : '')),
        c.rows.map((_, i) => `instance ${i}`),
      );
    });

  const refused: { name: string; input: Partial<InferRequest['inputs'][number]>; error: RegExp; status?: number }[] = [
    {
      name: 'BYTES (images) for a tabular model',
      input: { datatype: 'BYTES', shape: [1, 3], data: [1, 2, 3] },
      error: /one numeric input of shape \[n, 3\] \(columns petal, sepal, width\); got BYTES/,
    },
    {
      name: 'a shape of one dimension',
      input: { datatype: 'FP32', shape: [3], data: [1, 2, 3] },
      error: /shape \[n, 3\].*got FP32 \[3\]/,
    },
    {
      name: 'the wrong number of columns',
      input: { datatype: 'FP32', shape: [1, 2], data: [1, 2] },
      error: /shape \[n, 3\].*got FP32 \[1, 2\]/,
    },
    {
      name: 'fewer data than the shape says',
      input: { datatype: 'FP32', shape: [2, 3], data: [1, 2, 3, 4, 5] },
      error: /shape \[2, 3\] but 5 data/,
    },
    {
      name: 'more data than the shape says',
      input: { datatype: 'FP32', shape: [1, 3], data: [1, 2, 3, 4] },
      error: /shape \[1, 3\] but 4 data/,
    },
    {
      name: 'text among the numbers',
      input: { datatype: 'FP32', shape: [1, 3], data: [1, '2', 3] },
      error: /not numbers/,
    },
    {
      name: 'null among the numbers',
      input: { datatype: 'FP32', shape: [1, 3], data: [1, null, 3] },
      error: /not numbers/,
    },
    {
      name: 'nested rows of the wrong length, though the count is right',
      input: {
        datatype: 'FP32',
        shape: [2, 3],
        data: [
          [1, 2, 3, 4],
          [5, 6],
        ],
      },
      error: /shape \[2, 3\]/,
    },
    {
      name: 'nested rows, one too short and one flat value beside them',
      input: { datatype: 'FP32', shape: [2, 3], data: [[1, 2], 3, [4, 5, 6]] },
      error: /shape \[2, 3\]/,
    },
    {
      name: 'data nested deeper than rows',
      input: { datatype: 'FP32', shape: [2, 3], data: [[[1, 2, 3]], [[4, 5, 6]]] },
      error: /shape \[2, 3\]/,
    },
    {
      name: 'values nested inside their rows',
      input: { datatype: 'FP32', shape: [1, 3], data: [[[1], [2], [3]]] },
      error: /not numbers/,
    },
    {
      name: 'more instances than the server takes',
      input: { datatype: 'FP32', shape: [9, 3], data: Array(27).fill(1) },
      error: /holds more than 8 instances/,
      status: 413,
    },
  ];
  for (const c of refused)
    it(`refuses ${c.name}${c.status ? ` (${c.status})` : ''}`, () => {
      const read = inferInstances(request(c.input), tabularModel, 8);
      assert.ok('error' in read, `taken: ${JSON.stringify(read)}`);
      assert.match(read.error, c.error);
      assert.equal(read.status, c.status);
    });
});

describe('inferResponse: output tensors by task', () => {
  const cases: {
    name: string;
    model: ModelDescription;
    answers: ServedAnswer[];
    outputs: { name: string; datatype: string; shape: number[]; data: unknown[] }[];
  }[] = [
    {
      name: 'classification: labels, and probabilities in the order of the labels',
      model: imageModel,
      answers: [
        { label: 'rose', probabilities: { tulip: 0.2, rose: 0.7, daisy: 0.1 }, top: [] },
        { label: 'daisy', probabilities: { daisy: 0.5, rose: 0.25, tulip: 0.25 }, top: [] },
      ],
      outputs: [
        { name: 'label', datatype: 'BYTES', shape: [2], data: ['rose', 'daisy'] },
        { name: 'probabilities', datatype: 'FP32', shape: [2, 3], data: [0.1, 0.7, 0.2, 0.5, 0.25, 0.25] },
      ],
    },
    {
      name: 'segmentation: labels, each class’s share in label order (0 for a class not present), and the masks',
      model: { ...imageModel, task: 'segmentation', labels: ['background', 'leaf'] },
      answers: [
        { label: 'leaf', fractions: { leaf: 0.75, background: 0.25 }, mask: { height: 2, width: 2, png: 'bWFzazE=' } },
        { label: 'background', fractions: { background: 1 }, mask: { height: 2, width: 2, png: 'bWFzazI=' } },
      ],
      outputs: [
        { name: 'label', datatype: 'BYTES', shape: [2], data: ['leaf', 'background'] },
        { name: 'fractions', datatype: 'FP32', shape: [2, 2], data: [0.25, 0.75, 1, 0] },
        { name: 'mask', datatype: 'BYTES', shape: [2], data: ['bWFzazE=', 'bWFzazI='] },
      ],
    },
    {
      name: 'anomaly: labels, scores, whether each is anomalous, and the threshold it was judged against',
      model: { ...imageModel, task: 'anomaly', labels: ['normal', 'anomalous'] },
      answers: [
        { label: 'normal', score: 0.2, threshold: 0.5, anomalous: false, heat: { grid: [1, 1], values: [0.2] } },
        { label: 'anomalous', score: 0.9, threshold: 0.5, anomalous: true, heat: { grid: [1, 1], values: [0.9] } },
      ],
      outputs: [
        { name: 'label', datatype: 'BYTES', shape: [2], data: ['normal', 'anomalous'] },
        { name: 'score', datatype: 'FP32', shape: [2], data: [0.2, 0.9] },
        { name: 'anomalous', datatype: 'BOOL', shape: [2], data: [false, true] },
        { name: 'threshold', datatype: 'FP32', shape: [2], data: [0.5, 0.5] },
      ],
    },
    {
      name: 'a tabular classifier answers as an image one does',
      model: tabularModel,
      answers: [{ label: 'setosa', probabilities: { setosa: 0.9, versicolor: 0.05, virginica: 0.05 }, top: [] }],
      outputs: [
        { name: 'label', datatype: 'BYTES', shape: [1], data: ['setosa'] },
        { name: 'probabilities', datatype: 'FP32', shape: [1, 3], data: [0.9, 0.05, 0.05] },
      ],
    },
  ];
  for (const c of cases)
    it(c.name, () => {
      const response = inferResponse({ id: 'req-1' }, c.model, c.answers);
      assert.deepEqual(response.outputs, c.outputs);
      for (const output of response.outputs)
        assert.equal(
          output.data.length,
          output.shape.reduce((a, b) => a * b, 1),
          `${output.name}: its data do not fill its shape`,
        );
    });

  it('names the model and the run that answered, and echoes the request id only when there was one', () => {
    const answers: ServedAnswer[] = [{ label: 'rose', probabilities: { rose: 1 }, top: [] }];
    assert.deepEqual(
      (({ model_name, model_version, id }) => ({ model_name, model_version, id }))(
        inferResponse({ id: 'req-7' }, imageModel, answers),
      ),
      { model_name: 'flowers', model_version: '2026-12-06T10-00-00Z', id: 'req-7' },
    );
    const unnamed = inferResponse({}, { ...imageModel, run: undefined }, answers);
    assert.equal(unnamed.model_version, '0');
    assert.ok(!('id' in unnamed), 'an id the request did not send');
  });

  it('with no answers (the metadata route asks so), each task still names its outputs', () => {
    const names = (model: ModelDescription): string[] => inferResponse({}, model, []).outputs.map((o) => o.name);
    assert.deepEqual(names(imageModel), ['label', 'probabilities']);
    assert.deepEqual(names({ ...imageModel, task: 'segmentation' }), ['label', 'fractions', 'mask']);
    assert.deepEqual(names({ ...imageModel, task: 'anomaly' }), ['label', 'score', 'anomalous', 'threshold']);
  });
});
