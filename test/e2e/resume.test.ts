import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../../src/engine/kernels/backend.js';
import { fileModelHandler } from '../../src/store/model-folder.js';
import { epochRows, readJson, startCli, tlpipe, workspace, write } from './cli-harness.js';

/**
 * Two stages that use everything a checkpoint must carry: a dropout stream,
 * a warmup schedule, early-stopping and plateau counters, per-group adamw
 * optimizers over base and head, label smoothing and checkpoint pruning.
 */
const PIPELINE = `name: recipe
seed: 11
backend: wasm
dataset:
  format: mnist
  limit: { perClass: 6, testPerClass: 2 }
  image: { size: [32, 32] }
base: { cut: block_2_add }
head:
  - globalAveragePooling2d: {}
  - dense: { units: 16, activation: relu }
  - dropout: { rate: 0.3 }
  - dense: { units: classes, activation: softmax }
train:
  batchSize: 10
  checkpoints: { keepLast: 2 }
  stages:
    - name: head
      epochs: 3
      optimizer: { learningRate: 0.01 }
      schedule: { type: cosine, warmupEpochs: 1 }
      earlyStopping: { patience: 5 }
    - name: finetune
      epochs: 3
      unfreeze: ["block_2_*"]
      optimizer: { name: adamw, learningRate: { head: 0.003, base: 0.0003 } }
      reduceLROnPlateau: { patience: 1, factor: 0.5 }
      labelSmoothing: 0.1
`;

const runDirOf = (dir: string): string => {
  const runs = path.join(dir, 'runs', 'recipe');
  return path.join(
    runs,
    readdirSync(runs).find((n) => /^\d{4}-/.test(n))!,
  );
};
// Live-tensor counts differ after a resume (nothing of the earlier stages is in memory); the leak check is per run.
const metricsOf = (runDir: string): Record<string, unknown>[] => epochRows(runDir, ['seconds', 'tensors']);

describe('resume: a run killed mid-training continues from its last checkpoint and ends as if never stopped', () => {
  const whole = workspace('resume-whole');
  const killed = workspace('resume-killed');
  let wholeRun = '';
  let killedRun = '';
  let resumed: Awaited<ReturnType<typeof tlpipe>>;
  let killedAfter = '';
  let afterKill: { status: string; latest: number } = { status: '', latest: 0 };

  before(async () => {
    write(whole, 'recipe.yaml', PIPELINE);
    write(killed, 'recipe.yaml', PIPELINE);
    const [uninterrupted] = await Promise.all([
      tlpipe(['run', 'recipe.yaml'], whole),
      (async () => {
        // SIGKILL as soon as the first fine-tuning epoch has ended: no handler runs, the checkpoint
        // of that epoch may be half-written, and run.json still says running.
        const run = startCli(['run', 'recipe.yaml'], killed, {
          onStderr: (stderr, child) => /finetune epoch 4 /.test(stderr) && !child.killed && child.kill('SIGKILL'),
        });
        await run.exited();
        killedAfter = run.stderr();
      })(),
    ]);
    assert.equal(uninterrupted.code, 0, uninterrupted.stderr);
    wholeRun = runDirOf(whole);
    killedRun = runDirOf(killed);
    afterKill = {
      status: readJson(path.join(killedRun, 'run.json')).status,
      latest: readJson(path.join(killedRun, 'checkpoints/index.json')).latest.epoch,
    };
    resumed = await tlpipe(['resume', killedRun], killed);
  });

  it('the killed run was left running, its latest complete checkpoint indexed', () => {
    assert.match(killedAfter, /finetune epoch 4 /);
    assert.equal(afterKill.status, 'running');
    assert.ok([3, 4].includes(afterKill.latest), String(afterKill.latest));
  });

  it('tlpipe resume completes it in the same directory and records the resume', () => {
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.match(resumed.stderr, /resuming .* from epoch [34]/);
    const run = readJson(path.join(killedRun, 'run.json'));
    assert.equal(run.status, 'completed');
    assert.equal(run.resumes.length, 1);
    assert.equal(run.resumes[0].fromEpoch, afterKill.latest);
    // The machine its pids are processes of: the run's, and each resume's.
    assert.deepEqual([run.host, run.resumes[0].host], [hostname(), hostname()]);
  });

  it("metrics of every epoch equal the uninterrupted run's exactly (wasm backend: bit-identical)", () => {
    const expected = metricsOf(wholeRun);
    assert.equal(expected.length, 6);
    assert.deepEqual(metricsOf(killedRun), expected);
  });

  it("the exported model is byte-identical to the uninterrupted run's, and so are the test metrics", () => {
    assert.ok(
      readFileSync(path.join(killedRun, 'model/weights.bin')).equals(
        readFileSync(path.join(wholeRun, 'model/weights.bin')),
      ),
    );
    assert.deepEqual(
      readJson(path.join(killedRun, 'summary.json')).test,
      readJson(path.join(wholeRun, 'summary.json')).test,
    );
  });

  it('no tensors leak: the count is the same after every epoch of a stage, fine-tuning included', () => {
    const rows = readFileSync(path.join(wholeRun, 'metrics.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { stage: string; tensors: number });
    for (const stage of ['head', 'finetune']) {
      const counts = rows.filter((r) => r.stage === stage).map((r) => r.tensors);
      assert.deepEqual(
        counts,
        counts.map(() => counts[0]),
        `${stage}: ${counts.join(', ')}`,
      );
    }
  });

  it('the schedule, the per-group rates and the stages are as planned', () => {
    const rows = metricsOf(wholeRun);
    // cosine with 1 warmup epoch: epoch 1 starts at 0, epoch 2 at the peak; the fine-tuning stage starts at its peaks.
    assert.deepEqual(
      rows.map((r) => r['stage']),
      ['head', 'head', 'head', 'finetune', 'finetune', 'finetune'],
    );
    assert.equal(rows[0]!['lr'], 0);
    assert.equal(rows[1]!['lr'], 0.01);
    assert.deepEqual(rows[3]!['learningRates'], { head: 0.003, base: 0.0003 });
  });

  it('keeps the last 2 checkpoints plus the best, and nothing half-written', () => {
    const index = readJson(path.join(killedRun, 'checkpoints/index.json'));
    const onDisk = readdirSync(path.join(killedRun, 'checkpoints'))
      .filter((n) => n !== 'index.json')
      .sort();
    assert.deepEqual(onDisk, index.kept.map((c: { dir: string }) => path.basename(c.dir)).sort());
    assert.ok(index.kept.length <= 4, onDisk.join(', '));
    assert.ok(onDisk.includes('epoch-005') && onDisk.includes('epoch-006'), onDisk.join(', '));
    assert.ok(onDisk.includes(path.basename(index.best.dir)));
  });

  it('resume refuses a completed run with a clear message', async () => {
    const again = await tlpipe(['resume', killedRun], killed);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /has already completed/);
  });
});

describe('run --resume after Ctrl-C', () => {
  it('continues the interrupted run of the same plan instead of starting a new one', async () => {
    const dir = workspace('resume-sigint');
    write(dir, 'recipe.yaml', PIPELINE);
    const run = startCli(['run', 'recipe.yaml'], dir, {
      onStderr: (stderr, child) => /head epoch 2 /.test(stderr) && !child.killed && child.kill('SIGINT'),
    });
    const code = await run.exited();
    const stderr = run.stderr();
    assert.equal(code, 130, stderr);
    assert.match(stderr, /continue it with: tlpipe resume runs\/recipe\/0001-/);
    const r = await tlpipe(['run', 'recipe.yaml', '--resume'], dir);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /resuming runs\/recipe\/0001-[0-9a-f]{8} from epoch [23]/);
    assert.deepEqual(readdirSync(path.join(dir, 'runs', 'recipe')).filter((n) => /^\d{4}-/.test(n)).length, 1);
    assert.equal(metricsOf(runDirOf(dir)).length, 6);
    const again = await tlpipe(['run', 'recipe.yaml', '--resume', '--no-cache'], dir);
    assert.match(again.stderr, /no unfinished run of this plan in runs to resume; starting a new run/);
  });
});

describe('early stopping with restoreBest', () => {
  const dir = workspace('early-stop');
  let runDir = '';
  before(async () => {
    await selectBackend('wasm');
    // A rate far too high makes validation loss bounce, so patience 1 runs out early.
    write(
      dir,
      'stop.yaml',
      PIPELINE.replace('name: recipe', 'name: stop').replace(
        / {2}stages:[\s\S]*/,
        `  stages:
    - name: head
      epochs: 12
      optimizer: { learningRate: 0.3 }
      earlyStopping: { monitor: val_loss, patience: 1 }
`,
      ),
    );
    const r = await tlpipe(['run', 'stop.yaml'], dir);
    assert.equal(r.code, 0, r.stderr);
    const runs = path.join(dir, 'runs', 'stop');
    runDir = path.join(
      runs,
      readdirSync(runs).find((n) => /^\d{4}-/.test(n))!,
    );
  });

  it("stops the stage before its epochs run out, and puts back the best epoch's weights", async () => {
    const rows = readFileSync(path.join(runDir, 'metrics.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { epoch: number; val_loss: number });
    const [stage] = readJson(path.join(runDir, 'summary.json')).stages;
    assert.equal(stage.stoppedEarly, true);
    assert.ok(rows.length < 12 && stage.epochsRun === rows.length, `${rows.length} epochs`);
    const best = rows.reduce((a, b) => (b.val_loss < a.val_loss ? b : a));
    assert.equal(stage.restoredEpoch, best.epoch);
    // The best epoch's checkpoint (the head alone) holds exactly the exported model's head weights.
    const checkpoint = await tf.loadLayersModel(
      fileModelHandler(path.join(runDir, `checkpoints/epoch-${String(best.epoch).padStart(3, '0')}`)),
    );
    const exported = await tf.loadLayersModel(fileModelHandler(path.join(runDir, 'model')));
    for (const name of ['head_1_dense', 'head_3_dense']) {
      const a = checkpoint.getLayer(name).getWeights();
      const b = exported.getLayer(name).getWeights();
      a.forEach((w, i) =>
        assert.ok(Buffer.from(w.dataSync().buffer).equals(Buffer.from(b[i]!.dataSync().buffer)), `${name} weight ${i}`),
      );
    }
  });
});
