import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import {
  hasStackTrace,
  startCli,
  TFJS_NODE,
  tlpipe,
  VALID,
  workspace,
  write,
  writeMnistSubsetIdx,
} from './cli-harness.js';

function mkdtempIn(dir: string, name: string): string {
  mkdirSync(path.join(dir, name));
  return path.join(dir, name);
}

// The help, usage and argument cases run in-process in test/cli/program.test.ts; these few run the bin, to show it wires them to the process.
describe('the bin', { concurrency: true }, () => {
  const dir = workspace('usage');
  const cases: {
    name: string;
    args: string[];
    env?: Record<string, string>;
    code: number;
    out?: RegExp;
    err?: RegExp;
  }[] = [
    { name: '--help', args: ['--help'], code: 0, out: /Commands:\n {2}run \[options\] <pipeline>/ },
    { name: '--version and -V print the version', args: ['-V'], code: 0, out: /^\d+\.\d+\.\d+\n$/ },
    {
      name: 'unknown command, with the nearest one',
      args: ['rnu'],
      code: 2,
      err: /unknown command 'rnu'\n\(Did you mean run\?\)/,
    },
    {
      name: 'models lists the offline zoo',
      args: ['models'],
      code: 0,
      out: /^mobilenet_v2 +offline +224×224, ≥ 32 +out_relu +162 +2.6 M/m,
    },
    {
      name: 'a TLPIPE_* variable set to a value it does not take',
      args: ['validate', 'x.yaml'],
      env: { TLPIPE_WORKERS: 'many' },
      code: 2,
      err: /^tlpipe: error: TLPIPE_WORKERS is 'many', not a whole number ≥ 1$/m,
    },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const r = await tlpipe(c.args, dir, c.env);
      assert.equal(r.code, c.code, r.stderr);
      if (c.out) assert.match(r.stdout, c.out);
      if (c.err) assert.match(r.stderr, c.err);
    });
  }
});

describe('validate', () => {
  it('accepts the shipped pipelines', async () => {
    const root = path.resolve(import.meta.dirname, '../../..');
    const files = readdirSync(path.join(root, 'pipelines')).map((f) => path.join('pipelines', f));
    const r = await tlpipe(['validate', ...files], root);
    assert.equal(r.code, 0, r.stderr);
  });

  it('prints every invalid file as file:line:col with the line and a hint, exit 1, no stack trace', async () => {
    const dir = workspace('validate');
    write(dir, 'good.yaml', VALID);
    write(dir, 'bad.yaml', VALID.replace('epochs: 1', 'epochs: 1\n      optimizer: { learningrate: 0.1 }'));
    const r = await tlpipe(['validate', 'good.yaml', 'bad.yaml', 'missing.yaml'], dir);
    assert.equal(r.code, 1);
    assert.match(r.stdout, /good.yaml: ok/);
    assert.match(r.stdout, /1 valid, 2 invalid/);
    assert.match(
      r.stderr,
      /^bad.yaml:11:20: error: train.stages\[0\].optimizer.learningrate: unknown key `learningrate`$/m,
    );
    assert.match(r.stderr, /^ {2}11 \| {7}optimizer: \{ learningrate: 0.1 \}$/m);
    assert.match(r.stderr, /hint: did you mean `learningRate`\?/);
    assert.match(r.stderr, /^missing.yaml: error: no such file$/m);
    assert.equal(hasStackTrace(r.stderr), false);
  });
});

describe('plan', () => {
  it('prints the task table, and JSON with --json, without creating a run', async () => {
    const dir = workspace('plan');
    write(dir, 'p.yaml', VALID);
    const table = await tlpipe(['plan', 'p.yaml'], dir);
    assert.equal(table.code, 0, table.stderr);
    assert.match(
      table.stdout,
      /^train:stage-1 +[0-9a-f]{12} +head, data, features:stage-1\n {2}train the head 1 epoch/m,
    );
    const json = await tlpipe(['plan', 'p.yaml', '--json'], dir);
    const plan = JSON.parse(json.stdout);
    assert.deepEqual(
      plan.tasks.map((t: { id: string }) => t.id),
      ['data', 'base', 'head', 'features:stage-1', 'train:stage-1', 'evaluate', 'export'],
    );
    assert.match(plan.fingerprint, /^[0-9a-f]{64}$/);
    assert.equal(existsSync(path.join(dir, 'runs')), false);
  });

  const sizes: { size: number; cut: string; shape: string }[] = [
    { size: 32, cut: 'out_relu', shape: '1×1×1280' },
    { size: 96, cut: 'out_relu', shape: '3×3×1280' },
    { size: 160, cut: 'block_13_expand_relu', shape: '10×10×576' },
  ];
  for (const c of sizes) {
    it(`mobilenet_v2 at ${c.size}×${c.size} cut at ${c.cut} gives ${c.shape} features`, async () => {
      const dir = workspace('plan-size');
      write(
        dir,
        'p.yaml',
        VALID.replace('  image: { size: [32, 32] }\n', '') +
          `base: { inputSize: [${c.size}, ${c.size}], cut: ${c.cut} }\n`,
      );
      const r = await tlpipe(['plan', 'p.yaml'], dir);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, new RegExp(`mobilenet_v2 cut at ${c.cut} → ${c.shape}, frozen`));
    });
  }

  it('loads inception_v3 from the offline zoo and reports its feature shape', async () => {
    const dir = workspace('plan-inception');
    write(dir, 'p.yaml', VALID.replace('size: [32, 32]', 'size: [75, 75]') + 'base: { model: inception_v3 }\n');
    const r = await tlpipe(['plan', 'p.yaml'], dir);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /inception_v3 cut at mixed10 → 1×1×2048, frozen/);
  });
});

describe('bad input to run: a clear message, exit 1, no run directory claiming success', { concurrency: 2 }, () => {
  const cases: {
    name: string;
    text?: string;
    file?: string;
    args?: string[];
    setup?: (dir: string) => void;
    err: RegExp[];
    notErr?: RegExp;
    skip?: string;
  }[] = [
    {
      name: 'missing pipeline file',
      file: 'nope.yaml',
      err: [/^nope.yaml: error: no such file$/m, /hint: check the path/],
    },
    {
      name: 'YAML syntax error',
      text: VALID.replace('format: mnist', 'format: [mnist'),
      err: [/^p.yaml:\d+:\d+: error: Flow sequence/m],
    },
    {
      name: 'schema violation',
      text: VALID.replace('epochs: 1', 'epochs: -3'),
      err: [/^p.yaml:10:15: error: train.stages\[0\].epochs: must be >= 1, got -3$/m],
    },
    {
      name: 'unknown base model',
      text: VALID + 'base: { model: resnet50 }\n',
      err: [
        /^p.yaml:11:16: error: base.model: unknown base model `resnet50`$/m,
        /available offline: mobilenet_v2, inception_v3/,
      ],
    },
    {
      name: 'unknown cut layer',
      text: VALID + 'base: { cut: block_13_expand_rel }\n',
      err: [
        /^p.yaml:11:14: error: base.cut: the base has no layer named `block_13_expand_rel`$/m,
        /nearest layer names: block_13_expand_relu/,
      ],
    },
    {
      name: 'a head whose output cannot match the classes in the data',
      setup: (dir) => writeMnistSubsetIdx(dir, 2, 3),
      text: VALID.replace(
        'format: mnist',
        'format: idx\n  train: { images: train-images-idx3-ubyte.gz, labels: train-labels-idx1-ubyte.gz }',
      )
        .replace('units: classes', 'units: 10')
        .replace('testPerClass: 1 ', ''),
      err: [
        /^p.yaml:8:21: error: head\[1\].dense.units: the last layer outputs 10 scores, but the dataset has 3 classes$/m,
        /units: classes/,
      ],
    },
    {
      name: 'a missing dataset file',
      text: VALID.replace(
        'format: mnist',
        'format: idx\n  train: { images: nowhere.gz, labels: nowhere-labels.gz }',
      ).replace('testPerClass: 1 ', ''),
      err: [/^p.yaml:3:20: error: dataset.train.images: IDX file .*nowhere.gz: not found$/m],
    },
    {
      name: 'IDX images and labels that disagree in count',
      setup: (dir) => {
        const files = writeMnistSubsetIdx(dir, 2, 3);
        const other = writeMnistSubsetIdx(mkdtempIn(dir, 'other'), 3, 3);
        copyFileSync(other.train.labels, files.train.labels);
      },
      text: VALID.replace(
        'format: mnist',
        'format: idx\n  train: { images: train-images-idx3-ubyte.gz, labels: train-labels-idx1-ubyte.gz }',
      ).replace('testPerClass: 1 ', ''),
      err: [/^p.yaml:3:10: error: dataset.train: train: 6 images but 9 labels$/m, /must describe the same examples/],
    },
    {
      name: 'IDX test labels outside the training classes',
      setup: (dir) => {
        writeMnistSubsetIdx(dir, 2, 3);
        const wider = writeMnistSubsetIdx(mkdtempIn(dir, 'wider'), 2, 5);
        copyFileSync(wider.test.images, path.join(dir, 'test-images-idx3-ubyte.gz'));
        copyFileSync(wider.test.labels, path.join(dir, 'test-labels-idx1-ubyte.gz'));
      },
      text: VALID.replace(
        'format: mnist',
        'format: idx\n  train: { images: train-images-idx3-ubyte.gz, labels: train-labels-idx1-ubyte.gz }\n  test: { images: test-images-idx3-ubyte.gz, labels: test-labels-idx1-ubyte.gz }',
      ),
      err: [
        /^p.yaml:4:54: error: dataset.test.labels: the test labels include class 4, which never occurs in the training labels \(0..2\)$/m,
      ],
    },
    {
      name: 'an image folder that is a file',
      setup: (dir) => write(dir, 'photos', 'not a folder'),
      text: VALID.replace('format: mnist', 'format: imageFolder\n  dir: photos').replace('testPerClass: 1 ', ''),
      err: [/^p.yaml:3:8: error: dataset.dir: image folder .*photos: not a folder$/m],
    },
    {
      name: 'a CSV row without a label',
      setup: (dir) => write(dir, 'labels.csv', 'image,label\na.png,cat\nb.png,\n'),
      text: VALID.replace('format: mnist', 'format: csv\n  file: labels.csv').replace('testPerClass: 1 ', ''),
      err: [/^p.yaml:3:9: error: dataset.file: 1 bad row:$/m, /labels.csv:3: missing label \(column `label`\)/],
    },
    {
      name: 'a corrupt IDX file',
      setup: (dir) => write(dir, 'bad.gz', 'not gzip, not idx'),
      text: VALID.replace('format: mnist', 'format: idx\n  train: { images: bad.gz, labels: bad.gz }').replace(
        'testPerClass: 1 ',
        '',
      ),
      err: [/^p.yaml:3:20: error: dataset.train.images: .*bad.gz: not an IDX file/m],
    },
    // A problem a flag causes is reported at the flag, as a --set's is; one the file's key causes, at that key.
    {
      name: 'a --backend this machine lacks, at the flag (not at a line of a file that names no backend)',
      args: ['--backend', 'tensorflow'],
      text: VALID,
      skip: TFJS_NODE,
      err: [
        /^--backend tensorflow: error: backend `tensorflow` is not available: @tensorflow\/tfjs-node is not installed/m,
        /hint: install @tensorflow\/tfjs-node/,
      ],
      notErr: /^p\.yaml/m,
    },
    {
      name: 'a --backend this machine lacks, at the flag even when the file names another backend',
      args: ['--backend', 'tensorflow'],
      text: VALID.replace('head:\n', 'backend: wasm\nhead:\n'),
      skip: TFJS_NODE,
      err: [/^--backend tensorflow: error: backend `tensorflow` is not available/m],
      notErr: /^p\.yaml/m,
    },
    {
      name: "the file's `backend:` this machine lacks, at that key's line",
      text: VALID.replace('head:\n', 'backend: tensorflow\nhead:\n'),
      skip: TFJS_NODE,
      err: [/^p\.yaml:5:10: error: backend: backend `tensorflow` is not available/m, /^ {2}5 \| backend: tensorflow$/m],
      notErr: /^--backend/m,
    },
  ];
  for (const c of cases) {
    it(c.name, { ...(c.skip ? { skip: c.skip } : {}) }, async () => {
      const dir = workspace('bad');
      c.setup?.(dir);
      if (c.text) write(dir, 'p.yaml', c.text);
      const r = await tlpipe(['run', c.file ?? 'p.yaml', ...(c.args ?? [])], dir);
      assert.equal(r.code, 1, r.stderr);
      for (const pattern of c.err) assert.match(r.stderr, pattern);
      if (c.notErr) assert.doesNotMatch(r.stderr, c.notErr);
      assert.equal(hasStackTrace(r.stderr), false, r.stderr);
      assert.equal(existsSync(path.join(dir, 'runs')), false, 'a run directory was created');
    });
  }
});

describe('a run that fails', () => {
  it('a diverging loss stops the run, names stage, epoch and batch, and marks the run failed', async () => {
    const dir = workspace('diverge');
    write(
      dir,
      'p.yaml',
      `name: diverge
dataset:
  format: mnist
  limit: { perClass: 4, testPerClass: 1 }
  image: { size: [32, 32] }
base: { cut: block_3_expand_relu }
head:
  - flatten: {}
  - dense: { units: 256, activation: linear }
  - dense: { units: 256, activation: linear }
  - dense: { units: classes, activation: linear }
train:
  stages:
    - { name: boom, epochs: 40, batchSize: 4, optimizer: { name: sgd, learningRate: 10, momentum: 0.99 } }
`,
    );
    const r = await tlpipe(['run', 'p.yaml'], dir);
    assert.equal(r.code, 1, r.stderr);
    assert.match(
      r.stderr,
      /^p.yaml:14:85: error: train.stages\[0\].optimizer.learningRate: the loss became (NaN|Infinity|-Infinity) in stage `boom`, epoch \d+, batch \d+\/8$/m,
    );
    assert.equal(hasStackTrace(r.stderr), false);
    const runs = path.join(dir, 'runs', 'diverge');
    const [id] = readdirSync(runs).filter((n) => !n.startsWith('.'));
    const run = JSON.parse(readFileSync(path.join(runs, id!, 'run.json'), 'utf8'));
    assert.equal(run.status, 'failed');
    assert.match(run.error.message, /the loss became/);
    assert.equal(existsSync(path.join(runs, id!, 'summary.json')), false, 'a failed run has no summary');
    // The epochs before the one that diverged keep their checkpoints, and the index names the last good one.
    const failedEpoch = Number(/epoch (\d+), batch/.exec(run.error.message)![1]);
    const index = existsSync(path.join(runs, id!, 'checkpoints/index.json'))
      ? JSON.parse(readFileSync(path.join(runs, id!, 'checkpoints/index.json'), 'utf8'))
      : { latest: null };
    assert.equal(index.latest?.epoch ?? 0, failedEpoch - 1);
    if (index.latest) assert.ok(existsSync(path.join(runs, id!, index.latest.dir, 'weights.bin')));
  });
});

describe('interruption', () => {
  it('SIGTERM stops the run at a batch boundary and marks it interrupted', async () => {
    const dir = workspace('signal');
    write(
      dir,
      'p.yaml',
      VALID.replace('perClass: 2, testPerClass: 1', 'perClass: 50, testPerClass: 1').replace(
        'epochs: 1',
        'epochs: 200\n      batchSize: 4',
      ),
    );
    // Interrupted once training is under way.
    const cli = startCli(['run', 'p.yaml'], dir, {
      onStderr: (stderr, child) => /epoch 1 /.test(stderr) && !child.killed && child.kill('SIGTERM'),
    });
    const code = await cli.exited();
    const stderr = cli.stderr();
    assert.equal(code, 130, stderr);
    const runs = path.join(dir, 'runs', 'p');
    const [id] = readdirSync(runs).filter((n) => !n.startsWith('.'));
    const run = JSON.parse(readFileSync(path.join(runs, id!, 'run.json'), 'utf8'));
    assert.equal(run.status, 'interrupted');
    assert.equal(existsSync(path.join(runs, id!, 'summary.json')), false, 'an interrupted run has no summary');
    assert.ok(
      existsSync(path.join(runs, id!, 'checkpoints/epoch-001/model.json')),
      "the first epoch's checkpoint is kept",
    );
  });
});
