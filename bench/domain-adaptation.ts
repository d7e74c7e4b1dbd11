/**
 * A measured domain shift on real data (issue 28): a model trained on MNIST's
 * handwritten digits meets digits typeset in Debian's fonts (DejaVu,
 * Liberation; drawn by scripts/render-font-digits with seeded offsets,
 * rotations and stroke widths). What does each way of closing the gap buy?
 *
 *   a  MNIST → fonts, head only, no adaptation
 *   b  a + `adapt: { method: adabn }` on unlabelled rendered digits
 *   c0 a + a fine-tuning stage (top blocks), no alignment: the baseline of c and d
 *   c  c0 + `adapt: { method: coral }`
 *   d  c0 + `adapt: { method: dann }`
 *   e  a few labelled rendered digits, MNIST beside them as `dataset.source` (weight 0.3)
 *   f  the few labelled rendered digits alone
 *   g  as e, with the source at weight 1
 *
 * Every case is a real pipeline run by the real CLI (`--no-cache`: each
 * computes its own features), tested on the same rendered test set (other
 * seeds than the unlabelled and labelled sets, the same faces). With
 * --repeat N the cases run in N alternating rounds and the table shows the
 * median wall time. A case whose keys this build refuses, or that completes
 * without a sign that the feature ran (a build that ignores the key), is
 * reported as not available, with the reason, instead of as a number.
 *
 *   node dist/bench/domain-adaptation.js [--cases a,b,c0,c,d,e,f,g] [--mnist 300 (per class)]
 *     [--target 100 (unlabelled per class)] [--test 50 (per class)] [--labelled 10 (per class)]
 *     [--size 64] [--cut block_13_expand_relu] [--epochs 10] [--finetune-epochs 2]
 *     [--unfreeze "block_12_*,block_13_*" (the fine-tuning stage's layers)]
 *     [--backend wasm] [--repeat 1] [--keep]
 */
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { packageRoot } from '../src/package/package-root.js';
import { CLI, readJson, workspace, write, writeMnistSubsetIdx } from '../test/e2e/cli-harness.js';

const { values } = parseArgs({
  options: {
    cases: { type: 'string', default: 'a,b,c0,c,d,e,f,g' },
    mnist: { type: 'string', default: '300' },
    target: { type: 'string', default: '100' },
    test: { type: 'string', default: '50' },
    labelled: { type: 'string', default: '10' },
    size: { type: 'string', default: '64' },
    cut: { type: 'string', default: 'block_13_expand_relu' },
    epochs: { type: 'string', default: '10' },
    'finetune-epochs': { type: 'string', default: '2' },
    unfreeze: { type: 'string', default: 'block_12_*,block_13_*' },
    backend: { type: 'string', default: 'wasm' },
    repeat: { type: 'string', default: '1' },
    keep: { type: 'boolean', default: false },
  },
});

const settings = {
  mnistPerClass: Number(values.mnist),
  targetPerClass: Number(values.target),
  testPerClass: Number(values.test),
  labelledPerClass: Number(values.labelled),
  size: Number(values.size),
  cut: values.cut,
  epochs: Number(values.epochs),
  finetuneEpochs: Number(values['finetune-epochs']),
  unfreeze: values.unfreeze.split(',').map((rule) => rule.trim()),
  backend: values.backend,
  repeat: Number(values.repeat),
};

const run = promisify(execFile);
const RENDER = path.join(packageRoot(), 'dist', 'scripts', 'render-font-digits.js');
/** The rendered sets' seeds: the test set shares no draw with the sets the cases learn from. */
const SEEDS = { target: 1, labelled: 2, test: 3 };

interface BenchCase {
  name: string;
  what: string;
  pipeline: (dir: string) => string;
  /** What in the finished run shows the feature under test ran; undefined when it did, else why not. */
  ranFeature?: (run: FinishedRun) => string | undefined;
}

/** The parts of summary.json the bench reads; all optional, as a build may lack them. */
interface SummaryRead {
  test?: { accuracy?: number };
  adapt?: unknown;
  domainShift?: { before?: unknown; after?: unknown };
}

interface FinishedRun {
  summary: SummaryRead;
  metrics: Record<string, unknown>[];
}

const MNIST_IDX = '{ images: mnist/train-images-idx3-ubyte.gz, labels: mnist/train-labels-idx1-ubyte.gz }';
const LABELLED_IDX = '{ images: labelled/images-idx3-ubyte.gz, labels: labelled/labels-idx1-ubyte.gz }';
const TEST_IDX = '{ images: test/images-idx3-ubyte.gz, labels: test/labels-idx1-ubyte.gz }';

/** The parts every case shares (base, head, head stage); `adapt` and `source` add those keys, `finetune` a stage training base layers. */
function pipeline(
  name: string,
  train: string,
  options: { adapt?: string; source?: string; finetune?: boolean } = {},
): string {
  const source = options.source ? `\n  source: ${options.source}` : '';
  const finetune = options.finetune
    ? `\n    - { name: finetune, epochs: ${settings.finetuneEpochs}, unfreeze: ${JSON.stringify(settings.unfreeze)}, optimizer: { name: adam, learningRate: 0.0001 } }`
    : '';
  const adapt = options.adapt ? `adapt: ${options.adapt}\n` : '';
  return `name: ${name}
seed: 1
backend: ${settings.backend}
dataset:
  format: idx
  train: ${train}
  test: ${TEST_IDX}
  validation: 0
  image: { size: [${settings.size}, ${settings.size}] }${source}
base: { model: mobilenet_v2, cut: ${settings.cut} }
freeze: all
${adapt}head:
  - globalAveragePooling2d: {}
  - dense: { units: 128, activation: relu }
  - dropout: { rate: 0.3 }
  - dense: { units: classes, activation: softmax }
train:
  batchSize: 32
  stages:
    - { name: head, epochs: ${settings.epochs}, optimizer: { name: adam, learningRate: 0.003 } }${finetune}
`;
}

const inMetrics =
  (key: string, feature: string) =>
  (finished: FinishedRun): string | undefined =>
    finished.metrics.some((row) => typeof row[key] === 'number')
      ? undefined
      : `the run completed, but its metrics.jsonl has no ${key}: this build ignores ${feature}`;

const TARGET = 'target/images';

const CASES: BenchCase[] = [
  {
    name: 'a',
    what: 'MNIST → fonts, no adaptation',
    pipeline: () => pipeline('adapt-a', MNIST_IDX),
  },
  {
    name: 'b',
    what: '+ adapt: adabn',
    pipeline: () => pipeline('adapt-b', MNIST_IDX, { adapt: `{ images: ${TARGET}, method: adabn }` }),
    ranFeature: (finished) =>
      finished.summary.adapt
        ? undefined
        : 'the run completed, but its summary.json has no adapt block: this build ignores adapt',
  },
  {
    name: 'c0',
    what: '+ fine-tune top blocks, no alignment',
    pipeline: () => pipeline('adapt-c0', MNIST_IDX, { finetune: true }),
  },
  {
    name: 'c',
    what: '+ fine-tune, adapt: coral',
    pipeline: () => pipeline('adapt-c', MNIST_IDX, { finetune: true, adapt: `{ images: ${TARGET}, method: coral }` }),
    ranFeature: inMetrics('coral_loss', 'adapt.method: coral'),
  },
  {
    name: 'd',
    what: '+ fine-tune, adapt: dann',
    pipeline: () => pipeline('adapt-d', MNIST_IDX, { finetune: true, adapt: `{ images: ${TARGET}, method: dann }` }),
    ranFeature: inMetrics('domain_loss', 'adapt.method: dann'),
  },
  {
    name: 'e',
    what: 'labelled fonts + MNIST source ×0.3',
    pipeline: () => pipeline('adapt-e', LABELLED_IDX, { source: `{ format: idx, train: ${MNIST_IDX}, weight: 0.3 }` }),
    ranFeature: inMetrics('sourceShare', 'dataset.source'),
  },
  {
    name: 'f',
    what: 'labelled fonts alone',
    pipeline: () => pipeline('adapt-f', LABELLED_IDX),
  },
  {
    name: 'g',
    what: 'labelled fonts + MNIST source ×1',
    pipeline: () => pipeline('adapt-g', LABELLED_IDX, { source: `{ format: idx, train: ${MNIST_IDX}, weight: 1 }` }),
    ranFeature: inMetrics('sourceShare', 'dataset.source'),
  },
];

const load = (): string =>
  os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');

/** The rendered sets and MNIST's training digits as the cases read them. */
async function writeData(dir: string): Promise<void> {
  mkdirSync(path.join(dir, 'mnist'));
  writeMnistSubsetIdx(path.join(dir, 'mnist'), settings.mnistPerClass, 10);
  rmSync(path.join(dir, 'mnist', 'test-images-idx3-ubyte.gz'));
  rmSync(path.join(dir, 'mnist', 'test-labels-idx1-ubyte.gz'));
  const sets: [string, number, number, string[]][] = [
    ['target', settings.targetPerClass, SEEDS.target, ['--png']],
    ['labelled', settings.labelledPerClass, SEEDS.labelled, []],
    ['test', settings.testPerClass, SEEDS.test, []],
  ];
  for (const [name, perClass, seed, extra] of sets) {
    const { stdout, stderr } = await run(process.execPath, [
      RENDER,
      path.join(dir, name),
      '--count',
      String(perClass),
      '--seed',
      String(seed),
      ...extra,
    ]);
    process.stdout.write(`${name}: ${stdout}${stderr}`);
  }
  console.log(
    `faces: ${readFileSync(path.join(dir, 'test', 'faces.txt'), 'utf8')
      .trim()
      .split('\n')
      .join(', ')}`,
  );
}

interface Measured {
  seconds: number;
  load: string;
  accuracy?: number;
  shift?: string;
  /** Why the case has no number: refused, failed, or the feature did not run. */
  unavailable?: string;
}

/** The first line that says what went wrong, from what the CLI printed. */
function reason(text: string): string {
  const line = text
    .split('\n')
    .map((l) => l.trim())
    .find((l) => /error|not |unknown|must|cannot|expected/i.test(l));
  return (line ?? text.trim().split('\n')[0] ?? 'no output').slice(0, 200);
}

function readRun(runsDir: string): FinishedRun {
  const folder = path.join(runsDir, readdirSync(runsDir)[0]!);
  const runDir = path.join(
    folder,
    readdirSync(folder).find((n) => /^\d{4}-/.test(n))!,
  );
  const metricsFile = path.join(runDir, 'metrics.jsonl');
  return {
    summary: readJson(path.join(runDir, 'summary.json')) as SummaryRead,
    metrics: existsSync(metricsFile)
      ? readFileSync(metricsFile, 'utf8')
          .trim()
          .split('\n')
          .filter(Boolean)
          .map((line) => JSON.parse(line) as Record<string, unknown>)
      : [],
  };
}

const auroc = (side: unknown): string | undefined =>
  typeof side === 'number'
    ? side.toFixed(3)
    : typeof (side as { auroc?: unknown } | undefined)?.auroc === 'number'
      ? (side as { auroc: number }).auroc.toFixed(3)
      : undefined;

function runCase(dir: string, c: BenchCase, round: number): Measured {
  write(dir, `${c.name}.yaml`, c.pipeline(dir));
  const runs = path.join(dir, `runs-${c.name}-${round}`);
  const atStart = load();
  const started = performance.now();
  let failure: string | undefined;
  try {
    execFileSync(process.execPath, [CLI, 'run', `${c.name}.yaml`, '--no-cache', '--quiet', '--runs', runs], {
      cwd: dir,
      stdio: 'pipe',
      env: { ...process.env, FORCE_COLOR: '0' },
    });
  } catch (error) {
    const { status, stdout, stderr } = error as { status: number | null; stdout: Buffer; stderr: Buffer };
    failure = `exit ${status}: ${reason(`${stderr.toString()}\n${stdout.toString()}`)}`;
  }
  const seconds = (performance.now() - started) / 1000;
  if (failure) return { seconds, load: atStart, unavailable: failure };
  const finished = readRun(runs);
  const accuracy = finished.summary.test?.accuracy;
  const shift = finished.summary.domainShift;
  const before = auroc(shift?.before);
  const after = auroc(shift?.after);
  const measured: Measured = {
    seconds,
    load: atStart,
    ...(accuracy !== undefined ? { accuracy } : {}),
    ...(before ? { shift: `${before} → ${after ?? '?'}` } : {}),
  };
  const notRun = c.ranFeature?.(finished);
  return notRun ? { ...measured, unavailable: notRun } : measured;
}

const median = (xs: number[]): number => {
  const sorted = [...xs].sort((x, y) => x - y);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

async function main(): Promise<void> {
  const chosen = values.cases.split(',').map((name) => name.trim());
  const unknown = chosen.filter((name) => !CASES.some((c) => c.name === name));
  if (unknown.length > 0 || !(settings.repeat >= 1))
    throw new Error(`no such case: ${unknown.join(', ')} (cases: ${CASES.map((c) => c.name).join(', ')})`);
  const cases = CASES.filter((c) => chosen.includes(c.name));
  const dir = workspace('bench-adapt');
  const started = performance.now();
  console.log(`load average at start ${load()}; ${os.cpus().length} cores; data in ${dir}`);
  await writeData(dir);
  console.log(
    `MNIST ${settings.mnistPerClass}/class → rendered test ${settings.testPerClass}/class (seed ${SEEDS.test}); ` +
      `unlabelled target ${settings.targetPerClass}/class (seed ${SEEDS.target}); labelled ${settings.labelledPerClass}/class (seed ${SEEDS.labelled})`,
  );
  console.log(
    `mobilenet_v2 cut ${settings.cut} at ${settings.size}×${settings.size} on ${settings.backend}; head ${settings.epochs} epochs` +
      ` (+ ${settings.finetuneEpochs} fine-tuning ${settings.unfreeze.join(' ')} at 1e-4 in c0, c, d); ${settings.repeat} round(s), cases alternating`,
  );
  const results = new Map<string, Measured[]>(cases.map((c) => [c.name, []]));
  for (let round = 0; round < settings.repeat; round++)
    for (const c of cases) {
      const measured = runCase(dir, c, round);
      results.get(c.name)!.push(measured);
      console.log(
        `  ${c.name} round ${round + 1}: ${measured.accuracy?.toFixed(4) ?? '-'} in ${measured.seconds.toFixed(1)} s` +
          `${measured.unavailable ? ` (${measured.unavailable})` : ''}`,
      );
    }

  // The accuracy column goes last: a "not available (…)" reason may be long.
  const header = ['case', 'what', 'wall', 'load at start', 'shift AUROC', 'test accuracy (rendered digits)'];
  const rows = cases.map((c) => {
    const all = results.get(c.name)!;
    const last = all[all.length - 1]!;
    return [
      c.name,
      c.what,
      `${median(all.map((m) => m.seconds)).toFixed(1)} s`,
      all.map((m) => m.load.split(' ')[0]).join('/'),
      last.shift ?? '-',
      last.unavailable ? `not available (${last.unavailable})` : (last.accuracy?.toFixed(4) ?? '-'),
    ];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) =>
    cells.map((cell, i) => (i === cells.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ');
  console.log(`\n${line(header)}`);
  for (const row of rows) console.log(line(row));
  console.log(`\nwall time ${((performance.now() - started) / 1000).toFixed(0)} s; load average at end ${load()}`);
  if (!values.keep) rmSync(dir, { recursive: true, force: true });
}

await main();
