import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import {
  appendFileSync,
  chmodSync,
  chownSync,
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import { before, describe, it } from 'node:test';
import {
  epochRows,
  hasStackTrace,
  readJson,
  startCli,
  tlpipe,
  tlpipeBounded,
  unwrapped,
  workspace,
  write,
} from './cli-harness.js';

/** Two small stages; every epoch checkpoints, so an interrupted run has several complete checkpoints. */
const PIPELINE = `name: owner
seed: 3
backend: wasm
dataset: { format: mnist, limit: { perClass: 6, testPerClass: 2 }, image: { size: [32, 32] } }
base: { cut: block_2_add }
head:
  - globalAveragePooling2d: {}
  - dense: { units: 12, activation: relu }
  - dense: { units: classes, activation: softmax }
train:
  batchSize: 8
  checkpoints: { keepLast: 10 }
  stages:
    - { name: head, epochs: 4, optimizer: { learningRate: 0.01 } }
    - { name: tune, epochs: 2, unfreeze: ["block_2_*"], optimizer: { learningRate: 0.001 } }
`;
const PLANNED_EPOCHS = 6;

const runIn = (runs: string): string =>
  path.join(
    runs,
    readdirSync(runs).find((n) => /^\d{4}-/.test(n))!,
  );

/** Starts a run and interrupts it with `signal` once its `epoch` has ended; resolves with the exit code and the run folder. */
async function interrupted(
  dir: string,
  runs: string,
  epoch: number,
  signal: NodeJS.Signals = 'SIGINT',
): Promise<{ code: number | null; runDir: string; stderr: string }> {
  const cli = startCli(['run', 'owner.yaml', '--runs', runs, '--no-cache'], dir, {
    onStderr: (stderr, child) => new RegExp(`epoch ${epoch} `).test(stderr) && !child.killed && child.kill(signal),
  });
  const ended = await cli.exited();
  return {
    code: typeof ended === 'number' ? ended : null,
    runDir: runIn(path.join(dir, runs, 'owner')),
    stderr: cli.stderr(),
  };
}

describe('a run folder has one owner, and what a kill leaves is read right', () => {
  const dir = workspace('owner');
  let reference: Record<string, unknown>[] = [];
  before(async () => {
    write(dir, 'owner.yaml', PIPELINE);
    const whole = await tlpipe(['run', 'owner.yaml', '--runs', 'whole', '--no-cache'], dir);
    assert.equal(whole.code, 0, whole.stderr);
    reference = epochRows(runIn(path.join(dir, 'whole', 'owner')));
    assert.equal(reference.length, PLANNED_EPOCHS);
  });

  it('three resumes of one run at once: exactly one trains, the others are told who has it; the run ends with exactly the planned rows', async () => {
    const stopped = await interrupted(dir, 'three', 2);
    assert.equal(stopped.code, 130, stopped.stderr);
    const results = await Promise.all([1, 2, 3].map(() => tlpipe(['resume', stopped.runDir, '--no-cache'], dir)));
    assert.deepEqual(results.map((r) => r.code).sort(), [0, 1, 1], results.map((r) => r.stderr).join('\n---\n'));
    for (const r of results.filter((x) => x.code === 1)) {
      assert.match(r.stderr, /is in use by pid \d+ \(resume\) on .* since /);
      assert.equal(hasStackTrace(r.stderr), false);
    }
    assert.deepEqual(epochRows(stopped.runDir), reference);
    const record = readJson(path.join(stopped.runDir, 'run.json'));
    assert.equal(record.status, 'completed');
    assert.equal(record.resumes.length, 1);
    assert.equal(existsSync(path.join(stopped.runDir, '.lock')), false, 'the lock is given back');
  });

  it('a lock left by a killed process is taken over by the next resume', async () => {
    const stopped = await interrupted(dir, 'killed', 2, 'SIGKILL');
    assert.ok(existsSync(path.join(stopped.runDir, '.lock')), 'a SIGKILL leaves the lock');
    const r = await tlpipe(['resume', stopped.runDir, '--no-cache'], dir);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(epochRows(stopped.runDir), reference);
  });

  it('resume refuses a run whose own process still runs it, naming that process', async () => {
    let stopped = false;
    let resolveStopped: () => void = () => undefined;
    const whenStopped = new Promise<void>((resolve) => (resolveStopped = resolve));
    const live = startCli(['run', 'owner.yaml', '--runs', 'live', '--no-cache'], dir, {
      onStderr: (stderr, child) => {
        // Stopped, not ended: the run takes about a second, less than starting a second CLI; a stopped process still owns its lock.
        if (stopped || !/head epoch 1 /.test(stderr)) return;
        stopped = child.kill('SIGSTOP');
        resolveStopped();
      },
    });
    const { child } = live;
    await Promise.race([
      whenStopped,
      live.exited().then(() => assert.fail(`the run ended before it could be stopped:\n${live.stderr()}`)),
    ]);
    const r = await tlpipe(['resume', 'owner', '--runs', 'live'], dir);
    child.kill('SIGCONT');
    child.kill('SIGINT');
    await live.exited();
    assert.equal(r.code, 1);
    assert.match(r.stderr, new RegExp(`is in use by pid ${child.pid} \\(run\\)`));
  });

  it('a torn last line in metrics.jsonl (a kill mid-write) does not stop resume', async () => {
    const stopped = await interrupted(dir, 'torn', 3, 'SIGKILL');
    appendFileSync(path.join(stopped.runDir, 'metrics.jsonl'), '{"stage":"head","epoch":9,"lo');
    const r = await tlpipe(['resume', stopped.runDir, '--no-cache'], dir);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(epochRows(stopped.runDir), reference);
  });

  const damages: { name: string; damage: (index: string) => void }[] = [
    { name: 'deleted', damage: (index) => unlinkSync(index) },
    { name: 'not JSON', damage: (index) => writeFileSync(index, '{"latest": {"dir": "checkpoints/ep') },
  ];
  for (const d of damages) {
    it(`checkpoints/index.json ${d.name}: resume rebuilds it from the complete checkpoints, and the run ends as an uninterrupted one`, async () => {
      const stopped = await interrupted(dir, `index-${d.name.replace(/\W/g, '')}`, 3);
      assert.equal(stopped.code, 130, stopped.stderr);
      d.damage(path.join(stopped.runDir, 'checkpoints', 'index.json'));
      // A half-written checkpoint folder beside the complete ones is not taken for one.
      mkdirSync(path.join(stopped.runDir, 'checkpoints', 'epoch-009'));
      writeFileSync(path.join(stopped.runDir, 'checkpoints', 'epoch-009', 'model.json'), '{}');
      const r = await tlpipe(['resume', stopped.runDir, '--no-cache'], dir);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, /resuming .* from epoch [34]/);
      assert.match(
        r.stderr,
        /checkpoints\/index\.json was missing or damaged: rebuilt from \d+ complete checkpoint\(s\)/,
      );
      assert.deepEqual(epochRows(stopped.runDir), reference);
    });
  }

  it('the run folder deleted mid-run fails with a message that says so, no stack trace', async () => {
    let removed = false;
    const gone = startCli(['run', 'owner.yaml', '--runs', 'gone', '--no-cache'], dir, {
      onStderr: (stderr, child) => {
        if (removed || !/head epoch 2 /.test(stderr)) return;
        removed = true;
        // Stopped while the folder goes, so no checkpoint is half-way into it as it is removed.
        child.kill('SIGSTOP');
        rmSync(runIn(path.join(dir, 'gone', 'owner')), { recursive: true, force: true });
        child.kill('SIGCONT');
      },
    });
    const code = await gone.exited();
    const stderr = gone.stderr();
    assert.equal(code, 1, stderr);
    assert.match(stderr, /the run folder .* was removed or moved while the run was writing it/);
    assert.equal(hasStackTrace(stderr), false, stderr);
  });

  it('a stage cache that cannot be written warns and the run goes on; temporary entries a killed process left are removed', async () => {
    const runs = path.join(dir, 'cache-runs');
    mkdirSync(path.join(runs, '.cache', 'stages'), { recursive: true });
    // features/ is a file: nothing can be kept under it.
    writeFileSync(path.join(runs, '.cache', 'features'), 'not a folder');
    const stale = path.join(runs, '.cache', 'stages', `${'a'.repeat(64)}.99999999.0badf00d.tmp`);
    mkdirSync(stale);
    writeFileSync(path.join(stale, 'data.bin'), Buffer.alloc(1000));
    const r = await tlpipe(['run', 'owner.yaml', '--runs', 'cache-runs'], dir);
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      unwrapped(r.stderr),
      /the stage cache could not keep the train features \(.*\); the run goes on without it/,
    );
    assert.equal(existsSync(stale), false, "the dead process's temporary entry is gone");
    assert.deepEqual(epochRows(runIn(path.join(runs, 'owner'))), reference);
  });

  it('compare in a clone without resolved.json compares the pipelines as they ran, and says so', async () => {
    const clone = path.join(dir, 'clone');
    const a = runIn(path.join(dir, 'whole', 'owner'));
    write(dir, 'other.yaml', PIPELINE.replace('units: 12', 'units: 24').replace('name: owner', 'name: other'));
    const other = await tlpipe(['run', 'other.yaml', '--runs', 'whole', '--no-cache'], dir);
    assert.equal(other.code, 0, other.stderr);
    const b = runIn(path.join(dir, 'whole', 'other'));
    for (const run of [a, b]) {
      const to = path.join(clone, path.basename(path.dirname(run)), path.basename(run));
      cpSync(run, to, { recursive: true });
      rmSync(path.join(to, 'resolved.json'));
    }
    const r = await tlpipe(
      ['compare', path.join(clone, 'owner', path.basename(a)), path.join(clone, 'other', path.basename(b))],
      dir,
    );
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^config differences \(\d+\):$/m);
    assert.match(r.stdout, /^head\[1\]\.dense\.units +12 +24$/m);
    assert.match(r.stdout, /note: owner\/.*: resolved\.json is missing; compared its pipeline\.yaml resolved again/);
    assert.doesNotMatch(r.stdout, /config: identical/);
  });

  it('SIGHUP (the terminal closed) ends the run interrupted, exit 130, resumable', async () => {
    const stopped = await interrupted(dir, 'hup', 2, 'SIGHUP');
    assert.equal(stopped.code, 130, stopped.stderr);
    assert.equal(readJson(path.join(stopped.runDir, 'run.json')).status, 'interrupted');
    const r = await tlpipe(['resume', stopped.runDir, '--no-cache'], dir);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(epochRows(stopped.runDir), reference);
  });
});

describe('init in a project that has a .gitignore', () => {
  it('adds the rules it lacks, says so, and names the file it wrote in its header', async () => {
    const dir = workspace('init-existing');
    writeFileSync(path.join(dir, '.gitignore'), 'dist/\n*.log');
    const r = await tlpipe(['init'], dir);
    assert.equal(r.code, 0, r.stderr);
    const ignore = readFileSync(path.join(dir, '.gitignore'), 'utf8');
    assert.match(ignore, /^dist\/\n\*\.log\n\n# tlpipe: run records go in git/);
    assert.match(ignore, /^!runs\/\*\*\/run\.json$/m);
    assert.match(r.stdout, /note: added 14 rule\(s\) to the existing \.gitignore/);
    assert.match(readFileSync(path.join(dir, 'pipeline.yaml'), 'utf8'), /`tlpipe run pipeline\.yaml`/);
    const again = await tlpipe(['init', 'sub'], dir);
    assert.equal(again.code, 0, again.stderr);
  });
});

describe('run numbers when runs/<pipeline>/.ids is missing or not a folder', () => {
  const dir = workspace('integrity-ids');
  before(async () => {
    write(dir, 'owner.yaml', PIPELINE);
    const first = await tlpipe(['run', 'owner.yaml', '--no-cache'], dir);
    assert.equal(first.code, 0, first.stderr);
  });

  it('.ids missing (a git clone keeps no empty folders): the next run is 0002, not a crash or a second 0001', async () => {
    rmSync(path.join(dir, 'runs', 'owner', '.ids'), { recursive: true });
    const r = await tlpipe(['run', 'owner.yaml', '--no-cache'], dir);
    assert.equal(r.code, 0, r.stderr);
    const numbers = readdirSync(path.join(dir, 'runs', 'owner'))
      .filter((n) => /^\d{4}-/.test(n))
      .map((n) => n.slice(0, 4))
      .sort();
    assert.deepEqual(numbers, ['0001', '0002']);
  });

  it('.ids a file: a clear message naming it', async () => {
    rmSync(path.join(dir, 'runs', 'owner', '.ids'), { recursive: true });
    writeFileSync(path.join(dir, 'runs', 'owner', '.ids'), '');
    const r = await tlpipe(['run', 'owner.yaml', '--no-cache'], dir);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /runs\/owner\/\.ids is not a folder/);
    assert.equal(hasStackTrace(r.stderr), false, r.stderr);
  });
});

/**
 * As root, permissions stop nothing: the run goes as `nobody` in a folder it
 * owns, and root takes the write permission away from the whole runs folder
 * at a chosen moment (no read-only mount is available in the test machine;
 * EACCES and EROFS take the same path in tlpipe).
 */
const AS_ROOT = process.getuid?.() === 0;
const NOBODY = 65534;

describe(
  'a runs folder that becomes read-only mid-run: never completed, never exit 0',
  { skip: AS_ROOT ? false : 'needs root to run the CLI as nobody' },
  () => {
    const moments = [
      { when: 'mid-training', line: /head epoch 2 / },
      // The export (a save and a reload check) still follows: the folder goes read-only before the outputs are written.
      { when: 'after the test metrics', line: /^test \d+ examples/m },
    ];

    for (const moment of moments) {
      it(`read-only ${moment.when}: the run fails with the path, and resume does not call it complete`, async () => {
        const dir = workspace('integrity-readonly');
        chmodSync(dir, 0o777);
        chownSync(write(dir, 'owner.yaml', PIPELINE), NOBODY, NOBODY);
        let madeReadOnly = false;
        const cli = startCli(['run', 'owner.yaml', '--no-cache'], dir, {
          uid: NOBODY,
          onStderr: (stderr, child) => {
            if (madeReadOnly || !moment.line.test(stderr)) return;
            madeReadOnly = true;
            // Stopped while the folder changes: after the test metrics the run has about a second left, which a
            // loaded machine can spend before chmod has walked the folder.
            child.kill('SIGSTOP');
            try {
              execFileSync('chmod', ['-R', 'a-w', path.join(dir, 'runs')]);
            } finally {
              child.kill('SIGCONT');
            }
          },
        });
        const code = await cli.exited();
        const stderr = cli.stderr();
        assert.ok(madeReadOnly, stderr);
        assert.notEqual(code, 0, stderr);
        assert.match(stderr, /permission denied|read-only|does not read back as completed/);
        assert.equal(hasStackTrace(stderr), false, stderr);
        const runDir = runIn(path.join(dir, 'runs', 'owner'));
        assert.notEqual(readJson(path.join(runDir, 'run.json')).status, 'completed');

        // Still read-only: resume says why it cannot go on, never that the run is complete.
        const blocked = await tlpipeBounded(['resume', runDir], dir, { timeoutMs: 120_000, uid: NOBODY });
        assert.notEqual(blocked.code, 0, blocked.stderr);
        assert.doesNotMatch(blocked.stderr, /already completed/);
        assert.equal(hasStackTrace(blocked.stderr), false, blocked.stderr);

        // Writable again: resume completes it.
        execFileSync('chmod', ['-R', 'u+w', path.join(dir, 'runs')]);
        const resumed = await tlpipeBounded(['resume', runDir], dir, { timeoutMs: 180_000, uid: NOBODY });
        assert.equal(resumed.code, 0, resumed.stderr);
        assert.equal(readJson(path.join(runDir, 'run.json')).status, 'completed');
        assert.equal(epochRows(runDir).length, PLANNED_EPOCHS);
        rmSync(dir, { recursive: true, force: true });
      });
    }
  },
);

describe('resume of a run whose run.json says completed', () => {
  it('run.json says completed but the outputs are gone: resume says what is missing, not "already completed"', async () => {
    const dir = workspace('integrity-outputs');
    write(dir, 'owner.yaml', PIPELINE);
    const first = await tlpipe(['run', 'owner.yaml', '--no-cache'], dir);
    assert.equal(first.code, 0, first.stderr);
    const runDir = runIn(path.join(dir, 'runs', 'owner'));
    rmSync(path.join(runDir, 'summary.json'));
    mkdirSync(path.join(runDir, 'summary.json'));
    const r = await tlpipe(['resume', runDir], dir);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /says it completed, but summary\.json is missing or not a file/);
    assert.doesNotMatch(r.stderr, /already completed/);
  });
});
