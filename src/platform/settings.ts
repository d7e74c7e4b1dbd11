import os from 'node:os';
import path from 'node:path';
import { UserError } from '../diagnostics/user-error.js';

/**
 * Every TLPIPE_* environment variable tlpipe reads, declared once: its type,
 * default, a line on what it does and who it is for. Modules read a value
 * with `setting(name)` where and when they used to read process.env (some at
 * each call, so a test or a process may change it), never by name elsewhere.
 * An unset or empty variable means the default; a value that is not what the
 * variable takes is an error naming it, never a silent NaN or a silent default.
 */

/** What a parser says of a text it does not take: what the variable takes, e.g. `a whole number ≥ 1`. */
interface Invalid {
  expected: string;
}

/** Who sets a variable: the groups `tlpipe --help-env` lists them in. */
export type SettingAudience = 'users' | 'sweeps' | 'developers';

interface Declaration<T> {
  for: SettingAudience;
  description: string;
  /** The default as people read it (it may depend on the machine). */
  shownDefault: string;
  default: () => T;
  parse: (text: string) => T | Invalid;
}

const isInvalid = (value: unknown): value is Invalid =>
  typeof value === 'object' && value !== null && 'expected' in value;

/** A number as Number() reads it, within bounds: `min` inclusive, or above `above`; whole when `integer`. */
function numberParser(bounds: { min?: number; above?: number; integer?: boolean }): (text: string) => number | Invalid {
  const kind = bounds.integer ? 'a whole number' : 'a number';
  const expected = bounds.above !== undefined ? `${kind} > ${bounds.above}` : `${kind} ≥ ${bounds.min ?? 0}`;
  return (text) => {
    const value = Number(text);
    const fits =
      Number.isFinite(value) &&
      (bounds.above !== undefined ? value > bounds.above : value >= (bounds.min ?? 0)) &&
      (!bounds.integer || Number.isInteger(value));
    return fits ? value : { expected };
  };
}

const declare = <T>(declaration: Declaration<T>): Declaration<T> => declaration;
const positiveSeconds = (fallback: number, forWhom: SettingAudience, description: string): Declaration<number> =>
  declare({
    for: forWhom,
    description,
    shownDefault: `${fallback}`,
    default: () => fallback,
    parse: numberParser({ above: 0 }),
  });
const text = (value: string): string => value;

const SETTINGS = {
  TLPIPE_WORKERS: declare({
    for: 'users',
    description:
      'threads that extract features from the base (1 runs it on the main thread alone), and that run a served model (tlpipe serve)',
    shownDefault: 'cores, at most 4',
    default: () => Math.min(4, os.availableParallelism?.() ?? os.cpus().length),
    parse: numberParser({ min: 1, integer: true }),
  }),
  TLPIPE_PROGRESS_S: declare({
    for: 'users',
    description:
      'seconds between the progress lines of a long phase when output is piped (CI logs); 0 prints every one',
    shownDefault: '10',
    default: () => 10,
    parse: numberParser({ min: 0 }),
  }),
  TLPIPE_CACHE: declare({
    for: 'users',
    description: 'folder where downloaded base models are kept',
    shownDefault: '~/.cache/tlpipe',
    default: () => path.join(os.homedir(), '.cache', 'tlpipe'),
    parse: text,
  }),
  TLPIPE_MAX_DOWNLOAD_MB: declare({
    for: 'users',
    description: 'the most one base model download may bring, all its files together (MiB)',
    shownDefault: '1024',
    default: () => 1024,
    parse: numberParser({ above: 0 }),
  }),
  TLPIPE_DOWNLOAD_IDLE_S: positiveSeconds(
    30,
    'users',
    'seconds a download waits for a connection, headers or its next bytes',
  ),
  TLPIPE_DOWNLOAD_TIMEOUT_S: positiveSeconds(600, 'users', 'seconds a download may take in all'),
  TLPIPE_DOWNLOAD_RETRIES: declare({
    for: 'users',
    description: 'how often a failed download request is tried again',
    shownDefault: '2',
    default: () => 2,
    parse: numberParser({ min: 0, integer: true }),
  }),
  TLPIPE_MAX_FILE_MB: declare<number | undefined>({
    for: 'users',
    description:
      'the largest file tlpipe reads, of every kind at once (MiB); a larger one is refused before it is read',
    shownDefault: 'per kind, 64-4096',
    default: () => undefined,
    parse: numberParser({ above: 0 }),
  }),
  TLPIPE_MAX_IMAGE_PIXELS: declare({
    for: 'users',
    description: 'the most pixels an image may have before it is decoded',
    shownDefault: '40000000',
    default: () => 40_000_000,
    parse: numberParser({ above: 0, integer: true }),
  }),
  TLPIPE_DECODE_CACHE_MB: declare({
    for: 'users',
    description: 'decoded images kept in memory (MiB); beyond it they are decoded again for every batch',
    shownDefault: '512',
    default: () => 512,
    parse: numberParser({ min: 0 }),
  }),
  TLPIPE_CACHE_MAX_MB: declare({
    for: 'users',
    description: 'size of the stage cache in <runs>/.cache (MiB); the least recently used entries go first',
    shownDefault: '4096',
    default: () => 4096,
    parse: numberParser({ min: 0 }),
  }),
  TLPIPE_CACHE_WAIT_S: declare({
    for: 'users',
    description:
      'seconds a run waits for a stage cache entry that another process is computing, then computes it itself',
    shownDefault: '21600 (6 h)',
    default: () => 6 * 3600,
    parse: numberParser({ min: 0 }),
  }),
  TLPIPE_QUEUE_SECRET: declare<string | undefined>({
    for: 'sweeps',
    description: 'shared secret that sweeps sign queued jobs with; a worker with it takes only jobs signed with it',
    shownDefault: 'none (unsigned)',
    default: () => undefined,
    parse: text,
  }),
  TLPIPE_QUEUE_LOCK_S: positiveSeconds(
    30,
    'sweeps',
    "seconds a job's lock lasts without renewal: a killed worker's trial is taken up again after about this long",
  ),
  TLPIPE_QUEUE_CONNECT_S: positiveSeconds(
    10,
    'sweeps',
    'seconds the first connection to Redis may take before the sweep or worker fails',
  ),
  TLPIPE_QUEUE_STATUS_S: positiveSeconds(
    30,
    'sweeps',
    'the longest a sweep waits without a line saying what it waits for (seconds)',
  ),
  TLPIPE_QUEUE_HAND_BACK_S: positiveSeconds(
    5,
    'sweeps',
    'seconds before a job a worker handed back (it cannot see the sweep) is offered again',
  ),
  TLPIPE_FROZEN_PREFIX: declare({
    for: 'developers',
    description:
      '0 trains fine-tuning stages through the whole model, as tlpipe did before the frozen prefix split (to compare)',
    shownDefault: '1',
    default: () => true,
    parse: (value) => (value === '1' ? true : value === '0' ? false : { expected: '0 or 1' }),
  }),
  TLPIPE_WASM_NATIVE: declare({
    for: 'developers',
    description:
      "kernels left to wasm's own implementation instead of tlpipe's (comma-separated names, e.g. FusedBatchNorm,Identity), to profile them",
    shownDefault: 'none',
    default: (): string[] => [],
    parse: (value) =>
      value
        .split(',')
        .map((name) => name.trim())
        .filter(Boolean),
  }),
} as const;

export type SettingName = keyof typeof SETTINGS;
export type SettingValue<N extends SettingName> = ReturnType<(typeof SETTINGS)[N]['default']>;
type Environment = Readonly<Record<string, string | undefined>>;

/** A variable whose value is not what it takes. */
export interface SettingProblem {
  name: SettingName;
  value: string;
  message: string;
  hint: string;
}

function problemOf(name: SettingName, value: string, invalid: Invalid): SettingProblem {
  const shown = SETTINGS[name].shownDefault;
  return {
    name,
    value,
    message: `${name} is '${value}', not ${invalid.expected}`,
    hint: `unset it for the default (${shown}); tlpipe --help-env lists every variable`,
  };
}

function read<N extends SettingName>(name: N, env: Environment): SettingValue<N> | SettingProblem {
  const declaration = SETTINGS[name] as unknown as Declaration<SettingValue<N>>;
  const raw = env[name];
  if (raw === undefined || raw === '') return declaration.default();
  const value = declaration.parse(raw);
  return isInvalid(value) ? problemOf(name, raw, value) : value;
}

const isProblem = (value: unknown): value is SettingProblem =>
  typeof value === 'object' && value !== null && 'hint' in value && 'message' in value;

/**
 * The variable's value, or its default when unset or empty. A value it does
 * not take throws a UserError (the CLI checks every variable with
 * `settingProblems` before a command starts, so this is for the library's callers).
 */
export function setting<N extends SettingName>(name: N, env: Environment = process.env): SettingValue<N> {
  const value = read(name, env);
  if (isProblem(value)) throw new UserError(value.message, [], value.hint);
  return value;
}

/** Every variable set to a value it does not take. */
export function settingProblems(env: Environment = process.env): SettingProblem[] {
  return (Object.keys(SETTINGS) as SettingName[]).flatMap((name) => {
    const value = read(name, env);
    return isProblem(value) ? [value] : [];
  });
}

export interface SettingRow {
  name: string;
  default: string;
  description: string;
  for: SettingAudience;
}

/** The variables as `tlpipe --help-env` lists them. */
export function settingsTable(): SettingRow[] {
  return (Object.keys(SETTINGS) as SettingName[]).map((name) => ({
    name,
    default: SETTINGS[name].shownDefault,
    description: SETTINGS[name].description,
    for: SETTINGS[name].for,
  }));
}

/**
 * Variables tlpipe's own test suite reads (test/, .ci/run), never tlpipe:
 * listed here so that every TLPIPE_* name is in one place.
 */
export const TEST_SUITE_VARIABLES: readonly Omit<SettingRow, 'for'>[] = [
  {
    name: 'TLPIPE_REQUIRE_REDIS',
    default: 'unset',
    description: '1: the tests that need redis-server fail without it instead of being skipped (.ci/run sets it)',
  },
  {
    name: 'TLPIPE_REQUIRE_BROWSER',
    default: 'unset',
    description: '1: the tests that need chromium fail without it instead of being skipped (.ci/run sets it)',
  },
  {
    name: 'TLPIPE_REQUIRE_TMUX',
    default: 'unset',
    description: '1: the tests that need tmux fail without it instead of being skipped (.ci/run sets it)',
  },
  {
    name: 'TLPIPE_REQUIRE_SKIMAGE',
    default: 'unset',
    description:
      "1: the test of the texture-mosaic script fails without Debian's python3-skimage instead of being skipped (.ci/run sets it)",
  },
  {
    name: 'TLPIPE_TEST_CLI',
    default: "this build's",
    description: 'the CLI the end-to-end tests run, to show a test fails on another version',
  },
  { name: 'TLPIPE_FUZZ_CASES', default: '400', description: 'cases of the pipeline file fuzzer' },
  {
    name: 'TLPIPE_SIGNAL_TRIALS',
    default: '6',
    description: 'trials of the test that signals sweeps at random moments',
  },
  { name: 'TLPIPE_KILL_TRIALS', default: '5', description: 'trials of the test that kills runs at random moments' },
  {
    name: 'TLPIPE_REQUIRE_FONTS',
    default: 'unset',
    description:
      "1: the test of the font-digits script fails without Debian's DejaVu and Liberation fonts instead of being skipped (.ci/run sets it)",
  },
  {
    name: 'TLPIPE_REQUIRE_TORCH',
    default: 'unset',
    description:
      "1: the PyTorch peer's test fails without Debian's python3-torch (on OpenBLAS, with oneDNN) instead of being skipped (.ci/run sets it)",
  },
  { name: 'TLPIPE_PYTHON', default: 'python3', description: 'the Python that npm run bench compares against' },
  {
    name: 'TLPIPE_BENCH_RUN',
    default: 'the newest completed run',
    description: 'the run npm run bench:serve serves (as its --run)',
  },
  {
    name: 'TLPIPE_RECORD_IMPORTS',
    default: 'unset',
    description: "the file the lazy-load test's import hook records a command's imports to (set by that test)",
  },
];
