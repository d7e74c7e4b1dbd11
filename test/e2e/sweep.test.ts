import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import {
  epochRows,
  hasStackTrace,
  readJson,
  tlpipeBounded,
  workspace,
  write,
  writeMnistSubsetIdx,
  type CliResult,
} from './cli-harness.js';
import { formatDiagnostic, planSweep, resumeSweep } from '../../src/api/index.js';
import { formatSweepPlan } from '../../src/cli/sweep-commands.js';
import {
  extractions,
  newestSweepDir,
  Processes,
  resultsOf,
  sweepDir,
  SWEEP_PIPELINE,
  unwrapped,
  waitFor,
} from './sweep-harness.js';

/** A sweep of a few small trials on a loaded machine: minutes; a hang fails the test instead of the suite. */
const SWEEP_MS = 15 * 60_000;
const tlpipe = async (args: string[], cwd: string, env: Record<string, string> = {}): Promise<CliResult> => {
  const r = await tlpipeBounded(args, cwd, { timeoutMs: SWEEP_MS, env });
  assert.equal(
    r.timedOut,
    false,
    `tlpipe ${args.join(' ')} did not end in ${SWEEP_MS / 60_000} minutes:\n${r.stderr.slice(-3000)}`,
  );
  return r;
};
const WIDTH = 100;
const tooWide = (text: string): string[] => text.split('\n').filter((l) => [...l].length > WIDTH);

describe('tlpipe sweep: trials as local child processes', () => {
  const dir = workspace('sweep');
  const processes = new Processes();
  after(() => processes.stopAll());
  const file = write(dir, 'grid.yaml', SWEEP_PIPELINE());
  const runs = (name: string): string => path.join(dir, name);
  let reference = '';

  it('plan shows every trial with its values and what the trials compute once', async () => {
    const r = await tlpipe(['plan', file, '--json'], dir);
    assert.equal(r.code, 0, r.stderr);
    const plan = JSON.parse(r.stdout);
    assert.deepEqual(
      plan.trials.map((t: { values: Record<string, unknown> }) => Object.values(t.values)),
      [
        ['block_13_expand_relu', 0.001],
        ['block_13_expand_relu', 0.01],
        ['block_6_expand_relu', 0.001],
        ['block_6_expand_relu', 0.01],
      ],
    );
    assert.deepEqual(plan.work, [
      { task: 'features:head', trials: 4, distinct: 2 },
      { task: 'stage head', trials: 4, distinct: 4 },
    ]);
    // The text form from the same plan, in this process (the CLI prints formatSweepPlan's lines).
    const text = formatSweepPlan(plan);
    assert.match(text, /^sweep: grid, 4 trial\(s\) \(4 to run\), ranked by val_accuracy \(maximize\)$/m);
    assert.match(text, /^ {2}features:head: 2 for 4 trial\(s\)$/m);
    assert.ok(
      text.split('\n').every((l) => l.length <= 100),
      text,
    );
  });

  it('-j 1: every trial is an ordinary run; results.csv, sweep.json and the best trial; base features extracted once per cut', async () => {
    const r = await tlpipe(['sweep', file, '-j', '1', '--runs', runs('one')], dir, { TLPIPE_WORKERS: '1' });
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stdout,
      /^sweep completed: .*grid\/sweeps\/0001-[0-9a-f]{8}\n {2}best: {4}trial \d, val_accuracy [\d.]+ \(grid\/\d{4}-[0-9a-f]{8}\)\n {2}ranked: {2}highest val_accuracy; a tie goes to the lowest val_loss, then to the lowest trial index$/m,
    );
    assert.deepEqual(tooWide(r.stdout + r.stderr), []);
    reference = resultsOf(runs('one'));
    const lines = reference.trim().split('\n');
    assert.equal(
      lines[0],
      'trial,status,base.cut,train.stages[0].optimizer.learningRate,val_accuracy,val_loss,test_accuracy,test_loss,epochs,rank,note',
    );
    assert.deepEqual(
      lines.slice(1).map((l) => l.split(',').slice(0, 4).join(',')),
      [
        '0,completed,block_13_expand_relu,0.001',
        '1,completed,block_13_expand_relu,0.01',
        '2,completed,block_6_expand_relu,0.001',
        '3,completed,block_6_expand_relu,0.01',
      ],
    );
    const record = readJson(path.join(sweepDir(runs('one')), 'sweep.json'));
    assert.equal(record.status, 'completed');
    const states = record.trials.map((t: { index: number }) =>
      readJson(path.join(sweepDir(runs('one')), 'trials', `${String(t.index).padStart(4, '0')}.json`)),
    );
    // The best: the highest val_accuracy, a tie to the lowest val_loss, then the lowest index; rank 1 in results.csv.
    const ranked = [...states].sort(
      (a: { metric: number; valLoss: number; index: number }, b: { metric: number; valLoss: number; index: number }) =>
        b.metric - a.metric || a.valLoss - b.valLoss || a.index - b.index,
    );
    assert.equal(record.best.index, ranked[0].index);
    assert.deepEqual(
      lines.slice(1).map((l) => l.split(',')[9]),
      states.map((s: { index: number }) => String(ranked.findIndex((x: { index: number }) => x.index === s.index) + 1)),
    );
    for (const state of states) assert.equal(typeof state.valLoss, 'number');
    assert.match(
      readFileSync(path.join(sweepDir(runs('one')), 'report.html'), 'utf8'),
      /best: highest val_accuracy; a tie goes to the lowest val_loss, then to the lowest trial index/,
    );
    // Each trial's run records its values as overrides, and `runs` lists it like any run.
    const run = readJson(path.join(runs('one'), states[3].run, 'run.json'));
    assert.deepEqual(run.overrides, {
      'base.cut': 'block_6_expand_relu',
      'train.stages[0].optimizer.learningRate': 0.01,
    });
    assert.equal(run.status, 'completed');
    // Three splits of features for each of the two cuts; the other two trials take them from the stage cache.
    assert.equal(extractions(runs('one')), 6);
    const html = readFileSync(path.join(sweepDir(runs('one')), 'report.html'), 'utf8');
    assert.match(html, /★ best/);
    assert.equal((html.match(/<tr><th style="text-align:left">trial \d<\/th>/g) ?? []).length, 4);
  });

  it('-j 3 --json: the same results.csv; concurrent trials wait for the features another is extracting; one JSON line per trial state change, nothing else on stdout', async () => {
    const r = await tlpipe(['sweep', file, '-j', '3', '--json', '--runs', runs('three')], dir, { TLPIPE_WORKERS: '1' });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(resultsOf(runs('three')), reference);
    assert.equal(extractions(runs('three')), 6);
    const events = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    assert.equal(events[0].type, 'sweep-start');
    assert.equal(events.at(-1).type, 'sweep-end');
    assert.equal(events.at(-1).counts.completed, 4);
    const trialEvents = events.filter((e) => e.type === 'trial');
    assert.deepEqual(
      [...new Set(trialEvents.filter((e) => e.state.status === 'completed').map((e) => e.state.index))].sort(),
      [0, 1, 2, 3],
    );
  });

  it('--no-cache: the same metrics, every trial extracting its own features', async () => {
    // Two trials of one cut: without the cache each extracts the three splits itself (with it, they would share one extraction).
    const oneCut = write(
      dir,
      'one-cut.yaml',
      SWEEP_PIPELINE().replace(
        'base.cut: { values: [block_13_expand_relu, block_6_expand_relu] }',
        'base.cut: { values: [block_13_expand_relu] }',
      ),
    );
    const r = await tlpipe(['sweep', oneCut, '-j', '2', '--no-cache', '--runs', runs('nocache')], dir, {
      TLPIPE_WORKERS: '1',
    });
    assert.equal(r.code, 0, r.stderr);
    // Up to the epochs column: the rank is among these two trials.
    const columns = (csv: string): string[] =>
      csv
        .trim()
        .split('\n')
        .map((l) => l.split(',').slice(0, 9).join(','));
    assert.deepEqual(columns(resultsOf(runs('nocache'))), columns(reference).slice(0, 3));
    assert.equal(extractions(runs('nocache')), 6);
  });

  it('a trial whose process is killed is started again and resumes its run; one that fails on its own (a NaN loss) is not retried', async () => {
    // Trial 1's penalty overflows the loss to Infinity at its first batch: a failure of the trial itself.
    const text = SWEEP_PIPELINE('', 30).replace(
      /sweep:\n[\s\S]*$/,
      'sweep:\n  parameters:\n    head[1].dense.kernelRegularizer: { values: [{ l2: 0 }, { l2: 1.0e+38 }] }\n',
    );
    const crashFile = write(dir, 'crash.yaml', text);
    const sweep = processes.tlpipe(['sweep', crashFile, '-j', '1', '--runs', runs('crash')], dir, {
      TLPIPE_WORKERS: '1',
    });
    // Kill trial 0's process once its run has a checkpoint: the run's pid is the trial's process.
    const killed = await waitFor(
      'trial 0 to reach a checkpoint',
      () => {
        const folder = newestSweepDir(runs('crash'));
        const stateFile = folder && path.join(folder, 'trials', '0000.json');
        try {
          const state = stateFile && existsSync(stateFile) ? JSON.parse(readFileSync(stateFile, 'utf8')) : {};
          const index = state.run ? path.join(runs('crash'), state.run, 'checkpoints', 'index.json') : '';
          if (index && existsSync(index) && readJson(index).latest?.epoch < 25)
            return {
              run: state.run as string,
              pid: readJson(path.join(runs('crash'), state.run, 'run.json')).pid as number,
            };
        } catch {
          // A file between its write and its rename's end: the next look.
        }
        return undefined;
      },
      { timeoutMs: SWEEP_MS, context: () => sweep.stderr() },
    );
    process.kill(killed.pid, 'SIGKILL');
    const err = (): string => sweep.stderr();
    assert.equal(
      await Promise.race([sweep.done, new Promise((resolve) => setTimeout(() => resolve('hung'), SWEEP_MS).unref())]),
      1,
      err(),
    );
    const states = [0, 1].map((i) => readJson(path.join(sweepDir(runs('crash')), 'trials', `000${i}.json`)));
    assert.equal(states[0].status, 'completed');
    assert.equal(states[0].attempts, 2);
    assert.equal(states[0].run, killed.run);
    assert.match(readFileSync(path.join(runs('crash'), killed.run, 'log.txt'), 'utf8'), /resumed from epoch \d by pid/);
    assert.equal(states[1].status, 'failed');
    assert.equal(states[1].attempts, 1, 'a failure of the trial itself is not retried');
    assert.match(states[1].reason, /the loss became Infinity in stage `head`, epoch 1, batch 1/);
    assert.match(unwrapped(err()), /trial 1 failed: .*the loss became/);
    assert.match(
      err(),
      /^trial 1 failed grid\/\d{4}-[0-9a-f]{8} \[1\/2 done, 0 running, 1 failed; best 0: [\d.]+\]\n {4}train\.stages\[0\]\.optimizer\.learningRate: the loss became Infinity/m,
    );
    assert.equal(hasStackTrace(err()), false, err());
    assert.deepEqual(tooWide(err()), []);
  });

  it('duplicate trials (the same plan) run once; a later sweep in the same runs folder takes a planned trial from the stage cache, with the same metrics', async () => {
    // Trial 0 is the -j 1 sweep's trial 0 (block_13_expand_relu, 0.001, 32 units): in its runs folder, nothing is extracted or trained again.
    const dupFile = write(
      dir,
      'dup.yaml',
      SWEEP_PIPELINE('    head[1].dense.units: { values: [32, 32] }')
        .replace(
          'base.cut: { values: [block_13_expand_relu, block_6_expand_relu] }',
          'base.cut: { values: [block_13_expand_relu] }',
        )
        .replace('[0.001, 0.01]', '[0.001]'),
    );
    const runFolders = (): string[] => readdirSync(path.join(runs('one'), 'grid')).filter((n) => /^\d{4}-/.test(n));
    const before = runFolders().length;
    const r = await tlpipe(['sweep', dupFile, '--runs', runs('one')], dir);
    assert.equal(r.code, 0, r.stderr);
    const lines = resultsOf(runs('one')).trim().split('\n');
    assert.match(lines[2]!, /^1,duplicate,.*the same plan as trial 0, which runs once/);
    assert.equal(runFolders().length, before + 1, 'one run for the two trials');
    assert.equal(extractions(runs('one')), 6, 'the features came from the stage cache');
    // Its metrics, val_accuracy to epochs (the columns before them are the sweeps' own parameters), equal the -j 1 sweep's trial 0.
    const metrics = (csv: string): string => {
      const [header, first] = csv.trim().split('\n');
      const at = header!.split(',').indexOf('val_accuracy');
      return first!
        .split(',')
        .slice(at, at + 5)
        .join(',');
    };
    assert.equal(metrics(lines.join('\n')), metrics(reference));
  });

  it('early termination (ASHA): trials that fall behind at a rung stop, recorded as stopped with the reason', async () => {
    const ashaFile = write(
      dir,
      'asha.yaml',
      SWEEP_PIPELINE(
        '  metric: { name: val_loss }\n  earlyTerminate: { type: asha, minEpochs: 1, reductionFactor: 2 }',
        4,
      )
        .replace('[0.001, 0.01]', '[0.01, 0.00001, 0.000001]')
        .replace(
          'base.cut: { values: [block_13_expand_relu, block_6_expand_relu] }',
          'base.cut: { values: [block_13_expand_relu] }',
        ),
    );
    const r = await tlpipe(['sweep', ashaFile, '-j', '1', '--runs', runs('asha')], dir);
    assert.equal(r.code, 0, r.stderr);
    const record = readJson(path.join(sweepDir(runs('asha')), 'sweep.json'));
    const states = record.trials.map((t: { index: number }) =>
      readJson(path.join(sweepDir(runs('asha')), 'trials', `${String(t.index).padStart(4, '0')}.json`)),
    );
    const stopped = states.filter((s: { status: string }) => s.status === 'stopped');
    assert.ok(stopped.length >= 1, JSON.stringify(states));
    for (const s of stopped) {
      assert.match(
        s.reason,
        /^early termination at epoch [12]: val_loss [\d.]+ is outside the best 1\/2 of the \d trial\(s\) that reached this rung before it/,
      );
      const run = readJson(path.join(runs('asha'), s.run, 'run.json'));
      assert.equal(run.status, 'interrupted');
      assert.match(
        run.error.message,
        /^stopped by the sweep's early termination \(epoch \d\); checkpoints so far are kept$/,
      );
      assert.ok(epochRows(path.join(runs('asha'), s.run)).length < 4);
    }
    assert.equal(states[0].status, 'completed', 'the first trial at every rung goes on');
    assert.match(resultsOf(runs('asha')), /,stopped,.*early termination at epoch/);
  });

  it('Ctrl-C stops the sweep (running trial interrupted, checkpoint kept); --resume finishes it with the results of an uninterrupted sweep', async () => {
    const sweep = processes.tlpipe(['sweep', file, '--json', '--runs', runs('resumed')], dir, { TLPIPE_WORKERS: '1' });
    // After the first trial completed and the second started its run.
    await waitFor(
      'trial 0 completed and trial 1 running',
      () => {
        const states = sweep
          .stdout()
          .split('\n')
          .filter((l) => l.startsWith('{'))
          .map((l) => JSON.parse(l))
          .filter((e) => e.type === 'trial')
          .map((e) => e.state);
        return (
          states.some((s) => s.index === 0 && s.status === 'completed') &&
          states.some((s) => s.index === 1 && s.status === 'running' && s.run)
        );
      },
      { timeoutMs: SWEEP_MS, context: () => sweep.stderr() },
    );
    sweep.child.kill('SIGINT');
    const code = await Promise.race([
      sweep.done,
      new Promise((resolve) => setTimeout(() => resolve('hung'), 300_000).unref()),
    ]);
    const err = sweep.stderr();
    assert.equal(code, 130, err);
    assert.equal(hasStackTrace(err), false, err);
    const folder = sweepDir(runs('resumed'));
    assert.equal(readJson(path.join(folder, 'sweep.json')).status, 'interrupted');
    const second = readJson(path.join(folder, 'trials', '0001.json'));
    assert.equal(second.status, 'queued');
    assert.equal(readJson(path.join(runs('resumed'), second.run, 'run.json')).status, 'interrupted');
    const r = await tlpipe(['sweep', '--resume', 'grid', '--runs', runs('resumed')], dir, { TLPIPE_WORKERS: '1' });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(resultsOf(runs('resumed')), reference);
    // The interrupted trial went on in its own run folder.
    assert.equal(readJson(path.join(folder, 'trials', '0001.json')).run, second.run);
    assert.ok(existsSync(path.join(runs('resumed'), second.run, 'summary.json')));
  });
});

describe('tlpipe sweep: a trial runs only the plan its sweep planned', () => {
  const dir = workspace('sweep-plan-check');
  const processes = new Processes();
  after(() => processes.stopAll());

  it("the dataset changed after the sweep planned: the next trial's process refuses its plan naming what differs, writes no run, and the sweep ends failed saying so", async () => {
    const idx = path.join(dir, 'idx');
    mkdirSync(idx);
    writeMnistSubsetIdx(idx, 8, 3);
    // No base and one epoch: the first trial trains in seconds, and it is only the window in which the data changes.
    const file = write(
      dir,
      'changed.yaml',
      `name: changed
seed: 5
dataset:
  format: idx
  train: { images: idx/train-images-idx3-ubyte.gz, labels: idx/train-labels-idx1-ubyte.gz }
  test: { images: idx/test-images-idx3-ubyte.gz, labels: idx/test-labels-idx1-ubyte.gz }
  validation: 0.25
  image: { size: [28, 28], channels: 1 }
base: { model: none }
head:
  - globalAveragePooling2d: {}
  - dense: { units: classes, activation: softmax }
train:
  stages:
    - { epochs: 1, batchSize: 8, optimizer: { learningRate: 0.01 } }
sweep:
  parameters:
    train.stages[0].optimizer.learningRate: { values: [0.01, 0.001] }
`,
    );
    const runs = path.join(dir, 'runs');
    const sweep = processes.tlpipe(['sweep', file, '-j', '1', '--runs', runs], dir);
    // Trial 0's run has started, so its process has planned: the data changes before trial 1's process plans.
    await waitFor(
      'trial 0 to start its run',
      () => {
        const folder = newestSweepDir(runs, 'changed');
        try {
          return (
            folder &&
            existsSync(path.join(folder, 'trials', '0000.json')) &&
            readJson(path.join(folder, 'trials', '0000.json')).run
          );
        } catch {
          return undefined; // between its write and its rename
        }
      },
      { timeoutMs: SWEEP_MS, context: () => sweep.stderr() },
    );
    writeMnistSubsetIdx(idx, 9, 3);
    const code = await Promise.race([
      sweep.done,
      new Promise((resolve) => setTimeout(() => resolve('hung'), SWEEP_MS).unref()),
    ]);
    const err = unwrapped(sweep.stderr());
    assert.equal(code, 1, err);
    const folder = sweepDir(runs, 'changed');
    const [first, second] = [0, 1].map((i) => readJson(path.join(folder, 'trials', `000${i}.json`)));
    assert.equal(first.status, 'completed');
    assert.equal(second.status, 'failed');
    assert.equal(second.attempts, 1, 'a refused plan is not retried');
    assert.equal(second.run, undefined, 'no run folder for a plan the sweep did not plan');
    const said =
      /sweep trial 1 planned another plan than its sweep did: plan ([0-9a-f]{8}) when the sweep planned it, ([0-9a-f]{8}) here; [^\n]*data\.digest[^\n]* differ \([^\n]*the dataset's files changed/;
    assert.match(second.reason, said);
    const [, planned, here] = said.exec(second.reason)!;
    assert.equal(planned, readJson(path.join(folder, 'sweep.json')).trials[1].fingerprint.slice(0, 8));
    assert.notEqual(here, planned);
    assert.match(err, /trial 1 failed: .*sweep trial 1 planned another plan than its sweep did/);
    assert.match(err, /hint: the trial runs only the plan its sweep recorded/);
    assert.equal(readJson(path.join(folder, 'sweep.json')).status, 'failed');
    assert.deepEqual(
      readdirSync(path.join(runs, 'changed')).filter((n) => /^\d{4}-/.test(n)).length,
      1,
      'only trial 0 has a run',
    );
    assert.equal(hasStackTrace(err), false, err);
    assert.deepEqual(tooWide(sweep.stderr()), []);
  });
});

describe('tlpipe sweep: a sweep that cannot run is an error at its line, before anything runs', () => {
  const dir = workspace('sweep-errors');
  const at = (text: string, needle: string, nth = 0): string => {
    const lines = text.split('\n');
    let seen = 0;
    for (const [i, line] of lines.entries()) {
      const col = line.indexOf(needle);
      if (col >= 0 && seen++ === nth) return `:${i + 1}:${col + 1}:`;
    }
    throw new Error(`${needle} not in the file`);
  };
  const cases: { name: string; sweep: string; where: string; message: RegExp }[] = [
    {
      name: 'a value the schema refuses',
      sweep: '    head[1].dense.units: { values: [32, 0] }',
      where: '0] }',
      message: /error: head\[1\]\.dense\.units: must be >= 1, got 0 \(in trial \d \(head\[1\]\.dense\.units=0\)\)/,
    },
    {
      name: 'a cut the base does not have',
      sweep: '    base.cut: { values: [block_13_expand_relu, blok_6_expand_relu] }',
      where: 'blok_6',
      message: /error: base\.cut: .*blok_6_expand_relu.*\(in trial \d/,
    },
    {
      name: 'a list item the pipeline does not have',
      sweep: '    train.stages[5].epochs: { values: [3] }',
      where: '3] }',
      message:
        /error: cannot set train\.stages\[5\]\.epochs: train\.stages has 1 item\(s\); an override can change one or add the next \(in trial 0/,
    },
    {
      name: 'a key the schema does not know',
      sweep: '    head[1].dense.unitz: { values: [3] }',
      where: '3] }',
      message: /error: .*unitz/,
    },
    {
      name: 'a key path that is not one',
      sweep: '    "head[x].units": { values: [1] }',
      where: '"head[x]',
      message: /error: .*`head\[x\]\.units` is not a key path/,
    },
    {
      name: 'a range in a grid',
      sweep: '    train.batchSize: { min: 8, max: 32 }',
      where: '{ min: 8',
      message: /error: .*a grid tries listed values; `min` and `max` are drawn from by method: random/,
    },
    {
      name: 'both values and a range',
      sweep: '    train.batchSize: { values: [8], min: 8, max: 32 }',
      where: '{ values: [8]',
      message: /error: .*give either `values` or `min` and `max`, not both/,
    },
  ];
  // Planned in this process (plan and sweep share planSweep, and the CLI prints each diagnostic with formatDiagnostic):
  // seconds for all, rather than two processes each loading the base. The CLI's own path is the two cases after.
  for (const [n, c] of cases.entries()) {
    it(c.name, async () => {
      const file = write(
        dir,
        `bad-${n}.yaml`,
        SWEEP_PIPELINE().replace(/sweep:\n[\s\S]*$/, `sweep:\n  parameters:\n${c.sweep}\n`),
      );
      const planned = await planSweep(file, { runsDir: path.join(dir, 'runs') });
      assert.equal(planned.ok, false);
      const said = planned.diagnostics.map((d) => formatDiagnostic(d)).join('\n');
      assert.ok(said.includes(`bad-${n}.yaml${at(readFileSync(file, 'utf8'), c.where)} error:`), said);
      assert.match(said, c.message);
    });
  }

  for (const command of ['plan', 'sweep']) {
    it(`tlpipe ${command} says it at the line, exits 1, and writes nothing`, async () => {
      const file = write(
        dir,
        `bad-${command}.yaml`,
        SWEEP_PIPELINE().replace(/sweep:\n[\s\S]*$/, `sweep:\n  parameters:\n${cases[1]!.sweep}\n`),
      );
      const r = await tlpipe([command, file, '--runs', path.join(dir, 'runs')], dir);
      assert.equal(r.code, 1, r.stderr);
      assert.ok(
        r.stderr.includes(`bad-${command}.yaml${at(readFileSync(file, 'utf8'), cases[1]!.where)} error:`),
        r.stderr,
      );
      assert.match(r.stderr, cases[1]!.message);
      assert.equal(hasStackTrace(r.stderr), false, r.stderr);
      assert.equal(existsSync(path.join(dir, 'runs')), false, 'nothing was written');
    });
  }

  it('a random sweep needs runCap; a grid over runCap is refused', async () => {
    const random = write(dir, 'random.yaml', SWEEP_PIPELINE().replace('sweep:\n', 'sweep:\n  method: random\n'));
    const said = async (file: string): Promise<string> => {
      const planned = await planSweep(file);
      assert.equal(planned.ok, false);
      return planned.diagnostics.map((d) => formatDiagnostic(d)).join('\n');
    };
    assert.match(await said(random), /random\.yaml:\d+:\d+: error: sweep\.method: a random sweep needs `runCap`/);
    const capped = write(dir, 'capped.yaml', SWEEP_PIPELINE().replace('sweep:\n', 'sweep:\n  runCap: 3\n'));
    assert.match(
      await said(capped),
      /capped\.yaml:\d+:\d+: error: sweep\.runCap: the grid has 4 trials, more than runCap 3/,
    );
  });

  it('tlpipe run on a pipeline with a sweep runs it as written', async () => {
    const file = write(dir, 'grid.yaml', SWEEP_PIPELINE('', 1));
    const r = await tlpipe(['run', file, '--runs', path.join(dir, 'plain')], dir);
    assert.equal(r.code, 0, r.stderr);
    const name = readdirSync(path.join(dir, 'plain', 'grid')).find((n) => /^\d{4}-/.test(n))!;
    assert.equal(readJson(path.join(dir, 'plain', 'grid', name, 'run.json')).overrides, undefined);
  });
});

describe('tlpipe sweep --resume on a damaged sweep folder: a message naming the file, no stack trace, no hang', () => {
  const dir = workspace('sweep-damaged');
  const record = (over: Record<string, unknown> = {}): string =>
    JSON.stringify({
      id: '0001-0123abcd',
      uid: '0'.repeat(32),
      pipeline: 'grid',
      file: path.join(dir, 'grid.yaml'),
      text: SWEEP_PIPELINE(),
      createdAt: '2026-01-01T00:00:00.000Z',
      status: 'interrupted',
      spec: { method: 'grid', parameters: [], metric: { name: 'val_accuracy', goal: 'maximize' } },
      trials: [],
      runner: { kind: 'local', jobs: 1 },
      ...over,
    });
  const cases: { name: string; make: (file: string) => void; message: RegExp }[] = [
    {
      name: 'sweep.json is a FIFO',
      make: (file) => execFileSync('mkfifo', [file]),
      message: /sweep record .*sweep\.json is a named pipe \(FIFO\), not a file/,
    },
    {
      name: 'sweep.json links to /dev/zero',
      make: (file) => symlinkSync('/dev/zero', file),
      message: /sweep record .*sweep\.json is a link that leads outside/,
    },
    {
      name: 'sweep.json is a list',
      make: (file) => writeFileSync(file, '[]'),
      message: /sweep\.json is not a sweep record: it is not an object/,
    },
    {
      name: 'sweep.json is not JSON',
      make: (file) => writeFileSync(file, '{"id": '),
      message: /sweep\.json is not valid JSON/,
    },
    {
      name: 'its trials are not a list',
      make: (file) => writeFileSync(file, record({ trials: 'all' })),
      message: /sweep\.json is not a sweep record: `trials` is not a list/,
    },
    {
      name: 'a trial index that is a path',
      make: (file) =>
        writeFileSync(file, record({ trials: [{ index: '../../x', values: {}, fingerprint: 'f', epochs: 1 }] })),
      message: /trials\[0\] has no index from 0 to 9999/,
    },
    {
      name: 'an id that is a path',
      make: (file) => writeFileSync(file, record({ id: '../../../elsewhere' })),
      message: /`id` is not <NNNN>-<8 hex digits>/,
    },
    {
      name: 'sweep.json of 20 MB',
      make: (file) => writeFileSync(file, Buffer.alloc(20 * 2 ** 20, 32)),
      message: /sweep record .*sweep\.json is \d+ bytes, more than the \d+ tlpipe reads of it/,
    },
  ];
  const damaged = (n: number, c: (typeof cases)[number]): { runs: string; folder: string } => {
    const runs = path.join(dir, `runs-${n}`);
    const folder = path.join(runs, 'grid', 'sweeps', '0001-0123abcd');
    mkdirSync(path.join(folder, 'trials'), { recursive: true });
    c.make(path.join(folder, 'sweep.json'));
    return { runs, folder };
  };
  // resumeSweep in this process for each (the CLI prints its diagnostics with formatDiagnostic), bounded: a read that blocks fails the case.
  for (const [n, c] of cases.entries()) {
    it(c.name, async () => {
      const { runs, folder } = damaged(n, c);
      const resumed = await Promise.race([
        resumeSweep(folder, { runsDir: runs }),
        new Promise<'hung'>((resolve) => setTimeout(() => resolve('hung'), 120_000).unref()),
      ]);
      assert.notEqual(resumed, 'hung', 'did not hang');
      const result = resumed as Exclude<typeof resumed, 'hung'>;
      assert.equal(result.ok, false);
      assert.match(result.diagnostics.map((d) => formatDiagnostic(d)).join('\n'), c.message);
      assert.deepEqual(readdirSync(folder).sort(), ['sweep.json', 'trials'], 'nothing written into the damaged sweep');
    });
  }

  it('tlpipe sweep --resume on one (a FIFO, which a plain read would wait on for ever): exit 1, the message, no stack trace', async () => {
    const { runs, folder } = damaged(cases.length, cases[0]!);
    const r = await tlpipeBounded(['sweep', '--resume', folder, '--runs', runs], dir, { timeoutMs: 120_000 });
    assert.equal(r.timedOut, false, 'did not hang');
    assert.equal(r.code, 1, r.stderr);
    assert.match(unwrapped(r.stderr), cases[0]!.message);
    assert.equal(hasStackTrace(r.stderr), false, r.stderr);
    assert.deepEqual(readdirSync(folder).sort(), ['sweep.json', 'trials'], 'nothing written into the damaged sweep');
  });
});
