import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { UserError } from '../../src/diagnostics/user-error.js';
import { packageRoot } from '../../src/package/package-root.js';
import {
  setting,
  settingProblems,
  settingsTable,
  TEST_SUITE_VARIABLES,
  type SettingName,
} from '../../src/platform/settings.js';

describe('TLPIPE_* settings', () => {
  const valid: { name: string; variable: SettingName; value: string | undefined; expected: unknown }[] = [
    { name: 'unset: the default', variable: 'TLPIPE_PROGRESS_S', value: undefined, expected: 10 },
    { name: 'empty: the default', variable: 'TLPIPE_PROGRESS_S', value: '', expected: 10 },
    {
      name: 'a default that depends on the machine',
      variable: 'TLPIPE_WORKERS',
      value: undefined,
      expected: Math.min(4, os.availableParallelism()),
    },
    {
      name: 'a default path',
      variable: 'TLPIPE_CACHE',
      value: undefined,
      expected: path.join(os.homedir(), '.cache', 'tlpipe'),
    },
    { name: 'no default: undefined', variable: 'TLPIPE_MAX_FILE_MB', value: undefined, expected: undefined },
    { name: 'a whole number', variable: 'TLPIPE_WORKERS', value: '2', expected: 2 },
    { name: 'zero where zero means something', variable: 'TLPIPE_PROGRESS_S', value: '0', expected: 0 },
    { name: 'zero retries', variable: 'TLPIPE_DOWNLOAD_RETRIES', value: '0', expected: 0 },
    { name: 'a fraction', variable: 'TLPIPE_MAX_DOWNLOAD_MB', value: '0.01', expected: 0.01 },
    { name: 'a number as Number() reads it', variable: 'TLPIPE_MAX_IMAGE_PIXELS', value: '4e7', expected: 40_000_000 },
    { name: 'a path', variable: 'TLPIPE_CACHE', value: '/tmp/models', expected: '/tmp/models' },
    { name: 'a secret', variable: 'TLPIPE_QUEUE_SECRET', value: 's3cret', expected: 's3cret' },
    { name: 'an empty secret is none', variable: 'TLPIPE_QUEUE_SECRET', value: '', expected: undefined },
    { name: 'a switch off', variable: 'TLPIPE_FROZEN_PREFIX', value: '0', expected: false },
    { name: 'a switch on', variable: 'TLPIPE_FROZEN_PREFIX', value: '1', expected: true },
    { name: 'a switch unset is on', variable: 'TLPIPE_FROZEN_PREFIX', value: undefined, expected: true },
    {
      name: 'a list, trimmed, empty names dropped',
      variable: 'TLPIPE_WASM_NATIVE',
      value: ' FusedBatchNorm, Identity,',
      expected: ['FusedBatchNorm', 'Identity'],
    },
    { name: 'a list unset is empty', variable: 'TLPIPE_WASM_NATIVE', value: undefined, expected: [] },
  ];
  for (const c of valid) {
    it(`${c.name}: ${c.variable}=${c.value ?? '(unset)'}`, () => {
      assert.deepEqual(setting(c.variable, c.value === undefined ? {} : { [c.variable]: c.value }), c.expected);
      assert.deepEqual(settingProblems({ [c.variable]: c.value }), []);
    });
  }

  const invalid: { name: string; variable: SettingName; value: string; message: string }[] = [
    {
      name: 'not a number',
      variable: 'TLPIPE_WORKERS',
      value: 'abc',
      message: "TLPIPE_WORKERS is 'abc', not a whole number ≥ 1",
    },
    {
      name: 'zero workers',
      variable: 'TLPIPE_WORKERS',
      value: '0',
      message: "TLPIPE_WORKERS is '0', not a whole number ≥ 1",
    },
    {
      name: 'a fraction of a worker',
      variable: 'TLPIPE_WORKERS',
      value: '1.5',
      message: "TLPIPE_WORKERS is '1.5', not a whole number ≥ 1",
    },
    {
      name: 'a negative interval',
      variable: 'TLPIPE_PROGRESS_S',
      value: '-1',
      message: "TLPIPE_PROGRESS_S is '-1', not a number ≥ 0",
    },
    {
      name: 'a zero timeout',
      variable: 'TLPIPE_QUEUE_LOCK_S',
      value: '0',
      message: "TLPIPE_QUEUE_LOCK_S is '0', not a number > 0",
    },
    {
      name: 'an infinite timeout',
      variable: 'TLPIPE_DOWNLOAD_TIMEOUT_S',
      value: 'Infinity',
      message: "TLPIPE_DOWNLOAD_TIMEOUT_S is 'Infinity', not a number > 0",
    },
    {
      name: 'NaN',
      variable: 'TLPIPE_MAX_DOWNLOAD_MB',
      value: 'NaN',
      message: "TLPIPE_MAX_DOWNLOAD_MB is 'NaN', not a number > 0",
    },
    {
      name: 'a unit',
      variable: 'TLPIPE_CACHE_MAX_MB',
      value: '4GB',
      message: "TLPIPE_CACHE_MAX_MB is '4GB', not a number ≥ 0",
    },
    {
      name: 'negative retries',
      variable: 'TLPIPE_DOWNLOAD_RETRIES',
      value: '-1',
      message: "TLPIPE_DOWNLOAD_RETRIES is '-1', not a whole number ≥ 0",
    },
    {
      name: 'a switch in words',
      variable: 'TLPIPE_FROZEN_PREFIX',
      value: 'off',
      message: "TLPIPE_FROZEN_PREFIX is 'off', not 0 or 1",
    },
  ];
  for (const c of invalid) {
    it(`${c.name}: ${c.variable}=${c.value} is refused, naming the variable and what it takes`, () => {
      const env = { [c.variable]: c.value };
      assert.throws(
        () => setting(c.variable, env),
        (error: unknown) => {
          assert.ok(error instanceof UserError);
          assert.equal(error.message, c.message);
          assert.match(error.hint ?? '', /^unset it for the default \(.+\); tlpipe --help-env lists every variable$/);
          return true;
        },
      );
      assert.deepEqual(
        settingProblems(env).map((p) => p.message),
        [c.message],
      );
    });
  }

  it('settingProblems names every bad variable and ignores TLPIPE_* names it does not declare', () => {
    const problems = settingProblems({
      TLPIPE_WORKERS: 'x',
      TLPIPE_PROGRESS_S: 'y',
      TLPIPE_REQUIRE_REDIS: 'maybe',
      TLPIPE_WORKER: 'z',
    });
    assert.deepEqual(
      problems.map((p) => p.name),
      ['TLPIPE_WORKERS', 'TLPIPE_PROGRESS_S'],
    );
  });

  it('every setting has a description, a default and an audience', () => {
    for (const row of settingsTable()) {
      assert.match(row.name, /^TLPIPE_[A-Z_]+$/);
      assert.ok(row.description.length > 10 && row.default.length > 0, row.name);
      assert.ok(['users', 'sweeps', 'developers'].includes(row.for), row.name);
    }
  });

  it('every TLPIPE_* variable the tests, benchmarks, scripts and .ci/run read or set is listed (so --help-env and docs/reference/cli.md show it)', () => {
    const root = packageRoot();
    const listed = new Set([...settingsTable(), ...TEST_SUITE_VARIABLES].map((row) => row.name));
    const files = ['test', 'bench', 'scripts']
      .flatMap((dir) =>
        readdirSync(path.join(root, dir), { recursive: true, encoding: 'utf8' }).map((name) => path.join(dir, name)),
      )
      .filter((file) => /\.(ts|py|sh)$/.test(file))
      .concat(['.ci/run']);
    const unlisted = new Set<string>();
    for (const file of files) {
      const text = readFileSync(path.join(root, file), 'utf8');
      for (const match of text.matchAll(
        /(?:process\.env(?:\[\s*['"`]|\.)|export |os\.environ(?:\.get\(|\[)['"])(TLPIPE_[A-Z0-9_]+)/g,
      ))
        if (!listed.has(match[1]!)) unlisted.add(`${match[1]} (${file})`);
    }
    assert.deepEqual([...unlisted], []);
  });

  it('only the settings module reads TLPIPE_* variables from the environment', () => {
    const src = path.join(packageRoot(), 'src');
    const readers: string[] = [];
    const walk = (dir: string): void => {
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        const file = path.join(dir, entry.name);
        if (entry.isDirectory()) walk(file);
        else if (file.endsWith('.ts') && /process\.env(\[\s*['"`]TLPIPE_|\.TLPIPE_)/.test(readFileSync(file, 'utf8')))
          readers.push(path.relative(src, file));
      }
    };
    walk(src);
    assert.deepEqual(readers, []);
  });
});
