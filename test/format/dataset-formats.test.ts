import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DATASET_FORMATS, FORMAT_NAMES } from '../../src/format/dataset-formats/index.js';
import { datasetInput } from '../../src/format/dataset-formats/input.js';
import { loadPipelineText } from '../../src/format/load-pipeline.js';

const load = (text: string) => loadPipelineText('/work/pipelines/p.yaml', text, { displayName: 'p.yaml' });
const ROWS = 'dataset: { format: csv, file: rows.csv, featureColumns: [a, b] }\nbase: { model: none }\n';
const DENSE = 'head:\n  - dense: { units: classes, activation: softmax }\ntrain: { stages: [{ epochs: 1 }] }\n';

describe('dataset formats, one module each', () => {
  it('every format has an entry, in the order of the `format` key', () => {
    assert.deepEqual(FORMAT_NAMES, ['mnist', 'idx', 'imageFolder', 'csv', 'segmentationFolder']);
    for (const name of FORMAT_NAMES) assert.match(DATASET_FORMATS[name].summary, new RegExp(`^${name}[: ]`));
  });

  const resolved = [
    { name: 'csv rows', yaml: ROWS + DENSE, input: { kind: 'rows', columns: ['a', 'b'] } },
    {
      name: 'csv image paths',
      yaml:
        'dataset: { format: csv, file: images.csv, image: { size: [32, 32] } }\nhead:\n  - globalAveragePooling2d: {}\n' +
        DENSE.slice(6),
      input: { kind: 'image', image: { size: [32, 32], channels: 3, fit: 'cover' } },
    },
    {
      name: 'an image folder',
      yaml:
        'dataset: { format: imageFolder, dir: data, test: 0.2, image: { size: [32, 32] } }\nhead:\n  - flatten: {}\n' +
        DENSE.slice(6),
      input: { kind: 'image', image: { size: [32, 32], channels: 3, fit: 'cover' } },
    },
  ];
  for (const c of resolved) {
    it(`${c.name}: resolved by its module, with the input it feeds`, () => {
      const loaded = load(c.yaml);
      assert.ok(loaded.ok, loaded.ok ? '' : loaded.diagnostics.map((d) => d.message).join('; '));
      assert.deepEqual(datasetInput(loaded.value.spec.dataset), c.input);
      assert.ok(
        path(loaded.value.spec.dataset).startsWith('/work/pipelines/'),
        'paths are relative to the pipeline file',
      );
    });
  }

  const refused = [
    {
      name: 'a key of another format names what this one reads',
      yaml: 'dataset: { format: csv, file: rows.csv, featureColumns: [a], dir: data }\nbase: { model: none }\n' + DENSE,
      message: /`dir` is not used by format `csv`/,
      hint: /`imageColumn` or `featureColumns`/,
    },
    {
      name: 'a demo page for tabular rows (it classifies a picked image)',
      yaml: ROWS + DENSE + 'export: { demoPage: true }\n',
      message: /the demo page classifies an image picked in the browser; this pipeline trains on tabular rows/,
      hint: /tlpipe predict <run> rows\.csv/,
    },
    {
      name: 'flatten on rows: the same message the planner gives',
      yaml: ROWS + 'head:\n  - flatten: {}\n' + DENSE.slice(6),
      message: /`flatten` needs a feature map \[height, width, channels\], but the base outputs a vector/,
      hint: /start the head with `dense`/,
    },
  ];
  for (const c of refused) {
    it(`refuses ${c.name}`, () => {
      const loaded = load(c.yaml);
      assert.ok(!loaded.ok);
      const found = loaded.diagnostics.find((d) => c.message.test(d.message));
      assert.ok(found, loaded.diagnostics.map((d) => d.message).join('; '));
      assert.match(found.hint ?? '', c.hint);
    });
  }
});

function path(dataset: { format: string; file?: string; dir?: string }): string {
  return dataset.file ?? dataset.dir ?? '';
}
