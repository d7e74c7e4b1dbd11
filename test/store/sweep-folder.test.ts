import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { UserError } from '../../src/diagnostics/user-error.js';
import type { SweepSpec } from '../../src/plan/sweep-trials.js';
import {
  listSweeps,
  SWEEP_FILE,
  SweepFolder,
  type SweepRecord,
  type TrialState,
} from '../../src/store/sweep-folder.js';
import {
  RESULTS_FILE,
  SWEEP_REPORT_FILE,
  writeSweepReport,
  type SweepReportSources,
} from '../../src/store/sweep-report.js';

const root = mkdtempSync(path.join(tmpdir(), 'tlpipe-sweep-folder-'));
after(() => rmSync(root, { recursive: true, force: true }));
let made = 0;
const runsRoot = (): string => {
  const dir = path.join(root, String(made++));
  mkdirSync(dir);
  return dir;
};

const spec: SweepSpec = {
  method: 'grid',
  metric: { name: 'val_accuracy', goal: 'maximize' },
  seed: 1,
  parameters: [
    {
      name: 'train.stages[0].optimizer.learningRate',
      path: ['train', 'stages', 0, 'optimizer', 'learningRate'],
      values: [0.01, 0.001],
    },
  ] as unknown as SweepSpec['parameters'],
};
const record = (): Omit<SweepRecord, 'id'> => ({
  pipeline: 'grid',
  file: '/p/grid.yaml',
  text: 'name: grid\n',
  createdAt: '2026-01-01T00:00:00.000Z',
  status: 'running',
  spec,
  trials: [0, 1, 2].map((index) => ({
    index,
    values: { 'train.stages[0].optimizer.learningRate': [0.01, 0.001, 'a, "b"'][index] },
    fingerprint: `${index}`.repeat(64),
    epochs: 2,
  })),
  runner: { kind: 'local', jobs: 1 },
});
const state = (index: number, changes: Partial<TrialState> = {}): TrialState => ({
  index,
  status: 'completed',
  attempts: 1,
  updatedAt: '2026-01-01T00:01:00.000Z',
  ...changes,
});

describe("a sweep's folder", () => {
  it('is numbered under runs/<pipeline>/sweeps/, and its record reads back as written', async () => {
    const runs = runsRoot();
    const first = await SweepFolder.create(runs, record(), 'ab'.repeat(32));
    const second = await SweepFolder.create(runs, record(), 'cd'.repeat(32));
    assert.deepEqual([first.record.id, second.record.id], ['0001-abababab', '0002-cdcdcdcd']);
    assert.match(first.record.uid ?? '', /^[0-9a-f]{32}$/);
    assert.deepEqual((await SweepFolder.open(first.dir)).record, first.record);
    assert.deepEqual(await listSweeps(runs, 'grid'), [second.dir, first.dir]);
    assert.deepEqual(await listSweeps(runs, 'other'), []);
  });

  it("a trial's state reads back as written; a trial not started has none", async () => {
    const folder = await SweepFolder.create(runsRoot(), record(), 'ab'.repeat(32));
    await folder.writeTrial(state(1, { metric: 0.5, run: 'grid/0002-11111111' }));
    assert.deepEqual(await folder.readTrial(1), state(1, { metric: 0.5, run: 'grid/0002-11111111' }));
    assert.equal(await folder.readTrial(0), undefined);
    assert.deepEqual([...(await folder.readTrials()).keys()], [1]);
  });

  // A damaged trial file is a trial to run again, never a reason to stop the sweep.
  const damagedTrials: { name: string; text: string }[] = [
    { name: 'not JSON', text: '{"index": 0,' },
    { name: 'null', text: 'null' },
    { name: "another trial's index", text: JSON.stringify(state(2)) },
    { name: 'a status tlpipe never writes', text: JSON.stringify(state(0, { status: 'won' as TrialState['status'] })) },
    { name: 'a metric that is a string', text: JSON.stringify({ ...state(0), metric: '0.9' }) },
    { name: 'a run outside the runs folder', text: JSON.stringify(state(0, { run: '../../etc/0001-abcdef12' })) },
  ];
  for (const c of damagedTrials) {
    it(`a trial file with ${c.name} counts as none`, async () => {
      const folder = await SweepFolder.create(runsRoot(), record(), 'ab'.repeat(32));
      writeFileSync(folder.trialFile(0), c.text);
      assert.equal(await folder.readTrial(0), undefined);
    });
  }

  const damagedRecords: { name: string; edit: (r: Record<string, unknown>) => unknown; problem: RegExp }[] = [
    { name: 'an array', edit: () => [], problem: /is not a sweep record: it is not an object/ },
    {
      name: 'an id that is not a folder name',
      edit: (r) => ({ ...r, id: '../x' }),
      problem: /`id` is not <NNNN>-<8 hex digits>/,
    },
    {
      name: 'a pipeline name with a slash',
      edit: (r) => ({ ...r, pipeline: 'a/b' }),
      problem: /`pipeline` is not a pipeline name/,
    },
    {
      name: 'a trial without an index',
      edit: (r) => ({ ...r, trials: [{ values: {}, fingerprint: 'f' }] }),
      problem: /trials\[0\] has no index from 0 to 9999/,
    },
    {
      name: 'an unknown runner',
      edit: (r) => ({ ...r, runner: { kind: 'ssh' } }),
      problem: /`runner` is not local or queue/,
    },
  ];
  for (const c of damagedRecords) {
    it(`sweep.json with ${c.name}: a user error naming it`, async () => {
      const folder = await SweepFolder.create(runsRoot(), record(), 'ab'.repeat(32));
      const file = path.join(folder.dir, SWEEP_FILE);
      writeFileSync(file, JSON.stringify(c.edit(JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>)));
      await assert.rejects(
        SweepFolder.open(folder.dir),
        (error: unknown) =>
          error instanceof UserError && error.message.startsWith(file) && c.problem.test(error.message),
      );
    });
  }

  it('a folder without sweep.json is not a sweep folder', async () => {
    const dir = runsRoot();
    await assert.rejects(
      SweepFolder.open(dir),
      (error: unknown) =>
        error instanceof UserError &&
        error.message === `${dir} is not a sweep folder (it has no readable ${SWEEP_FILE})`,
    );
  });

  it('a rung returns the values other trials recorded there before, ignoring damaged ones', async () => {
    const folder = await SweepFolder.create(runsRoot(), record(), 'ab'.repeat(32));
    assert.deepEqual(await folder.recordRung(1, 0, 0.5), []);
    assert.deepEqual(await folder.recordRung(1, 1, 0.7), [0.5]);
    writeFileSync(path.join(folder.dir, 'rungs', '1', '0005.json'), '{"value": "high"}');
    assert.deepEqual((await folder.recordRung(1, 2, 0.6)).sort(), [0.5, 0.7]);
    assert.deepEqual((await folder.recordRung(1, 0, 0.9)).sort(), [0.6, 0.7]);
    assert.deepEqual(readdirSync(path.join(folder.dir, 'rungs', '1')).sort(), [
      '0000.json',
      '0001.json',
      '0002.json',
      '0005.json',
    ]);
  });
});

describe("a sweep's results.csv and report.html", () => {
  it('ranks the completed trials, writes what the trials decided, and hands the renderer the curves of trials that have runs', async () => {
    const runs = runsRoot();
    const folder = await SweepFolder.create(runs, record(), 'ab'.repeat(32));
    for (const [run, loss] of [
      ['grid/0001-00000000', 0.9],
      ['grid/0002-11111111', 0.4],
    ] as const) {
      mkdirSync(path.join(runs, run), { recursive: true });
      writeFileSync(
        path.join(runs, run, 'metrics.jsonl'),
        JSON.stringify({ stage: 'head', epoch: 1, loss, accuracy: 0.5 }) + '\n',
      );
    }
    const states = new Map([
      [
        0,
        state(0, {
          metric: 0.5,
          valLoss: 0.9,
          run: 'grid/0001-00000000',
          test: { accuracy: 0.25, loss: 1.5 },
          epochs: 2,
        }),
      ],
      [1, state(1, { metric: 0.75, valLoss: 0.4, run: 'grid/0002-11111111', epochs: 2 })],
      [2, state(2, { status: 'failed', reason: '=cmd failed\nsecond line' })],
    ]);
    let given: SweepReportSources | undefined;
    const paths = await writeSweepReport(folder, states, (sources) => {
      given = sources;
      return '<p>page</p>';
    });
    assert.deepEqual(paths, {
      results: path.join(folder.dir, RESULTS_FILE),
      report: path.join(folder.dir, SWEEP_REPORT_FILE),
    });
    assert.equal(
      readFileSync(paths.results, 'utf8'),
      [
        'trial,status,train.stages[0].optimizer.learningRate,val_accuracy,val_loss,test_accuracy,test_loss,epochs,rank,note',
        '0,completed,0.01,0.5,0.9,0.25,1.5,2,2,',
        '1,completed,0.001,0.75,0.4,,,2,1,',
        `2,failed,"a, ""b""",,,,,,,"'=cmd failed"`,
        '',
      ].join('\n'),
    );
    assert.equal(readFileSync(paths.report, 'utf8'), '<p>page</p>');
    assert.deepEqual(
      [...given!.rankOf],
      [
        [1, 1],
        [0, 2],
      ],
    );
    assert.deepEqual(
      given!.compared.map((c) => [c.label, c.metrics[0]!.loss]),
      [
        ['trial 0', 0.9],
        ['trial 1', 0.4],
      ],
    );
    assert.equal(given!.states, states);
  });
});
