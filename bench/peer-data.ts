/**
 * The PyTorch peer's data, made by tlpipe's own code so both sides see the
 * same images: a pipeline's splits (the same seeded, stratified selection of
 * MNIST digits `tlpipe run` trains, validates and tests on), turned into
 * model inputs as tlpipe turns them (bilinear resize, gray repeated into
 * RGB, the base's normalisation), written as float32 NHWC files with int32
 * labels and an index.json that bench/peer_data.py reads. Also the per-step
 * cases' batches: real digits at each shape both sides time.
 */
import { closeSync, mkdirSync, openSync, writeFileSync, writeSync } from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { loadPipeline } from '../src/format/load-pipeline.js';
import { readDataset, selectExamples, splitSource, type LoadedDataset } from '../src/engine/data/datasets.js';
import { imageBatch, pixelsTensor, preprocessingFor, type ImagePreprocessing } from '../src/engine/data/preprocess.js';
import { selectBackend } from '../src/engine/kernels/backend.js';
import type { NormalizeSpec } from '../src/format/types.js';

const SPLITS = ['train', 'validation', 'test'] as const;
/** Rows turned into inputs at a time: a few MB of tensors, whatever the split's size. */
const CHUNK = 512;

export interface PeerSplitFiles {
  count: number;
  /** float32, count × height × width × channels. */
  images: string;
  /** int32, count. */
  labels: string;
  /** Which examples of the source split (train or test file) these are, in order. */
  indexes: number[];
}

export interface PeerDataIndex {
  pipeline: string;
  seed: number;
  inputShape: [number, number, number];
  classes: number;
  preprocessing: string;
  splits: Record<(typeof SPLITS)[number], PeerSplitFiles>;
}

async function writeInputs(
  file: string,
  source: LoadedDataset['train'],
  indexes: readonly number[],
  pre: ImagePreprocessing,
): Promise<void> {
  const fd = openSync(file, 'w');
  try {
    for (let i = 0; i < indexes.length; i += CHUNK) {
      const x = imageBatch(await source.pixels(indexes.slice(i, i + CHUNK)), pre);
      const data = x.dataSync() as Float32Array;
      writeSync(fd, new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
      x.dispose();
    }
  } finally {
    closeSync(fd);
  }
}

/** Writes a pipeline's three splits as the model sees them into `out`; returns index.json's path. */
export async function writePipelineInputs(pipelineFile: string, out: string): Promise<string> {
  const loaded = loadPipeline(pipelineFile);
  if (!loaded.ok) throw new Error(loaded.diagnostics.map((d) => d.message).join('; '));
  const { spec } = loaded.value;
  // The wasm backend, as `tlpipe run` resizes on it: the same floats, not merely close ones.
  await selectBackend('wasm');
  const dataset = await readDataset(spec.dataset, { seed: spec.seed });
  const pre = preprocessingFor(spec.base.normalize, spec.dataset.image);
  mkdirSync(out, { recursive: true });
  const splits = {} as PeerDataIndex['splits'];
  for (const split of SPLITS) {
    const indexes = dataset.selection[split];
    const source = splitSource(dataset, split);
    const files = { images: `${split}.f32`, labels: `${split}-labels.i32` };
    await writeInputs(path.join(out, files.images), source, indexes, pre);
    const labels = Int32Array.from(indexes, (i) => source.labels[i]!);
    writeFileSync(path.join(out, files.labels), new Uint8Array(labels.buffer));
    splits[split] = { count: indexes.length, ...files, indexes: [...indexes] };
  }
  const index: PeerDataIndex = {
    pipeline: spec.name,
    seed: spec.seed,
    inputShape: [...pre.inputSize, pre.channels],
    classes: dataset.numClasses,
    preprocessing: pre.description,
    splits,
  };
  const file = path.join(out, 'index.json');
  writeFileSync(file, JSON.stringify(index));
  return file;
}

/** The per-step cases' batches: real MNIST training digits, as tlpipe would feed them at each size. */
export interface StepInputs {
  /** 64 digits at 28×28×1, pixels / 255 (the small CNN's batch). */
  x28: tf.Tensor4D;
  labels64: Int32Array;
  /** 32 digits at 96×96×3 and 224×224×3, pixels / 255 (MobileNetV2's normalisation in the zoo). */
  x96: tf.Tensor4D;
  x224: tf.Tensor4D;
  /** The same 32 at 96×96×3 as 0–255 pixels, before normalisation: the augmented case's input. */
  pixels96: tf.Tensor4D;
  labels32: Int32Array;
}

/** 64 digits from a seeded stratified selection (7 per class, the first 64 in file order). */
export async function stepInputs(): Promise<StepInputs> {
  const mnist = await readDataset({
    format: 'mnist',
    limit: {},
    validation: 0,
    image: { size: [28, 28], channels: 1, fit: 'fill' },
  });
  const chosen = selectExamples(mnist, { perClass: 7, validation: 0, seed: 42 }).train.slice(0, 64);
  const digits = await mnist.train.pixels(chosen);
  const unit: NormalizeSpec = { mean: [0, 0, 0], std: [1, 1, 1], description: 'unit' };
  const at = (size: number, channels: 1 | 3) => preprocessingFor(unit, { size: [size, size], channels, fit: 'fill' });
  const first32 = { ...digits, count: 32, data: digits.data.subarray(0, 32 * 28 * 28) };
  const labels64 = Int32Array.from(chosen, (i) => mnist.train.labels[i]!);
  return {
    x28: imageBatch(digits, at(28, 1)),
    labels64,
    x96: imageBatch(first32, at(96, 3)),
    x224: imageBatch(first32, at(224, 3)),
    pixels96: pixelsTensor(first32, [96, 96], 3),
    labels32: labels64.slice(0, 32),
  };
}

/** The per-step batches as files for bench/pytorch_cases.py `steps` (NHWC float32, int32 labels). */
export async function writeStepInputs(out: string): Promise<string> {
  await selectBackend('wasm');
  const inputs = await stepInputs();
  mkdirSync(out, { recursive: true });
  const index: Record<string, { file: string; shape: number[]; dtype: 'float32' | 'int32' }> = {};
  for (const [name, value] of Object.entries(inputs) as [string, tf.Tensor | Int32Array][]) {
    const data = value instanceof Int32Array ? value : (value.dataSync() as Float32Array);
    writeFileSync(path.join(out, `${name}.bin`), new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    index[name] = {
      file: `${name}.bin`,
      shape: value instanceof Int32Array ? [value.length] : value.shape,
      dtype: value instanceof Int32Array ? 'int32' : 'float32',
    };
  }
  const file = path.join(out, 'index.json');
  writeFileSync(file, JSON.stringify(index));
  return file;
}
