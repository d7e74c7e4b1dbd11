import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { SeededRandom } from '../../src/engine/random.js';
import {
  CLI,
  epochRows,
  readJson,
  tlpipeBounded,
  workspace,
  write,
  writeDigitImageFolder,
  type CliResult,
} from './cli-harness.js';

/** 300 images: enough that features are extracted in two worker threads; two stages, checkpoints every epoch. */
const PIPELINE = `name: sig
seed: 13
backend: wasm
dataset: { format: imageFolder, dir: digits, test: 0.2, image: { size: [32, 32] } }
base: { cut: block_2_add }
head:
  - globalAveragePooling2d: {}
  - dense: { units: classes, activation: softmax }
train:
  batchSize: 16
  stages:
    - { name: head, epochs: 2, optimizer: { learningRate: 0.01 } }
    - { name: tune, epochs: 1, unfreeze: ["block_2_*"], optimizer: { learningRate: 0.001 } }
`;
const ENV = { FORCE_COLOR: '0', TLPIPE_WORKERS: '2' };
/**
 * Trials in npm test: one per signal, each in its own third of the run (see the trials below); TLPIPE_SIGNAL_TRIALS=60
 * for a long run.
 */
const TRIALS = Number(process.env['TLPIPE_SIGNAL_TRIALS'] ?? 3);
const SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

/** One run of this small pipeline on a machine running two suites: minutes at most; past this it is killed and the test fails. */
const RUN_MS = 10 * 60_000;
const tlpipe = async (args: string[], cwd: string, env: Record<string, string>): Promise<CliResult> => {
  const r = await tlpipeBounded(args, cwd, { timeoutMs: RUN_MS, env });
  assert.equal(
    r.timedOut,
    false,
    `tlpipe ${args.join(' ')} did not end in ${RUN_MS / 60_000} minutes:\n${r.stderr.slice(-3000)}`,
  );
  return r;
};
/** The signalled runs still going: killed in `after`, however a test ended. */
const running = new Set<ChildProcess>();

const runsOf = (dir: string, runs: string): string[] => {
  const folder = path.join(dir, runs, 'sig');
  return existsSync(folder)
    ? readdirSync(folder)
        .filter((n) => /^\d{4}-/.test(n))
        .map((n) => path.join(folder, n))
    : [];
};

/** Runs the pipeline and sends `signal` when `when` says so; the exit code and what it printed. */
function signalled(
  dir: string,
  runs: string,
  signal: NodeJS.Signals,
  when: { afterMs?: number; onLine?: RegExp },
): Promise<{ code: number | null; stderr: string; sentAt?: number; exitedAt: number }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, 'run', 'p.yaml', '--runs', runs, '--no-cache'], {
      cwd: dir,
      env: { ...process.env, ...ENV },
    });
    running.add(child);
    // A run that outlives its bound is killed: its exit (code null) fails the test that waits for it.
    const bound = setTimeout(() => child.kill('SIGKILL'), RUN_MS);
    let stderr = '';
    let sentAt: number | undefined;
    const send = (): void => {
      if (sentAt === undefined && child.exitCode === null) {
        sentAt = performance.now();
        child.kill(signal);
      }
    };
    if (when.afterMs !== undefined) setTimeout(send, when.afterMs);
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => {
      stderr += chunk;
      if (when.onLine?.test(stderr)) send();
    });
    child.on('exit', (code) => {
      clearTimeout(bound);
      running.delete(child);
      resolve({ code, stderr, ...(sentAt !== undefined ? { sentAt } : {}), exitedAt: performance.now() });
    });
  });
}

describe('signals at any moment: interrupted, exit 130, and the resumed run ends as an uninterrupted one', () => {
  const dir = workspace('signals');
  let reference: Record<string, unknown>[] = [];
  let window = 0;
  /**
   * How long `tlpipe --version` takes here, now: node's own start-up, when no program can handle a signal yet,
   * is within it (tlpipe installs its handlers first thing). No signal is sent earlier: on a machine running
   * two suites, start-up alone can take more than a second.
   */
  let startupMs = 0;
  after(() => {
    for (const child of running) child.kill('SIGKILL');
  });
  before(async () => {
    await writeDigitImageFolder(path.join(dir, 'digits'), 100);
    write(dir, 'p.yaml', PIPELINE);
    const booted = performance.now();
    assert.equal((await tlpipe(['--version'], dir, ENV)).code, 0);
    startupMs = performance.now() - booted;
    const started = performance.now();
    const whole = await tlpipe(['run', 'p.yaml', '--runs', 'whole', '--no-cache'], dir, ENV);
    window = performance.now() - started;
    assert.equal(whole.code, 0, whole.stderr);
    assert.match(whole.stderr, /features train: \d+ examples in/);
    reference = epochRows(runsOf(dir, 'whole')[0]!);
  });

  /** After an interruption: the run is marked interrupted (if it had started), and run --resume finishes it equal to the reference. */
  async function resumesEqual(runs: string, result: { code: number | null; stderr: string }): Promise<string> {
    const started = runsOf(dir, runs);
    if (result.code === 0) return 'finished first';
    assert.equal(result.code, 130, result.stderr);
    if (started.length === 0)
      assert.match(result.stderr, /interrupted before (the run|it) started: nothing was written/);
    else assert.equal(readJson(path.join(started[0]!, 'run.json')).status, 'interrupted');
    const resumed = await tlpipe(['run', 'p.yaml', '--runs', runs, '--resume', '--no-cache'], dir, ENV);
    assert.equal(resumed.code, 0, resumed.stderr);
    const after = runsOf(dir, runs);
    assert.equal(after.length, 1, 'one run folder: the interrupted run continued, or the first one started');
    assert.deepEqual(epochRows(after[0]!), reference);
    return started.length === 0
      ? 'before the run folder'
      : /features train: extracting/.test(result.stderr) && !/features train: \d+ examples in/.test(result.stderr)
        ? 'during feature extraction'
        : 'during training';
  }

  it('Ctrl-C during worker-thread feature extraction', async () => {
    // The extraction takes under a second, and the signal goes when its first line arrives: a loaded machine can
    // deliver that line late enough for the extraction to end first. Such a try missed its moment and is made
    // again; a run that ignored the signal until the extraction ended would miss it every time.
    const outcomes: string[] = [];
    for (let attempt = 1; attempt <= 3 && !outcomes.includes('during feature extraction'); attempt++) {
      const result = await signalled(dir, `workers-${attempt}`, 'SIGINT', { onLine: /features train: extracting/ });
      outcomes.push(await resumesEqual(`workers-${attempt}`, result));
    }
    assert.equal(outcomes.at(-1), 'during feature extraction', `outcomes of the tries: ${outcomes.join('; ')}`);
  });

  it('Ctrl-C while images are being decoded stops within seconds, before any run folder', async () => {
    // Decoding 300 images comes right after start-up; a signal soon after start lands in it (or just before it).
    const result = await signalled(dir, 'decoding', 'SIGINT', { afterMs: Math.max(900, startupMs) });
    assert.ok(result.sentAt !== undefined);
    // Relative to the uninterrupted run, timed under the same load (a second suite on the same cores stretches both):
    // a run that ignored the signal would go on for most of that; one that heeds it stops in a fraction of it.
    const bound = Math.max(5000, window / 4);
    assert.ok(
      result.exitedAt - result.sentAt < bound,
      `${(result.exitedAt - result.sentAt).toFixed(0)} ms from the signal to the exit (bound ${bound.toFixed(0)} ms; the whole run took ${window.toFixed(0)} ms)`,
    );
    await resumesEqual('decoding', result);
  });

  const random = new SeededRandom(20261201);
  const where: string[] = [];
  for (let trial = 1; trial <= TRIALS; trial++) {
    const signal = SIGNALS[(trial - 1) % SIGNALS.length]!;
    it(`trial ${trial}: ${signal} at a seeded moment`, async () => {
      // From the moment the CLI has started (its signal handlers are the first thing it sets up) to about the run's end,
      // stratified: trial k falls at a seeded moment of the k-th of TRIALS equal slices, so a few trials still land
      // early (before the run folder), in the middle and late (training), where unstratified ones bunched up early.
      const earliest = Math.max(300, startupMs);
      const slice = Math.max(0, window - earliest) / TRIALS;
      const afterMs = Math.round(earliest + (trial - 1 + random.next()) * slice);
      const result = await signalled(dir, `trial-${trial}`, signal, { afterMs });
      where.push(`${signal} at ${afterMs} ms: ${await resumesEqual(`trial-${trial}`, result)}`);
    });
  }
  it('the trials fell at different moments', (t) => {
    t.diagnostic(where.join('; '));
    assert.equal(where.length, TRIALS);
  });
});
