import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, it } from 'node:test';
import { resolveSweep } from '../../src/plan/sweep-trials.js';
import { SweepFolder, type TrialState } from '../../src/store/sweep-folder.js';
import { MAX_TRIAL_ATTEMPTS, runTrialsLocally } from '../../src/sweep/local-trials.js';
import { completedStateOf, runTrial, trialEnding, type TrialProcessEnd } from '../../src/sweep/run-trial.js';
import type { TrialJob } from '../../src/sweep/trial-messages.js';

/** A real process speaking the trial protocol, without training (its job's text says how it ends). */
const STAND_IN = fileURLToPath(new URL('./stand-in-trial-child.js', import.meta.url));
/** Forking a Node process on a loaded machine: seconds, not minutes. */
const BOUND_MS = 120_000;

describe("trialEnding: a trial's state from how its process ended", () => {
  const exit = { code: 0, signal: null };
  const cases: { name: string; end: TrialProcessEnd; crashed: boolean; state: Partial<TrialState>; read?: string }[] = [
    {
      name: 'no result, exited: queued for another attempt, the end of stderr said',
      end: { result: undefined, exit: { code: 3, signal: null }, stderr: 'a\nb\nc\nd\n', attempts: 1, maxAttempts: 3 },
      crashed: true,
      state: { status: 'queued', reason: 'its process exited with code 3: b | c | d' },
    },
    {
      name: 'no result, killed, on its last attempt: failed',
      end: { result: undefined, exit: { code: null, signal: 'SIGKILL' }, stderr: '', attempts: 3, maxAttempts: 3 },
      crashed: true,
      state: { status: 'failed', reason: 'its process was killed (SIGKILL) (attempt 3 of 3)' },
    },
    {
      name: 'an internal error: a crash, its stderr not added to its own reason',
      end: {
        result: { type: 'result', status: 'crashed', diagnostics: [], reason: 'internal error: x' },
        exit,
        stderr: 'noise',
        attempts: 1,
      },
      crashed: true,
      state: { status: 'queued', reason: 'internal error: x' },
    },
    {
      name: 'completed: its metrics are read from its run folder',
      end: {
        result: {
          type: 'result',
          status: 'completed',
          run: 'p/0001-0123abcd',
          dir: '/runs/p/0001-0123abcd',
          diagnostics: [],
        },
        exit,
        stderr: '',
        attempts: 1,
      },
      crashed: false,
      state: { status: 'completed' },
      read: '/runs/p/0001-0123abcd',
    },
    {
      name: "interrupted by early termination: stopped, with the rung's reason and value",
      end: {
        result: { type: 'result', status: 'interrupted', diagnostics: [] },
        exit,
        stderr: '',
        attempts: 1,
        stoppedFor: { reason: 'early termination at epoch 1: …', metric: 0.5 },
      },
      crashed: false,
      state: { status: 'stopped', reason: 'early termination at epoch 1: …', metric: 0.5 },
    },
    {
      name: 'interrupted otherwise: queued, to resume',
      end: { result: { type: 'result', status: 'interrupted', diagnostics: [] }, exit, stderr: '', attempts: 1 },
      crashed: false,
      state: { status: 'queued', reason: 'interrupted; resumed from its checkpoint when run again' },
    },
    {
      name: 'failed: its diagnostics are the reason, not retried',
      end: {
        result: {
          type: 'result',
          status: 'failed',
          diagnostics: ['a.yaml: error: one', 'a.yaml: error: two'],
          reason: 'ignored',
        },
        exit,
        stderr: '',
        attempts: 3,
        maxAttempts: 3,
      },
      crashed: false,
      state: { status: 'failed', reason: 'a.yaml: error: one\na.yaml: error: two' },
    },
    {
      name: 'failed without diagnostics: its reason',
      end: {
        result: { type: 'result', status: 'failed', diagnostics: [], reason: 'the loss became NaN' },
        exit,
        stderr: '',
        attempts: 1,
      },
      crashed: false,
      state: { status: 'failed', reason: 'the loss became NaN' },
    },
  ];
  for (const c of cases) {
    it(c.name, () =>
      assert.deepEqual(trialEnding(c.end), { crashed: c.crashed, state: c.state, ...(c.read ? { read: c.read } : {}) }),
    );
  }
});

describe("completedStateOf: a completed trial's metric as the sweep ranks it", () => {
  const spec = (name: 'val_accuracy' | 'val_loss' | 'test_accuracy') =>
    resolveSweep({ parameters: { seed: { values: [1] } }, metric: { name } }, 1);
  const rows = [
    { epoch: 1, val_loss: 0.9, val_accuracy: 0.5 },
    { epoch: 2, val_loss: 0.7, val_accuracy: 0.6 },
    { epoch: 3, val_loss: 0.8, val_accuracy: 0.55 },
  ];
  const cases: {
    name: string;
    metric: 'val_accuracy' | 'val_loss' | 'test_accuracy';
    rows: typeof rows;
    summary?: object;
    expect: Partial<TrialState>;
  }[] = [
    { name: "the last epoch's value", metric: 'val_accuracy', rows, expect: { metric: 0.55, valLoss: 0.8, epochs: 3 } },
    {
      name: "the restored epoch's value",
      metric: 'val_loss',
      rows,
      summary: { stages: [{ restoredEpoch: 2 }], resources: { seconds: 4 } },
      expect: { metric: 0.7, valLoss: 0.7, epochs: 3, seconds: 4 },
    },
    {
      name: "the test split's value",
      metric: 'test_accuracy',
      rows,
      summary: { stages: [], test: { accuracy: 0.9, loss: 0.3 } },
      expect: { metric: 0.9, valLoss: 0.8, test: { accuracy: 0.9, loss: 0.3 }, epochs: 3 },
    },
    {
      name: 'a diverged value (NaN) recorded as absent',
      metric: 'val_loss',
      rows: [{ epoch: 1, val_loss: Number.NaN, val_accuracy: 0.1 }],
      expect: { epochs: 1 },
    },
  ];
  for (const c of cases) {
    it(c.name, () =>
      assert.deepEqual(completedStateOf(spec(c.metric), c.rows, c.summary as never), {
        status: 'completed',
        reason: undefined,
        ...c.expect,
      }),
    );
  }
});

describe('runTrial and runTrialsLocally with a real child process', () => {
  const root = mkdtempSync(path.join(tmpdir(), 'tlpipe-run-trial-'));
  after(() => rmSync(root, { recursive: true, force: true }));
  let made = 0;

  /** A sweep folder with `count` trials, and a job for each whose process ends as `how` says. */
  async function sweepOf(how: string[]): Promise<{ runs: string; folder: SweepFolder; jobs: TrialJob[] }> {
    const runs = path.join(root, `runs-${made++}`);
    const trials = how.map((_, index) => ({ index, values: { seed: index }, fingerprint: 'f'.repeat(64), epochs: 1 }));
    const folder = await SweepFolder.create(
      runs,
      {
        pipeline: 'p',
        file: '/p/p.yaml',
        text: 'name: p',
        createdAt: new Date().toISOString(),
        status: 'running',
        spec: resolveSweep({ parameters: { seed: { values: how.map((_, i) => i) } } }, 1),
        trials,
        runner: { kind: 'local', jobs: 1 },
      },
      'f'.repeat(64),
    );
    const sweep = path.relative(runs, folder.dir);
    return {
      runs,
      folder,
      jobs: how.map((text, index) => ({
        sweep,
        index,
        file: '/p/p.yaml',
        text,
        overrides: [],
        plan: { fingerprint: 'f'.repeat(64) },
      })),
    };
  }
  /** `work`, failing the test instead of hanging it when a process does not end. */
  const bounded = <T>(work: Promise<T>): Promise<T> =>
    Promise.race([
      work,
      new Promise<never>((_, reject) =>
        setTimeout(() => reject(new Error(`not done in ${BOUND_MS / 1000}s`)), BOUND_MS).unref(),
      ),
    ]);

  it('a trial that fails on its own: failed with its diagnostics, its state written, its run recorded from its start', async () => {
    const { runs, folder, jobs } = await sweepOf(['run']);
    const seen: string[] = [];
    const outcome = await bounded(runTrial(jobs[0]!, runs, { child: STAND_IN, onState: (s) => seen.push(s.status) }));
    assert.equal(outcome.crashed, false);
    assert.equal(outcome.state.status, 'failed');
    assert.equal(outcome.state.reason, 'stopped after its start');
    assert.equal(outcome.state.run, 'p/0001-0123abcd');
    assert.deepEqual(seen, ['running', 'running', 'failed']);
    assert.deepEqual(await folder.readTrial(0), outcome.state);
  });

  it('a process that dies: the end of its stderr in the reason; a crash on the last attempt fails the trial', async () => {
    const { runs, jobs } = await sweepOf(['crash']);
    const first = await bounded(runTrial(jobs[0]!, runs, { child: STAND_IN, maxAttempts: 2 }));
    assert.deepEqual([first.crashed, first.state.status, first.state.attempts], [true, 'queued', 1]);
    assert.equal(first.state.reason, 'its process exited with code 3: first line | the last words');
    const second = await bounded(runTrial(jobs[0]!, runs, { child: STAND_IN, maxAttempts: 2 }));
    assert.deepEqual([second.crashed, second.state.status, second.state.attempts], [true, 'failed', 2]);
    assert.match(second.state.reason!, /\(attempt 2 of 2\)$/);
  });

  it('the signal: the process is told to stop, and the trial is queued to resume', async () => {
    const { runs, jobs } = await sweepOf(['stop']);
    const controller = new AbortController();
    const running = runTrial(jobs[0]!, runs, {
      child: STAND_IN,
      signal: controller.signal,
      onState: (s) => s.status === 'running' && setTimeout(() => controller.abort(), 200),
    });
    const outcome = await bounded(running);
    assert.deepEqual(
      [outcome.crashed, outcome.state.status, outcome.state.reason],
      [false, 'queued', 'interrupted; resumed from its checkpoint when run again'],
    );
  });

  it('runTrialsLocally: every trial in its own process, a crash retried up to the attempts, a failure not', async () => {
    const { runs, folder, jobs } = await sweepOf(['crash', 'fail', 'internal']);
    await bounded(runTrialsLocally(jobs, runs, { jobs: 2, child: STAND_IN }));
    const states = await folder.readTrials();
    assert.deepEqual(
      [0, 1, 2].map((i) => [states.get(i)?.status, states.get(i)?.attempts]),
      [
        ['failed', MAX_TRIAL_ATTEMPTS],
        ['failed', 1],
        ['failed', MAX_TRIAL_ATTEMPTS],
      ],
    );
    assert.equal(states.get(1)?.reason, '/p/p.yaml: error: planned another plan');
    assert.match(states.get(2)?.reason ?? '', /^internal error: oops \(attempt 3 of 3\)$/);
  });

  it('runTrialsLocally after the signal: starts no trial', async () => {
    const { runs, folder, jobs } = await sweepOf(['fail', 'fail']);
    await bounded(runTrialsLocally(jobs, runs, { jobs: 1, child: STAND_IN, signal: AbortSignal.abort() }));
    assert.equal((await folder.readTrials()).size, 0);
  });
});
