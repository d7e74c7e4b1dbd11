import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import {
  cpSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import path from 'node:path';
import { before, describe, it } from 'node:test';
import sharp from 'sharp';
import { loadModel, modelFiles } from '../../src/api/load-model.js';
import { UserError } from '../../src/diagnostics/user-error.js';
import { renderDemoPage } from '../../src/render/demo-page.js';
import { DEMO_PAGE_MAX_WEIGHT_BYTES } from '../../src/store/demo-page.js';
import { writeExportFiles } from '../../src/store/model-folder.js';
import { portableName } from '../../src/api/explain.js';
import { mnistFiles } from '../../src/engine/data/datasets.js';
import { parseIdx } from '../../src/engine/data/idx-file.js';
import {
  hasStackTrace,
  readJson,
  tlpipe,
  tlpipeBounded,
  workspace,
  write,
  writeMnistSubsetIdx,
} from './cli-harness.js';

/**
 * Class names a hostile dataset could give: a Windows device name, an OSC
 * sequence that retitles a terminal (ESC … BEL) with a right-to-left
 * override, and one too long for a file name.
 */
const HOSTILE_LABELS = ['CON', 'seven\u001b]0;PWNED\u0007\u202eevil', `long${'x'.repeat(246)}`];
const yamlString = (s: string): string => JSON.stringify(s);

const PIPELINE = `name: integrity
seed: 5
backend: wasm
dataset:
  format: idx
  train: { images: idx/train-images-idx3-ubyte.gz, labels: idx/train-labels-idx1-ubyte.gz }
  test: { images: idx/test-images-idx3-ubyte.gz, labels: idx/test-labels-idx1-ubyte.gz }
  classNames: [${HOSTILE_LABELS.map(yamlString).join(', ')}]
  validation: 0.2
  image: { size: [32, 32] }
base: { cut: block_2_add }
head:
  - globalAveragePooling2d: {}
  - dense: { units: classes, activation: softmax }
train:
  batchSize: 8
  stages:
    - { name: head, epochs: 1, optimizer: { learningRate: 0.01 } }
export: { quantize: uint8 }
`;

const json = (file: string): any => JSON.parse(readFileSync(file, 'utf8'));
const writeJson = (file: string, value: unknown): void => writeFileSync(file, JSON.stringify(value));
/** Rewrites a JSON file of a model folder and removes the manifest, as someone editing a folder by hand (or an older tlpipe) leaves it. */
const unverified = (model: string, name: string, change: (value: any) => unknown): void => {
  writeJson(path.join(model, name), change(json(path.join(model, name))));
  rmSync(path.join(model, 'manifest.json'));
};
const denseOf = (modelJson: any): any =>
  (modelJson.modelTopology.model_config ?? modelJson.modelTopology).config.layers.find(
    (l: any) => l.class_name === 'Dense',
  );
/** The same number of bytes, other content: only the sha256 can tell. */
const sameSize = (file: string, from: string, to: string): void => {
  const text = readFileSync(file, 'utf8');
  assert.ok(text.includes(from) && from.length === to.length);
  writeFileSync(file, text.replace(from, to));
};

interface DamageCase {
  name: string;
  /** Damages the copy of the run folder (its model/ is `model`). */
  damage: (model: string, run: string) => void;
  command?: 'predict' | 'evaluate';
  err: RegExp;
}

const CASES: DamageCase[] = [
  {
    name: 'one byte flipped in weights.bin',
    damage: (m) => flip(path.join(m, 'weights.bin'), 100),
    err: /model\/weights\.bin does not match the sha256 in manifest\.json/,
  },
  {
    name: 'weights.bin cut in half',
    damage: (m) => truncateSync(path.join(m, 'weights.bin'), 1000),
    err: /model\/weights\.bin has 1000 bytes, \d+ when it was written/,
  },
  {
    name: 'one byte flipped in weights.bin, evaluate',
    command: 'evaluate',
    damage: (m) => flip(path.join(m, 'weights.bin'), 7),
    err: /model\/weights\.bin does not match the sha256/,
  },
  {
    name: 'model.json edited, same size (softmax → sigmoid)',
    damage: (m) => sameSize(path.join(m, 'model.json'), '"softmax"', '"sigmoid"'),
    err: /model\/model\.json does not match the sha256/,
  },
  {
    name: 'model.json edited, another size',
    damage: (m) =>
      writeJson(path.join(m, 'model.json'), { ...json(path.join(m, 'model.json')), generatedBy: 'someone' }),
    err: /model\/model\.json has \d+ bytes, \d+ when it was written/,
  },
  {
    name: 'labels.json edited, same size',
    damage: (m) => sameSize(path.join(m, 'labels.json'), '"CON"', '"CAT"'),
    err: /model\/labels\.json does not match the sha256/,
  },
  {
    name: 'preprocessing.json edited, same size',
    damage: (m) => sameSize(path.join(m, 'preprocessing.json'), '"channels": 3', '"channels": 1'),
    err: /model\/preprocessing\.json does not match the sha256/,
  },
  {
    name: 'preprocessing.json edited, another size',
    damage: (m) =>
      writeJson(path.join(m, 'preprocessing.json'), { ...json(path.join(m, 'preprocessing.json')), fit: 'contain' }),
    err: /model\/preprocessing\.json has \d+ bytes/,
  },
  {
    name: 'probe.json edited',
    damage: (m) => writeFileSync(path.join(m, 'probe.json'), '{}'),
    err: /model\/probe\.json has 2 bytes/,
  },
  {
    name: 'manifest.json not a manifest',
    damage: (m) => writeFileSync(path.join(m, 'manifest.json'), '[]'),
    err: /model\/manifest\.json is damaged/,
  },
  {
    name: 'weights.bin a FIFO',
    damage: (m) => fifo(path.join(m, 'weights.bin')),
    err: /weights\.bin is a named pipe \(FIFO\), not a file/,
  },
  {
    name: 'weights.bin missing',
    damage: (m) => rmSync(path.join(m, 'weights.bin')),
    err: /model\/weights\.bin is missing/,
  },
  {
    name: 'no manifest: labels.json an object, not a list',
    damage: (m) => unverified(m, 'labels.json', () => ({ 0: 'zero' })),
    err: /model\/labels\.json is not a list of class names/,
  },
  {
    name: 'no manifest: labels.json with a number',
    damage: (m) => unverified(m, 'labels.json', (l: string[]) => [l[0], 7, l[2]]),
    err: /model\/labels\.json is not a list of class names \(at \/1/,
  },
  {
    name: 'no manifest: two labels for three outputs',
    damage: (m) => {
      unverified(m, 'labels.json', (l: string[]) => l.slice(0, 2));
      rmSync(path.join(m, 'probe.json'));
    },
    err: /model\/labels\.json names 2 classes, but the model has 3 outputs/,
  },
  {
    name: 'no manifest: a 60 000×60 000 input',
    damage: (m) => unverified(m, 'preprocessing.json', (p) => ({ ...p, inputSize: [60000, 60000] })),
    err: /model\/preprocessing\.json is not a valid preprocessing file \(at \/inputSize\/0/,
  },
  {
    name: 'no manifest: an input size the model does not take',
    damage: (m) => unverified(m, 'preprocessing.json', (p) => ({ ...p, inputSize: [64, 64] })),
    err: /preprocessing\.json prepares inputs of shape \[64, 64, 3\], but the model takes \[32, 32, 3\]/,
  },
  {
    name: 'no manifest: 5 channels',
    damage: (m) => unverified(m, 'preprocessing.json', (p) => ({ ...p, channels: 5 })),
    err: /preprocessing\.json is not a valid preprocessing file \(at \/channels/,
  },
  {
    name: 'no manifest: a scale of 1e999 (Infinity)',
    damage: (m) => {
      writeFileSync(
        path.join(m, 'preprocessing.json'),
        readFileSync(path.join(m, 'preprocessing.json'), 'utf8').replace(/"scale": \[\s*[-\d.e]+/, '"scale": [1e999'),
      );
      rmSync(path.join(m, 'manifest.json'));
    },
    err: /preprocessing\.json is not a valid preprocessing file \(at \/scale\/0/,
  },
  {
    name: 'no manifest: a probe of the wrong width',
    damage: (m) =>
      unverified(m, 'probe.json', (p) => ({ ...p, predictions: p.predictions.map((r: number[]) => r.slice(1)) })),
    err: /probe\.json does not fit the model/,
  },
  {
    name: 'no manifest: probe.json a FIFO',
    damage: (m) => {
      rmSync(path.join(m, 'manifest.json'));
      fifo(path.join(m, 'probe.json'));
    },
    err: /model\/probe\.json is a named pipe \(FIFO\), not a file/,
  },
  {
    name: 'no manifest: weights.bin a link to /dev/zero',
    damage: (m) => {
      rmSync(path.join(m, 'manifest.json'));
      rmSync(path.join(m, 'weights.bin'));
      symlinkSync('/dev/zero', path.join(m, 'weights.bin'));
    },
    err: /model\/weights\.bin is a link that leads outside/,
  },
  {
    name: 'no manifest: 2^31 units',
    damage: (m) =>
      unverified(m, 'model.json', (j) => {
        denseOf(j).config.units = 2 ** 31;
        return j;
      }),
    err: /model\/model\.json: layer `head_\d+_dense` has units 2147483648/,
  },
  {
    name: 'no manifest: units that do not fit the weights',
    damage: (m) =>
      unverified(m, 'model.json', (j) => {
        denseOf(j).config.units = 5000;
        return j;
      }),
    err: /model\/model\.json: layer `head_\d+_dense` has units 5000, but its kernel has shape \[\d+, 3\]/,
  },
  {
    name: 'no manifest: a convolution that does not fit its weights',
    damage: (m) =>
      unverified(m, 'model.json', (j) => {
        const t = j.modelTopology.model_config ?? j.modelTopology;
        t.config.layers.find((l: any) => l.class_name === 'Conv2D').config.kernel_size = [9, 9];
        return j;
      }),
    err: /model\/model\.json cannot be built into a model: .*[Ss]hape/,
  },
  {
    name: 'no manifest: a huge kernel shape',
    damage: (m) =>
      unverified(m, 'model.json', (j) => {
        j.weightsManifest[0].weights.find((w: any) => /dense.*kernel/.test(w.name)).shape = [100000, 100000];
        return j;
      }),
    err: /model\/model\.json: weight head_\d+_dense\/kernel declares \[100000,100000\] float32, more than the \d+ bytes there are/,
  },
  {
    name: 'no manifest: weight shapes that do not fill weights.bin',
    damage: (m) =>
      unverified(m, 'model.json', (j) => {
        j.weightsManifest[0].weights.find((w: any) => /dense.*bias/.test(w.name)).shape = [4];
        return j;
      }),
    err: /model\/model\.json: the weights declare (\d+ bytes, but there are|more than the) \d+/,
  },
  {
    name: 'no manifest: a weight file outside the folder',
    damage: (m) =>
      unverified(m, 'model.json', (j) => {
        j.weightsManifest[0].paths = ['../../../w.bin'];
        return j;
      }),
    err: /model\/model\.json names a weight file outside its folder: \.\.\/\.\.\/\.\.\/w\.bin$/m,
  },
  {
    name: 'no manifest: model.json a list',
    damage: (m) => unverified(m, 'model.json', () => []),
    err: /model\/model\.json is not a tfjs LayersModel's model\.json/,
  },
  {
    name: 'a failed run (ENOSPC writing report.html)',
    damage: (_m, r) =>
      writeJson(path.join(r, 'run.json'), {
        ...json(path.join(r, 'run.json')),
        status: 'failed',
        error: { message: 'ENOSPC: no space left on device, write report.html' },
      }),
    err: /is failed, not completed \(ENOSPC: no space left on device, write report\.html\)[\s\S]*--allow-incomplete/,
  },
  {
    name: 'an interrupted run, evaluate',
    command: 'evaluate',
    damage: (_m, r) =>
      writeJson(path.join(r, 'run.json'), { ...json(path.join(r, 'run.json')), status: 'interrupted' }),
    err: /is interrupted, not completed[\s\S]*--allow-incomplete/,
  },
];

function flip(file: string, at: number): void {
  const bytes = readFileSync(file);
  bytes[at] = bytes[at]! ^ 0x01;
  writeFileSync(file, bytes);
}

function fifo(file: string): void {
  rmSync(file);
  execFileSync('mkfifo', [file]);
}

// Two cases at a time: each copies its own folder, and most of a case is a CLI process starting.
describe(
  'an exported model is read back without trust (manifest, confinement, bounds, status)',
  { concurrency: 2 },
  () => {
    const dir = workspace('model-integrity');
    let run = '';
    let digit = '';
    before(async () => {
      mkdirSync(path.join(dir, 'idx'));
      writeMnistSubsetIdx(path.join(dir, 'idx'), 8, 3);
      write(dir, 'integrity.yaml', PIPELINE);
      const r = await tlpipe(['run', 'integrity.yaml', '--runs', 'runs'], dir);
      assert.equal(r.code, 0, r.stderr);
      const runs = path.join(dir, 'runs', 'integrity');
      run = path.join(
        runs,
        readdirSync(runs).find((n) => /^\d{4}-/.test(n))!,
      );
      // A real test digit at the model's input size.
      const images = parseIdx(readFileSync(mnistFiles().test.images));
      digit = path.join(dir, 'digit.png');
      await sharp(Buffer.from(images.data.subarray(0, 784)), { raw: { width: 28, height: 28, channels: 1 } })
        .resize(32, 32)
        .png()
        .toFile(digit);
    });

    it('every exported model folder has manifest.json, covering every other file of it', () => {
      for (const folder of ['model', 'model-uint8']) {
        const files = readdirSync(path.join(run, folder))
          .filter((n) => n !== 'manifest.json')
          .sort();
        assert.deepEqual(Object.keys(json(path.join(run, folder, 'manifest.json')).files).sort(), files);
        assert.ok(
          files.includes('index.html') && files.includes('weights.bin') && files.includes('labels.json'),
          files.join(' '),
        );
      }
    });

    let n = 0;
    for (const c of CASES) {
      it(`refused: ${c.name}`, async () => {
        const copy = path.join(dir, 'cases', `${++n}`, path.basename(run));
        cpSync(run, copy, { recursive: true });
        c.damage(path.join(copy, 'model'), copy);
        const args = c.command === 'evaluate' ? ['evaluate', copy] : ['predict', copy, digit];
        const r = await tlpipeBounded(args, dir, { timeoutMs: 90_000 });
        assert.equal(r.timedOut, false, `${c.name}: did not answer in 90 s`);
        assert.equal(r.code, 1, `${c.name}: ${r.stdout}${r.stderr}`);
        assert.match(r.stderr, c.err);
        assert.equal(hasStackTrace(r.stderr), false, r.stderr);
        assert.equal(r.stdout, '', 'nothing predicted from a model that was refused');
        assert.ok(r.peakMiB < 1500, `${c.name}: ${r.peakMiB} MiB`);
      });
    }

    it('a run that did not complete is used when asked explicitly (--allow-incomplete, allowIncomplete)', async () => {
      const copy = path.join(dir, 'cases', 'allowed', path.basename(run));
      cpSync(run, copy, { recursive: true });
      writeJson(path.join(copy, 'run.json'), { ...json(path.join(copy, 'run.json')), status: 'failed' });
      const r = await tlpipe(['predict', copy, digit, '--allow-incomplete', '--json'], dir);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(JSON.parse(r.stdout).top.length, 3);
      const refused = await loadModel(copy);
      assert.equal(refused.ok, false);
      assert.match(refused.diagnostics[0]!.message, /is failed, not completed/);
      const allowed = await loadModel(copy, { allowIncomplete: true });
      assert.ok(allowed.ok, JSON.stringify(allowed.diagnostics));
      allowed.value.dispose();
      // The model folder named directly: the run around it counts, and an unreadable run.json is not "completed".
      writeFileSync(path.join(copy, 'run.json'), '{"status": "compl');
      const unknown = await tlpipe(['predict', path.join(copy, 'model-uint8'), digit], dir);
      assert.equal(unknown.code, 1);
      assert.match(
        unknown.stderr,
        /that holds this model cannot be read, so whether it completed is unknown[\s\S]*--allow-incomplete/,
      );
      assert.equal(
        (await tlpipe(['predict', path.join(copy, 'model-uint8'), digit, '--allow-incomplete'], dir)).code,
        0,
      );
    });

    it('modelFiles (plain tf.loadLayersModel) verifies the folder as loadModel does', async () => {
      const copy = path.join(dir, 'cases', 'plain', 'model');
      cpSync(path.join(run, 'model'), copy, { recursive: true });
      const model = await tf.loadLayersModel(modelFiles(copy));
      assert.deepEqual(model.outputs[0]!.shape, [null, 3]);
      model.dispose();
      flip(path.join(copy, 'weights.bin'), 11);
      await assert.rejects(
        tf.loadLayersModel(modelFiles(copy)),
        (error: unknown) => error instanceof UserError && /weights\.bin does not match the sha256/.test(error.message),
      );
    });

    it('a folder without manifest.json (an older export) is used with a warning that says so', async () => {
      const copy = path.join(dir, 'cases', 'older', 'model');
      cpSync(path.join(run, 'model'), copy, { recursive: true });
      rmSync(path.join(copy, 'manifest.json'));
      const r = await tlpipe(['predict', copy, digit], dir);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, /warning: .*manifest\.json is missing, so the model's files cannot be checked for damage/);
    });

    it('a model folder is accepted directly: model-uint8/ inside the run, and a deployed copy elsewhere', async () => {
      const reference = JSON.parse((await tlpipe(['predict', run, digit, '--json'], dir)).stdout);
      const uint8 = await tlpipe(['predict', path.join(run, 'model-uint8'), digit, '--json'], dir);
      assert.equal(uint8.code, 0, uint8.stderr);
      assert.equal(JSON.parse(uint8.stdout).top[0].label, reference.top[0].label);
      const deployed = path.join(dir, 'deployed', 'digits');
      cpSync(path.join(run, 'model'), deployed, { recursive: true });
      const there = await tlpipe(['predict', deployed, digit, '--json'], dir);
      assert.equal(there.code, 0, there.stderr);
      assert.deepEqual(JSON.parse(there.stdout).top, reference.top);
      const evaluated = await tlpipe(['evaluate', path.join(run, 'model-uint8'), '--json'], dir);
      assert.equal(evaluated.code, 0, evaluated.stderr);
      assert.equal(
        JSON.parse(evaluated.stdout).examples,
        readJson(path.join(run, 'summary.json'))
          .test.confusionMatrix.flat()
          .reduce((a: number, b: number) => a + b, 0),
      );
      const noSplit = await tlpipe(['evaluate', deployed], dir);
      assert.equal(noSplit.code, 1);
      assert.match(noSplit.stderr, /is a model folder outside any run, so it has no test split[\s\S]*--data/);
      const damaged = path.join(dir, 'deployed', 'damaged');
      cpSync(path.join(run, 'model-uint8'), damaged, { recursive: true });
      flip(path.join(damaged, 'weights.bin'), 3);
      const refused = await tlpipe(['predict', damaged, digit], dir);
      assert.equal(refused.code, 1);
      assert.match(refused.stderr, /damaged\/weights\.bin does not match the sha256/);
      const nowhere = await tlpipe(['predict', path.join(dir, 'nowhere'), digit], dir);
      assert.equal(nowhere.code, 1);
      assert.match(nowhere.stderr, /or name a model folder itself/);
    });

    it('class names with control characters never reach the terminal raw; --json keeps them exact', async () => {
      const text = await tlpipe(['predict', run, digit, '--top', '3'], dir);
      assert.equal(text.code, 0, text.stderr);
      assert.doesNotMatch(text.stdout + text.stderr, /[\u0007\u001b\u202e]/);
      assert.match(text.stdout, /seven\\x1b\]0;PWNED\\x07\\u202eevil/);
      const exact = await tlpipe(['predict', run, digit, '--top', '3', '--json'], dir);
      assert.deepEqual(
        JSON.parse(exact.stdout)
          .top.map((t: { label: string }) => t.label)
          .sort(),
        [...HOSTILE_LABELS].sort(),
      );
      const evaluated = await tlpipe(['evaluate', run], dir);
      assert.equal(evaluated.code, 0, evaluated.stderr);
      assert.doesNotMatch(evaluated.stdout + evaluated.stderr, /[\u0007\u001b\u202e]/);
      const data = await tlpipe(['data', 'integrity.yaml'], dir);
      assert.equal(data.code, 0, data.stderr);
      assert.doesNotMatch(data.stdout + data.stderr, /[\u0007\u001b\u202e]/);
      assert.match(data.stdout, /seven\\x1b/);
      const planned = await tlpipe(['plan', 'integrity.yaml'], dir);
      assert.equal(planned.code, 0, planned.stderr);
      assert.doesNotMatch(planned.stdout + planned.stderr, /[\u0007\u001b\u202e]/);
      const unknown = await tlpipe(
        ['explain', run, digit, '--class', 'bad\u001b]0;X\u0007', '--out', path.join(dir, 'none')],
        dir,
      );
      assert.equal(unknown.code, 1);
      assert.doesNotMatch(unknown.stderr, /[\u0007\u001b]/);
    });

    it('explain --out names: bounded, portable, unique, for hostile class and image names', async () => {
      const longImage = path.join(dir, `${'i'.repeat(240)}.png`);
      const rtlImage = path.join(dir, 'NUL.png');
      cpSync(digit, longImage);
      cpSync(digit, rtlImage);
      const out = path.join(dir, 'overlays');
      const r = await tlpipe(
        ['explain', run, longImage, rtlImage, ...HOSTILE_LABELS.flatMap((l) => ['--class', l]), '--out', out, '--json'],
        dir,
      );
      assert.equal(r.code, 0, r.stderr);
      const written = readdirSync(out);
      assert.equal(written.length, 6, written.join('\n'));
      for (const name of written) {
        assert.ok(Buffer.byteLength(name) <= 255 - 10, `${name.length}: ${name}`);
        assert.doesNotMatch(name, /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069\\/:*?"<>|]/);
        assert.doesNotMatch(name, /^(con|prn|aux|nul|com\d|lpt\d)(\.|$)/i);
      }
      const overlays = r.stdout
        .trim()
        .split('\n')
        .flatMap((line) => JSON.parse(line).maps.map((m: { overlay: string }) => path.basename(m.overlay)));
      assert.deepEqual([...overlays].sort(), [...written].sort());
    });

    it('the demo page: export.demoPage false writes none, a model too big for a page gets none unless asked, and the manifest covers what is there', async () => {
      const files = {
        labels: json(path.join(run, 'model', 'labels.json')),
        preprocessing: json(path.join(run, 'model', 'preprocessing.json')),
        probe: json(path.join(run, 'model', 'probe.json')),
      };
      const fresh = (name: string): string => {
        const folder = path.join(dir, 'pages', name);
        cpSync(path.join(run, 'model'), path.join(folder, 'model'), { recursive: true });
        for (const f of ['index.html', 'manifest.json']) rmSync(path.join(folder, 'model', f));
        return folder;
      };
      const off = fresh('off');
      await writeExportFiles(off, { ...files, demoPage: false }, renderDemoPage);
      assert.deepEqual(Object.keys(json(path.join(off, 'model', 'manifest.json')).files).sort(), [
        'labels.json',
        'model.json',
        'preprocessing.json',
        'probe.json',
        'weights.bin',
      ]);
      const big = fresh('big');
      writeFileSync(path.join(big, 'model', 'weights.bin'), Buffer.alloc(DEMO_PAGE_MAX_WEIGHT_BYTES + 1));
      await writeExportFiles(big, files, renderDemoPage);
      assert.equal(readdirSync(path.join(big, 'model')).includes('index.html'), false);
      const small = fresh('small');
      await writeExportFiles(small, files, renderDemoPage);
      assert.ok(json(path.join(small, 'model', 'manifest.json')).files['index.html']);
      const planned = await tlpipe(['plan', 'integrity.yaml', '--set', 'export.demoPage=false', '--json'], dir);
      assert.equal(planned.code, 0, planned.stderr);
      assert.equal(JSON.parse(planned.stdout).tasks.find((t: { kind: string }) => t.kind === 'export').demoPage, false);
    });

    it('portable names: each class of hostile name, and names that differ stay apart', () => {
      const cases: [string, RegExp][] = [
        ['CON', /^_CON-[0-9a-f]{8}$/],
        ['com1.txt', /^_com1\.txt-[0-9a-f]{8}$/],
        ['a\u202eb', /^a_b-[0-9a-f]{8}$/],
        ['.hidden', /^_hidden-[0-9a-f]{8}$/],
        ['trailing. ', /^trailing\._-[0-9a-f]{8}$/],
        ['é'.repeat(200), /^é{45}-[0-9a-f]{8}$/],
        ['plain name', /^plain name$/],
      ];
      for (const [name, expected] of cases) assert.match(portableName(name), expected, JSON.stringify(name));
      assert.notEqual(portableName('a/b'), portableName('a:b'));
      assert.notEqual(portableName(`${'x'.repeat(300)}1`), portableName(`${'x'.repeat(300)}2`));
    });
  },
);
