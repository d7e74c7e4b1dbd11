import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { goalOf, peerSummary, peerWeakness, refusal, type PeerDescription } from '../../bench/peer-check.js';
import { writePipelineInputs } from '../../bench/peer-data.js';
import { seedCnnPipeline } from '../../bench/seed-cnn-pipeline.js';
import { readDataset } from '../../src/engine/data/datasets.js';
import { workspace, write } from '../e2e/cli-harness.js';

const run = promisify(execFile);
const CASES = fileURLToPath(new URL('../../../bench/pytorch_cases.py', import.meta.url));
/** Debian's python3-torch is for the system python; a pyenv python on PATH may not see it. */
const PYTHON = '/usr/bin/python3';

/** Why the PyTorch peer cannot run here, or false; CI installs it (.ci/run), and there the test must run. */
function torchMissing(): string | false {
  try {
    execFileSync(PYTHON, ['-c', 'import torch, torchvision, numpy, threadpoolctl'], {
      stdio: 'ignore',
      timeout: 120_000,
    });
    return false;
  } catch {
    const missing = `${PYTHON} cannot import torch, torchvision and threadpoolctl (Debian: apt-get install python3-torch python3-torchvision libopenblas0-pthread python3-threadpoolctl)`;
    if (process.env['TLPIPE_REQUIRE_TORCH'] === '1') throw new Error(missing);
    return missing;
  }
}

/** Debian's reference BLAS (libblas3), installed beside OpenBLAS by .ci/run. */
const REFERENCE_BLAS = '/usr/lib/x86_64-linux-gnu/blas/libblas.so.3';
function referenceBlasMissing(): string | false {
  if (existsSync(REFERENCE_BLAS)) return false;
  const missing = `${REFERENCE_BLAS} is not installed (Debian: apt-get install libblas3)`;
  if (process.env['TLPIPE_REQUIRE_TORCH'] === '1') throw new Error(missing);
  return missing;
}

/** The seed article's CNN on a small seeded subset of the real digits (1 000 to train, 200 to test). */
const SMALL_SEED_CNN = seedCnnPipeline({
  name: 'small_seed_cnn',
  seed: 3,
  dataset:
    '{ format: mnist, limit: { perClass: 100, testPerClass: 20 }, validation: 0, image: { size: [28, 28], channels: 1 } }',
  epochs: 2,
});

const REFERENCE_PEER: PeerDescription = {
  torch: '1.13.0a0',
  threads: 2,
  blas: { api: 'reference', library: '/usr/lib/x86_64-linux-gnu/blas/libblas.so.3' },
  onednn: { available: true, enabled: true, on: true, library: '/usr/lib/x86_64-linux-gnu/libdnnl.so.2.6' },
};

describe("npm run bench's PyTorch peer", () => {
  const missing = torchMissing();

  it(
    "trains on tlpipe's own selection of real digits, learns, and runs on OpenBLAS with oneDNN and 2 threads",
    { skip: missing, timeout: 300_000 },
    async () => {
      const dir = workspace('pytorch-peer');
      const pipeline = write(dir, 'small.yaml', SMALL_SEED_CNN);
      const data = path.join(dir, 'peer-data');
      const index = JSON.parse(readFileSync(await writePipelineInputs(pipeline, data), 'utf8')) as {
        inputShape: number[];
        splits: Record<string, { count: number; indexes: number[] }>;
      };
      // The examples are the ones tlpipe selects for this pipeline (its seed, its limits), not any 1 000 digits.
      const mnist = await readDataset(
        {
          format: 'mnist',
          limit: { perClass: 100, testPerClass: 20 },
          validation: 0,
          image: { size: [28, 28], channels: 1, fit: 'fill' },
        },
        { seed: 3 },
      );
      assert.deepEqual(index.splits['train']!.indexes, mnist.selection.train);
      assert.deepEqual(index.splits['test']!.indexes, mnist.selection.test);
      assert.deepEqual(index.inputShape, [28, 28, 1]);
      // The written pixels are the digits (unit scale), not noise: the first train image equals its file bytes / 255.
      const first = new Float32Array(readFileSync(path.join(data, 'train.f32')).buffer.slice(0, 28 * 28 * 4));
      const raw = (await mnist.train.pixels([mnist.selection.train[0]!])).data;
      assert.deepEqual(
        Array.from(first, (v) => Math.round(v * 255)),
        Array.from(raw),
      );

      const { stdout } = await run(
        PYTHON,
        [CASES, JSON.stringify({ case: 'seed_cnn', data, batch: 32, stages: [{ epochs: 2, learningRate: 0.001 }] })],
        {
          timeout: 240_000,
        },
      );
      const result = JSON.parse(stdout) as {
        seconds: number;
        testAccuracy: number;
        trainImages: number;
        peer: PeerDescription;
      };
      assert.equal(result.trainImages, 1000);
      assert.ok(
        result.testAccuracy > 0.5,
        `test accuracy ${result.testAccuracy} on 10 classes: the peer did not learn`,
      );
      assert.equal(result.peer.threads, 2);
      assert.equal(result.peer.blas.api, 'openblas', JSON.stringify(result.peer.blas));
      assert.match(result.peer.blas.library ?? '', /openblas/);
      assert.ok(result.peer.onednn.on, JSON.stringify(result.peer.onednn));
      assert.match(result.peer.onednn.library ?? '', /libdnnl/);
      assert.equal(peerWeakness(result.peer), undefined);
      assert.match(peerSummary(result.peer), /openblas 0\.3\.\d+ \(\d threads\), oneDNN on/);
    },
  );

  it(
    'a process that has the reference BLAS mapped beside OpenBLAS is on the reference BLAS, and the bench refuses it',
    { skip: missing || referenceBlasMissing(), timeout: 120_000 },
    async () => {
      // Preloaded, Debian's reference libblas.so.3 answers torch's BLAS calls, while OpenBLAS stays mapped through
      // LAPACK: threadpoolctl lists OpenBLAS, so only the mapped libraries tell.
      const { stdout } = await run(
        PYTHON,
        ['-c', 'import json, peer_runtime; peer_runtime.configure(); print(json.dumps(peer_runtime.describe()))'],
        {
          cwd: path.dirname(CASES),
          env: { ...process.env, LD_PRELOAD: REFERENCE_BLAS, TORCH_THREADS: '2' },
          // Killed if it hangs: the test's own timeout would not stop the child.
          timeout: 60_000,
        },
      );
      const peer = JSON.parse(stdout) as PeerDescription;
      assert.equal(peer.blas.api, 'reference', JSON.stringify(peer.blas));
      assert.match(refusal(peerWeakness(peer) ?? 'not refused'), /BENCH_ALLOW_REFERENCE_BLAS=1/);
    },
  );

  it('refuses the reference BLAS, oneDNN off and one thread, saying how to install OpenBLAS', () => {
    const reference = peerWeakness(REFERENCE_PEER);
    assert.match(reference ?? '', /reference BLAS \(\/usr\/lib\/x86_64-linux-gnu\/blas\/libblas\.so\.3\)/);
    assert.match(refusal(reference!), /apt-get install .*libopenblas0-pthread/);
    assert.match(refusal(reference!), /BENCH_ALLOW_REFERENCE_BLAS=1/);
    const noDnn = { ...REFERENCE_PEER, blas: { api: 'openblas', version: '0.3.21', threads: 2 } };
    assert.match(peerWeakness({ ...noDnn, onednn: { ...noDnn.onednn, enabled: false, on: false } }) ?? '', /oneDNN/);
    assert.match(peerWeakness({ ...noDnn, threads: 1 }) ?? '', /1 threads, not 2/);
    assert.equal(peerWeakness(noDnn), undefined);
  });

  it("holds each ratio to issue 29's goal in its own direction", () => {
    assert.deepEqual(goalOf('seed_cnn_epoch', 1.7), { goal: "≤ 1.00× PyTorch's wall time", met: false });
    assert.equal(goalOf('frozen_head_e2e', 0.49)?.met, true);
    assert.equal(goalOf('frozen_head_e2e', 0.51)?.met, false);
    assert.equal(goalOf('finetune_top3_96_augmented', 0.5)?.met, true);
    assert.equal(goalOf('features_224_2_workers', 0.74)?.met, false);
    assert.equal(goalOf('head_on_features', 3), undefined);
  });
});
