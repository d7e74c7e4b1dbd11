import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import { before, describe, it } from 'node:test';
import { epochRows, readJson, startCli, tlpipe, unwrapped, workspace, write } from './cli-harness.js';

const PIPELINE = `name: exp
seed: 5
backend: wasm
dataset:
  format: mnist
  limit: { perClass: 8, testPerClass: 2 }
  image: { size: [32, 32] }
base: { cut: block_3_expand_relu }
head:
  - globalAveragePooling2d: {}
  - dense: { units: 16, activation: relu }
  - dense: { units: classes, activation: softmax }
train:
  batchSize: 16
  stages:
    - { name: head, epochs: 3, optimizer: { learningRate: 0.01 } }
`;

const runDirs = (dir: string, pipeline: string): string[] =>
  readdirSync(path.join(dir, 'runs', pipeline))
    .filter((n) => /^\d{4}-/.test(n))
    .sort()
    .map((n) => path.join(dir, 'runs', pipeline, n));
describe('the stage cache', () => {
  const dir = workspace('cache');
  const results: Awaited<ReturnType<typeof tlpipe>>[] = [];
  before(async () => {
    write(dir, 'exp.yaml', PIPELINE);
    results.push(await tlpipe(['run', 'exp.yaml'], dir));
    // 2: the same pipeline again; 3: only a head key changed; 4: the dataset changed.
    results.push(await tlpipe(['run', 'exp.yaml'], dir));
    write(dir, 'exp.yaml', PIPELINE.replace('units: 16', 'units: 24'));
    results.push(await tlpipe(['run', 'exp.yaml'], dir));
    write(dir, 'exp.yaml', PIPELINE.replace('units: 16', 'units: 24').replace('perClass: 8', 'perClass: 9'));
    results.push(await tlpipe(['run', 'exp.yaml'], dir));
    for (const r of results) assert.equal(r.code, 0, r.stderr);
  });

  it('an unchanged pipeline reuses its stage: same metrics, marked reused, nothing trained', () => {
    const [first, second] = runDirs(dir, 'exp');
    assert.match(results[1]!.stderr, /stage head: 3 epoch\(s\) reused from the stage cache/);
    assert.doesNotMatch(results[1]!.stderr, /head epoch 1 {2}loss/);
    assert.deepEqual(epochRows(second!), epochRows(first!));
    assert.ok(
      readFileSync(path.join(second!, 'metrics.jsonl'), 'utf8')
        .trim()
        .split('\n')
        .every((l) => JSON.parse(l).reused === true),
    );
    assert.deepEqual(
      readJson(path.join(second!, 'summary.json')).test,
      readJson(path.join(first!, 'summary.json')).test,
    );
  });

  it('a changed head key reuses the feature extraction and trains the head again', () => {
    assert.match(results[2]!.stderr, /features train: \d+ examples from the stage cache/);
    assert.doesNotMatch(results[2]!.stderr, /reused from the stage cache/);
    assert.match(results[2]!.stderr, /head epoch 3 {2}loss/);
  });

  it('a changed dataset reuses nothing', () => {
    assert.doesNotMatch(results[3]!.stderr, /from the stage cache/);
    assert.match(results[3]!.stderr, /features train: \d+ examples in/);
  });

  it('a corrupted cache entry is detected by its digest, rebuilt and never used', async () => {
    const features = path.join(dir, 'runs', '.cache', 'features');
    for (const key of readdirSync(features)) {
      const file = path.join(features, key, 'data.bin');
      const bytes = readFileSync(file);
      bytes[bytes.length - 1] = bytes[bytes.length - 1]! ^ 0xff;
      writeFileSync(file, bytes);
    }
    const r = await tlpipe(['run', 'exp.yaml', '--no-cache'], dir);
    assert.equal(r.code, 0, r.stderr);
    assert.doesNotMatch(r.stderr, /from the stage cache/);
    // --no-cache neither reads nor writes, so the corrupt entries are still there; now a cached run meets them.
    write(dir, 'exp.yaml', PIPELINE.replace('units: 16', 'units: 20').replace('perClass: 8', 'perClass: 9'));
    const again = await tlpipe(['run', 'exp.yaml'], dir);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stderr, /features train: \d+ examples in/, 'corrupt features were recomputed');
    const last = runDirs(dir, 'exp').at(-1)!;
    assert.deepEqual(readJson(path.join(last, 'summary.json')).status, 'completed');
    const healed = await tlpipe(['run', 'exp.yaml'], dir);
    assert.match(healed.stderr, /reused from the stage cache/, 'the rebuilt entry is used next time');
  });

  it('an unreadable cache entry (a folder where its data goes) is removed and rebuilt, saying so: the run completes', async () => {
    const features = path.join(dir, 'runs', '.cache', 'features');
    const keys = readdirSync(features).filter((n) => /^[0-9a-f]{64}$/.test(n));
    for (const key of keys) {
      rmSync(path.join(features, key, 'data.bin'));
      mkdirSync(path.join(features, key, 'data.bin'));
    }
    const r = await tlpipe(['run', 'exp.yaml'], dir);
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      unwrapped(r.stderr),
      /the stage cache entry .*features\/[0-9a-f]{64} is damaged \(.*data\.bin is a folder, not a file\); it was removed and is computed again/,
    );
    assert.doesNotMatch(r.stderr, /internal error|^\s+at /m);
    assert.equal(readJson(path.join(runDirs(dir, 'exp').at(-1)!, 'run.json')).status, 'completed');
    const damaged = [...unwrapped(r.stderr).matchAll(/features\/([0-9a-f]{64}) is damaged/g)].map((m) => m[1]!);
    assert.ok(damaged.length > 0);
    for (const key of damaged) assert.ok(statSync(path.join(features, key, 'data.bin')).isFile(), 'rebuilt');
  });
});

describe('runs and compare', () => {
  const dir = workspace('runs');
  let killedId = '';
  before(async () => {
    write(dir, 'a.yaml', PIPELINE);
    write(dir, 'b.yaml', PIPELINE.replace('units: 16', 'units: 24'));
    assert.equal((await tlpipe(['run', 'a.yaml', '--no-cache'], dir)).code, 0);
    assert.equal((await tlpipe(['run', 'b.yaml', '--no-cache'], dir)).code, 0);
    // A third run, killed outright: run.json still says running, but its process is gone.
    write(dir, 'long.yaml', PIPELINE.replace('epochs: 3', 'epochs: 500'));
    await startCli(['run', 'long.yaml', '--no-cache'], dir, {
      onStderr: (stderr, child) => /head epoch 2 /.test(stderr) && !child.killed && child.kill('SIGKILL'),
    }).exited();
    killedId = path.basename(runDirs(dir, 'exp').at(-1)!);
  });

  it('tlpipe runs lists newest first and shows a killed run as interrupted, not running', async () => {
    assert.equal(readJson(path.join(dir, 'runs', 'exp', killedId, 'run.json')).status, 'running');
    const r = await tlpipe(['runs', '--json'], dir);
    assert.equal(r.code, 0, r.stderr);
    const runs = JSON.parse(r.stdout);
    assert.deepEqual(
      runs.map((x: { id: string }) => x.id.slice(0, 4)),
      ['0003', '0002', '0001'],
    );
    assert.deepEqual(
      runs.map((x: { status: string }) => x.status),
      ['interrupted', 'completed', 'completed'],
    );
    assert.equal(typeof runs[1].testAccuracy, 'number');
    assert.equal(runs[1].best.metric, 'val_accuracy');
    const text = await tlpipe(['runs', 'exp'], dir);
    assert.match(text.stdout, /^run +status +started +seconds +backend +best +test acc +git$/m);
    assert.match(text.stdout, new RegExp(`^exp/${killedId} +interrupted `, 'm'));
  });

  /**
   * Another machine sharing the runs folder: the killed run's folder copied, its run.json (and lock) edited to
   * say where it runs. A pid there means nothing here (4000000 is beyond any pid_max), so only the heartbeat tells.
   */
  const elsewhere: {
    name: string;
    /** run.json's host; undefined: an older tlpipe's run.json, which names none. */
    host: string | undefined;
    heartbeatAgeS: number;
    status: 'running' | 'interrupted';
  }[] = [
    { name: 'another machine, its heartbeat fresh: running', host: 'build-box-2', heartbeatAgeS: 0, status: 'running' },
    {
      name: 'another machine, its heartbeat stopped ten minutes ago: interrupted',
      host: 'build-box-2',
      heartbeatAgeS: 600,
      status: 'interrupted',
    },
    {
      name: 'this machine, its pid gone, its heartbeat fresh: interrupted',
      host: hostname(),
      heartbeatAgeS: 0,
      status: 'interrupted',
    },
    {
      name: 'no machine recorded (an older run.json), its pid gone: this machine, interrupted',
      host: undefined,
      heartbeatAgeS: 0,
      status: 'interrupted',
    },
  ];
  for (const [i, c] of elsewhere.entries()) {
    it(`tlpipe runs on a shared runs folder, ${c.name}`, async () => {
      const copy = path.join(dir, 'shared', String(i));
      const runDir = path.join(copy, 'exp', killedId);
      cpSync(path.join(dir, 'runs', 'exp', killedId), runDir, { recursive: true });
      const { host: _host, ...record } = readJson(path.join(runDir, 'run.json'));
      writeFileSync(
        path.join(runDir, 'run.json'),
        JSON.stringify({ ...record, status: 'running', pid: 4000000, ...(c.host ? { host: c.host } : {}) }),
      );
      // The lock its process holds (and touches with its heartbeat), as that machine wrote it.
      const since = new Date(Date.now() - c.heartbeatAgeS * 1000);
      const lock = { pid: 4000000, host: c.host ?? hostname(), since: since.toISOString(), by: 'run', token: 'ab' };
      writeFileSync(path.join(runDir, '.lock'), JSON.stringify(lock) + '\n');
      writeFileSync(path.join(runDir, '.heartbeat'), since.toISOString());
      for (const file of ['.lock', '.heartbeat']) utimesSync(path.join(runDir, file), since, since);
      const r = await tlpipe(['runs', '--runs', copy, '--json'], dir);
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(
        JSON.parse(r.stdout).map((x: { status: string }) => x.status),
        [c.status],
      );
      const text = await tlpipe(['runs', '--runs', copy], dir);
      assert.match(text.stdout, new RegExp(`^exp/${killedId} +${c.status} `, 'm'));
      if (c.status === 'running') {
        // Nor may a resume here take the folder from the process that runs it there.
        const resumed = await tlpipe(['resume', runDir, '--no-cache'], dir);
        assert.equal(resumed.code, 1, resumed.stderr);
        assert.match(unwrapped(resumed.stderr), /is in use by pid 4000000 \(run\) on build-box-2 since/);
        assert.equal(readJson(path.join(runDir, 'run.json')).pid, 4000000, 'run.json untouched');
      }
    });
  }

  it('tlpipe compare shows the one differing key and the metrics side by side', async () => {
    const r = await tlpipe(['compare', 'exp/0001', 'exp/0002', '--json'], dir);
    assert.equal(r.code, 0, r.stderr);
    const c = JSON.parse(r.stdout);
    assert.deepEqual(c.config, [{ path: 'head[1].dense.units', values: [16, 24] }]);
    // Each key path printed is one --set takes.
    const set = await tlpipe(['validate', 'a.yaml', '--set', `${c.config[0].path}=24`], dir);
    assert.equal(set.code, 0, set.stderr);
    assert.deepEqual(
      c.stages.filter((s: { metric: string }) => s.metric === 'epochs').map((s: { values: number[] }) => s.values),
      [[3, 3]],
    );
    assert.equal(c.runs.length, 2);
    const text = await tlpipe(['compare', 'exp/0001', 'exp/0002'], dir);
    assert.match(text.stdout, /^head\[1\]\.dense\.units +16 +24$/m);
    assert.match(text.stdout, /^head val_accuracy +[\d.]+ +[\d.]+$/m);
    const missing = await tlpipe(['compare', 'exp/0001', 'exp/0099'], dir);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /no run `exp\/0099`/);
  });

  it('tlpipe report builds one self-contained comparison page for several runs', async () => {
    const r = await tlpipe(['report', 'exp/0001', 'exp/0002', '--out', 'cmp.html'], dir);
    assert.equal(r.code, 0, r.stderr);
    const html = readFileSync(path.join(dir, 'cmp.html'), 'utf8');
    assert.equal((html.match(/<svg class="chart"/g) ?? []).length, 2);
    for (const curve of ['validation', 'train'])
      assert.match(html, new RegExp(`data-series="exp/0001-[0-9a-f]{8} ${curve}"`));
    assert.match(html, /<th style="text-align:left">head\[1\]\.dense\.units<\/th><td>16<\/td><td>24<\/td>/);
    assert.doesNotMatch(html, /<script|https?:\/\/(?!www\.w3\.org)/);
  });
});

describe('tlpipe init', () => {
  it('scaffolds a pipeline that validates and a .gitignore that keeps run records only', async () => {
    const dir = workspace('init');
    const r = await tlpipe(['init', 'proj'], dir);
    assert.equal(r.code, 0, r.stderr);
    const project = path.join(dir, 'proj');
    assert.match(
      readFileSync(path.join(project, 'pipeline.yaml'), 'utf8'),
      /^# yaml-language-server: \$schema=.*schemas\/pipeline\.schema\.json$/m,
    );
    assert.equal((await tlpipe(['validate', 'pipeline.yaml'], project)).code, 0);
    const again = await tlpipe(['init', 'proj'], dir);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /already exists/);
    // What git keeps, asked of git itself.
    execFileSync('git', ['init', '-q'], { cwd: project });
    const ignored = (file: string): boolean => {
      try {
        execFileSync('git', ['check-ignore', '-q', file], { cwd: project });
        return true;
      } catch {
        return false;
      }
    };
    for (const kept of ['run.json', 'metrics.jsonl', 'summary.json', 'report.html', 'pipeline.yaml'])
      assert.equal(ignored(`runs/p/0001-abcdef12/${kept}`), false, kept);
    for (const dropped of ['checkpoints/epoch-001/weights.bin', 'model/weights.bin', 'log.txt'])
      assert.equal(ignored(`runs/p/0001-abcdef12/${dropped}`), true, dropped);
    assert.equal(ignored('runs/.cache/features/x/data.bin'), true);
    // A sweep's record goes in git too; early termination's rung files and the id reservations do not.
    for (const kept of ['sweep.json', 'results.csv', 'report.html', 'trials/0003.json'])
      assert.equal(ignored(`runs/p/sweeps/0001-abcdef12/${kept}`), false, kept);
    for (const dropped of ['sweeps/0001-abcdef12/rungs/1/0003.json', 'sweeps/.ids/0001'])
      assert.equal(ignored(`runs/p/${dropped}`), true, dropped);
    assert.equal(ignored('pipeline.yaml'), false);
  });
});

describe('feature extraction on both cores', () => {
  it('workers compute the very features the main thread does: identical metrics with 1 and 2 workers', async () => {
    const dir = workspace('workers');
    // 300 examples: above the size where workers start.
    write(dir, 'exp.yaml', PIPELINE.replace('perClass: 8, testPerClass: 2', 'perClass: 27, testPerClass: 3'));
    const one = await tlpipe(['run', 'exp.yaml', '--no-cache', '--runs', 'one'], dir, { TLPIPE_WORKERS: '1' });
    const two = await tlpipe(['run', 'exp.yaml', '--no-cache', '--runs', 'two'], dir, { TLPIPE_WORKERS: '2' });
    assert.equal(one.code, 0, one.stderr);
    assert.equal(two.code, 0, two.stderr);
    const only = (root: string): string =>
      path.join(
        dir,
        root,
        'exp',
        readdirSync(path.join(dir, root, 'exp')).find((n) => /^\d{4}-/.test(n))!,
      );
    assert.deepEqual(epochRows(only('two')), epochRows(only('one')));
    assert.deepEqual(
      readJson(path.join(only('two'), 'summary.json')).test,
      readJson(path.join(only('one'), 'summary.json')).test,
    );
  });
});
