import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { CLI, CLI_BOUND_MS, readJson, tinyPipeline, workspace, write } from './cli-harness.js';

const exec = promisify(execFile);

/**
 * A reader that goes away (`tlpipe run … | head`) must not kill a run: EPIPE was fatal, and the
 * run died mid-training with exit 1, its run.json still saying `running`. Each case pipes one of
 * the CLI's streams into `head`, which exits after its first lines; the run must finish all the same.
 */
describe('a run whose output reader goes away finishes and records its end', () => {
  const cases = [
    { name: "stderr's reader leaves (2>&1 | head -2)", pipe: (cli: string) => `${cli} 2>&1 | head -2` },
    { name: "stdout's reader leaves (--json | head -1)", pipe: (cli: string) => `${cli} --json 2>/dev/null | head -1` },
  ];
  for (const c of cases)
    it(c.name, { timeout: CLI_BOUND_MS }, async () => {
      const dir = workspace('closed-output');
      write(
        dir,
        'p.yaml',
        tinyPipeline(
          'piped',
          '{ format: mnist, limit: { perClass: 8, testPerClass: 2 }, image: { size: [32, 32] } }',
        ).replace('{ epochs: 1 }', '{ epochs: 3 }'),
      );
      // coreutils' timeout bounds the CLI itself: the exec's own timeout would stop bash and leave the CLI running.
      const cli = `timeout -k 5 ${CLI_BOUND_MS / 1000 - 10} '${process.execPath}' '${CLI}' run p.yaml --runs runs`;
      // bash's PIPESTATUS: the CLI's own exit code, not head's.
      const { stdout } = await exec('bash', ['-c', `${c.pipe(cli)} > /dev/null; echo "exit \${PIPESTATUS[0]}"`], {
        cwd: dir,
        env: { ...process.env, FORCE_COLOR: '0' },
        timeout: CLI_BOUND_MS,
      });
      assert.equal(stdout.trim(), 'exit 0');
      const runs = path.join(dir, 'runs', 'piped');
      const run = path.join(
        runs,
        readdirSync(runs).find((n) => /^\d{4}-/.test(n))!,
      );
      assert.equal(readJson(path.join(run, 'run.json')).status, 'completed');
      assert.equal(typeof readJson(path.join(run, 'summary.json')).test.accuracy, 'number');
    });
});
