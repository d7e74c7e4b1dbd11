import type { BackendName } from '../api/index.js';
import type { TtaTransform } from '../api/tta-option.js';
import type { Diagnostic } from '../diagnostics/diagnostic.js';
import { EXIT, printDiagnostics, printLine, type Printer } from './output.js';
import { fitText } from '../progress/text-width.js';

/** An option of a command, as commander declares it. */
export interface CommandOption {
  flags: string;
  description: string;
  choices?: readonly string[];
  /** May be given several times; the values are collected in order. */
  repeatable?: boolean;
}

/**
 * One command: its arguments and options (from which parsing and --help
 * are generated, so help cannot drift from what is parsed) and what it
 * does, behind a lazy import so `--help` and `validate` never load tfjs.
 */
export interface CommandSpec {
  name: string;
  /** commander's syntax: `<pipeline>`, `<pipelines...>`, `[dir]`. */
  args: { syntax: string; description: string }[];
  summary: string;
  description: string;
  options: CommandOption[];
  run(args: CommandArgs, print: Printer): Promise<number>;
}

/** Parsed arguments and options of one command. */
export interface CommandArgs {
  positional: string[];
  options: Record<string, unknown>;
}

const BACKENDS: readonly BackendName[] = ['auto', 'tensorflow', 'wasm', 'cpu'];
const BACKEND: CommandOption = {
  flags: '--backend <name>',
  description: "backend to run on (overrides the pipeline's `backend`)",
  choices: BACKENDS,
};
const RUNS: CommandOption = { flags: '--runs <dir>', description: 'where run folders are (default: ./runs)' };
const JSON_LINES: CommandOption = {
  flags: '--json',
  description: 'JSON lines on stdout (run-start first, run-end last); everything for people goes to stderr',
};
const QUIET: CommandOption = { flags: '--quiet', description: 'print only the result' };
const SET: CommandOption = {
  flags: '--set <key=value>',
  description:
    'set a value by key path, validated like the file, e.g. --set train.stages[0].epochs=3 (repeatable; the value is YAML)',
  repeatable: true,
};
const NO_CACHE: CommandOption = {
  flags: '--no-cache',
  description:
    'train every stage and extract features afresh (default: reuse those an earlier run left in <runs>/.cache)',
};
const JSON_OUT = (what: string): CommandOption => ({ flags: '--json', description: `print ${what} as JSON` });
const ALLOW_INCOMPLETE: CommandOption = {
  flags: '--allow-incomplete',
  description: 'use the model of a run that did not complete (failed, interrupted, running); refused without it',
};
const MODEL_REF = {
  syntax: '<run>',
  description: 'a run folder, <pipeline>/<NNNN>, or a model folder (model/, model-uint8/ or a copy)',
};
const allowIncomplete = (options: Record<string, unknown>): { allowIncomplete?: true } =>
  options['allowIncomplete'] ? { allowIncomplete: true } : {};
const TTA = (what: string): CommandOption => ({
  flags: '--tta <transforms>',
  description: `${what} with test-time augmentation: probabilities averaged over deterministic transforms of each image, comma-separated: flip (the image and its mirror), crops (the image, its four corner crops and its centre crop, 90% of each side, resized back); flip,crops: each of those 6 and its mirror`,
});
/** `--tta flip,crops` parsed (absent: none), or the usage error it is. */
async function ttaOption(options: Record<string, unknown>): Promise<{ tta?: TtaTransform[] } | { problem: string }> {
  if (options['tta'] === undefined) return {};
  const { parseTtaOption } = await import('../api/tta-option.js');
  const parsed = parseTtaOption(String(options['tta']));
  return 'problem' in parsed ? parsed : { tta: parsed.transforms };
}

export const COMMANDS: readonly CommandSpec[] = [
  {
    name: 'run',
    args: [{ syntax: '<pipeline>', description: 'the pipeline file (YAML)' }],
    summary: 'validate, plan and run a pipeline into runs/<name>/<NNNN>-<fp8>/',
    description:
      'Validates the pipeline, compiles its plan, trains and evaluates, and writes a new run folder (run.json, metrics.jsonl, summary.json, model/, report.html…).',
    options: [
      BACKEND,
      RUNS,
      { flags: '--resume', description: 'continue the newest unfinished run of the same plan, if there is one' },
      NO_CACHE,
      SET,
      {
        flags: '--folds <k>',
        description:
          'k-fold cross-validation (sets evaluate.folds): each fold an ordinary run, recorded in runs/<name>/kfold/<NNNN>-<fp8>/ with every metric as mean ± std',
      },
      { flags: '-j, --jobs <n>', description: 'with folds: folds at once, each a child process (default 1)' },
      JSON_LINES,
      QUIET,
    ],
    run: async (args, print) => (await import('./run-commands.js')).runCommand(args, print),
  },
  {
    name: 'sweep',
    args: [{ syntax: '[pipeline]', description: 'a pipeline file with a `sweep:` block' }],
    summary: "run the trials of a pipeline's sweep, here (-j N) or on workers (--queue)",
    description:
      "Expands the pipeline's `sweep:` into trials, validates and plans every one first (an invalid value is an error at its line; trials with the same plan run once), then runs them: each trial is an ordinary run (runs/<name>/<NNNN>-<fp8>/, its values in run.json) and trials that share the base features or a first stage compute them once. The sweep is recorded in runs/<name>/sweeps/<NNNN>-<fp8>/ (sweep.json, trials/, results.csv, report.html) and names the best trial. With --queue the trials go on a BullMQ queue on Redis that `tlpipe worker` processes take, on any machines sharing the runs folder.",
    options: [
      { flags: '-j, --jobs <n>', description: 'trials at once, each a child process on this machine (default 1)' },
      {
        flags: '--queue <redis-url>',
        description:
          'put the trials on the BullMQ queue at this Redis (redis://host:6379/0, unix:///path/redis.sock) for `tlpipe worker`s, and wait for them',
      },
      {
        flags: '--resume <sweep>',
        description:
          'continue a sweep (its folder, <pipeline>/sweeps/<NNNN>, or <pipeline> for its newest): its unfinished trials run again, resuming their runs',
      },
      BACKEND,
      RUNS,
      NO_CACHE,
      SET,
      { flags: '--json', description: 'JSON lines on stdout: sweep-start, one per trial state change, sweep-end' },
      QUIET,
    ],
    run: async (args, print) => (await import('./sweep-commands.js')).sweepCommand(args, print),
  },
  {
    name: 'worker',
    args: [],
    summary: 'take sweep trials from a Redis queue and run them, until stopped',
    description:
      'Runs the trials `tlpipe sweep --queue` puts on the queue, each in a child process, into the runs folder that every worker and the sweep share (a network file system across machines). A trial that fails (invalid data, a NaN loss) is not retried; one whose process crashes, or whose worker dies, is resumed from its checkpoint by whichever worker takes it. Ctrl-C stops the running trials, which go back to the queue.',
    options: [
      { flags: '--queue <redis-url>', description: 'the Redis the sweeps queue on (required)' },
      { flags: '-j, --jobs <n>', description: 'trials at once (default 1)' },
      RUNS,
      { flags: '--json', description: 'JSON lines on stdout: one per trial state change' },
    ],
    run: async (args, print) => {
      if (!args.options['queue']) return usage('worker needs --queue <redis-url>', print);
      return (await import('./sweep-commands.js')).workerCommand(args, print);
    },
  },
  {
    name: 'resume',
    args: [{ syntax: '<run>', description: 'a run folder, or <pipeline>/<NNNN> (or <pipeline> for its newest run)' }],
    summary: 'continue an interrupted or failed run from its latest checkpoint',
    description:
      'Continues an interrupted or failed run in its own folder from its latest complete checkpoint (checkpoints/index.json): weights, optimizer state, stage, epoch, schedule, early-stopping counters and random streams. With the same backend the result equals an uninterrupted run. The dataset and base must be unchanged (the plan fingerprint is checked).',
    options: [BACKEND, RUNS, NO_CACHE, JSON_LINES, QUIET],
    run: async (args, print) => (await import('./run-commands.js')).resumeCommand(args, print),
  },
  {
    name: 'watch',
    args: [{ syntax: '<pipelines...>', description: 'pipeline files to watch' }],
    summary: 're-run on every save, reusing every unchanged stage',
    description:
      "Runs each pipeline, then again whenever it is saved (or a local file it reads: a base model.json, IDX or CSV files). A save is validated first: a broken file prints its errors and waits, and the running run goes on. A valid save stops that pipeline's running run (marked interrupted, checkpoints kept) and starts a new one, which reuses every stage and the features the stage cache holds. Ctrl-C stops the running run at a batch boundary and exits.",
    options: [
      { flags: '--debounce <ms>', description: 'quiet time after a save before acting (default 300)' },
      BACKEND,
      RUNS,
      NO_CACHE,
      SET,
      JSON_LINES,
      QUIET,
    ],
    run: async (args, print) => (await import('./run-commands.js')).watchCommand(args, print),
  },
  {
    name: 'evaluate',
    args: [MODEL_REF],
    summary: "evaluate a run's model on its test split (or --data <folder>)",
    description:
      "Evaluates the run's exported model: on the run's own test split (the dataset as the run resolved it, split with its seed), or with --data on labelled data. A classifier: a folder with one sub-folder of images per class (named as the model's classes); prints loss, accuracy, top-k, per-class precision/recall/F1, the confusion matrix and the most wrong examples. A segmentation model: a folder with images/ and masks/ (a PNG per image, same name, pixel value = class index); prints mean IoU, pixel accuracy and IoU per class. An anomaly model: a folder with one sub-folder of images per class, the classes the run took as normal counting as normal and every other (one the run never saw too) as anomalous; prints AUROC, average precision, F1 and accuracy at the model's threshold.",
    options: [
      {
        flags: '--data <folder>',
        description:
          'evaluate on this labelled data instead of the test split (a tabular run: a CSV of rows with its feature columns and label column; a segmentation run: a folder with images/ and masks/; an anomaly run: a folder of class folders, scored normal or not by the classes the run took as normal)',
      },
      JSON_OUT('the metrics'),
      {
        flags: '--out <dir>',
        description: "also write evaluation.json there (and a classifier's confusion-matrix.csv)",
      },
      TTA('a classifier of images: also evaluate'),
      ALLOW_INCOMPLETE,
      BACKEND,
      RUNS,
    ],
    run: async ({ positional: [run], options }, print) => {
      const tta = await ttaOption(options);
      if ('problem' in tta) return usage(tta.problem, print);
      const { evaluate, evaluationRecord } = await import('../api/evaluate.js');
      const result = await evaluate(run!, {
        ...tta,
        ...dataOption(options),
        ...(options['out'] ? { out: String(options['out']) } : {}),
        ...allowIncomplete(options),
        ...backendAndRuns(options),
      });
      printDiagnostics(result.warnings, print);
      if (result.value) {
        const { formatEvaluated } = await import('./format-results.js');
        printLine(
          print.out,
          options['json'] ? JSON.stringify(evaluationRecord(result.value)) : formatEvaluated(run!, result.value),
        );
      }
      // Files that could not be decoded were left out of the metrics: said, and exit 1.
      return result.ok ? EXIT.ok : failure(result.diagnostics, print, false, options);
    },
  },
  {
    name: 'predict',
    args: [
      MODEL_REF,
      { syntax: '<images...>', description: 'image files or folders of them (a tabular run: CSV files of rows)' },
    ],
    summary: "classify image files (or folders) with a run's exported model",
    description:
      "Loads the run's exported model with its labels.json and preprocessing.json, prepares each image exactly as training did, and prints the most likely classes. A run trained on tabular rows takes CSV files of rows instead: its feature columns found by name in the header (a label column is ignored), each standardised as in training; one line per row, named file.csv:<line>.",
    options: [
      { flags: '--top <n>', description: 'how many classes to show per image (default 3)' },
      {
        flags: '--out <dir>',
        description:
          "segmentation models: write each image's mask here, a PNG of class indexes (labels.json order) at the model's input size",
      },
      { flags: '--json', description: 'one JSON object per image' },
      TTA('a classifier of images: classify'),
      ALLOW_INCOMPLETE,
      BACKEND,
      RUNS,
    ],
    run: async ({ positional: [run, ...images], options }, print) => {
      const top = Number(options['top'] ?? 3);
      if (!Number.isInteger(top) || top < 1)
        return usage(`--top must be a positive whole number, got '${String(options['top'])}'`, print);
      const tta = await ttaOption(options);
      if ('problem' in tta) return usage(tta.problem, print);
      const { predict } = await import('../api/predict.js');
      const result = await predict(run!, images, {
        top,
        ...tta,
        ...(options['out'] !== undefined ? { out: String(options['out']) } : {}),
        ...allowIncomplete(options),
        ...backendAndRuns(options),
      });
      printDiagnostics(result.warnings, print);
      const { formatPrediction } = await import('./tasks/registry.js');
      // The images that could be classified are printed even when others could not; then exit 1.
      for (const p of result.value ?? [])
        printLine(print.out, options['json'] ? JSON.stringify(p) : formatPrediction(p));
      return result.ok ? EXIT.ok : failure(result.diagnostics, print, false, options);
    },
  },
  {
    name: 'serve',
    args: [
      {
        syntax: '<model>',
        description:
          "a run folder, <pipeline>/<NNNN>, a model folder, a pipeline file (its newest completed run) or a pipeline's runs folder (followed)",
      },
    ],
    summary: 'serve a model over HTTP: predictions, health, readiness and metrics',
    description:
      "Serves the model on 127.0.0.1:8080 (TF Serving's POST /v1/models/{name}:predict with base64 images, multipart uploads or table rows; the Open Inference Protocol's POST /v2/models/{name}/infer; GET /v1/models/{name}; /healthz, /readyz, /metrics in Prometheus' format). Each image is prepared exactly as `tlpipe predict` prepares it, in worker threads that batch concurrent requests. Limits are status codes: 413 a body too big, 400 a bad image (the rest of the batch answered), 503 with Retry-After a full queue, 504 no answer in time. With --follow (or given a pipeline's runs folder) it swaps to each newer completed run without failing a request. SIGINT or SIGTERM: stops accepting, answers what it accepted, exits 0.",
    options: [
      { flags: '--port <n>', description: 'port to listen on (default 8080; 0 picks a free one)' },
      {
        flags: '--host <address>',
        description: 'address to listen on (default 127.0.0.1; 0.0.0.0 for every interface)',
      },
      {
        flags: '--name <name>',
        description: "the model's name in the routes (default: the run's pipeline, or the model folder's name)",
      },
      {
        flags: '--follow',
        description: "serve the pipeline's newest completed run and swap to each newer one as it completes",
      },
      {
        flags: '--workers <n>',
        description: 'worker threads running the model (default: $TLPIPE_WORKERS, cores up to 4)',
      },
      { flags: '--max-batch-size <n>', description: 'instances in one batch at most (default 16)' },
      { flags: '--max-latency-ms <ms>', description: 'how long a request waits for others to batch with (default 5)' },
      { flags: '--max-queue <n>', description: 'instances waiting at most; more are answered 503 (default 256)' },
      { flags: '--timeout-ms <ms>', description: 'answer 504 to a request not answered by then (default 30000)' },
      { flags: '--max-body-mb <mb>', description: 'answer 413 to a bigger body (default 32)' },
      { flags: '--max-instances <n>', description: 'instances one request may hold (default 64)' },
      {
        flags: '--allow-files <folder>',
        description: 'let requests name image files inside this folder by path ({"path": "…"}); none may without it',
      },
      {
        flags: '--json',
        description: 'one JSON object per line on stdout: listening, each request, each swap, closed',
      },
      ALLOW_INCOMPLETE,
      BACKEND,
      RUNS,
    ],
    run: async (args, print) => (await import('./serve-command.js')).serveCommand(args, print),
  },
  {
    name: 'explain',
    args: [MODEL_REF, { syntax: '<images...>', description: 'image files or folders of them' }],
    summary: 'show where in each image the evidence for its class lies (Grad-CAM)',
    description:
      "Classifies each image with the run's exported model, as predict does, and computes a Grad-CAM map of the class it is given (and of each --class): the last convolutional layer's activations weighed by the class score's gradient. Writes each map over the image as the model saw it, as <out>/<image>.<class>.png (red: most evidence), and prints the most likely classes.",
    options: [
      { flags: '--out <dir>', description: 'where the overlay PNGs go (default: ./explanations)' },
      {
        flags: '--class <label>',
        description: 'also map this class for every image (repeatable), e.g. the class it should have been',
        repeatable: true,
      },
      { flags: '--layer <name>', description: 'the layer to explain at (default: the last with height and width)' },
      { flags: '--top <n>', description: 'how many classes to show per image (default 3)' },
      { flags: '--json', description: "one JSON object per image: top classes, and each map's class and PNG" },
      ALLOW_INCOMPLETE,
      BACKEND,
      RUNS,
    ],
    run: async ({ positional: [run, ...images], options }, print) => {
      const top = Number(options['top'] ?? 3);
      if (!Number.isInteger(top) || top < 1)
        return usage(`--top must be a positive whole number, got '${String(options['top'])}'`, print);
      const { explain } = await import('../api/explain.js');
      const out = String(options['out'] ?? 'explanations');
      const result = await explain(run!, images, {
        top,
        out,
        ...(options['class'] ? { classes: options['class'] as string[] } : {}),
        ...(options['layer'] ? { layer: String(options['layer']) } : {}),
        ...allowIncomplete(options),
        ...backendAndRuns(options),
      });
      printDiagnostics(result.warnings, print);
      const { formatExplanation } = await import('./format-results.js');
      const { terminalText } = await import('./terminal-text.js');
      for (const e of result.value?.explanations ?? []) {
        const maps = e.maps.map((m) => ({
          label: m.label,
          probability: m.probability,
          why: m.why,
          overlay: m.overlay,
        }));
        printLine(
          print.out,
          options['json']
            ? JSON.stringify({ file: e.file, layer: result.value!.layer, top: e.top, maps })
            : formatExplanation(e, shownPath),
        );
      }
      if (result.value && !options['json'])
        printLine(
          print.err,
          `Grad-CAM at layer ${terminalText(result.value.layer)}; overlays in ${terminalText(shownPath(out))}/`,
        );
      return result.ok ? EXIT.ok : failure(result.diagnostics, print, false, options);
    },
  },
  {
    name: 'runs',
    args: [{ syntax: '[pipeline]', description: "only this pipeline's runs" }],
    summary: 'list runs, newest first, with status and scores',
    description:
      'Lists runs, newest first: id, status, start, duration, backend, the best validation accuracy and its epoch, test accuracy and the git commit (* when the repository had uncommitted changes). A run whose process died shows as interrupted, not running (its pid is gone or its heartbeat stopped).',
    options: [RUNS, JSON_OUT('the list')],
    run: async ({ positional: [pipeline], options }, print) => {
      const { listRuns } = await import('../api/runs.js');
      const runs = await listRuns({ ...runsOption(options), ...(pipeline ? { pipeline } : {}) });
      if (!runs.ok) return failure(runs.diagnostics, print);
      const { formatRunTable } = await import('./format-results.js');
      printLine(
        print.out,
        options['json']
          ? JSON.stringify(
              runs.value.map(({ record: _record, ...r }) => r),
              null,
              2,
            )
          : formatRunTable(runs.value),
      );
      printDiagnostics(runs.warnings, print);
      return EXIT.ok;
    },
  },
  {
    name: 'compare',
    args: [{ syntax: '<runs...>', description: 'two or more runs: folders, or <pipeline>/<NNNN>' }],
    summary: 'config and metric differences side by side',
    description:
      "Prints, side by side: status, duration and test metrics; per stage, its epochs and last epoch's metrics; and every config key path whose value differs (from each run's resolved.json, or where that is not kept, its pipeline.yaml resolved again). A run is a run folder, or <pipeline>/<NNNN> (or <pipeline> for its newest run) inside --runs.",
    options: [RUNS, JSON_OUT('the comparison')],
    run: async ({ positional, options }, print) => {
      if (positional.length < 2) return usage('compare takes at least two runs', print);
      const { compare } = await import('../api/runs.js');
      const result = await compare(positional, runsOption(options));
      if (!result.ok) return failure(result.diagnostics, print);
      const { formatComparison } = await import('./format-results.js');
      printLine(print.out, options['json'] ? JSON.stringify(result.value, null, 2) : formatComparison(result.value));
      return EXIT.ok;
    },
  },
  {
    name: 'report',
    args: [{ syntax: '<runs...>', description: 'one run, or several to compare' }],
    summary: "rebuild a run's report.html, or a comparison page for several",
    description:
      'With one run, rebuilds its report.html from its files. With several, writes a comparison page (default ./compare.html): their curves overlaid, and their config and metric differences. Pages are single self-contained files.',
    options: [{ flags: '--out <file>', description: 'where to write the page' }, RUNS],
    run: async ({ positional, options }, print) => {
      const { report } = await import('../api/runs.js');
      const result = await report(positional, {
        ...runsOption(options),
        ...(options['out'] ? { out: String(options['out']) } : {}),
      });
      if (!result.ok) return failure(result.diagnostics, print);
      printDiagnostics(result.warnings, print);
      printLine(print.out, `wrote ${shownPath(result.value.file)}`);
      return EXIT.ok;
    },
  },
  {
    name: 'init',
    args: [{ syntax: '[dir]', description: 'the folder to set up (default: the current one)' }],
    summary: 'scaffold a pipeline and a .gitignore for run records',
    description:
      "Writes, in dir, a pipeline.yaml that runs as it is (with the schema modeline, pointing into the project's node_modules/tlpipe, so editors complete keys once tlpipe is a dev dependency), and a .gitignore that keeps run records (run.json, metrics.jsonl, summary.json, report.html, pipeline.yaml) in git and leaves out checkpoints, models and caches; an existing .gitignore gets the rules it lacks. Never overwrites a pipeline.",
    options: [],
    run: async ({ positional: [dir] }, print) => {
      const { initProject } = await import('../api/init.js');
      const result = await initProject(dir ?? '.');
      if (!result.ok) return failure(result.diagnostics, print);
      printLine(
        print.out,
        [
          ...result.value.written.map((f) => `wrote ${shownPath(f)}`),
          ...result.value.notes.map((n) => `note: ${n}`),
        ].join('\n'),
      );
      return EXIT.ok;
    },
  },
  {
    name: 'validate',
    args: [{ syntax: '<pipelines...>', description: 'pipeline files' }],
    summary: 'check pipeline files against the schema and rules',
    description:
      "Checks each file against schemas/pipeline.schema.json and tlpipe's rules. Prints every problem as file:line:col with a hint; exit 1 if any file is invalid. With --json, one JSON document for editors and CI.",
    options: [
      SET,
      {
        flags: '--json',
        description: 'print { files: [{ file, ok, diagnostics, warnings }], valid, invalid } as JSON',
      },
    ],
    run: async ({ positional, options }, print) => {
      const { validate } = await import('../api/validate.js');
      const overrides = await setOption(options);
      if (!Array.isArray(overrides)) return usage(overrides.message, print);
      const files = [];
      for (const file of positional) {
        const result = await validate(file, { overrides });
        files.push({ file, ok: result.ok, diagnostics: result.diagnostics, warnings: result.warnings });
      }
      const invalid = files.filter((f) => !f.ok).length;
      if (options['json'])
        printLine(print.out, JSON.stringify({ files, valid: files.length - invalid, invalid }, null, 2));
      else {
        for (const f of files) {
          printDiagnostics([...f.diagnostics, ...f.warnings], print);
          if (f.ok) printLine(print.out, `${f.file}: ok`);
        }
        if (files.length > 1) printLine(print.out, `${files.length - invalid} valid, ${invalid} invalid`);
      }
      return invalid > 0 ? EXIT.failed : EXIT.ok;
    },
  },
  {
    name: 'plan',
    args: [{ syntax: '<pipeline>', description: 'the pipeline file' }],
    summary: "show the compiled plan (tasks and fingerprints), or a sweep's trials, without running",
    description:
      'Reads the dataset and base model, and prints the compiled plan: what learns in each stage, the tasks in the order they run, their inputs and content fingerprints. Nothing is trained or written.',
    options: [
      BACKEND,
      RUNS,
      SET,
      { flags: '--folds <k>', description: 'plan a k-fold cross-validation (sets evaluate.folds)' },
      JSON_OUT('the plan'),
    ],
    run: async ({ positional: [file], options }, print) => {
      const { formatKfoldPlan, setAndFoldsOverrides } = await import('./kfold-commands.js');
      const overrides = await setAndFoldsOverrides(options);
      if (!Array.isArray(overrides)) return usage(overrides.message, print);
      const { foldsOf } = await import('../api/pipeline-input.js');
      if (foldsOf(file!, { overrides }) !== undefined) {
        const { planCrossValidation } = await import('../api/cross-validate.js');
        const planned = await planCrossValidation(file!, { overrides, ...backendAndRuns(options) });
        printDiagnostics(planned.warnings, print);
        if (!planned.ok) return failure(planned.diagnostics, print, options['json'] === true, options);
        printLine(print.out, options['json'] ? JSON.stringify(planned.value, null, 2) : formatKfoldPlan(planned.value));
        return EXIT.ok;
      }
      if (await hasSweep(file!)) {
        const { planSweep } = await import('../api/sweep.js');
        const swept = await planSweep(file!, { overrides, ...backendAndRuns(options) });
        printDiagnostics(swept.warnings, print);
        if (!swept.ok) return failure(swept.diagnostics, print, options['json'] === true, options);
        const { formatSweepPlan } = await import('./sweep-commands.js');
        printLine(print.out, options['json'] ? JSON.stringify(swept.value, null, 2) : formatSweepPlan(swept.value));
        return EXIT.ok;
      }
      const { plan } = await import('../api/plan.js');
      const { formatEventLine } = await import('../progress/event-lines.js');
      // The plan goes to stdout; what takes long before it (strategy: auto's probe) is said on stderr as it happens.
      const onEvent = (event: Parameters<typeof formatEventLine>[0]): void => {
        const line = formatEventLine(event);
        if (line !== undefined) printLine(print.err, fitText(line));
      };
      const result = await plan(file!, { overrides, ...backendAndRuns(options), onEvent });
      printDiagnostics(result.warnings, print);
      if (!result.ok) return failure(result.diagnostics, print, options['json'] === true, options);
      const { formatPlan } = await import('./format-plan.js');
      printLine(print.out, options['json'] ? JSON.stringify(result.value, null, 2) : formatPlan(result.value));
      return EXIT.ok;
    },
  },
  {
    name: 'data',
    args: [{ syntax: '<pipeline>', description: 'the pipeline file' }],
    summary: 'report the dataset: class counts per split, image sizes, skipped files',
    description:
      "Reads and decodes the pipeline's dataset and reports what training would see: class counts per split (after limits and splits), source image sizes, files skipped or ignored and why, and a warning when classes are imbalanced. With `adapt:`, also the domain shift: the AUROC of a classifier telling the target images from the training images by the base's pooled features (0.5: the base sees them alike), before adaptation and, with `method: adabn`, after it.",
    options: [SET, BACKEND, RUNS, JSON_OUT('the report')],
    run: async ({ positional: [file], options }, print) => {
      const overrides = await setOption(options);
      if (!Array.isArray(overrides)) return usage(overrides.message, print);
      const { describeData } = await import('../api/data.js');
      const result = await describeData(file!, { overrides, ...backendAndRuns(options) });
      if (!result.ok) return failure(result.diagnostics, print);
      const { formatDataReport } = await import('./format-data-report.js');
      printLine(print.out, options['json'] ? JSON.stringify(result.value, null, 2) : formatDataReport(result.value));
      return EXIT.ok;
    },
  },
  {
    name: 'audit',
    args: [{ syntax: '<pipeline>', description: 'the pipeline file (classification)' }],
    summary: 'audit the data: likely label errors, train/test leaks, duplicates, imbalance, shift',
    description:
      "On the base's features (made by the pipeline's own features task, so shared with its runs through the stage cache) and out-of-fold probabilities (a logistic regression averaged with a nearest-neighbour vote): likely label errors (confident learning), exact and near-duplicate images across splits (leaks) and within them, class imbalance and classes hard to separate, classes whose brightness or contrast stands out, and the shift between train and test (the AUROC of a classifier telling them apart). Writes runs/<name>/audits/<NNNN>/audit.json and audit.html; with --fix, a CSV of suggested relabels and removals. The dataset is never changed. Findings are not an error: exit 0 when the audit ran.",
    options: [
      { flags: '--folds <k>', description: 'stratified folds of the out-of-fold predictions (default 5)' },
      {
        flags: '--threshold <similarity>',
        description:
          'feature cosine similarity (centred features) at or above which two images are near-duplicates (default 0.995); moved or recompressed copies are found by their aligned pixels whatever it is',
      },
      {
        flags: '--fix <file.csv>',
        description: 'write suggested relabels and removals as CSV (your files are not changed)',
      },
      BACKEND,
      RUNS,
      NO_CACHE,
      SET,
      JSON_OUT('what the audit found'),
    ],
    run: async (args, print) => (await import('./audit-command.js')).auditCommand(args, print),
  },
  {
    name: 'models',
    args: [],
    summary: 'list the base models in the zoo',
    description:
      "Lists the zoo's base models: input sizes, default cut, layer and weight counts, and whether each is available offline here.",
    options: [JSON_OUT('the list')],
    run: async ({ options }, print) => {
      const { listModels } = await import('../api/models.js');
      const result = await listModels();
      if (!result.ok) return failure(result.diagnostics, print);
      const { formatModels } = await import('./format-results.js');
      printLine(print.out, options['json'] ? JSON.stringify(result.value, null, 2) : formatModels(result.value));
      return EXIT.ok;
    },
  },
];

/** `--set key=value …` as overrides: the value is YAML (`3`, `[a, b]`, `relu`), so numbers stay numbers. */
export async function setOption(
  options: Record<string, unknown>,
): Promise<{ path: string; value: unknown; label: string }[] | { message: string }> {
  const out: { path: string; value: unknown; label: string }[] = [];
  const sets = (options['set'] as string[] | undefined) ?? [];
  if (sets.length === 0) return out;
  // Loaded here, not with the command table: yaml is ~0.05 s of start-up that --help, --version and most commands skip.
  const { parse } = await import('yaml');
  for (const raw of sets) {
    const at = raw.indexOf('=');
    if (at <= 0) return { message: `--set takes key=value, got '${raw}' (e.g. --set train.stages[0].epochs=3)` };
    let value: unknown;
    try {
      value = parse(raw.slice(at + 1));
    } catch (error) {
      return { message: `--set ${raw}: the value is not YAML: ${(error as Error).message.split('\n')[0]}` };
    }
    out.push({ path: raw.slice(0, at), value, label: `--set ${raw}` });
  }
  return out;
}

export const runsOption = (options: Record<string, unknown>): { runsDir?: string } =>
  options['runs'] ? { runsDir: String(options['runs']) } : {};
export const backendAndRuns = (options: Record<string, unknown>): { backend?: BackendName; runsDir?: string } => ({
  ...(options['backend'] ? { backend: options['backend'] as BackendName } : {}),
  ...runsOption(options),
});
const dataOption = (options: Record<string, unknown>): { data?: string } =>
  options['data'] ? { data: String(options['data']) } : {};

/**
 * Diagnostics as the command line caused them: a problem with the backend
 * when `--backend` chose it is the flag's, reported at `--backend <name>`
 * as a `--set` problem is at its `--set`, not at a line of the pipeline
 * (which may not even name a backend) or at a run folder.
 */
export function atFlags(diagnostics: readonly Diagnostic[], options: Record<string, unknown>): Diagnostic[] {
  const backend = options['backend'];
  if (typeof backend !== 'string') return [...diagnostics];
  return diagnostics.map((d) =>
    d.path.length === 1 && d.path[0] === 'backend'
      ? {
          file: `--backend ${backend}`,
          path: [],
          severity: d.severity,
          message: d.message,
          ...(d.hint ? { hint: d.hint } : {}),
        }
      : d,
  );
}

/** Problems on stderr (at the flags that caused them, given the command's `options`); with `json`, also as one `{ type: 'invalid' }` line on stdout, for machines. */
export function failure(
  diagnostics: Parameters<typeof printDiagnostics>[0],
  print: Printer,
  json = false,
  options: Record<string, unknown> = {},
): number {
  diagnostics = atFlags(diagnostics, options);
  printDiagnostics(diagnostics, print);
  if (json) printLine(print.out, JSON.stringify({ type: 'invalid', diagnostics }));
  return EXIT.failed;
}

export function usage(message: string, print: Printer): number {
  printLine(print.err, `tlpipe: error: ${message}`);
  return EXIT.usage;
}

export const shownPath = (file: string): string => {
  const relative = file.startsWith(process.cwd() + '/') ? file.slice(process.cwd().length + 1) : file;
  return relative || file;
};

/** Whether the file has a top-level `sweep:` (then `plan` shows its trials); a file that does not parse is left to the loader to report. */
async function hasSweep(file: string): Promise<boolean> {
  const { readFile } = await import('node:fs/promises');
  try {
    const text = await readFile(file, 'utf8');
    if (text.length > 1_000_000) return false;
    const { parse } = await import('yaml');
    const data = parse(text) as unknown;
    return data !== null && typeof data === 'object' && 'sweep' in data;
  } catch {
    return false;
  }
}
