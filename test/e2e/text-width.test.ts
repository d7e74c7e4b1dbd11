import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import path from 'node:path';
import { describe, it } from 'node:test';
import { packageRoot } from '../../src/package/package-root.js';
import { CLI, CLI_BOUND_MS, tlpipe, workspace, write } from './cli-harness.js';
import { SWEEP_PIPELINE } from './sweep-harness.js';

const WIDTH = 100;
/** script(1) (util-linux) runs a command on a pseudo-terminal, so the live display is what runs. */
const SCRIPT = ((): boolean => {
  try {
    execFileSync('script', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();
const tooWide = (text: string): string[] => text.split('\n').filter((l) => [...l].length > WIDTH);

/** plan, models, runs and compare print within 100 columns: a normal terminal shows them without wrapping. */
describe('what the CLI prints fits 100 columns', () => {
  const dir = workspace('widths');
  const runs = path.join(dir, 'runs');
  const pipelines = path.join(packageRoot(), 'pipelines');

  const plans = ['quickstart.yaml', 'seed-transfer.yaml', 'two-stage.yaml', 'seed-cnn.yaml'];
  for (const name of plans) {
    it(`plan ${name}`, async () => {
      const r = await tlpipe(['plan', path.join(pipelines, name)], dir);
      assert.equal(r.code, 0, r.stderr);
      assert.ok(r.stdout.split('\n').length > 10);
      assert.deepEqual(tooWide(r.stdout), []);
    });
  }

  it('plan of a sweep', async () => {
    const r = await tlpipe(
      ['plan', write(dir, 'grid.yaml', SWEEP_PIPELINE('    head[1].dense.units: { values: [16, 32] }'))],
      dir,
    );
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(tooWide(r.stdout), []);
  });

  it('models', async () => {
    const r = await tlpipe(['models'], dir);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /mobilenet_v2/);
    assert.deepEqual(tooWide(r.stdout), []);
  });

  it('runs and compare, of runs whose configurations differ in many keys', async () => {
    // Three digits a class: the lines' width does not depend on how many examples the runs trained on.
    const file = write(
      dir,
      'w.yaml',
      SWEEP_PIPELINE('', 1)
        .replace(/sweep:\n[\s\S]*$/, '')
        .replace('limit: { perClass: 10, testPerClass: 4 }', 'limit: { perClass: 3, testPerClass: 1 }'),
    );
    const sets = [
      [],
      [
        '--set',
        'head[1].dense.units=16',
        '--set',
        'train.stages[0].optimizer={ name: sgd, learningRate: 0.01, momentum: 0.9 }',
        '--set',
        'dataset.image.size=[40, 40]',
      ],
      ['--set', 'base.cut=block_6_expand_relu', '--set', 'train.batchSize=8'],
    ];
    for (const set of sets) {
      const r = await tlpipe(['run', file, '--runs', runs, '--quiet', ...set], dir);
      assert.equal(r.code, 0, r.stderr);
    }
    const list = await tlpipe(['runs', '--runs', runs], dir);
    assert.equal(list.code, 0, list.stderr);
    assert.deepEqual(tooWide(list.stdout), []);
    for (const refs of [
      ['grid/0001', 'grid/0002'],
      ['grid/0001', 'grid/0002', 'grid/0003'],
    ]) {
      const c = await tlpipe(['compare', ...refs, '--runs', runs], dir);
      assert.equal(c.code, 0, c.stderr);
      assert.match(c.stdout, /config differences/);
      assert.deepEqual(tooWide(c.stdout), []);
    }
  });

  // A run that prints the longest progress lines: strategy auto's probe, the backend passed over, the uint8 export.
  const AUTO_UINT8 = `name: a-pipeline-whose-name-is-as-long-as-it-may-be-0123456789-abcdef
seed: 1
strategy: auto
dataset: { format: mnist, limit: { perClass: 3, testPerClass: 1 }, image: { size: [32, 32] } }
head:
  - globalAveragePooling2d: {}
  - dense: { units: classes, activation: softmax }
train:
  batchSize: 10
  stages:
    - { name: a-head-stage-whose-name-is-40-chars-long, epochs: 1 }
export: { quantize: uint8 }
`;

  it('run and plan with strategy auto and a uint8 export: every progress line, the probe said first', async () => {
    const file = write(dir, 'auto.yaml', AUTO_UINT8);
    const r = await tlpipe(['run', file, '--runs', runs], dir);
    assert.equal(r.code, 0, r.stderr);
    const printed = `${r.stderr}\n${r.stdout}`;
    for (const line of [
      /^strategy auto: probing mobilenet_v2 at /m,
      /^strategy auto \(\d+\.\d+s\): chose /m,
      /^backend \w+/m,
      /^exported model\/ .*\n {2}.*test accuracy/m,
      /^completed runs\//m,
    ])
      assert.match(printed, line);
    assert.ok(
      r.stderr.indexOf('strategy auto: probing') < r.stderr.indexOf('\nrun runs/'),
      'the probe is said before the run starts',
    );
    assert.deepEqual(tooWide(printed), []);
    const p = await tlpipe(['plan', file, '--runs', runs], dir);
    assert.equal(p.code, 0, p.stderr);
    assert.match(p.stderr, /^strategy auto: probing /m);
    assert.deepEqual(tooWide(`${p.stderr}\n${p.stdout}`), []);
  });

  it('run --json says the probe as events before run-start', async () => {
    const r = await tlpipe(['run', write(dir, 'auto-json.yaml', AUTO_UINT8), '--runs', runs, '--json'], dir);
    assert.equal(r.code, 0, r.stderr);
    const types = r.stdout
      .trim()
      .split('\n')
      .map((line) => (JSON.parse(line) as { type: string }).type);
    assert.deepEqual(types.slice(0, 3), ['strategy-probe-start', 'strategy-probe-end', 'run-start']);
  });

  it(
    'on a terminal (a pty through script(1)), the live display says the probe before its steps too',
    { skip: SCRIPT ? false : 'script(1) is not installed' },
    async () => {
      const file = write(dir, 'auto-tty.yaml', AUTO_UINT8);
      // A pty made by script(1) has no size until one is set: listr would draw into 0 columns.
      const command = `stty cols ${WIDTH} rows 40; ${[process.execPath, CLI, 'run', file, '--runs', runs].map((a) => `'${a}'`).join(' ')}`;
      const r = await new Promise<{ code: number; out: string }>((resolve) => {
        execFile(
          'script',
          ['-qec', command, '/dev/null'],
          {
            cwd: dir,
            env: { ...process.env, FORCE_COLOR: '0' },
            maxBuffer: 64 << 20,
            timeout: CLI_BOUND_MS,
            killSignal: 'SIGKILL',
          },
          (error, stdout) => resolve({ code: error ? 1 : 0, out: stdout }),
        );
      });
      assert.equal(r.code, 0, r.out);
      assert.match(
        r.out,
        /strategy auto: probing mobilenet_v2 at [\s\S]*strategy auto \(\d+\.\d+s\): chose [\s\S]*Export the model/,
      );
    },
  );

  it('plan of stages with long names: the tasks each runs after go under the row', async () => {
    const r = await tlpipe(
      [
        'plan',
        write(
          dir,
          'long.yaml',
          AUTO_UINT8.replace('strategy: auto\n', '').replace(
            /stages:\n.*\n/,
            `stages:
    - { name: the-head-stage-with-a-long-name-0123456, epochs: 1 }
    - { name: the-tuning-stage-with-a-long-name-01234, epochs: 1, unfreeze: ['block_16_*'] }
`,
          ),
        ),
      ],
      dir,
    );
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^ {2}after: train:the-head-stage-with-a-long-name-0123456, data,$/m);
    assert.deepEqual(tooWide(r.stdout), []);
  });
});
