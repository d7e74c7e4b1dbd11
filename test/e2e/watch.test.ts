import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { CLI, readJson, workspace, write } from './cli-harness.js';

const PIPELINE = `name: w
seed: 2
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
  batchSize: 8
  stages:
    - { name: head, epochs: EPOCHS }
`;

/** A running `tlpipe watch` and its stderr so far, with a way to wait for a line. */
/** Watchers a test started; any still alive when the file's tests end (a failed wait) are killed, so nothing outlives the tests. */
const started: ChildProcess[] = [];
after(() => {
  for (const child of started) if (child.exitCode === null) child.kill('SIGKILL');
});

function startWatch(
  dir: string,
  files: string[],
  debounceMs = 200,
): { child: ChildProcess; output: () => string; waitFor(pattern: RegExp, count?: number): Promise<void> } {
  const child = spawn(process.execPath, [CLI, 'watch', ...files, '--debounce', String(debounceMs)], {
    cwd: dir,
    env: { ...process.env, FORCE_COLOR: '0' },
  });
  started.push(child);
  let text = '';
  const waiters: { pattern: RegExp; count: number; resolve: () => void }[] = [];
  const check = (): void => {
    for (const w of [...waiters]) {
      if ((text.match(new RegExp(w.pattern.source, 'gm')) ?? []).length >= w.count) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve();
      }
    }
  };
  const collect = (chunk: string): void => {
    text += chunk;
    check();
  };
  // Decoded as streams: a character of several bytes may straddle two reads.
  child.stderr!.setEncoding('utf8');
  child.stdout!.setEncoding('utf8');
  child.stderr!.on('data', collect);
  child.stdout!.on('data', collect);
  return {
    child,
    output: () => text,
    waitFor: (pattern, count = 1) =>
      new Promise<void>((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`timed out waiting for ${pattern} ×${count}; output:\n${text}`)),
          120_000,
        );
        waiters.push({
          pattern,
          count,
          resolve: () => {
            clearTimeout(timer);
            resolve();
          },
        });
        check();
      }),
  };
}

const runIds = (dir: string): string[] =>
  existsSync(path.join(dir, 'runs', 'w'))
    ? readdirSync(path.join(dir, 'runs', 'w'))
        .filter((n) => /^\d{4}-/.test(n))
        .sort()
    : [];
/** The watcher's exit code; one still running after 120 s fails the wait (the file's `after` kills it). */
const exited = (child: ChildProcess): Promise<number | null> =>
  new Promise((resolve, reject) => {
    if (child.exitCode !== null) return resolve(child.exitCode);
    const timer = setTimeout(() => reject(new Error('the watcher did not exit within 120 s of SIGINT')), 120_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve(code);
    });
  });
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe('tlpipe watch', () => {
  it('two quick saves start exactly one new run, which reuses the features; a broken save waits', async () => {
    const dir = workspace('watch');
    const file = write(dir, 'w.yaml', PIPELINE.replace('EPOCHS', '2'));
    // A debounce far above the 20 ms between the two saves below: under a load of 8–13 on 2 cores a 20 ms sleep
    // overran by over 180 ms in 2 of 400 tries, and a 200 ms debounce then starts a run for the first save.
    const watch = startWatch(dir, ['w.yaml'], 2000);
    await watch.waitFor(/^completed runs\/w\/0001-/);
    // An editor that writes a file in two steps, 20 ms apart.
    writeFileSync(file, PIPELINE.replace('EPOCHS', '2').replace('units: 16', 'units: 12'));
    await sleep(20);
    writeFileSync(file, PIPELINE.replace('EPOCHS', '2').replace('units: 16', 'units: 24'));
    await watch.waitFor(/^completed runs\/w\/0002-/);
    await sleep(1500);
    assert.equal(runIds(dir).length, 2, watch.output());
    assert.equal(readJson(path.join(dir, 'runs', 'w', runIds(dir)[1]!, 'resolved.json')).head[1].units, 24);
    assert.match(watch.output(), /features train: \d+ examples from the stage cache/);
    // A broken save: its errors are printed with file:line:col, and no run starts.
    writeFileSync(file, PIPELINE.replace('EPOCHS', '2').replace('units: 16', 'units: -1'));
    await watch.waitFor(/is not valid; waiting for the next save/);
    assert.match(watch.output(), /^w\.yaml:11:21: error: head\[1\]\.dense\.units/m);
    await sleep(800);
    assert.equal(runIds(dir).length, 2);
    watch.child.kill('SIGINT');
    assert.equal(await exited(watch.child), 0);
  });

  it('a valid save cancels the running run cleanly and Ctrl-C leaves nothing half-written', async () => {
    const dir = workspace('watch-cancel');
    const file = write(dir, 'w.yaml', PIPELINE.replace('EPOCHS', '400'));
    const watch = startWatch(dir, ['w.yaml']);
    await watch.waitFor(/^head epoch 2 /);
    writeFileSync(file, PIPELINE.replace('EPOCHS', '400').replace('units: 16', 'units: 20'));
    await watch.waitFor(/^run runs\/w\/0002-/);
    const [first, second] = runIds(dir);
    const firstRun = readJson(path.join(dir, 'runs', 'w', first!, 'run.json'));
    assert.equal(firstRun.status, 'interrupted');
    const index = readJson(path.join(dir, 'runs', 'w', first!, 'checkpoints', 'index.json'));
    assert.ok(
      existsSync(path.join(dir, 'runs', 'w', first!, index.latest.dir, 'weights.bin')),
      'the cancelled run keeps its checkpoints',
    );
    await watch.waitFor(/^head epoch 1 /, 2);
    watch.child.kill('SIGINT');
    assert.equal(await exited(watch.child), 0);
    assert.equal(readJson(path.join(dir, 'runs', 'w', second!, 'run.json')).status, 'interrupted');
    const leftovers = (d: string): string[] =>
      readdirSync(d, { withFileTypes: true }).flatMap((e) =>
        e.isDirectory()
          ? leftovers(path.join(d, e.name))
          : /\.tmp$|^\.partial/.test(e.name)
            ? [path.join(d, e.name)]
            : [],
      );
    assert.deepEqual(leftovers(path.join(dir, 'runs')), []);
    assert.equal(readFileSync(path.join(dir, 'runs', 'w', second!, 'metrics.jsonl'), 'utf8').endsWith('\n'), true);
  });

  it('a save that changes nothing a run depends on (the same bytes, a touch, a reformat) leaves the running run alone; it completes', async () => {
    const dir = workspace('watch-same');
    // Long enough to outlast the three saves below (answered within the first five epochs under a load of 17 on 2 cores),
    // short enough to wait for: 400 epochs outlasted the wait for completion itself under that load.
    const text = PIPELINE.replace('EPOCHS', '60');
    const file = write(dir, 'w.yaml', text);
    const watch = startWatch(dir, ['w.yaml']);
    await watch.waitFor(/^head epoch 2 /);
    const unchanged = /^w\.yaml saved with nothing changed that a run depends on: the running run goes on$/;
    // An editor's `:w`: the same bytes written again.
    writeFileSync(file, text);
    await watch.waitFor(unchanged, 1);
    // A touch: only the times change.
    const now = new Date();
    utimesSync(file, now, now);
    await watch.waitFor(unchanged, 2);
    // A formatter: other spacing and a comment, the same pipeline.
    writeFileSync(
      file,
      text.replace(
        'base: { cut: block_3_expand_relu }',
        'base:\n  cut: block_3_expand_relu   # where the base is cut\n',
      ),
    );
    await watch.waitFor(unchanged, 3);
    await watch.waitFor(/^completed runs\/w\/0001-/);
    assert.deepEqual(
      runIds(dir).map((id) => readJson(path.join(dir, 'runs', 'w', id, 'run.json')).status),
      ['completed'],
      watch.output(),
    );
    assert.doesNotMatch(watch.output(), /changed: stopping its run/);
    // Once it completed, the same save again runs nothing.
    writeFileSync(file, text);
    await watch.waitFor(/^w\.yaml saved with nothing changed that a run depends on: its last run completed as it is$/);
    await sleep(800);
    assert.equal(runIds(dir).length, 1);
    watch.child.kill('SIGINT');
    assert.equal(await exited(watch.child), 0);
  });
});
