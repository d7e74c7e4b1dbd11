import { existsSync } from 'node:fs';
import { lstat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { failed, ok, type Outcome } from './types.js';
import { makeDirs } from '../platform/make-dirs.js';
import { fileSystemError } from '../store/disk-errors.js';
import { kindOf, readBackFile } from '../platform/read-back.js';
import { UserError } from '../diagnostics/user-error.js';

/**
 * Keeps the small run records in git (what a reviewer reads) and leaves out
 * what is large or rebuilt: checkpoints, exported weights, caches, locks.
 */
export const GITIGNORE_RULES = [
  'runs/**',
  '!runs/**/',
  '!runs/**/run.json',
  '!runs/**/metrics.jsonl',
  '!runs/**/summary.json',
  '!runs/**/report.html',
  '!runs/**/pipeline.yaml',
  '!runs/**/sweep.json',
  '!runs/**/results.csv',
  '!runs/**/trials/*.json',
  'runs/.cache/',
  'runs/*/.ids/',
  'runs/*/sweeps/.ids/',
  'node_modules/',
] as const;
const GITIGNORE_HEADER = '# tlpipe: run records go in git; weights, checkpoints and caches do not.';

/** Where the schema is in a project that has tlpipe as a (dev) dependency. */
const SCHEMA_IN_PROJECT = ['node_modules', 'tlpipe', 'schemas', 'pipeline.schema.json'];

/** A pipeline that runs as it is (offline MNIST, pretrained MobileNetV2), with the schema modeline for editors. */
export function starterPipeline(schemaPath: string, name: string, file = 'pipeline.yaml'): string {
  return `# yaml-language-server: $schema=${schemaPath}
#
# A transfer-learning pipeline: \`tlpipe run ${file}\`, or \`tlpipe watch ${file}\`
# to re-run on every save. \`tlpipe plan ${file}\` shows what will run.
name: ${name}
seed: 42
dataset:
  format: mnist                 # or: imageFolder with dir: data/<class>/<images>
  limit: { perClass: 100, testPerClass: 50 }
  validation: 0.1
  image: { size: [64, 64] }
base:
  model: mobilenet_v2           # \`tlpipe models\` lists the zoo
  cut: block_13_expand_relu
freeze: all
head:
  - globalAveragePooling2d: {}
  - dense: { units: 64, activation: relu }
  - dropout: { rate: 0.2 }
  - dense: { units: classes, activation: softmax }
train:
  batchSize: 32
  stages:
    - name: head
      epochs: 10
      optimizer: { name: adam, learningRate: 0.003 }
`;
}

/** A path as the user would type it from the working folder. */
const shown = (file: string): string => path.relative(process.cwd(), file) || '.';

/** The folder of the nearest package.json at or above `dir` (the project), or `dir` itself. */
function projectRoot(dir: string): string {
  for (let at = dir; ; at = path.dirname(at)) {
    if (existsSync(path.join(at, 'package.json'))) return at;
    if (path.dirname(at) === at) return dir;
  }
}

/** A .gitignore is a short list of patterns; anything bigger is not one. */
const GITIGNORE_MAX_BYTES = 1 * 2 ** 20;

/** A problem with one of the files init writes, reported at that file. */
class FileProblem extends UserError {
  constructor(
    readonly file: string,
    message: string,
    hint: string,
  ) {
    super(message, [], hint);
  }
}

/** What a path that must not exist yet is, for the message; nothing when it is free. */
async function refuseExisting(file: string): Promise<void> {
  const stats = await lstat(file).catch((error: NodeJS.ErrnoException) =>
    error.code === 'ENOENT' ? undefined : Promise.reject(error),
  );
  if (!stats) return;
  throw new FileProblem(
    file,
    stats.isFile() ? 'already exists' : `already exists as ${kindOf(stats)}`,
    'init never overwrites; pick another folder or move it away',
  );
}

/**
 * The project's .gitignore, or undefined when it has none: a regular file
 * inside the project of at most 1 MiB, read without waiting on a FIFO or
 * reading a device for ever. A symbolic link that leads out of the folder
 * is refused, as git itself no longer follows one for .gitignore; one that
 * leads nowhere is refused too (writing through it would make its target).
 */
async function readGitignore(dir: string, file: string): Promise<string | undefined> {
  const hint = 'init adds its rules to a .gitignore that is a text file; make it one (or remove it) and run init again';
  try {
    const bytes = await readBackFile(dir, '.gitignore', {
      what: '.gitignore',
      kind: 'text',
      maxBytes: GITIGNORE_MAX_BYTES,
      hint,
    });
    return bytes.toString('utf8');
  } catch (error) {
    if (error instanceof UserError) {
      // readBackFile's message names the file first; the diagnostic names it already.
      const named = `.gitignore ${file} `;
      throw new FileProblem(
        file,
        error.message.startsWith(named) ? error.message.slice(named.length) : error.message,
        hint,
      );
    }
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    const dangling = await lstat(file).then(
      (stats) => stats.isSymbolicLink(),
      () => false,
    );
    if (dangling) throw new FileProblem(file, 'is a symbolic link to a file that does not exist', hint);
    return undefined;
  }
}

export interface InitResult {
  /** Files written or changed. */
  written: string[];
  /** What the user should know: where the schema modeline points, rules added to an existing .gitignore. */
  notes: string[];
}

/**
 * `tlpipe init [dir]`: writes pipeline.yaml (never over an existing one) and
 * a .gitignore for run records, or adds tlpipe's rules to an existing one.
 * The schema modeline points into the project's own node_modules/tlpipe, so
 * it works for everyone who clones the project and runs `npm install` — never
 * into a global prefix or npx's cache.
 */
export async function initProject(dir = '.'): Promise<Outcome<InitResult>> {
  const target = path.resolve(dir);
  try {
    await makeDirs(target);
  } catch (error) {
    const cause = fileSystemError(error);
    if (!cause) throw error;
    return failed([cause.toDiagnostic(dir)]);
  }
  const name =
    path
      .basename(target)
      .replace(/[^A-Za-z0-9_-]/g, '-')
      .replace(/^[^A-Za-z0-9]+/, '')
      .slice(0, 64) || 'pipeline';
  const project = projectRoot(target);
  const schemaFile = path.join(project, ...SCHEMA_IN_PROJECT);
  const schema = path.relative(target, schemaFile).split(path.sep).join('/');
  const pipelineFile = path.join(target, 'pipeline.yaml');
  const gitignore = path.join(target, '.gitignore');
  try {
    // Both checked before anything is written: a .gitignore init cannot use leaves no pipeline.yaml behind.
    await refuseExisting(pipelineFile);
    const existing = await readGitignore(target, gitignore);
    const written: string[] = [];
    const notes: string[] = [];
    await writeFile(pipelineFile, starterPipeline(schema, name), { flag: 'wx' });
    written.push(pipelineFile);
    notes.push(
      existsSync(schemaFile)
        ? `the schema modeline points at ${path.relative(process.cwd(), schemaFile) || schemaFile}, which npm install gives everyone who clones the project`
        : `the schema modeline points at ${schema}: add tlpipe as a dev dependency (npm i -D with its packed tarball or git URL until it is on the npm registry, then npm i -D tlpipe) so editors, yours and your teammates', find the schema there`,
    );
    if (existing === undefined) {
      await writeFile(gitignore, [GITIGNORE_HEADER, ...GITIGNORE_RULES].join('\n') + '\n', { flag: 'wx' });
      written.push(gitignore);
    } else {
      const present = new Set(existing.split(/\r?\n/).map((line) => line.trim()));
      const missing = GITIGNORE_RULES.filter((rule) => !present.has(rule));
      if (missing.length > 0) {
        // Appended after the user's own lines, so tlpipe's negations come last and win.
        await writeFile(
          gitignore,
          `${existing === '' || existing.endsWith('\n') ? '' : '\n'}\n${GITIGNORE_HEADER}\n${missing.join('\n')}\n`,
          { flag: 'a' },
        );
        written.push(gitignore);
        notes.push(
          `added ${missing.length} rule(s) to the existing ${path.relative(process.cwd(), gitignore) || gitignore}: ${missing.join(' ')}`,
        );
      } else notes.push(`${path.relative(process.cwd(), gitignore) || gitignore} already has tlpipe's rules`);
    }
    return ok({ written, notes });
  } catch (error) {
    if (error instanceof FileProblem) return failed([error.toDiagnostic(shown(error.file))]);
    const cause = fileSystemError(error);
    if (!cause) throw error;
    return failed([cause.toDiagnostic(shown(target))]);
  }
}
