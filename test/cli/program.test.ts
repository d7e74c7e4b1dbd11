import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { settingsTable } from '../../src/api/settings.js';
import { COMMANDS } from '../../src/cli/commands.js';
import { runCli } from '../../src/cli/program.js';

/** The CLI run in this process, its output captured: what a user would see, and the exit code. */
async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await runCli(args, { out: (text) => void (stdout += text), err: (text) => void (stderr += text) });
  return { code, stdout, stderr };
}

describe('usage', () => {
  const cases: { name: string; args: string[]; code: number; out?: RegExp; err?: RegExp }[] = [
    { name: 'no command prints help', args: [], code: 0, out: /Usage: tlpipe \[options\] \[command\]/ },
    { name: '--help', args: ['--help'], code: 0, out: /Commands:\n {2}run \[options\] <pipeline>/ },
    {
      name: '--help ends with the exit codes',
      args: ['--help'],
      code: 0,
      out: /Exit codes: 0 success, 1 invalid pipeline or failed run, 2 usage error, 130 interrupted\.\n$/,
    },
    { name: '--version and -V print the version', args: ['-V'], code: 0, out: /^\d+\.\d+\.\d+\n$/ },
    { name: '--version', args: ['--version'], code: 0, out: /^\d+\.\d+\.\d+\n$/ },
    { name: '-v, as npm -v', args: ['-v'], code: 0, out: /^\d+\.\d+\.\d+\n$/ },
    { name: 'the version command', args: ['version'], code: 0, out: /^\d+\.\d+\.\d+\n$/ },
    { name: 'version takes no argument', args: ['version', 'x'], code: 2, err: /too many arguments/ },
    {
      name: "help <command> is the command's --help",
      args: ['help', 'run'],
      code: 0,
      out: /Usage: tlpipe run \[options\] <pipeline>/,
    },
    { name: 'help alone is --help', args: ['help'], code: 0, out: /Commands:\n(.|\n)* {2}help \[command\]/ },
    {
      name: 'help of no such command: the command list, on stderr, exit 2',
      args: ['help', 'rnu'],
      code: 2,
      err: /Usage: tlpipe \[options\] \[command\](.|\n)*Commands:/,
    },
    {
      name: 'validate --help',
      args: ['validate', '--help'],
      code: 0,
      out: /Usage: tlpipe validate \[options\] <pipelines\.\.\.>/,
    },
    { name: 'plan --help', args: ['plan', '-h'], code: 0, out: /--json/ },
    {
      name: 'unknown command, with the nearest one',
      args: ['rnu'],
      code: 2,
      err: /unknown command 'rnu'\n\(Did you mean run\?\)/,
    },
    { name: 'run without a file', args: ['run'], code: 2, err: /missing required argument 'pipeline'/ },
    { name: 'run with two files', args: ['run', 'a.yaml', 'b.yaml'], code: 2, err: /too many arguments/ },
    {
      name: 'unknown option, with the nearest one',
      args: ['run', 'x.yaml', '--jsn'],
      code: 2,
      err: /unknown option '--jsn'\n\(Did you mean --json\?\)/,
    },
    {
      name: 'bad --backend',
      args: ['plan', 'x.yaml', '--backend', 'gpu'],
      code: 2,
      err: /argument 'gpu' is invalid. Allowed choices are auto, tensorflow, wasm, cpu/,
    },
    {
      name: 'a --set without =',
      args: ['validate', 'x.yaml', '--set', 'seed'],
      code: 2,
      err: /--set takes key=value, got 'seed'/,
    },
    { name: 'validate without files', args: ['validate'], code: 2, err: /missing required argument 'pipelines'/ },
    { name: 'predict without images', args: ['predict', 'runs/x'], code: 2, err: /missing required argument 'images'/ },
    { name: 'compare with one run', args: ['compare', 'p/0001'], code: 2, err: /compare takes at least two runs/ },
    {
      name: 'worker without --queue',
      args: ['worker'],
      code: 2,
      err: /^tlpipe: error: worker needs --queue <redis-url>\n$/,
    },
    {
      name: 'sweep with neither a pipeline nor --resume',
      args: ['sweep'],
      code: 2,
      err: /^tlpipe: error: name a pipeline, or --resume <sweep>\n$/,
    },
    {
      name: 'sweep -j out of range',
      args: ['sweep', 'p.yaml', '-j', '0'],
      code: 2,
      err: /-j takes a number of trials at once from 1 to 64, got '0'/,
    },
    {
      name: 'watch with a bad --debounce',
      args: ['watch', 'p.yaml', '--debounce', 'soon'],
      code: 2,
      err: /--debounce must be milliseconds, got 'soon'/,
    },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const r = await cli(c.args);
      assert.equal(r.code, c.code, r.stderr);
      if (c.out) assert.match(r.stdout, c.out);
      else assert.equal(r.stdout, '', 'nothing on stdout');
      if (c.err) assert.match(r.stderr, c.err);
      else assert.equal(r.stderr, '', 'nothing on stderr');
    });
  }
});

describe('help is generated from the command table', () => {
  for (const command of COMMANDS) {
    it(`${command.name} --help shows its arguments and every option`, async () => {
      const r = await cli([command.name, '--help']);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, new RegExp(`^Usage: tlpipe ${command.name}`));
      // Help wraps long lines; compare with the white space folded.
      const text = r.stdout.replace(/\s+/g, ' ');
      for (const arg of command.args)
        assert.ok(text.includes(arg.description), `${command.name}: argument ${arg.syntax}`);
      for (const option of command.options)
        assert.ok(r.stdout.includes(option.flags), `${command.name}: ${option.flags}`);
    });
  }
});

describe('runCli leaves the process alone', () => {
  it('installs no signal handler and does not exit, even on a usage error', async () => {
    const before = ['SIGINT', 'SIGTERM', 'SIGHUP'].map((s) => process.listenerCount(s));
    const r = await cli(['rnu']);
    assert.equal(r.code, 2);
    assert.deepEqual(
      ['SIGINT', 'SIGTERM', 'SIGHUP'].map((s) => process.listenerCount(s)),
      before,
    );
    assert.equal(process.exitCode, undefined);
  });
});

describe('the environment', () => {
  /** Runs the CLI with `env` set in this process, then puts the variables back as they were. */
  async function withEnv(env: Record<string, string>, args: string[]): Promise<Awaited<ReturnType<typeof cli>>> {
    const before = Object.fromEntries(Object.keys(env).map((name) => [name, process.env[name]]));
    Object.assign(process.env, env);
    try {
      return await cli(args);
    } finally {
      for (const [name, value] of Object.entries(before)) {
        if (value === undefined) delete process.env[name];
        else process.env[name] = value;
      }
    }
  }

  it('--help-env lists every variable with its default and description, exit 0', async () => {
    const r = await cli(['--help-env']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, '');
    const text = r.stdout.replace(/\s+/g, ' ');
    for (const row of settingsTable())
      assert.ok(text.includes(`${row.name} ${row.default} ${row.description}`), row.name);
    assert.match(r.stdout, /TLPIPE_REQUIRE_REDIS/, 'and those only the test suite reads');
    assert.ok(
      r.stdout.split('\n').every((line) => line.length <= 100),
      'fits 100 columns',
    );
  });

  it('--help names --help-env', async () => {
    assert.match((await cli(['--help'])).stdout, /--help-env +list the TLPIPE_\* environment variables/);
  });

  const cases: {
    name: string;
    env: Record<string, string>;
    args: string[];
    code: number;
    err: RegExp;
    out?: RegExp;
  }[] = [
    {
      name: 'a bad value stops a command before it starts, exit 2',
      env: { TLPIPE_WORKERS: 'abc' },
      args: ['compare', 'a', 'b'],
      code: 2,
      err: /^tlpipe: error: TLPIPE_WORKERS is 'abc', not a whole number ≥ 1\n {2}hint: unset it for the default \(cores, at most 4\); tlpipe --help-env lists every variable\n$/,
    },
    {
      name: 'every bad value is named',
      env: { TLPIPE_WORKERS: '0', TLPIPE_FROZEN_PREFIX: 'no' },
      args: ['compare', 'a', 'b'],
      code: 2,
      err: /TLPIPE_WORKERS is '0'[\s\S]*TLPIPE_FROZEN_PREFIX is 'no', not 0 or 1/,
    },
    {
      name: '--help still works with a bad value',
      env: { TLPIPE_WORKERS: 'abc' },
      args: ['run', '--help'],
      code: 0,
      err: /^$/,
      out: /^Usage: tlpipe run/,
    },
    {
      name: '--help-env still works with a bad value',
      env: { TLPIPE_WORKERS: 'abc' },
      args: ['--help-env'],
      code: 0,
      err: /^$/,
      out: /TLPIPE_WORKERS/,
    },
    {
      name: 'an empty value is the default',
      env: { TLPIPE_WORKERS: '' },
      args: ['compare', 'p/0001'],
      code: 2,
      err: /^tlpipe: error: compare takes at least two runs\n$/,
    },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const r = await withEnv(c.env, c.args);
      assert.equal(r.code, c.code, r.stderr);
      assert.match(r.stderr, c.err);
      if (c.out) assert.match(r.stdout, c.out);
    });
  }
});
