import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { CLI, workspace, write } from './cli-harness.js';

/** Debian's tmux (apt-get install tmux): a real terminal for the CLI, whose screen a test can read. .ci/run installs it. */
const TMUX = ['/usr/bin/tmux', '/usr/local/bin/tmux'].find((p) => existsSync(p));
const tmuxSkip =
  TMUX || process.env['TLPIPE_REQUIRE_TMUX'] === '1'
    ? false
    : 'tmux is not installed (apt-get install tmux); CI installs it';

const PIPELINE = `name: tty
seed: 5
dataset:
  format: mnist
  limit: { perClass: 40, testPerClass: 4 }
  validation: 0.2
  image: { size: [32, 32] }
base: { model: mobilenet_v2, cut: block_3_expand_relu }
head:
  - globalAveragePooling2d: {}
  - dense: { units: classes, activation: softmax }
train:
  batchSize: 4
  stages:
    - { name: head, epochs: 3, optimizer: { learningRate: 0.01 } }
    - { name: tune, epochs: 2, unfreeze: ["block_3_*"], optimizer: { learningRate: 0.001 } }
`;

/** The CLI in an 80×60 tmux terminal; every screen seen while it runs, and the last one, with lines the terminal wrapped joined again (-J), so a line too wide shows as one. */
async function screensOf(
  dir: string,
  args: string[],
  rows = 60,
): Promise<{ screens: string[]; last: string; code: number }> {
  assert.ok(TMUX, 'tmux is required here (TLPIPE_REQUIRE_TMUX=1) but not installed');
  const session = `tlpipe-test-${process.pid}`;
  const codeFile = path.join(dir, `exit-code-${Date.now()}`);
  const command = `cd ${JSON.stringify(dir)} && ${JSON.stringify(process.execPath)} ${JSON.stringify(CLI)} ${args.join(' ')}; echo $? > ${JSON.stringify(codeFile)}; sleep 600`;
  const tmux = (...a: string[]): string =>
    execFileSync(TMUX!, ['-L', session, ...a], { encoding: 'utf8', timeout: 10_000 });
  tmux('new-session', '-d', '-s', session, '-x', '80', '-y', String(rows), command);
  const screens: string[] = [];
  try {
    const deadline = Date.now() + 300_000;
    while (!existsSync(codeFile)) {
      assert.ok(Date.now() < deadline, 'the run ended within 5 minutes');
      const screen = tmux('capture-pane', '-p', '-J', '-t', session);
      if (screens.at(-1) !== screen) screens.push(screen);
      await sleep(50);
    }
    await sleep(200);
    const last = tmux('capture-pane', '-p', '-J', '-t', session);
    return { screens, last, code: Number(execFileSync('cat', [codeFile], { encoding: 'utf8' }).trim()) };
  } finally {
    try {
      tmux('kill-server');
    } catch {
      // Already gone.
    }
  }
}

describe('progress on a terminal (tmux, 80 columns)', { skip: tmuxSkip }, () => {
  it("draws a bar with count, rate and ETA while it works, keeps every epoch's line on screen, and fits 80 columns", async () => {
    const dir = workspace('tty');
    write(dir, 'tty.yaml', PIPELINE);
    const { screens, last, code } = await screensOf(dir, ['run', 'tty.yaml', '--no-cache']);
    assert.equal(code, 0, last);
    const bar =
      /^ +› [█░]{16} (features (train|validation|test)|epoch \d+|frozen prefix (train|validation)): [\d,]+\/[\d,]+ (examples|batches), [\d.]+\/s, ETA \d+s/m;
    const withBar = screens.filter((s) => bar.test(s));
    assert.ok(
      withBar.length > 0,
      `a bar with its ETA on some screen; saw ${screens.length} screens, the last:\n${last}`,
    );
    assert.ok(
      screens.some((s) => /^ +› [█░]{16} epoch \d+: \d+\/\d+ batches, [\d.]+\/s, ETA \d+s, loss \d/m.test(s)),
      "an epoch's bar, with its loss",
    );
    // Every epoch of both stages is still on the screen when the run has ended, under its stage.
    for (let epoch = 1; epoch <= 5; epoch++)
      assert.match(
        last,
        new RegExp(
          `^ +(› )?epoch ${epoch}  loss \\d\\.\\d{4} acc [\\d.]+%  val loss \\d\\.\\d{4} acc [\\d.]+%  lr \\S+  [\\d.]+s$`,
          'm',
        ),
        `epoch ${epoch} on the last screen:\n${last}`,
      );
    assert.match(last, /✔ Stage head: epochs 1–3[\s\S]*epoch 3 [\s\S]*✔ Stage tune: epochs 4–5[\s\S]*epoch 5 /);
    assert.match(last, /^completed runs\/tty\/0001-[0-9a-f]{8} in [\d.]+s on \w+: test accuracy/m);
    // Nothing wrapped: every line, joined where the terminal wrapped it, fits 80 columns.
    for (const screen of [...screens, last])
      for (const line of screen.split('\n'))
        assert.ok([...line.trimEnd()].length <= 80, `${[...line.trimEnd()].length} columns: ${line}`);
  });

  it('in a short terminal, a long stage keeps its latest epochs and says where the others are', async () => {
    const dir = workspace('tty-short');
    write(
      dir,
      'tty.yaml',
      PIPELINE.replace('perClass: 40', 'perClass: 10').replace(
        / {4}- \{ name: head[^\n]*\n {4}- \{ name: tune[^\n]*\n/,
        '    - { name: head, epochs: 12, optimizer: { learningRate: 0.01 } }\n',
      ),
    );
    // 22 rows: room for 9 lines under the stage (22 − 1 stage − 12 for the other steps and the run's lines).
    const { last, code } = await screensOf(dir, ['run', 'tty.yaml', '--no-cache'], 22);
    assert.equal(code, 0, last);
    assert.match(last, /^ +› … 4 earlier epoch\(s\), every one in log\.txt$/m);
    for (let epoch = 5; epoch <= 12; epoch++) assert.match(last, new RegExp(`^ +epoch ${epoch}  loss`, 'm'));
    assert.doesNotMatch(last, /^ +(› )?epoch [1-4] {2}loss/m);
  });
});
