import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatDiagnostic } from '../../src/diagnostics/diagnostic.js';
import { loadPipelineText, nameFromFile } from '../../src/format/load-pipeline.js';

/** A small valid pipeline; each bad case below damages one thing in it. */
const VALID = `dataset:
  format: mnist
head:
  - globalAveragePooling2d: {}
  - dense: { units: classes, activation: softmax }
train:
  stages:
    - epochs: 1
`;

function load(text: string) {
  return loadPipelineText('/work/pipelines/p.yaml', text, { displayName: 'p.yaml' });
}

describe('valid pipelines', () => {
  const cases: { name: string; text: string; check: (spec: ReturnType<typeof resolved>) => void }[] = [
    {
      name: 'defaults are filled from the schema and the zoo',
      text: VALID,
      check: (spec) => {
        assert.equal(spec.name, 'p');
        assert.equal(spec.seed, 42);
        assert.equal(spec.backend, 'auto');
        assert.deepEqual(spec.base, {
          model: 'mobilenet_v2',
          cut: 'out_relu',
          normalize: { mean: [0, 0, 0], std: [1, 1, 1], description: 'unit: [0, 1]' },
        });
        assert.equal(spec.train.stages[0]!.classWeights, 'none');
        assert.equal(spec.dataset.augment, undefined);
        assert.deepEqual(spec.dataset.image, { size: [96, 96], channels: 3, fit: 'fill' });
        assert.equal(spec.dataset.validation, 0.1);
        assert.deepEqual(spec.train.stages[0], {
          name: 'stage-1',
          epochs: 1,
          batchSize: 32,
          optimizer: {
            name: 'adam',
            learningRate: 0.001,
            baseLearningRate: 0.001,
            multipliers: [],
            momentum: 0,
            nesterov: false,
            weightDecay: 0,
          },
          schedule: { type: 'constant' },
          classWeights: 'none',
          labelSmoothing: 0,
          unfreeze: [],
          freeze: [],
          batchNorm: 'frozen',
        });
        assert.deepEqual(spec.train.checkpoints, {
          monitor: 'val_loss',
          mode: 'min',
          every: 1,
          keepLast: 3,
          best: true,
        });
        assert.deepEqual(spec.freeze, ['all']);
        assert.equal(spec.file, '/work/pipelines/p.yaml');
      },
    },
    {
      name: 'idx paths resolve against the pipeline folder',
      text: VALID.replace('format: mnist', 'format: idx\n  train: { images: ../data/x.gz, labels: y }'),
      check: (spec) => {
        assert.equal(spec.dataset.format, 'idx');
        assert.deepEqual(spec.dataset.format === 'idx' && spec.dataset.train, {
          images: '/work/data/x.gz',
          labels: '/work/pipelines/y',
        });
      },
    },
    {
      name: 'stage batch size falls back to train.batchSize; inception_v3 cuts at mixed10',
      text: VALID.replace('stages:', 'batchSize: 8\n  stages:') + 'base: { model: inception_v3 }\n',
      check: (spec) => {
        assert.equal(spec.train.stages[0]!.batchSize, 8);
        assert.equal(spec.base.cut, 'mixed10');
      },
    },
    {
      name: 'head layers resolve to typed entries; `flatten:` with no value is allowed',
      text: VALID.replace('- globalAveragePooling2d: {}', '- flatten:\n  - dropout: { rate: 0.5 }'),
      check: (spec) => {
        assert.deepEqual(spec.head, [
          { type: 'flatten' },
          { type: 'dropout', rate: 0.5 },
          { type: 'dense', units: 'classes', activation: 'softmax', useBias: true },
        ]);
      },
    },
    {
      name: 'base.inputSize sets the image size',
      text: VALID + 'base: { inputSize: [128, 160] }\n',
      check: (spec) => assert.deepEqual(spec.dataset.image.size, [128, 160]),
    },
    {
      name: 'freeze rules and stage unfreeze are kept as written',
      text:
        VALID.replace('- epochs: 1', '- { epochs: 1, unfreeze: ["block_16_*", { from: Conv_1 }], batchNorm: train }') +
        'freeze: ["[0, 100)", "/_BN$/"]\n',
      check: (spec) => {
        assert.deepEqual(spec.freeze, ['[0, 100)', '/_BN$/']);
        assert.deepEqual(
          [spec.train.stages[0]!.unfreeze, spec.train.stages[0]!.batchNorm],
          [['block_16_*', { from: 'Conv_1' }], 'train'],
        );
      },
    },
    {
      name: 'the yaml-language-server comment and $schema key are accepted',
      text:
        '# yaml-language-server: $schema=../schemas/pipeline.schema.json\n$schema: ../schemas/pipeline.schema.json\n' +
        VALID,
      check: (spec) => assert.equal(spec.name, 'p'),
    },
  ];
  for (const c of cases) {
    it(c.name, () => c.check(resolved(c.text)));
  }
});

function resolved(text: string) {
  const result = load(text);
  assert.ok(result.ok, result.ok ? '' : result.diagnostics.map(formatDiagnostic).join('\n'));
  return result.value.spec;
}

describe('invalid pipelines: message, place and hint', () => {
  const cases: { name: string; text: string; at: string; message: RegExp; hint?: RegExp }[] = [
    {
      name: 'misspelt key',
      text: VALID.replace('epochs: 1', 'epochs: 1\n      optimizer: { learningrate: 0.1 }'),
      at: '9:20',
      message: /unknown key `learningrate`/,
      hint: /did you mean `learningRate`\?/,
    },
    {
      name: 'unknown top-level key',
      text: VALID + 'seeds: 3\n',
      at: '9:1',
      message: /unknown key `seeds`/,
      hint: /did you mean `seed`/,
    },
    {
      name: 'YAML syntax error',
      text: VALID.replace('format: mnist', 'format: [mnist'),
      at: '3:1',
      message: /Flow sequence/,
    },
    {
      name: 'wrong type',
      text: VALID.replace('epochs: 1', 'epochs: "three"'),
      at: '8:15',
      message: /expected integer, got string "three"/,
      hint: /Passes over the training data/,
    },
    { name: 'out of range', text: VALID.replace('epochs: 1', 'epochs: 0'), at: '8:15', message: /must be >= 1, got 0/ },
    {
      name: 'enum typo',
      text: VALID.replace('format: mnist', 'format: mnsit'),
      at: '2:11',
      message: /"mnsit" is not one of: mnist, idx/,
      hint: /did you mean `mnist`/,
    },
    {
      name: 'unknown head layer type',
      text: VALID.replace('- globalAveragePooling2d: {}', '- globalAvgPool: {}'),
      at: '4:5',
      message: /unknown head layer type `globalAvgPool`/,
      hint: /globalAveragePooling2d/,
    },
    {
      name: 'two layer types in one item',
      text: VALID.replace('- globalAveragePooling2d: {}', '- globalAveragePooling2d: {}\n    dense: { units: 3 }'),
      at: '4:5',
      message: /exactly one key, its type; found 2/,
    },
    {
      name: 'head output does not match the class count',
      text: VALID.replace('units: classes', 'units: 5'),
      at: '5:21',
      message: /outputs 5 scores, but the dataset has 10 classes/,
      hint: /units: classes/,
    },
    {
      name: 'units is neither a number nor `classes`',
      text: VALID.replace('units: classes', 'units: class'),
      at: '5:21',
      message: /"class" is not a valid value/,
      hint: /`classes` for the number of classes/,
    },
    {
      name: 'unknown base model',
      text: VALID + 'base: { model: mobilenetv2 }\n',
      at: '9:16',
      message: /unknown base model `mobilenetv2`/,
      hint: /did you mean `mobilenet_v2`/,
    },
    {
      name: 'dense before pooling',
      text: VALID.replace('- globalAveragePooling2d: {}', '- dense: { units: 4 }\n  - flatten: {}'),
      at: '4:5',
      message: /before it is pooled or flattened/,
    },
    {
      name: 'last activation is not softmax or linear',
      text: VALID.replace('activation: softmax', 'activation: sigmoid'),
      at: '5:42',
      message: /softmax \(probabilities\) or linear \(logits\), not sigmoid/,
    },
    {
      name: 'no stages and no strategy',
      text: VALID.replace(/train:[\s\S]*/, ''),
      at: '1:1',
      message: /no training stages: write `train.stages`, or a `strategy` that fills them/,
      hint: /strategy: head-only/,
    },
    {
      name: 'duplicate key',
      text: VALID + 'seed: 1\nseed: 2\n',
      at: '10:1',
      message: /unique/,
      hint: /each key may appear once/,
    },
    { name: 'not a mapping', text: '- a\n- b\n', at: '1:1', message: /a pipeline file is a YAML mapping/ },
    {
      name: 'tab indentation',
      text: 'dataset:\n\tformat: mnist\n',
      at: '2:1',
      message: /Tabs/,
      hint: /spaces, not tabs/,
    },
    {
      name: 'a schedule key of another schedule type',
      text: VALID.replace('epochs: 1', 'epochs: 1\n      schedule: { type: cosine, everyEpochs: 2 }'),
      at: '9:33',
      message: /`everyEpochs` does not apply to a cosine schedule/,
      hint: /`warmupEpochs`, `minLearningRate`/,
    },
    {
      name: 'a step schedule without its step',
      text: VALID.replace('epochs: 1', 'epochs: 1\n      schedule: { type: step }'),
      at: '9:17',
      message: /a step schedule needs `everyEpochs`/,
    },
    {
      name: 'a warmup as long as the stage',
      text: VALID.replace('epochs: 1', 'epochs: 1\n      schedule: { type: cosine, warmupEpochs: 1 }'),
      at: '9:47',
      message: /warmup \(1 epochs\) is not shorter than the stage \(1\)/,
    },
    {
      name: 'early stopping on val_loss without a validation split',
      text: VALID.replace('format: mnist', 'format: mnist\n  validation: 0').replace(
        'epochs: 1',
        'epochs: 1\n      earlyStopping: { patience: 2 }',
      ),
      at: '10:22',
      message: /val_loss needs a validation split/,
      hint: /monitor `loss`/,
    },
    {
      name: 'a plain http base without allowHttp',
      text: VALID + 'base: { model: "http://example.com/m.json", cut: x }\n',
      at: '9:16',
      message: /downloads base models over https only/,
      hint: /allowHttp: true/,
    },
    {
      name: 'nesterov without momentum',
      text: VALID.replace('epochs: 1', 'epochs: 1\n      optimizer: { name: sgd, nesterov: true }'),
      at: '9:31',
      message: /`nesterov` needs sgd with `momentum` above 0/,
    },
    {
      name: 'per-group rates missing the base',
      text: VALID.replace('epochs: 1', 'epochs: 1\n      optimizer: { learningRate: { head: 0.001 } }'),
      at: '9:34',
      message: /missing required key `base`/,
    },
    {
      name: 'a freeze rule of the wrong type',
      text: VALID + 'freeze: [3]\n',
      at: '9:10',
      message: /expected string or object, got number 3/,
      hint: /a glob/,
    },
    {
      name: 'an unknown batch norm policy',
      text: VALID.replace('epochs: 1', 'epochs: 1\n      batchNorm: update'),
      at: '9:18',
      message: /"update" is not one of: frozen, train/,
    },
    {
      name: 'idx without files',
      text: VALID.replace('format: mnist', 'format: idx'),
      at: '2:3',
      message: /format `idx` needs `train: \{ images, labels \}`/,
    },
    {
      name: 'momentum with adam',
      text: VALID.replace('epochs: 1', 'epochs: 1\n      optimizer: { momentum: 0.9 }'),
      at: '9:20',
      message: /no effect with adam/,
    },
    {
      name: 'validation on a test split the dataset lacks',
      text: VALID.replace('format: mnist', 'format: imageFolder\n  dir: d\n  validation: test'),
      at: '4:15',
      message: /`validation: test` validates on the test split, but this dataset has none/,
      hint: /add `test: <fraction>` or `testDir`/,
    },
    {
      name: 'gray images for a zoo base',
      text: VALID.replace('format: mnist', 'format: mnist\n  image: { channels: 1 }'),
      at: '3:22',
      message: /mobilenet_v2 takes 3-channel \(RGB\) images, not 1/,
      hint: /`channels: 1` is for `base: { model: none }`/,
    },
    {
      name: 'image smaller than the base accepts',
      text: VALID.replace('format: mnist', 'format: mnist\n  image: { size: [16, 16] }'),
      at: '3:18',
      message: /at least 32×32, got 16×16/,
    },
    {
      name: 'duplicate stage names',
      text: VALID.replace('- epochs: 1', '- { name: a, epochs: 1 }\n    - { name: a, epochs: 1 }'),
      at: '9:15',
      message: /stage name `a` is already used by train.stages\[0\]/,
    },
    {
      name: 'mnist with file paths',
      text: VALID.replace('format: mnist', 'format: mnist\n  train: { images: a, labels: b }'),
      at: '3:3',
      message: /`train` is not used/,
      hint: /format: idx/,
    },
    {
      name: 'class names of the wrong length',
      text: VALID.replace('format: mnist', 'format: mnist\n  classNames: [a, b]'),
      at: '3:15',
      message: /mnist has 10 classes, but 2 names are given/,
    },
    {
      name: 'image folder without its folder',
      text: VALID.replace('format: mnist', 'format: imageFolder'),
      at: '2:3',
      message: /format `imageFolder` needs `dir`/,
    },
    {
      name: 'a key of another format',
      text: VALID.replace('format: mnist', 'format: idx\n  train: { images: a, labels: b }\n  dir: photos'),
      at: '4:3',
      message: /`dir` is not used by format `idx`/,
      hint: /format `idx` reads `train/,
    },
    {
      name: 'image folder test given as files',
      text: VALID.replace('format: mnist', 'format: imageFolder\n  dir: d\n  test: { images: a, labels: b }'),
      at: '4:9',
      message: /for format `imageFolder`, `test` is the fraction/,
    },
    {
      name: 'both a test fraction and a test folder',
      text: VALID.replace('format: mnist', 'format: imageFolder\n  dir: d\n  test: 0.2\n  testDir: t'),
      at: '4:3',
      message: /both define the test split/,
    },
    {
      name: 'fit for IDX data',
      text: VALID.replace('format: mnist', 'format: mnist\n  image: { fit: cover }'),
      at: '3:12',
      message: /`fit` applies to image files/,
    },
    {
      name: 'a normalize that is neither a preset nor mean/std',
      text: VALID + 'base: { normalize: imagenet }\n',
      at: '9:20',
      message: /"imagenet" is not one of: unit, symmetric/,
    },
    {
      name: 'an unknown augmentation',
      text: VALID.replace('format: mnist', 'format: mnist\n  augment: { flipVertical: true }'),
      at: '3:14',
      message: /unknown key `flipVertical`/,
      hint: /allowed here: flipHorizontal, rotate, zoom/,
    },
    {
      name: 'base.inputSize and image.size disagree',
      text:
        VALID.replace('format: mnist', 'format: mnist\n  image: { size: [64, 64] }') +
        'base: { inputSize: [96, 96] }\n',
      at: '10:20',
      message: /base.inputSize 96×96 differs from dataset.image.size 64×64/,
    },
    {
      name: 'conv2d after the features became a vector',
      text: VALID.replace('- globalAveragePooling2d: {}', '- globalAveragePooling2d: {}\n  - conv2d: { filters: 4 }'),
      at: '5:5',
      message: /`conv2d` needs a feature map \[height, width, channels\], but head\[0\] turned it into a vector/,
    },
    {
      name: 'two pooling layers',
      text: VALID.replace('- globalAveragePooling2d: {}', '- globalAveragePooling2d: {}\n  - flatten: {}'),
      at: '5:5',
      message: /already turned it into a vector/,
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const result = load(c.text);
      assert.equal(result.ok, false, 'expected the pipeline to be rejected');
      if (result.ok) return;
      const first = result.diagnostics[0]!;
      assert.equal(`${first.line}:${first.col}`, c.at, formatDiagnostic(first));
      assert.match(first.message, c.message);
      if (c.hint) assert.match(first.hint ?? '', c.hint);
      assert.equal(first.severity, 'error');
    });
  }

  it('an alias bomb is refused, not expanded', () => {
    const bomb =
      'a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n';
    const result = load(bomb);
    assert.equal(result.ok, false);
    assert.match(!result.ok ? result.diagnostics[0]!.message : '', /alias/);
  });

  it('binary garbage is called a binary file', () => {
    const result = load('\u0000\u0001\u0002');
    assert.equal(result.ok, false);
    assert.match(!result.ok ? result.diagnostics[0]!.message : '', /binary file/);
  });

  it('reports every schema problem, in file order', () => {
    const result = load(VALID.replace('epochs: 1', 'epochs: 0\n      batchSize: -1') + 'seeds: 1\n');
    assert.equal(result.ok, false);
    if (result.ok) return;
    assert.deepEqual(
      result.diagnostics.map((d) => d.line),
      [8, 9, 10],
    );
  });
});

/** A key whose schema is a union of branches (anyOf): its hint is that of the branch the value has the type of. */
describe("a union's hint describes the branch the value's type matches", () => {
  const csv = (test: string): string =>
    VALID.replace('format: mnist', `format: csv\n  file: rows.csv\n  featureColumns: [a, b]\n  test: ${test}`);
  const cases: { name: string; text: string; message: RegExp; hint: RegExp; notHint?: RegExp }[] = [
    {
      name: 'a csv test fraction of 0: the fraction branch, and how to have no test split',
      text: csv('0'),
      message: /must be > 0, got 0/,
      hint: /fraction of each class held out as the test split .*in \(0, 0\.9\].*leave the key out/,
      notHint: /IDX/,
    },
    {
      name: 'a test fraction above 0.9: the fraction branch',
      text: csv('0.95'),
      message: /must be <= 0\.9, got 0\.95/,
      hint: /in \(0, 0\.9\]/,
      notHint: /IDX/,
    },
    {
      name: 'a test value of neither type: the whole union',
      text: csv('"0.2"'),
      message: /expected object or number, got string "0\.2"/,
      hint: /idx: the test IDX files.*imageFolder and csv: the fraction/,
    },
    {
      name: 'a validation fraction below 0: the fraction branch, not the `test` one',
      text: VALID.replace('format: mnist', 'format: mnist\n  validation: -0.1'),
      message: /must be >= 0, got -0\.1/,
      hint: /^Fraction of the training examples held out for validation, stratified by class and seeded/,
      notHint: /every epoch/,
    },
  ];
  for (const c of cases)
    it(c.name, () => {
      const result = load(c.text);
      assert.equal(result.ok, false, 'expected the pipeline to be rejected');
      if (result.ok) return;
      const first = result.diagnostics[0]!;
      assert.match(first.message, c.message, formatDiagnostic(first));
      assert.match(first.hint ?? '', c.hint);
      if (c.notHint) assert.doesNotMatch(first.hint ?? '', c.notHint);
    });
});

describe('printed form (golden)', () => {
  it('file:line:col, key path, the line, a caret, the hint', () => {
    const result = load(VALID.replace('epochs: 1', 'epochs: 1\n      optimizer: { learningrate: 0.1 }'));
    assert.equal(result.ok, false);
    if (result.ok) return;
    assert.equal(
      formatDiagnostic(result.diagnostics[0]!),
      [
        'p.yaml:9:20: error: train.stages[0].optimizer.learningrate: unknown key `learningrate`',
        '  9 |       optimizer: { learningrate: 0.1 }',
        '    |                    ^',
        '  hint: did you mean `learningRate`?',
      ].join('\n'),
    );
  });

  it('a range error names the limit and the value', () => {
    const result = load(VALID.replace('epochs: 1', 'epochs: 0'));
    assert.equal(result.ok, false);
    if (result.ok) return;
    assert.equal(
      formatDiagnostic(result.diagnostics[0]!),
      [
        'p.yaml:8:15: error: train.stages[0].epochs: must be >= 1, got 0',
        '  8 |     - epochs: 0',
        '    |               ^',
        '  hint: Passes over the training data in this stage.',
      ].join('\n'),
    );
  });
});

describe('a pipeline name taken from its file name is a safe folder name', () => {
  const cases: [file: string, name: string][] = [
    ['/w/quickstart.yaml', 'quickstart'],
    ['/w/...yaml', 'pipeline'],
    ['/w/..yaml', 'pipeline'],
    ['/w/my pipeline (v2).yml', 'my-pipeline-v2-'],
    ['/w/-lead.yaml', 'lead'],
    [`/w/${'x'.repeat(300)}.yaml`, 'x'.repeat(64)],
  ];
  for (const [file, name] of cases)
    it(`${file.slice(0, 40)} → ${name.slice(0, 20)}`, () => assert.equal(nameFromFile(file), name));
});

describe('overrides by key path: validated like the file, problems reported at the override', () => {
  const set = (path: string, value: unknown) => ({ path, value, label: `--set ${path}=${JSON.stringify(value)}` });
  const loadWith = (overrides: ReturnType<typeof set>[], text = VALID) =>
    loadPipelineText('/work/pipelines/p.yaml', text, { displayName: 'p.yaml', overrides });

  const valid: {
    name: string;
    overrides: ReturnType<typeof set>[];
    check: (spec: ReturnType<typeof resolved>, text: string) => void;
  }[] = [
    {
      name: 'a number in an existing stage',
      overrides: [set('train.stages[0].epochs', 3)],
      check: (spec) => assert.equal(spec.train.stages[0]!.epochs, 3),
    },
    {
      name: 'a key the file does not write',
      overrides: [set('train.stages[0].optimizer.learningRate', 0.01)],
      check: (spec) => assert.equal(spec.train.stages[0]!.optimizer.learningRate, 0.01),
    },
    {
      name: 'a whole new section',
      overrides: [set('base.cut', 'block_13_expand_relu'), set('seed', 7)],
      check: (spec) => assert.deepEqual([spec.base.cut, spec.seed], ['block_13_expand_relu', 7]),
    },
    {
      name: 'a list value',
      overrides: [set('train.stages[0].unfreeze', ['block_16_*'])],
      check: (spec) => assert.deepEqual(spec.train.stages[0]!.unfreeze, ['block_16_*']),
    },
    {
      name: 'the stage after the last',
      overrides: [set('train.stages[1]', { name: 'more', epochs: 2 })],
      check: (spec) =>
        assert.deepEqual(
          spec.train.stages.map((s) => s.name),
          ['stage-1', 'more'],
        ),
    },
    {
      name: "a head layer option, keeping the file's comments in the text as run",
      overrides: [set('head[1].dense.units', 'classes')],
      check: (_spec, text) => assert.match(text, /units: classes/),
    },
  ];
  for (const c of valid) {
    it(c.name, () => {
      const result = loadWith(c.overrides);
      assert.ok(result.ok, result.ok ? '' : result.diagnostics.map(formatDiagnostic).join('\n'));
      c.check(result.value.spec, result.value.text);
    });
  }

  const invalid: { name: string; overrides: ReturnType<typeof set>[]; printed: RegExp }[] = [
    {
      name: 'a value the schema refuses',
      overrides: [set('train.stages[0].epochs', 0)],
      printed: /^--set train.stages\[0\].epochs=0: error: train.stages\[0\].epochs: must be >= 1, got 0$/m,
    },
    {
      name: 'an unknown key',
      overrides: [set('train.stages[0].epoch', 2)],
      printed:
        /^--set train.stages\[0\].epoch=2: error: train.stages\[0\].epoch: unknown key `epoch`\n {2}hint: did you mean `epochs`\?$/m,
    },
    {
      name: 'a rule on the resolved spec',
      overrides: [set('train.stages[0].optimizer.momentum', 0.9)],
      printed: /^--set train.stages\[0\].optimizer.momentum=0.9: error: .*`momentum` has no effect with adam/m,
    },
    {
      name: 'not a key path',
      overrides: [set('train..stages', 1)],
      printed: /^--set train..stages=1: error: `train..stages` is not a key path/m,
    },
    {
      name: 'through a scalar',
      overrides: [set('dataset.format.x', 1)],
      printed: /cannot set dataset.format.x: dataset.format is not a mapping/,
    },
    {
      name: 'a list index past the end',
      overrides: [set('train.stages[5].epochs', 1)],
      printed: /train.stages has 1 item\(s\); an override can change one or add the next/,
    },
    {
      name: 'a stage the override creates, without its epochs',
      overrides: [set('train.stages[1].name', 'b')],
      printed: /^--set train.stages\[1\].name="b": error: train.stages\[1\]: missing required key `epochs`/m,
    },
  ];
  for (const c of invalid) {
    it(`refused: ${c.name}`, () => {
      const result = loadWith(c.overrides);
      assert.equal(result.ok, false);
      if (result.ok) return;
      assert.match(result.diagnostics.map(formatDiagnostic).join('\n'), c.printed);
    });
  }
});

describe('defaults come from the schema declaration', () => {
  it("a regularizer's unwritten factor is 0, not tfjs's 0.01", () => {
    const spec = resolved(
      VALID.replace(
        'units: classes, activation: softmax',
        'units: classes, activation: softmax, kernelRegularizer: { l2: 0.0001 }',
      ),
    );
    assert.deepEqual(spec.head[1], {
      type: 'dense',
      units: 'classes',
      activation: 'softmax',
      useBias: true,
      kernelRegularizer: { l1: 0, l2: 0.0001 },
    });
  });

  it('early stopping and plateau settings are filled from the schema', () => {
    const spec = resolved(
      VALID.replace('- epochs: 1', '- { epochs: 4, earlyStopping: {}, reduceLROnPlateau: { monitor: val_accuracy } }'),
    );
    assert.deepEqual(spec.train.stages[0]!.earlyStopping, {
      monitor: 'val_loss',
      mode: 'min',
      patience: 3,
      minDelta: 0,
      restoreBest: true,
    });
    assert.deepEqual(spec.train.stages[0]!.reduceLROnPlateau, {
      monitor: 'val_accuracy',
      mode: 'max',
      factor: 0.1,
      patience: 2,
      minDelta: 0.0001,
      cooldown: 0,
      minLearningRate: 0,
    });
  });

  it('`dataset: { csv: … }` says how to name the format, and never that csv is unsupported', () => {
    const result = load(VALID.replace('format: mnist', 'format: mnist\n  csv: labels.csv'));
    assert.equal(result.ok, false);
    if (result.ok) return;
    const printed = result.diagnostics.map(formatDiagnostic).join('\n');
    assert.match(
      printed,
      /unknown key `csv`\n.*\n.*\n {2}hint: a dataset names its format as a value: `format: csv` with `file: <the CSV>`/,
    );
    assert.doesNotMatch(printed, /not supported/);
  });
});
