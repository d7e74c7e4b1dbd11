#!/usr/bin/env node
import path from 'node:path';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import type { ProgressMode } from '../progress/renderers.js';
import { formatDiagnostic, type Diagnostic } from '../diagnostics/diagnostic.js';
import { loadPipeline } from '../format/load-pipeline.js';
import type { BackendName } from '../format/types.js';
import { formatPlan } from './format-plan.js';
import { alignColumns } from './text-table.js';
import { HELP } from './help-text.js';

const EXIT = { ok: 0, userError: 1, usage: 2, interrupted: 130 } as const;

class UsageError extends Error {}


const BACKENDS: readonly BackendName[] = ['auto', 'tensorflow', 'wasm', 'cpu'];

type Options = NonNullable<ParseArgsConfig['options']>;

function parse<T extends Options>(args: string[], options: T) {
  try {
    return parseArgs({ args, options: { help: { type: 'boolean', short: 'h' } as const, ...options }, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

function backendOption(value: unknown): BackendName | undefined {
  if (value === undefined) return undefined;
  if (!BACKENDS.includes(value as BackendName)) throw new UsageError(`--backend must be one of ${BACKENDS.join(', ')}, got '${String(value)}'`);
  return value as BackendName;
}

/** tfjs takes a second to import; `--help` and `validate` do not need it. */
const loadRunner = () => import('./run-pipeline.js');

function printDiagnostics(diagnostics: Diagnostic[]): void {
  for (const d of diagnostics) process.stderr.write(formatDiagnostic(d) + '\n');
}

async function validateCommand(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, {});
  if (values.help) return help('validate');
  if (positionals.length === 0) throw new UsageError('validate needs at least one pipeline file');
  let failed = 0;
  for (const file of positionals) {
    const result = loadPipeline(file);
    if (result.ok) {
      printDiagnostics(result.warnings);
      process.stdout.write(`${file}: ok\n`);
    } else {
      printDiagnostics(result.diagnostics);
      failed++;
    }
  }
  if (positionals.length > 1) process.stdout.write(`${positionals.length - failed} valid, ${failed} invalid\n`);
  return failed > 0 ? EXIT.userError : EXIT.ok;
}

async function planCommand(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, { json: { type: 'boolean' }, backend: { type: 'string' }, runs: { type: 'string' } });
  if (values.help) return help('plan');
  if (positionals.length !== 1) throw new UsageError('plan takes exactly one pipeline file');
  const { planPipeline } = await loadRunner();
  const backend = backendOption(values.backend);
  const planned = await planPipeline(positionals[0]!, { runsRoot: path.resolve(values.runs ?? 'runs'), ...(backend ? { backend } : {}) });
  if (!planned.ok) {
    printDiagnostics(planned.diagnostics);
    return EXIT.userError;
  }
  printDiagnostics(planned.warnings);
  planned.prepared.base.dispose();
  process.stdout.write((values.json ? JSON.stringify(planned.plan, null, 2) : formatPlan(planned.plan)) + '\n');
  return EXIT.ok;
}

async function dataCommand(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, { json: { type: 'boolean' } });
  if (values.help) return help('data');
  if (positionals.length !== 1) throw new UsageError('data takes exactly one pipeline file');
  const loaded = loadPipeline(positionals[0]!);
  if (!loaded.ok) {
    printDiagnostics(loaded.diagnostics);
    return EXIT.userError;
  }
  const { describeDataset } = await import('../engine/data/describe-dataset.js');
  const { UserError } = await import('../engine/errors.js');
  const { spec, source } = loaded.value;
  try {
    const report = await describeDataset(spec.dataset, spec.seed);
    const { formatDataReport } = await import('./format-data-report.js');
    process.stdout.write((values.json ? JSON.stringify(report, null, 2) : formatDataReport(report)) + '\n');
    return EXIT.ok;
  } catch (error) {
    if (!(error instanceof UserError)) throw error;
    printDiagnostics([source.locate(error.toDiagnostic(spec.file))]);
    return EXIT.userError;
  }
}

async function predictCommand(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, { top: { type: 'string' }, json: { type: 'boolean' }, backend: { type: 'string' } });
  if (values.help) return help('predict');
  if (positionals.length < 2) throw new UsageError('predict takes a run directory and at least one image file or folder');
  const top = Number(values.top ?? 3);
  if (!Number.isInteger(top) || top < 1) throw new UsageError(`--top must be a positive whole number, got '${values.top}'`);
  const [runDir, ...inputs] = positionals as [string, ...string[]];
  const { predictRunImages } = await import('./predict-images.js');
  const result = await predictRunImages(runDir, inputs, { top, backend: backendOption(values.backend) ?? 'auto' });
  if (!result.ok) return printFailure(result);
  for (const p of result.predictions) {
    process.stdout.write(
      values.json ? JSON.stringify(p) + '\n' : `${p.file}: ${p.top.map((t) => `${t.label} ${(t.probability * 100).toFixed(1)}%`).join(', ')}\n`,
    );
  }
  return EXIT.ok;
}

async function evaluateCommand(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, { data: { type: 'string' }, json: { type: 'boolean' }, out: { type: 'string' }, backend: { type: 'string' } });
  if (values.help) return help('evaluate');
  if (positionals.length !== 1) throw new UsageError('evaluate takes exactly one run directory');
  const { evaluateRun, formatEvaluation } = await import('./evaluate-run.js');
  const result = await evaluateRun(positionals[0]!, { ...(values.data ? { data: values.data } : {}), backend: backendOption(values.backend) ?? 'auto' });
  if (!result.ok) return printFailure(result);
  if (values.out) {
    const { writeFileAtomic, writeJsonAtomic } = await import('../store/atomic-write.js');
    const { confusionMatrixCsv } = await import('../engine/evaluate/metrics.js');
    await writeJsonAtomic(path.join(values.out, 'evaluation.json'), { on: result.on, ...result.metrics });
    await writeFileAtomic(path.join(values.out, 'confusion-matrix.csv'), confusionMatrixCsv(result.metrics.confusionMatrix, result.classNames));
  }
  process.stdout.write(values.json ? JSON.stringify({ on: result.on, ...result.metrics }) + '\n' : `evaluated ${positionals[0]} on ${result.on}\n${formatEvaluation(result.metrics, result.classNames)}\n`);
  return EXIT.ok;
}

async function watchCommand(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, { ...RUN_OPTIONS, debounce: { type: 'string' } });
  if (values.help) return help('watch');
  if (positionals.length === 0) throw new UsageError('watch needs at least one pipeline file');
  const debounceMs = Number(values.debounce ?? 300);
  if (!Number.isFinite(debounceMs) || debounceMs < 0) throw new UsageError(`--debounce must be milliseconds, got '${values.debounce}'`);
  const { watchPipelines } = await import('../watch/watch-pipelines.js');
  const { runPipeline } = await loadRunner();
  const print = (line: string): void => void process.stderr.write(line + '\n');
  const progress: ProgressMode = values.json ? 'json' : values.quiet ? 'quiet' : 'plain';
  const runsRoot = path.resolve(values.runs ?? 'runs');
  const backend = backendOption(values.backend);
  const watcher = watchPipelines(positionals, {
    validate: (file) => {
      const loaded = loadPipeline(file);
      if (!loaded.ok) return { ok: false, report: loaded.diagnostics.map(formatDiagnostic).join('\n') };
      return { ok: true, inputs: localInputs(loaded.value.spec) };
    },
    run: async (file, signal) => {
      const outcome = await runPipeline(file, { runsRoot, ...(backend ? { backend } : {}), progress, signal, print });
      await reportOutcome(outcome);
    },
    print,
  }, { debounceMs });
  let stops = 0;
  const stop = (): void => {
    if (++stops > 1) process.exit(EXIT.interrupted);
    print('stopping: the running run ends at its next batch, marked interrupted (again to quit at once)');
    void watcher.stop();
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  await watcher.done;
  return EXIT.ok;
}

/** The local files a pipeline reads besides itself, which a save to should also re-run it. */
function localInputs(spec: import('../format/types.js').PipelineSpec): string[] {
  const { dataset } = spec;
  return [
    ...(spec.base.file && !spec.base.run ? [spec.base.file] : []),
    ...(dataset.format === 'csv' ? [dataset.file] : []),
    ...(dataset.format === 'idx' ? [dataset.train.images, dataset.train.labels, ...(dataset.test ? [dataset.test.images, dataset.test.labels] : [])] : []),
  ];
}

async function runsCommand(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, { json: { type: 'boolean' }, runs: { type: 'string' } });
  if (values.help) return help('runs');
  if (positionals.length > 1) throw new UsageError('runs takes at most one pipeline name');
  const { listRunOverviews, formatRunTable } = await import('./run-records.js');
  const runs = await listRunOverviews(path.resolve(values.runs ?? 'runs'), positionals[0]);
  process.stdout.write((values.json ? JSON.stringify(runs.map(({ record: _record, ...r }) => r), null, 2) : formatRunTable(runs)) + '\n');
  return EXIT.ok;
}

async function compareCommand(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, { json: { type: 'boolean' }, runs: { type: 'string' } });
  if (values.help) return help('compare');
  if (positionals.length < 2) throw new UsageError('compare takes at least two runs');
  const { compareCommandText } = await import('./run-records.js');
  return printResult(await compareCommandText(path.resolve(values.runs ?? 'runs'), positionals, values.json === true));
}

async function reportCommand(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, { out: { type: 'string' }, runs: { type: 'string' } });
  if (values.help) return help('report');
  if (positionals.length < 1) throw new UsageError('report takes at least one run');
  const { reportCommandFile } = await import('./run-records.js');
  const { writeFileAtomic } = await import('../store/atomic-write.js');
  const result = await reportCommandFile(path.resolve(values.runs ?? 'runs'), positionals, values.out, writeFileAtomic);
  return printResult(result.ok ? { ok: true, text: `wrote ${path.relative(process.cwd(), result.text) || result.text}` } : result);
}

async function initCommand(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, {});
  if (values.help) return help('init');
  if (positionals.length > 1) throw new UsageError('init takes at most one folder');
  const { initProject } = await import('./init-project.js');
  const result = await initProject(positionals[0] ?? '.');
  return printResult(result.ok ? { ok: true, text: result.written.map((f) => `wrote ${f}`).join('\n') || 'nothing to write' } : result);
}

/** A command's text on stdout, or its error with a hint on stderr. */
function printResult(result: { ok: true; text: string } | { ok: false; message: string; hint?: string }): number {
  if (!result.ok) return printFailure(result);
  process.stdout.write(result.text + '\n');
  return EXIT.ok;
}

/** A command's user error, with its hint, on stderr. */
function printFailure(failure: { message: string; hint?: string }): number {
  process.stderr.write(`tlpipe: ${failure.message}\n${failure.hint ? `  hint: ${failure.hint}\n` : ''}`);
  return EXIT.userError;
}

async function modelsCommand(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, { json: { type: 'boolean' } });
  if (values.help) return help('models');
  if (positionals.length > 0) throw new UsageError('models takes no arguments');
  const { listZoo } = await import('../engine/model/zoo.js');
  const zoo = listZoo();
  if (values.json) {
    process.stdout.write(JSON.stringify(zoo, null, 2) + '\n');
    return EXIT.ok;
  }
  const rows = zoo.map((m) => [
    m.name,
    m.url ? (m.available ? 'cached' : 'download') : m.available ? 'offline' : `unavailable: ${m.problem}`,
    `${m.nativeInputSize.join('×')} (≥ ${m.minInputSize})`,
    m.featureLayer,
    m.layers === undefined ? '–' : String(m.layers),
    m.params === undefined ? '–' : m.params.toLocaleString('en-US'),
    m.normalize,
    m.loadSeconds === undefined ? '–' : `${m.loadSeconds.toFixed(2)}s`,
  ]);
  const header = ['model', 'source', 'input', 'default cut', 'layers', 'weights', 'normalize', 'load'];
  for (const line of alignColumns([header, ...rows])) process.stdout.write(line + '\n');
  for (const m of zoo) process.stdout.write(`\n${m.name}: ${m.description}${m.url && !m.available ? ` (${m.url})` : ''}`);
  process.stdout.write('\n\nAny tfjs LayersModel works too: base.model: path/to/model.json, or run:<pipeline> for an earlier run\'s model.\n');
  return EXIT.ok;
}

async function runCommand(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, { ...RUN_OPTIONS, resume: { type: 'boolean' }, 'no-cache': { type: 'boolean' } });
  if (values.help) return help('run');
  if (positionals.length !== 1) throw new UsageError('run takes exactly one pipeline file');
  const { runPipeline } = await loadRunner();
  return reportOutcome(await runPipeline(positionals[0]!, { ...runOptions(values), ...(values.resume ? { resume: true } : {}), ...(values['no-cache'] ? { noCache: true } : {}) }));
}

async function resumeCommand(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, { ...RUN_OPTIONS, 'no-cache': { type: 'boolean' } });
  if (values.help) return help('resume');
  if (positionals.length !== 1) throw new UsageError('resume takes exactly one run directory');
  const { resumeRun } = await loadRunner();
  return reportOutcome(await resumeRun(positionals[0]!, { ...runOptions(values), ...(values['no-cache'] ? { noCache: true } : {}) }));
}

const RUN_OPTIONS = {
  backend: { type: 'string' },
  runs: { type: 'string' },
  json: { type: 'boolean' },
  quiet: { type: 'boolean' },
} as const;

/** Progress mode, runs folder, and a signal that the first Ctrl-C (or SIGTERM) aborts at a batch boundary. */
function runOptions(values: { backend?: string | undefined; runs?: string | undefined; json?: boolean | undefined; quiet?: boolean | undefined }) {
  const progress: ProgressMode = values.json ? 'json' : values.quiet ? 'quiet' : process.stderr.isTTY ? 'tty' : 'plain';
  const controller = new AbortController();
  const stop = (signal: NodeJS.Signals): void => {
    if (controller.signal.aborted) process.exit(EXIT.interrupted);
    process.stderr.write(`\n${signal}: stopping after the current batch (again to quit at once)\n`);
    controller.abort();
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  const print = (line: string): void => void process.stderr.write(line + '\n');
  return { runsRoot: path.resolve(values.runs ?? 'runs'), backend: backendOption(values.backend), progress, signal: controller.signal, print };
}

async function reportOutcome(outcome: Awaited<ReturnType<Awaited<ReturnType<typeof loadRunner>>['runPipeline']>>): Promise<number> {
  if (outcome.kind === 'invalid') {
    printDiagnostics(outcome.diagnostics);
    return EXIT.userError;
  }
  printDiagnostics(outcome.diagnostics);
  const { run, dir } = outcome;
  const where = path.relative(process.cwd(), dir) || dir;
  if (run.status !== 'completed') {
    process.stderr.write(`run ${run.status}: ${where}${run.error ? ` — ${run.error.message}` : ''}\n`);
    if (run.status === 'interrupted' || run.status === 'failed') process.stderr.write(`  continue it with: tlpipe resume ${where}\n`);
    return run.status === 'interrupted' ? EXIT.interrupted : EXIT.userError;
  }
  const summary = JSON.parse(await import('node:fs/promises').then((fs) => fs.readFile(path.join(dir, 'summary.json'), 'utf8'))) as { test?: { accuracy: number; loss: number } };
  const test = summary.test ? `test accuracy ${summary.test.accuracy.toFixed(4)}, test loss ${summary.test.loss.toFixed(4)}` : 'no test split';
  process.stdout.write(`completed ${where} in ${run.seconds?.toFixed(1)}s on ${run.backend}: ${test}\n  report: ${path.join(where, 'report.html')}\n  model:  ${path.join(where, 'model')}/\n`);
  return EXIT.ok;
}

function help(command: string): number {
  process.stdout.write(HELP[command] + '\n');
  return EXIT.ok;
}

const COMMANDS: Record<string, (args: string[]) => Promise<number>> = {
  run: runCommand,
  resume: resumeCommand,
  validate: validateCommand,
  plan: planCommand,
  data: dataCommand,
  predict: predictCommand,
  evaluate: evaluateCommand,
  watch: watchCommand,
  runs: runsCommand,
  compare: compareCommand,
  report: reportCommand,
  init: initCommand,
  models: modelsCommand,
};

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
      return help('main');
    }
    const handler = COMMANDS[command];
    if (!handler) throw new UsageError(`unknown command '${command}'`);
    return await handler(rest);
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(`tlpipe: ${error.message}\n${command && HELP[command] ? '' : '\n' + HELP['main'] + '\n'}`);
      if (command && HELP[command]) process.stderr.write(`Run 'tlpipe ${command} --help' for usage.\n`);
      return EXIT.usage;
    }
    throw error;
  }
}

// `tlpipe … | head` closes the pipe early; that is not an error worth a stack trace.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(0);
  throw error;
});

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`tlpipe: internal error (a bug; please report it with this trace):\n${(error as Error).stack ?? String(error)}\n`);
    process.exitCode = 1;
  },
);
