import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { formatDiagnostic } from '../../src/diagnostics/diagnostic.js';
import { loadPipelineText } from '../../src/format/load-pipeline.js';
import { compilePlan } from '../../src/plan/compile-plan.js';
import type { PlanInputs } from '../../src/plan/types.js';
import { SeededRandom } from '../../src/engine/random.js';
import { packageRoot } from '../../src/package/package-root.js';

/**
 * A pipeline-file fuzzer: valid seed files, damaged in the ways people and
 * tools damage files. Each case must end in a valid spec (which then must
 * plan without throwing) or in diagnostics that all print as
 * `file:line:col: error: …` — never an exception, and within bounded time.
 */

const SEEDS = [
  `name: seed
dataset:
  format: mnist
  limit: { perClass: 10, testPerClass: 5 }
  image: { size: [64, 64] }
base: { model: mobilenet_v2, cut: block_13_expand_relu }
head:
  - globalAveragePooling2d: {}
  - dense: { units: 16, activation: relu, kernelRegularizer: { l2: 0.001 } }
  - dropout: { rate: 0.2 }
  - dense: { units: classes, activation: softmax }
train:
  batchSize: 16
  checkpoints: { keepLast: 2 }
  stages:
    - name: head
      epochs: 3
      optimizer: { name: adam, learningRate: 0.01 }
      schedule: { type: cosine, warmupEpochs: 1 }
    - name: tune
      epochs: 2
      unfreeze: ["block_16_*", { from: Conv_1 }]
      optimizer: { learningRate: { head: 0.001, base: 0.0001 } }
      earlyStopping: { patience: 1 }
`,
  `dataset: { format: imageFolder, dir: photos, test: 0.2, augment: { flipHorizontal: true, rotate: 10 } }
strategy: auto
baseline: scratch
head: [ { globalAveragePooling2d: {} }, { dense: { units: classes, activation: softmax } } ]
`,
  `dataset:
  format: csv
  file: data.csv
  labelColumn: label
  featureColumns: [a, b, c]
base: { model: none }
head:
  - dense: { units: 8, activation: relu }
  - dense: { units: classes, activation: linear }
train:
  stages: [{ epochs: 2, optimizer: { name: sgd, momentum: 0.9, nesterov: true }, reduceLROnPlateau: { patience: 1 } }]
`,
];

const INPUTS: PlanInputs = {
  dataset: {
    digest: 'd'.repeat(64),
    numClasses: 3,
    counts: { train: 30, validation: 6, test: 9 },
    trainPerClass: [10, 10, 10],
  },
  base: {
    digest: 'b'.repeat(64),
    cutOutputShape: [4, 4, 576],
    layerCount: 4,
    paramCount: 1000,
    layers: ['block_13_expand', 'block_16_project', 'Conv_1', 'out_relu'].map((name) => ({
      name,
      className: 'Conv2D',
      params: 250,
    })),
  },
};

const SCALARS = [
  '0',
  '-1',
  '1e308',
  '-1e308',
  '.nan',
  '.inf',
  'NaN',
  '"',
  "'",
  'null',
  '~',
  'true',
  '[]',
  '{}',
  '[[[[]]]]',
  '0x1F',
  '1_000',
  '9'.repeat(400),
  '"\\u0000"',
  '&a x',
  '*a',
  '!!binary aGk=',
  '!!js/function f',
  '2001-01-01',
  '- -',
  '? x',
];
const KEYS = [
  'name',
  'seed',
  'backend',
  'dataset',
  'format',
  'head',
  'dense',
  'units',
  'train',
  'stages',
  'epochs',
  'optimizer',
  'learningRate',
  'schedule',
  'type',
  'freeze',
  'unfreeze',
  'base',
  'cut',
  'model',
  'strategy',
  '__proto__',
  'constructor',
  '$schema',
  'earlyStoping',
  'x'.repeat(300),
];

type Mutation = (text: string, r: SeededRandom) => string;
const pick = <T>(items: readonly T[], r: SeededRandom): T => items[Math.floor(r.next() * items.length)]!;
const at = (text: string, r: SeededRandom): number => Math.floor(r.next() * (text.length + 1));

/** Named mutations, each a kind of damage. */
export const MUTATIONS: Record<string, Mutation> = {
  'delete a span': (t, r) => {
    const i = at(t, r);
    return t.slice(0, i) + t.slice(i + 1 + Math.floor(r.next() * 20));
  },
  'insert syntax': (t, r) => {
    const i = at(t, r);
    return (
      t.slice(0, i) +
      pick(
        ['[', ']', '{', '}', ':', '- ', '\t', '"', "'", '#', '&', '*', '!', '|', '>', '%', '@', '`', '\n  ', '\r'],
        r,
      ) +
      t.slice(i)
    );
  },
  'swap lines': (t, r) => {
    const lines = t.split('\n');
    const a = Math.floor(r.next() * lines.length);
    const b = Math.floor(r.next() * lines.length);
    [lines[a], lines[b]] = [lines[b]!, lines[a]!];
    return lines.join('\n');
  },
  'replace a value': (t, r) =>
    t.replace(/: ([^\n{[]+)/g, (m, _value: string) => (r.next() < 0.15 ? `: ${pick(SCALARS, r)}` : m)),
  'wrong type for a value': (t, r) =>
    t.replace(/: (\d+(\.\d+)?)/g, (m) =>
      r.next() < 0.3 ? `: ${pick(['[1, 2]', '{ a: 1 }', 'text', '"3"', 'yes'], r)}` : m,
    ),
  'out-of-range number': (t, r) =>
    t.replace(/\b\d+(\.\d+)?\b/g, (m) =>
      r.next() < 0.3 ? pick(['-5', '0', '1e9', '4097', '-0.0001', '100000000000000000000'], r) : m,
    ),
  'unknown key': (t, r) => {
    const lines = t.split('\n');
    const i = Math.floor(r.next() * lines.length);
    const indent = /^\s*/.exec(lines[i]!)![0];
    lines.splice(i, 0, `${indent}${pick(KEYS, r)}: ${pick(SCALARS, r)}`);
    return lines.join('\n');
  },
  'empty list': (t) => t.replace(/\n {2}- [^\n]*(\n {4}[^\n]*)*/g, '').replace(/stages:[^\n]*/, 'stages: []'),
  'deep nesting': (t, r) => t.replace('head:', `head: ${'['.repeat(200 + Math.floor(r.next() * 5000))}`),
  'deep mapping nesting': (t, r) =>
    t +
    'x:' +
    Array.from({ length: 100 + Math.floor(r.next() * 400) }, (_, i) => `\n${' '.repeat(i + 1)}k${i}:`).join('') +
    ' 1\n',
  'alias bomb': (t) =>
    t +
    'bomb:\n  a: &a ["x","x","x","x","x","x","x","x","x","x"]\n  b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]\n  c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]\n  d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]\n  e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d,*d]\n  f: [*e,*e,*e,*e,*e,*e,*e,*e,*e,*e]\n',
  'huge string': (t, r) =>
    t.replace(/name: \w+/, `name: ${'a'.repeat(r.next() < 0.5 ? 900_000 : 10_000_000)}`).replace(/^(?!name)/, ''),
  'binary garbage': (t, r) => {
    const bytes = Array.from({ length: 1 + Math.floor(r.next() * 200) }, () =>
      String.fromCharCode(Math.floor(r.next() * 256)),
    ).join('');
    const i = at(t, r);
    return t.slice(0, i) + bytes + t.slice(i);
  },
  'duplicate key': (t) => t.replace(/^dataset:/m, 'seed: 1\nseed: 2\ndataset:'),
  truncate: (t, r) => t.slice(0, at(t, r)),
};

export interface FuzzCase {
  name: string;
  text: string;
}

/** `count` cases from `seed`: each a seed file with one to three mutations. */
export function fuzzCases(seed: number, count: number): FuzzCase[] {
  const r = new SeededRandom(seed);
  const names = Object.keys(MUTATIONS);
  return Array.from({ length: count }, (_, i) => {
    let text = pick(SEEDS, r);
    const applied: string[] = [];
    const n = 1 + Math.floor(r.next() * 3);
    for (let k = 0; k < n; k++) {
      const name = i < names.length && k === 0 ? names[i]! : pick(names, r);
      text = MUTATIONS[name]!(text, r);
      applied.push(name);
    }
    return { name: `#${i} ${applied.join(' + ')}`, text };
  });
}

/** Cases that once broke tlpipe, kept as files. */
export function regressionCases(): FuzzCase[] {
  const dir = path.join(packageRoot(), 'test', 'fixtures', 'fuzz');
  return readdirSync(dir)
    .filter((f) => f.endsWith('.yaml'))
    .sort()
    .map((f) => ({ name: `fixture ${f}`, text: readFileSync(path.join(dir, f), 'latin1') }));
}

/** `ms`: the CPU milliseconds this process spent on the case. */
export type Verdict = { ok: true; kind: 'valid' | 'rejected'; ms: number } | { ok: false; problem: string; ms: number };

const LOCATED = /^p\.yaml(:\d+:\d+)?: (error|warning): /;

/** Loads, and when valid plans, one case; says whether it ended cleanly. */
export function checkCase(text: string): Verdict {
  // CPU time, not wall time: a blow-up spends CPU, while a machine shared with other work only stretches the wall clock.
  const started = process.cpuUsage();
  const ms = (): number => {
    const spent = process.cpuUsage(started);
    return (spent.user + spent.system) / 1000;
  };
  try {
    const loaded = loadPipelineText('/fuzz/p.yaml', text, { displayName: 'p.yaml' });
    if (!loaded.ok) {
      if (loaded.diagnostics.length === 0) return { ok: false, problem: 'rejected without a diagnostic', ms: ms() };
      for (const d of loaded.diagnostics) {
        const printed = formatDiagnostic(d);
        if (!LOCATED.test(printed))
          return { ok: false, problem: `diagnostic without file:line:col: ${printed.slice(0, 300)}`, ms: ms() };
        if (/^\s+at .+:\d+:\d+\)?$/m.test(printed))
          return { ok: false, problem: `stack trace in a diagnostic: ${printed.slice(0, 300)}`, ms: ms() };
      }
      return { ok: true, kind: 'rejected', ms: ms() };
    }
    const plan = compilePlan(loaded.value.spec, INPUTS);
    if (!plan.ok && plan.diagnostics.length === 0)
      return { ok: false, problem: 'plan rejected without a diagnostic', ms: ms() };
    return { ok: true, kind: 'valid', ms: ms() };
  } catch (error) {
    return { ok: false, problem: `threw: ${(error as Error).stack ?? String(error)}`.slice(0, 800), ms: ms() };
  }
}
