import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import {
  cpSync,
  existsSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  truncateSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { UserError } from '../../src/diagnostics/user-error.js';
import { writeFolderManifest } from '../../src/store/file-manifest.js';
import { readRunRecord } from '../../src/store/run-record.js';
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

/**
 * Checkpoints, the checkpoint index and run.json are read back by resume,
 * and nothing read back is trusted: one real run, killed mid-training, is
 * copied and damaged a different way for each case, then resumed with the
 * real CLI. A damaged checkpoint is passed over, saying which file is
 * wrong, and the run continues from the newest intact one and ends exactly
 * as the uninterrupted run did; a damaged record is refused with a message
 * naming the file. Never a stack trace, a hang, or a run resumed on
 * damaged state.
 */
const EPOCHS = 6;
const PIPELINE = `name: ci
seed: 5
backend: wasm
dataset: { format: mnist, limit: { perClass: 10, testPerClass: 2 }, image: { size: [32, 32] } }
base: { cut: block_2_add }
head:
  - globalAveragePooling2d: {}
  - dense: { units: 12, activation: relu }
  - dense: { units: classes, activation: softmax }
train:
  batchSize: 10
  checkpoints: { every: 1, keepLast: 10 }
  stages:
    - name: head
      epochs: ${EPOCHS}
      optimizer: { learningRate: 0.01 }
      # Best when the training loss is highest: the first epoch, so the checkpoint early stopping would restore is an old one.
      earlyStopping: { monitor: loss, mode: max, patience: 20, restoreBest: true }
`;

const runDirOf = (workspaceDir: string): string => {
  const runs = path.join(workspaceDir, 'runs', 'ci');
  return path.join(
    runs,
    readdirSync(runs).find((n) => /^\d{4}-/.test(n))!,
  );
};
const checkpoint = (epoch: number): string => `checkpoints/epoch-${String(epoch).padStart(3, '0')}`;
// Live-tensor counts and timings differ after a resume; everything else must be equal.
const metricsOf = (runDir: string): Record<string, unknown>[] => epochRows(runDir, ['seconds', 'tensors', 'reused']);

function flipByte(file: string): void {
  const bytes = readFileSync(file);
  bytes[Math.floor(bytes.length / 2)]! ^= 0x01;
  writeFileSync(file, bytes);
}

/** Edits a JSON file of a checkpoint and writes its manifest again, as someone covering their tracks would. */
async function editSealed(dir: string, name: string, edit: (value: Record<string, unknown>) => void): Promise<void> {
  const file = path.join(dir, name);
  const value = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  edit(value);
  writeFileSync(file, JSON.stringify(value));
  await writeFolderManifest(dir);
}

interface Case {
  name: string;
  /** For a damaged run.json: what readRunRecord itself says (the CLI says it once find-run passes it on). */
  record?: RegExp;
  /** Damages the copy; `latest` is the epoch of the killed run's latest checkpoint. */
  damage(runDir: string, latest: number): void | Promise<void>;
  code: 0 | 1;
  stderr: (latest: number) => RegExp;
  /** For a resume that goes on: the epoch it continues from. */
  from?: (latest: number) => number;
  /** Anything else to check once resume has ended. */
  then?: (runDir: string) => void;
}

/** A file outside the run folder that a link inside it points at: tlpipe must never write through the link. */
const OUTSIDE_TEXT = "not tlpipe's\n";
function linkOutside(runDir: string, name: string): void {
  const outside = path.join(runDir, '..', '..', '..', `outside-${name}`);
  writeFileSync(outside, OUTSIDE_TEXT);
  rmSync(path.join(runDir, name), { force: true });
  symlinkSync(outside, path.join(runDir, name));
}
const outsideUnchanged =
  (name: string) =>
  (runDir: string): void =>
    assert.equal(readFileSync(path.join(runDir, '..', '..', '..', `outside-${name}`), 'utf8'), OUTSIDE_TEXT);

const damagedLatest = (file: string, problem: RegExp | string): Pick<Case, 'code' | 'stderr' | 'from'> => ({
  code: 0,
  stderr: (latest) =>
    new RegExp(
      `checkpoint ${checkpoint(latest)} is damaged: (checkpoint file )?${checkpoint(latest)}/${file.replace('.', '\\.')} ${typeof problem === 'string' ? problem : problem.source}`,
    ),
  from: (latest) => latest - 1,
});

/**
 * A damaged run.json: the CLI refuses the run (the message is readRunRecord's
 * once find-run passes it on rather than saying there is no such run), and
 * readRunRecord itself says which file and what is wrong.
 */
const runJson = (record: RegExp): Pick<Case, 'stderr' | 'record'> => ({
  stderr: () => new RegExp(`${record.source}|no run \``),
  record,
});

/** The stage's best epoch so far, as the latest checkpoint records it. */
const bestEpochAt = (runDir: string, latest: number): number =>
  readJson(path.join(runDir, checkpoint(latest), 'trainer-state.json')).stageState.earlyStopping.bestEpoch;
/** Set once the killed run is there: the best epoch its latest checkpoint names. */
let stageBest = 0;

const CASES: Case[] = [
  {
    name: 'one byte flipped in the latest weights.bin',
    damage: (d, l) => flipByte(path.join(d, checkpoint(l), 'weights.bin')),
    ...damagedLatest('weights.bin', 'does not match the sha256'),
  },
  {
    name: 'one byte flipped in the latest optimizer.bin',
    damage: (d, l) => flipByte(path.join(d, checkpoint(l), 'optimizer.bin')),
    ...damagedLatest('optimizer.bin', 'does not match the sha256'),
  },
  {
    name: 'one byte flipped in the latest model.json',
    damage: (d, l) => flipByte(path.join(d, checkpoint(l), 'model.json')),
    ...damagedLatest('model.json', 'does not match the sha256'),
  },
  {
    name: 'one byte flipped in the latest trainer-state.json',
    damage: (d, l) => flipByte(path.join(d, checkpoint(l), 'trainer-state.json')),
    ...damagedLatest('trainer-state.json', 'does not match the sha256'),
  },
  {
    name: 'the latest weights.bin cut in half',
    damage: (d, l) => {
      const file = path.join(d, checkpoint(l), 'weights.bin');
      truncateSync(file, Math.floor(statSync(file).size / 2));
    },
    ...damagedLatest('weights.bin', /has \d+ bytes, \d+ when it was written/),
  },
  {
    name: 'the latest optimizer.bin missing',
    damage: (d, l) => unlinkSync(path.join(d, checkpoint(l), 'optimizer.bin')),
    ...damagedLatest('optimizer.bin', 'is missing'),
  },
  {
    name: 'the latest manifest.json missing',
    damage: (d, l) => unlinkSync(path.join(d, checkpoint(l), 'manifest.json')),
    ...damagedLatest('manifest.json', 'is missing'),
  },
  {
    name: 'the latest weights.bin a link to an identical copy outside the run folder',
    damage: (d, l) => {
      const file = path.join(d, checkpoint(l), 'weights.bin');
      const outside = path.join(path.dirname(d), '..', '..', 'weights-outside.bin');
      cpSync(file, outside);
      unlinkSync(file);
      symlinkSync(outside, file);
    },
    ...damagedLatest('weights.bin', 'is a link that leads outside'),
  },
  {
    name: 'trainer-state.json says epoch 7 of the 6-epoch stage (manifest rewritten to match)',
    damage: (d, l) => editSealed(path.join(d, checkpoint(l)), 'trainer-state.json', (s) => (s['epoch'] = 7)),
    code: 0,
    stderr: () => /trainer-state\.json says epoch 7 of stage head, whose epochs are 1–6/,
    from: (l) => l - 1,
  },
  {
    name: 'trainer-state.json names a stage the plan does not have (manifest rewritten)',
    damage: (d, l) => editSealed(path.join(d, checkpoint(l)), 'trainer-state.json', (s) => (s['stage'] = 'finetune')),
    code: 0,
    stderr: () => /trainer-state\.json names stage "finetune" at index 0, where the plan has "head"/,
    from: (l) => l - 1,
  },
  {
    name: "trainer-state.json places an optimizer's bytes beyond optimizer.bin (manifest rewritten)",
    damage: (d, l) =>
      editSealed(
        path.join(d, checkpoint(l)),
        'trainer-state.json',
        (s) => ((s['optimizers'] as Record<string, number>[])[0]!['byteLength'] = 2 ** 40),
      ),
    code: 0,
    stderr: () => /places optimizer head at bytes 0\+1099511627776, outside optimizer\.bin's \d+ bytes/,
    from: (l) => l - 1,
  },
  {
    name: 'trainer-state.json lists a completed stage the plan does not have (manifest rewritten)',
    damage: (d, l) =>
      editSealed(
        path.join(d, checkpoint(l)),
        'trainer-state.json',
        (s) =>
          (s['completedStages'] = [{ name: 'x', epochs: 1, epochsRun: 1, stoppedEarly: false, lastLearningRate: 0.1 }]),
      ),
    code: 0,
    stderr: () => /lists 1 completed stage\(s\) before stage 1 of the plan/,
    from: (l) => l - 1,
  },
  {
    name: 'model.json declares a 2³¹ × 2³¹ weight (manifest rewritten): refused before allocating',
    damage: (d, l) =>
      editSealed(path.join(d, checkpoint(l)), 'model.json', (m) => {
        (m['weightsManifest'] as { weights: { shape: number[] }[] }[])[0]!.weights[0]!.shape = [2 ** 31, 2 ** 31];
      }),
    code: 0,
    stderr: () =>
      /model\.json: weight \S+ declares \[2147483648,2147483648\] float32, more than the \d+ bytes there are/,
    from: (l) => l - 1,
  },
  {
    name: 'the two newest checkpoints damaged: back two epochs',
    damage: (d, l) => {
      flipByte(path.join(d, checkpoint(l), 'weights.bin'));
      flipByte(path.join(d, checkpoint(l - 1), 'optimizer.bin'));
    },
    code: 0,
    stderr: (l) => new RegExp(`checkpoint ${checkpoint(l - 1)} is damaged[^\\n]*optimizer\\.bin`),
    from: (l) => l - 2,
  },
  {
    name: "the checkpoint of the stage's best epoch (which early stopping restores) damaged: back to before it",
    damage: (d, l) => flipByte(path.join(d, checkpoint(bestEpochAt(d, l)), 'weights.bin')),
    code: 0,
    stderr: () =>
      /needs the stage's best epoch \d+ \(early stopping restores it\), whose checkpoint is not intact; going back further/,
    from: () => stageBest - 1,
  },
  {
    name: 'no checkpoint intact: the run starts over, saying so',
    damage: (d, l) => {
      for (let epoch = 1; epoch <= l; epoch++) flipByte(path.join(d, checkpoint(epoch), 'weights.bin'));
    },
    code: 0,
    stderr: () => /no checkpoint of this run is intact: it starts over from its first epoch/,
    from: () => 0,
  },
  {
    name: 'index.json whose latest.dir leads out of the run folder: refused, rebuilt from the folders',
    damage: (d) => {
      const index = readJson(path.join(d, 'checkpoints/index.json'));
      index.latest.dir = '../../../elsewhere';
      writeFileSync(path.join(d, 'checkpoints/index.json'), JSON.stringify(index));
    },
    code: 0,
    stderr: () =>
      /checkpoint index \S+ is damaged: latest\.dir is "\.\.\/\.\.\/\.\.\/elsewhere", not checkpoints\/epoch-\d{3}/,
    from: (l) => l,
  },
  {
    name: 'index.json a link to /dev/zero: refused at once, rebuilt',
    damage: (d) => {
      unlinkSync(path.join(d, 'checkpoints/index.json'));
      symlinkSync('/dev/zero', path.join(d, 'checkpoints/index.json'));
    },
    code: 0,
    stderr: () => /checkpoint index \S+ is a link that leads outside|checkpoint index \S+ is a device/,
    from: (l) => l,
  },
  {
    name: 'index.json a FIFO: refused, not waited on, rebuilt',
    damage: (d) => {
      unlinkSync(path.join(d, 'checkpoints/index.json'));
      execFileSync('mkfifo', [path.join(d, 'checkpoints/index.json')]);
    },
    code: 0,
    stderr: () => /checkpoint index \S+ is a named pipe \(FIFO\), not a file/,
    from: (l) => l,
  },
  {
    name: 'index.json of 2 MiB: refused before reading, rebuilt',
    damage: (d) => writeFileSync(path.join(d, 'checkpoints/index.json'), ' '.repeat(2 * 2 ** 20)),
    code: 0,
    stderr: () => /checkpoint index \S+ is 2097152 bytes, more than the 1048576/,
    from: (l) => l,
  },
  {
    name: 'index.json missing: rebuilt from the intact folders',
    damage: (d) => unlinkSync(path.join(d, 'checkpoints/index.json')),
    code: 0,
    stderr: (l) => new RegExp(`checkpoints/index\\.json was missing or damaged: rebuilt from ${l} complete checkpoint`),
    from: (l) => l,
  },
  {
    name: 'log.txt a link to a file outside the run folder: refused, nothing appended through it',
    damage: (d) => linkOutside(d, 'log.txt'),
    code: 1,
    stderr: () => /log\.txt is a symbolic link; tlpipe writes only regular files of the run folder/,
    then: (runDir) => {
      outsideUnchanged('log.txt')(runDir);
      assert.equal(
        readJson(path.join(runDir, 'run.json')).resumes,
        undefined,
        'a resume that could not start is not recorded',
      );
    },
  },
  {
    name: '.heartbeat a link to a file outside the run folder: never written through, the run goes on',
    damage: (d) => linkOutside(d, '.heartbeat'),
    code: 0,
    stderr: (l) => new RegExp(`resuming \\S+ from epoch ${l}\\b`),
    from: (l) => l,
    then: outsideUnchanged('.heartbeat'),
  },
  {
    name: 'run.json a FIFO: refused, not waited on',
    damage: (d) => {
      unlinkSync(path.join(d, 'run.json'));
      execFileSync('mkfifo', [path.join(d, 'run.json')]);
    },
    code: 1,
    ...runJson(/run record \S+run\.json is a named pipe \(FIFO\), not a file/),
  },
  {
    name: 'run.json a link to /dev/zero: refused at once',
    damage: (d) => {
      unlinkSync(path.join(d, 'run.json'));
      symlinkSync('/dev/zero', path.join(d, 'run.json'));
    },
    code: 1,
    ...runJson(/run record \S+run\.json is a link that leads outside|run\.json is a device/),
  },
  {
    name: 'run.json of 2 MiB: refused before reading',
    damage: (d) => writeFileSync(path.join(d, 'run.json'), ' '.repeat(2 * 2 ** 20)),
    code: 1,
    ...runJson(/run record \S+run\.json is 2097152 bytes, more than/),
  },
  {
    name: 'run.json that is []',
    damage: (d) => writeFileSync(path.join(d, 'run.json'), '[]'),
    code: 1,
    ...runJson(/run record \S+run\.json is damaged: it holds a list, not a run record/),
  },
  {
    name: 'run.json of the wrong shape (a status tlpipe never writes)',
    damage: (d) => {
      const record = readJson(path.join(d, 'run.json'));
      record.status = 'done';
      writeFileSync(path.join(d, 'run.json'), JSON.stringify(record));
    },
    code: 1,
    ...runJson(/run\.json is damaged: status is "done", not one of running, completed, failed, interrupted/),
  },
];

describe(
  'resume reads checkpoints back without trust: a damaged one is passed over, saying so',
  { concurrency: 2 },
  () => {
    const whole = workspace('integrity-whole');
    const killed = workspace('integrity-killed');
    let reference: Record<string, unknown>[] = [];
    let killedRun = '';
    let latest = 0;

    before(async () => {
      write(whole, 'ci.yaml', PIPELINE);
      write(killed, 'ci.yaml', PIPELINE);
      const [uninterrupted] = await Promise.all([
        tlpipe(['run', 'ci.yaml', '--no-cache'], whole),
        (async () => {
          // SIGKILL once the fourth epoch has ended: no handler runs, run.json still says running.
          const run = startCli(['run', 'ci.yaml', '--no-cache'], killed, {
            onStderr: (stderr, child) => /head epoch 4 /.test(stderr) && !child.killed && child.kill('SIGKILL'),
          });
          await run.exited();
        })(),
      ]);
      assert.equal(uninterrupted.code, 0, uninterrupted.stderr);
      reference = metricsOf(runDirOf(whole));
      killedRun = runDirOf(killed);
      latest = readJson(path.join(killedRun, 'checkpoints/index.json')).latest.epoch;
      stageBest = bestEpochAt(killedRun, latest);
    });
    after(() => {
      for (const dir of [whole, killed]) rmSync(dir, { recursive: true, force: true });
    });

    it('the killed run was left running, with at least three checkpoints and epochs still to train', () => {
      assert.equal(reference.length, EPOCHS);
      assert.equal(readJson(path.join(killedRun, 'run.json')).status, 'running');
      assert.ok(latest >= 3 && latest < EPOCHS, `latest checkpoint: epoch ${latest}`);
      for (let epoch = 1; epoch <= latest; epoch++)
        assert.ok(
          existsSync(path.join(killedRun, checkpoint(epoch), 'manifest.json')),
          `${checkpoint(epoch)} has a manifest`,
        );
      assert.ok(stageBest >= 1 && stageBest < latest, `the stage's best epoch: ${stageBest}`);
    });

    for (const c of CASES) {
      it(c.name, async () => {
        const copy = workspace('integrity-case');
        const runDir = path.join(copy, 'runs', 'ci', path.basename(killedRun));
        cpSync(killedRun, runDir, { recursive: true });
        await c.damage(runDir, latest);
        const r = await tlpipeBounded(['resume', runDir], copy, { timeoutMs: 180_000 });
        assert.equal(r.timedOut, false, `resume still running after 180 s:\n${r.stderr}`);
        assert.equal(hasStackTrace(r.stdout + r.stderr), false, r.stderr);
        assert.equal(r.code, c.code, r.stderr);
        assert.match(unwrapped(r.stderr), c.stderr(latest));
        if (c.record)
          await assert.rejects(
            readRunRecord(runDir),
            (error: Error) => error instanceof UserError && c.record!.test(error.message),
          );
        if (c.from) {
          const from = c.from(latest);
          assert.match(
            unwrapped(r.stderr),
            from === 0 ? /resuming \S+ from the start/ : new RegExp(`resuming \\S+ from epoch ${from}\\b`),
          );
          const record = readJson(path.join(runDir, 'run.json'));
          assert.equal(record.status, 'completed');
          assert.equal(record.resumes.at(-1).fromEpoch, from);
          // Epochs after the fallback point are trained again, exactly as the first time.
          assert.deepEqual(metricsOf(runDir), reference);
        }
        c.then?.(runDir);
        rmSync(copy, { recursive: true, force: true });
      });
    }
  },
);
