/** What `tlpipe --help` and `tlpipe <command> --help` print. */
export const HELP: Record<string, string> = {
  main: `tlpipe — declarative transfer-learning pipelines

Usage: tlpipe <command> [options]

Commands:
  run <pipeline.yaml>        validate, plan and run a pipeline into runs/<name>/<NNNN>-<fp8>/
  resume <run-dir>           continue an interrupted or failed run from its latest checkpoint
  evaluate <run-dir>         evaluate a run's model on its test split (or --data <folder>)
  watch <pipeline.yaml…>     re-run on every save, reusing every unchanged stage
  runs [pipeline]            list runs, newest first, with status and scores
  compare <run> <run>…       config and metric differences side by side
  report <run>…              rebuild a run's report.html, or a comparison page for several
  init [dir]                 scaffold a pipeline and a .gitignore for run records
  validate <files…>          check pipeline files against the schema and rules
  plan <pipeline.yaml>       show the compiled plan (tasks and fingerprints) without running
  data <pipeline.yaml>       report the dataset: class counts per split, image sizes, skipped files
  predict <run> <images…>    classify image files (or folders) with a run's exported model
  models                     list the base models in the zoo

Run 'tlpipe <command> --help' for a command's options.
Exit codes: 0 success, 1 invalid pipeline or failed run, 2 usage error.`,
  run: `Usage: tlpipe run <pipeline.yaml> [options]

Validates the pipeline, compiles its plan, trains and evaluates, and writes a
new run directory (run.json, metrics.jsonl, summary.json, model/, report.html…).

Options:
  --backend <name>   auto | tensorflow | wasm | cpu (overrides the file's backend)
  --runs <dir>       where run directories go (default: ./runs)
  --resume           continue the newest unfinished run of the same plan, if any
  --no-cache         train every stage and extract features afresh (default: reuse
                     stages and features an earlier run left in <runs>/.cache)
  --json             one JSON event per line on stdout
  --quiet            print only the result
  -h, --help         show this help`,
  resume: `Usage: tlpipe resume <run-dir> [options]

Continues an interrupted or failed run in its own directory from its latest
complete checkpoint (checkpoints/index.json): weights, optimizer state, stage,
epoch, schedule, early-stopping counters and random streams. With the same
backend the result equals an uninterrupted run. The dataset and base must be
unchanged (the plan fingerprint is checked).

Options:
  --backend <name>   auto | tensorflow | wasm | cpu (default: the run's backend)
  --runs <dir>       where runs are, for run: bases (default: ./runs)
  --no-cache         do not read or fill the stage cache
  --json             one JSON event per line on stdout
  --quiet            print only the result
  -h, --help         show this help`,
  validate: `Usage: tlpipe validate <pipeline.yaml…>

Checks each file against schemas/pipeline.schema.json and tlpipe's rules.
Prints every problem as file:line:col with a hint; exit 1 if any file is invalid.

Options:
  -h, --help         show this help`,
  data: `Usage: tlpipe data <pipeline.yaml> [--json]

Reads and decodes the pipeline's dataset and reports what training would see:
class counts per split (after limits and splits), source image sizes, files
skipped or ignored and why, and a warning when classes are imbalanced.

Options:
  --json             print the report as JSON
  -h, --help         show this help`,
  predict: `Usage: tlpipe predict <run-dir> <image files or folders…> [--top N] [--json]

Loads the run's exported model with its labels.json and preprocessing.json,
prepares each image exactly as training did, and prints the most likely classes.

Options:
  --top <n>          how many classes to show per image (default 3)
  --backend <name>   auto | tensorflow | wasm | cpu
  --json             one JSON object per image
  -h, --help         show this help`,
  evaluate: `Usage: tlpipe evaluate <run-dir> [--data <folder>] [--json] [--out <dir>]

Evaluates the run's exported model: on the run's own test split (the dataset
as the run resolved it, split with its seed), or with --data on a folder with
one sub-folder of images per class (named as the model's classes). Prints
loss, accuracy, top-k, per-class precision/recall/F1, the confusion matrix and
the most wrong examples.

Options:
  --data <folder>    evaluate on these labelled images instead of the test split
  --json             print the metrics as JSON
  --out <dir>        also write evaluation.json and confusion-matrix.csv there
  --backend <name>   auto | tensorflow | wasm | cpu
  -h, --help         show this help`,
  watch: `Usage: tlpipe watch <pipeline.yaml…> [options]

Runs each pipeline, then runs it again whenever it is saved (or a local file it
reads: a base model.json, IDX or CSV files). A save is validated first: a
broken file prints its errors and waits, and the running run goes on. A valid
save stops that pipeline's running run (marked interrupted, checkpoints kept)
and starts a new one, which reuses every stage and the features the stage
cache holds. Saves are debounced, so an editor's multi-write save runs once.
Ctrl-C stops the running run at a batch boundary and exits.

Options:
  --debounce <ms>    quiet time after a save before acting (default 300)
  --backend <name>   auto | tensorflow | wasm | cpu
  --runs <dir>       where run directories go (default: ./runs)
  --json             one JSON event per line on stdout
  --quiet            print only each run's result
  -h, --help         show this help`,
  runs: `Usage: tlpipe runs [pipeline] [--json] [--runs <dir>]

Lists runs, newest first: id, status, start, duration, backend, the best
validation accuracy and its epoch, test accuracy and the git commit (* when
the repository had uncommitted changes). A run whose process died shows as
interrupted, not running (its pid is gone or its heartbeat stopped).

Options:
  --runs <dir>       where runs are (default: ./runs)
  --json             print the list as JSON
  -h, --help         show this help`,
  compare: `Usage: tlpipe compare <run> <run> [more…] [--json] [--runs <dir>]

Prints, side by side: status, duration and test metrics; per stage, its
epochs and last epoch's metrics; and every config key path whose value
differs (from each run's resolved.json). A run is a run folder, or
<pipeline>/<NNNN> (or <pipeline> for its newest run) inside --runs.

Options:
  --runs <dir>       where runs are (default: ./runs)
  --json             print the comparison as JSON
  -h, --help         show this help`,
  report: `Usage: tlpipe report <run> [more…] [--out <file>] [--runs <dir>]

With one run, rebuilds its report.html from its files. With several, writes
a comparison page (default ./compare.html): their curves overlaid, and their
config and metric differences. Pages are single self-contained files.

Options:
  --out <file>       where to write the page
  --runs <dir>       where runs are (default: ./runs)
  -h, --help         show this help`,
  init: `Usage: tlpipe init [dir]

Writes, in dir (default: the current folder), a pipeline.yaml that runs as it
is (with the schema modeline, so editors complete keys), and a .gitignore that
keeps run records (run.json, metrics.jsonl, summary.json, report.html,
pipeline.yaml) in git and leaves out checkpoints, models and caches. Never
overwrites a file.

Options:
  -h, --help         show this help`,
  models: `Usage: tlpipe models [--json]

Lists the zoo's base models: input sizes, default cut, layer and weight counts,
and whether each is available offline here.

Options:
  --json             print the list as JSON
  -h, --help         show this help`,
  plan: `Usage: tlpipe plan <pipeline.yaml> [--json]

Reads the dataset and base model, and prints the compiled plan: the tasks,
their inputs and content fingerprints. Nothing is trained or written.

Options:
  --backend <name>   auto | tensorflow | wasm | cpu
  --runs <dir>       where runs are, for run: bases (default: ./runs)
  --json             print the plan as JSON
  -h, --help         show this help`,
};
