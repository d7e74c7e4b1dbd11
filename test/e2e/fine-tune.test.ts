import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../../src/engine/kernels/backend.js';
import { buildBase } from '../../src/engine/model/build-models.js';
import { loadZooArtifacts } from '../../src/engine/model/zoo.js';
import { fileModelHandler } from '../../src/store/model-folder.js';
import { tlpipe, workspace, write } from './cli-harness.js';

const pipeline = (name: string, batchNorm: 'frozen' | 'train') => `name: ${name}
seed: 3
backend: wasm
dataset:
  format: mnist
  limit: { perClass: 6, testPerClass: 2 }
  image: { size: [32, 32] }
base: { cut: block_2_add }
head:
  - globalAveragePooling2d: {}
  - dense: { units: classes, activation: softmax }
train:
  batchSize: 10
  stages:
    - { name: head, epochs: 1, optimizer: { learningRate: 0.01 } }
    - name: finetune
      epochs: 1
      unfreeze: ["block_2_*"]
      batchNorm: ${batchNorm}
      optimizer: { learningRate: 0.001 }
`;

/** Base weights that differ between the pretrained base and a run's exported model, by weight name. */
async function changedBaseWeights(runDir: string): Promise<string[]> {
  const pretrained = await buildBase(loadZooArtifacts('mobilenet_v2'), 'block_2_add', [32, 32, 3]);
  const exported = await tf.loadLayersModel(fileModelHandler(path.join(runDir, 'model')));
  const changed: string[] = [];
  for (const layer of pretrained.layers) {
    const after = exported.getLayer(layer.name).getWeights();
    layer.getWeights().forEach((w, i) => {
      if (!Buffer.from(w.dataSync().buffer).equals(Buffer.from(after[i]!.dataSync().buffer)))
        changed.push(layer.weights[i]!.originalName);
    });
  }
  return changed.sort();
}

describe('two-stage transfer: train the head on a frozen base, then fine-tune the top block on wasm', () => {
  const dir = workspace('finetune');
  const runDir = (name: string) =>
    path.join(
      dir,
      'runs',
      name,
      readdirSync(path.join(dir, 'runs', name)).find((n) => n.startsWith('0001-'))!,
    );
  before(async () => {
    await selectBackend('wasm');
  });

  it('exactly the unfrozen layers learn; batch norm keeps its statistics (batchNorm: frozen)', async () => {
    write(dir, 'frozen.yaml', pipeline('frozen', 'frozen'));
    const plan = await tlpipe(['plan', 'frozen.yaml'], dir);
    assert.match(
      plan.stdout,
      /^ {2}finetune: head \+ 9 of 27 base layers; batch norm frozen; [\d,]+ of [\d,]+ weights learn$/m,
    );
    assert.match(plan.stdout, /^ {4}frozen {5}Conv1_pad … block_1_project_BN {2}18 layers {2}7,552 weights$/m);
    assert.match(plan.stdout, /^ {4}trainable {2}block_2_expand … block_2_add {4}9 layers {3}9,456 weights$/m);
    const r = await tlpipe(['run', 'frozen.yaml'], dir);
    assert.equal(r.code, 0, r.stderr);
    // The run's progress counts the base's layers as plan does (the input layer left out).
    assert.match(r.stderr, /^base mobilenet_v2 cut at block_2_add: 27 layers, /m);
    const planned = JSON.parse(readFileSync(path.join(runDir('frozen'), 'plan.json'), 'utf8'));
    const unfrozen: string[] = planned.stages[1].trainableBaseLayers;
    assert.deepEqual(unfrozen, [
      'block_2_expand',
      'block_2_expand_BN',
      'block_2_expand_relu',
      'block_2_depthwise',
      'block_2_depthwise_BN',
      'block_2_depthwise_relu',
      'block_2_project',
      'block_2_project_BN',
      'block_2_add',
    ]);
    const expected = [
      'block_2_depthwise/depthwise_kernel',
      'block_2_depthwise_BN/beta',
      'block_2_depthwise_BN/gamma',
      'block_2_expand/kernel',
      'block_2_expand_BN/beta',
      'block_2_expand_BN/gamma',
      'block_2_project/kernel',
      'block_2_project_BN/beta',
      'block_2_project_BN/gamma',
    ];
    assert.deepEqual(await changedBaseWeights(runDir('frozen')), expected);
  });

  it('with batchNorm: train, the unfrozen batch norm layers also update their moving statistics', async () => {
    write(dir, 'trainbn.yaml', pipeline('trainbn', 'train'));
    const r = await tlpipe(['run', 'trainbn.yaml'], dir);
    assert.equal(r.code, 0, r.stderr);
    const changed = await changedBaseWeights(runDir('trainbn'));
    assert.ok(
      changed.includes('block_2_expand_BN/moving_mean') && changed.includes('block_2_project_BN/moving_variance'),
      changed.join(', '),
    );
    assert.ok(
      changed.every((name) => name.startsWith('block_2_')),
      changed.join(', '),
    );
  });
});
