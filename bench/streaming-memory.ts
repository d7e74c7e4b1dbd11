/**
 * Streaming benchmark: does training on image files stay in bounded memory
 * as the dataset grows, and how fast are images decoded?
 *
 * Writes real MNIST digits as 224×224 PNG files, then runs the real CLI on
 * a small and a 4× larger folder with decoded-pixel caching off
 * (TLPIPE_DECODE_CACHE_MB=0) and augmentation on, so every batch of every
 * epoch is read from disk and decoded again. Prints both peak RSS figures
 * and their ratio (≈1 means memory does not grow with the dataset).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { readDataset } from '../src/engine/data/datasets.js';
import { mnistFiles } from '../src/engine/data/datasets.js';
import { parseIdx } from '../src/engine/data/idx-file.js';
import { CLI, workspace } from '../test/e2e/cli-harness.js';

const SMALL = Number(process.env['BENCH_SMALL'] ?? 300);
const LARGE = SMALL * 4;
const SIZE = 224;

async function writeFolder(dir: string, count: number): Promise<void> {
  const files = mnistFiles();
  const images = parseIdx(readFileSync(files.train.images));
  const labels = parseIdx(readFileSync(files.train.labels));
  for (let i = 0; i < count; i++) {
    const label = labels.data[i]!;
    mkdirSync(path.join(dir, `digit-${label}`), { recursive: true });
    await sharp(Buffer.from(images.data.subarray(i * 784, (i + 1) * 784)), {
      raw: { width: 28, height: 28, channels: 1 },
    })
      .resize(SIZE, SIZE)
      .png()
      .toFile(path.join(dir, `digit-${label}`, `${i}.png`));
  }
}

const PIPELINE = (dir: string) => `name: stream
dataset:
  format: imageFolder
  dir: ${dir}
  validation: 0
  image: { size: [${SIZE}, ${SIZE}] }
  augment: { flipHorizontal: true }
base: { cut: block_1_expand_relu }
head:
  - globalAveragePooling2d: {}
  - dense: { units: classes, activation: softmax }
train:
  stages:
    - { epochs: 2, batchSize: 32 }
`;

function runStreaming(root: string, dir: string): { peakRssMiB: number; seconds: number; examples: number } {
  const file = path.join(root, `${path.basename(dir)}.yaml`);
  writeFileSync(file, PIPELINE(dir));
  execFileSync(
    process.execPath,
    [CLI, 'run', file, '--quiet', '--backend', 'wasm', '--runs', path.join(root, 'runs')],
    {
      env: { ...process.env, TLPIPE_DECODE_CACHE_MB: '0' },
      stdio: ['ignore', 'ignore', 'inherit'],
    },
  );
  const runs = path.join(root, 'runs', 'stream');
  const latest = readdirSync(runs)
    .filter((n) => !n.startsWith('.'))
    .sort()
    .pop()!;
  const summary = JSON.parse(readFileSync(path.join(runs, latest, 'summary.json'), 'utf8')) as {
    resources: { peakRssMiB: number; seconds: number };
    data: { counts: { train: number } };
  };
  return { ...summary.resources, examples: summary.data.counts.train };
}

const root = workspace('bench-stream');
const small = path.join(root, 'small');
const large = path.join(root, 'large');
await writeFolder(small, SMALL);
await writeFolder(large, LARGE);

const started = performance.now();
const decoded = await readDataset(
  {
    format: 'imageFolder',
    dir: large,
    limit: {},
    validation: 0,
    testFraction: 0,
    onBadFile: 'error',
    image: { size: [SIZE, SIZE], channels: 3, fit: 'cover' },
  },
  { cacheBytes: 0 },
);
const decodeSeconds = (performance.now() - started) / 1000;

const a = runStreaming(root, small);
const b = runStreaming(root, large);
console.log(
  `decode: ${decoded.train.count} PNG files → ${SIZE}×${SIZE} RGB in ${decodeSeconds.toFixed(2)}s = ${(decoded.train.count / decodeSeconds).toFixed(0)} images/s (sharp, 8 in flight)`,
);
console.log(`streaming run, ${a.examples} images × 2 epochs: peak RSS ${a.peakRssMiB} MiB, ${a.seconds.toFixed(1)}s`);
console.log(`streaming run, ${b.examples} images × 2 epochs: peak RSS ${b.peakRssMiB} MiB, ${b.seconds.toFixed(1)}s`);
console.log(
  `peak RSS ratio (4× the images): ${(b.peakRssMiB / a.peakRssMiB).toFixed(2)}  (float32 pixels of the larger set alone would be ${((LARGE * SIZE * SIZE * 3 * 4) / 2 ** 20).toFixed(0)} MiB)`,
);
