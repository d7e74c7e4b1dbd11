import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { byPosition, type Diagnostic, type Result } from '../diagnostics/diagnostic.js';
import { applyOverrides, type Override } from './overrides.js';
import { resolvePipeline } from './resolve-pipeline.js';
import { FILE_RULES, SPEC_RULES, type RuleFinding } from './rules.js';
import { validateAgainstSchema } from './schema-validation.js';
import { SourceFile } from './source-file.js';
import type { StrategyChoices } from './strategy.js';
import type { PipelineFile, PipelineSpec } from './types.js';

export { nameFromFile, resolvePipeline, resolveSchedule } from './resolve-pipeline.js';
export type { Override } from './overrides.js';

/** Files larger than this are not pipelines; refuse before parsing. */
const MAX_PIPELINE_BYTES = 1 << 20;

export interface LoadedPipeline {
  spec: PipelineSpec;
  source: SourceFile;
  /** The file as written (overrides applied), before resolution. */
  written: PipelineFile;
  /** For `strategy: auto`: the keys each named strategy would set, resolved; the planner picks one once measured. */
  strategyChoices?: StrategyChoices;
  /** The pipeline's text as it runs: the file's own bytes, or with overrides, the document they changed. */
  text: string;
}

export interface LoadOptions {
  /** How the file is named in messages (default: its path relative to the working folder). */
  displayName?: string;
  /** Values set by key path, validated like the file; a problem with one is reported at its label. */
  overrides?: readonly Override[];
}

/**
 * Reads, parses, validates and resolves one pipeline file. Every problem
 * comes back as a Diagnostic with its place in the file; nothing is thrown
 * for bad input. Only a regular file is read: a FIFO or a device would
 * block or never end.
 */
export function loadPipeline(file: string, options: LoadOptions = {}): Result<LoadedPipeline> {
  const displayName = options.displayName ?? (path.relative(process.cwd(), file) || file);
  let text: string;
  try {
    const stats = statSync(file);
    if (stats.isDirectory())
      return fail({ file: displayName, path: [], severity: 'error', message: 'is a directory, not a pipeline file' });
    if (!stats.isFile())
      return fail({
        file: displayName,
        path: [],
        severity: 'error',
        message: 'is not a regular file (a pipe, socket or device), not a pipeline file',
      });
    if (stats.size > MAX_PIPELINE_BYTES) {
      return fail({
        file: displayName,
        path: [],
        severity: 'error',
        message: `file is ${stats.size} bytes; a pipeline file is at most ${MAX_PIPELINE_BYTES}`,
      });
    }
    text = readFileSync(file).toString('utf8');
  } catch (error) {
    return fail(fileError(displayName, error));
  }
  return loadPipelineText(file, text, { ...options, displayName });
}

/** Deeper than any pipeline needs; the YAML parser recurses per level and would run out of stack. */
const MAX_NESTING = 64;

/**
 * Where the text first nests deeper than MAX_NESTING: flow brackets (outside
 * quotes and comments) plus block indentation, counted before parsing.
 */
function tooDeep(text: string): { line: number; col: number; sourceLine: string } | undefined {
  let flow = 0;
  let quote: string | undefined;
  let line = 1;
  let lineStart = 0;
  let comment = false;
  const indents: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === '\n') {
      line++;
      lineStart = i + 1;
      comment = false;
      // Block nesting: how many greater indentations enclose this line.
      let indent = 0;
      while (text[i + 1 + indent] === ' ') indent++;
      while (indents.length > 0 && indents[indents.length - 1]! >= indent) indents.pop();
      indents.push(indent);
      if (indents.length + flow > MAX_NESTING) return place(text, line, lineStart, i + 1 + indent);
      continue;
    }
    if (comment) continue;
    if (quote) {
      if (c === '\\' && quote === '"') i++;
      else if (c === quote) quote = undefined;
      continue;
    }
    // A quote opens a quoted scalar only where a scalar starts; in `don't` it is a plain character.
    const before = text.slice(lineStart, i).trimEnd();
    if ((c === '"' || c === "'") && (before === '' || /[:\-[{,?]$/.test(before))) quote = c;
    else if (c === '#' && (i === lineStart || /\s/.test(text[i - 1]!))) comment = true;
    else if (c === '[' || c === '{') {
      flow++;
      if (indents.length + flow > MAX_NESTING) return place(text, line, lineStart, i);
    } else if ((c === ']' || c === '}') && flow > 0) flow--;
  }
  return undefined;
}

function place(
  text: string,
  line: number,
  lineStart: number,
  offset: number,
): { line: number; col: number; sourceLine: string } {
  const end = text.indexOf('\n', lineStart);
  return {
    line,
    col: offset - lineStart + 1,
    sourceLine: text.slice(lineStart, end < 0 ? undefined : end).slice(0, 200),
  };
}

/**
 * As loadPipeline, for text already in memory (`file` still anchors relative
 * paths and names the pipeline): parse, apply overrides, the schema, the
 * rules on what is written, resolution, the rules on the resolved spec.
 */
export function loadPipelineText(file: string, text: string, options: LoadOptions = {}): Result<LoadedPipeline> {
  const displayName = options.displayName ?? file;
  // Bounded work for any input: a pipeline is a few KiB.
  if (text.length > MAX_PIPELINE_BYTES) {
    return fail({
      file: displayName,
      path: [],
      severity: 'error',
      message: `the text is ${text.length} characters; a pipeline file is at most ${MAX_PIPELINE_BYTES}`,
    });
  }
  if (text.includes('\u0000')) {
    return fail({
      file: displayName,
      path: [],
      severity: 'error',
      message: 'this is a binary file, not a YAML pipeline',
    });
  }
  const deep = tooDeep(text);
  if (deep) {
    return fail({
      file: displayName,
      line: deep.line,
      col: deep.col,
      sourceLine: deep.sourceLine,
      path: [],
      severity: 'error',
      message: `nested more than ${MAX_NESTING} levels deep`,
      hint: 'a pipeline nests a few levels; look for unclosed [ or { above this point',
    });
  }
  const source = new SourceFile(displayName, text);
  const syntax = source.syntaxDiagnostics();
  const syntaxErrors = syntax.filter((d) => d.severity === 'error');
  if (syntaxErrors.length > 0) return fail(...syntaxErrors);

  const overrides = options.overrides ?? [];
  if (overrides.length > 0) {
    const { applied, problems } = applyOverrides(source.document, overrides, displayName, (at, d) =>
      source.at({ path: at, key: true }, d),
    );
    if (problems.length > 0) return fail(...problems);
    source.overrides = applied;
  }

  let data: unknown;
  try {
    data = source.toJS();
  } catch (error) {
    return fail({
      file: displayName,
      path: [],
      severity: 'error',
      message: (error as Error).message,
      hint: 'write the values out instead of repeating aliases',
    });
  }
  if (data === null || typeof data !== 'object' || Array.isArray(data)) {
    return fail(
      source.at(
        { offset: 0 },
        {
          path: [],
          severity: 'error',
          message: 'a pipeline file is a YAML mapping (key: value lines)',
          hint: 'start from pipelines/quickstart.yaml',
        },
      ),
    );
  }

  const schemaErrors = validateAgainstSchema(source, data);
  if (schemaErrors.length > 0) return fail(...schemaErrors);

  const written = data as PipelineFile;
  const fileFindings = FILE_RULES.flatMap((rule) => rule(written)).map((f) => placeFinding(source, f));
  const fileErrors = fileFindings.filter((d) => d.severity === 'error');
  if (fileErrors.length > 0) return fail(...fileErrors);

  const { spec, strategyChoices } = resolvePipeline(file, written);
  const checked = checkSpec(spec, source);
  if (checked.errors.length > 0) return fail(...checked.errors);
  const warnings = [...syntax, ...fileFindings, ...checked.warnings].sort(byPosition);
  return {
    ok: true,
    value: {
      spec,
      source,
      written,
      ...(strategyChoices ? { strategyChoices } : {}),
      text: overrides.length > 0 ? source.document.toString() : text,
    },
    warnings,
  };
}

/**
 * The rules on a resolved spec, placed in the file. They run once: what
 * `strategy: auto` later fills in (one of the named strategies' freeze and
 * stages, a probed cut) passes them for any file that passes here, which
 * test/plan/strategy.test.ts holds for every strategy.
 */
function checkSpec(spec: PipelineSpec, source: SourceFile): { errors: Diagnostic[]; warnings: Diagnostic[] } {
  const findings = SPEC_RULES.flatMap((rule) => rule(spec)).map((f) => placeFinding(source, f));
  return {
    errors: findings.filter((d) => d.severity === 'error'),
    warnings: findings.filter((d) => d.severity === 'warning'),
  };
}

function placeFinding(source: SourceFile, f: RuleFinding): Diagnostic {
  const place = f.locateAt ? source.firstWritten([f.path, ...f.locateAt]) : f.path;
  return source.at(
    { path: place, key: f.key ?? false },
    { path: place, message: f.message, ...(f.hint ? { hint: f.hint } : {}), severity: f.severity ?? 'error' },
  );
}

function fail(...diagnostics: Diagnostic[]): { ok: false; diagnostics: Diagnostic[] } {
  return { ok: false, diagnostics: diagnostics.sort(byPosition) };
}

function fileError(file: string, error: unknown): Diagnostic {
  const code = (error as NodeJS.ErrnoException).code;
  const message =
    code === 'ENOENT'
      ? 'no such file'
      : code === 'EISDIR'
        ? 'is a directory, not a pipeline file'
        : code === 'EACCES'
          ? 'permission denied'
          : (error as Error).message;
  return {
    file,
    path: [],
    severity: 'error',
    message,
    hint: code === 'ENOENT' ? 'check the path; pipelines/quickstart.yaml is an example' : undefined,
  };
}
