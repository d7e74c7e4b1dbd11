/**
 * The examples in tlpipe's Markdown (README.md and docs/), read with a real
 * Markdown parser, and the check each kind gets. The info string of a fenced
 * block says what it is, and so how it is checked:
 *
 *   yaml                         a whole pipeline: validated (schema and rules)
 *   yaml fragment [base=<file>]  top-level pipeline keys, merged into <file>
 *                                (default pipelines/quickstart.yaml), then validated
 *   sh, bash                     every tlpipe command parses against the command table;
 *                                every `npm run <script>` names a script
 *   console                      the same for the lines after a `$ ` prompt; the rest is output
 *   ts, ts run                   type-checked against the packed package (test/e2e/package.test.ts);
 *                                `ts run` is also run there, in a project made by `tlpipe init`
 *   text, json, jsonc, http      not checked
 *
 * Any other info string, or none, is an error: every block says what it is.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import GithubSlugger from 'github-slugger';
import MarkdownIt from 'markdown-it';
import { parse as parseShell, type ParseEntry } from 'shell-quote';
import { parse as parseYaml, stringify } from 'yaml';
import { formatDiagnostic, validate } from '../../src/api/index.js';
import { settingsTable, TEST_SUITE_VARIABLES } from '../../src/api/settings.js';
import { commandLineProblem } from '../../src/cli/program.js';
import { packageRoot } from '../../src/package/package-root.js';

export const UNCHECKED = ['text', 'json', 'jsonc', 'http'] as const;

export interface CodeBlock {
  /** The Markdown file, relative to the package root, and the block's first line (1-based, the fence). */
  file: string;
  line: number;
  info: string;
  text: string;
}

export interface Link {
  file: string;
  line: number;
  target: string;
}

const markdown = new MarkdownIt();

export interface MarkdownFile {
  blocks: CodeBlock[];
  links: Link[];
  /** The anchors of its headings, as GitHub makes them (`## \`tlpipe run\`` → `tlpipe-run`). */
  anchors: string[];
}

/** The fenced blocks, the links (and images) and the heading anchors of one Markdown text. */
export function readMarkdown(file: string, text: string): MarkdownFile {
  const blocks: CodeBlock[] = [];
  const links: Link[] = [];
  const anchors: string[] = [];
  const slugger = new GithubSlugger();
  const tokens = markdown.parse(text, {});
  for (const [i, token] of tokens.entries()) {
    const line = (token.map?.[0] ?? 0) + 1;
    if (token.type === 'heading_open') {
      const words = (tokens[i + 1]?.children ?? []).filter((c) => c.type === 'text' || c.type === 'code_inline');
      anchors.push(slugger.slug(words.map((c) => c.content).join('')));
    }
    if (token.type === 'fence' || token.type === 'code_block')
      blocks.push({ file, line, info: token.info.trim(), text: token.content });
    for (const child of token.children ?? []) {
      const target =
        child.type === 'link_open' ? child.attrGet('href') : child.type === 'image' ? child.attrGet('src') : null;
      if (target !== null) links.push({ file, line, target });
    }
  }
  return { blocks, links, anchors };
}

/** README.md and every Markdown file under docs/, relative to the package root, sorted. */
export function markdownFiles(root = packageRoot()): string[] {
  const docs = readdirSync(path.join(root, 'docs'), { recursive: true, encoding: 'utf8' })
    .filter((name) => name.endsWith('.md'))
    .map((name) => path.join('docs', name));
  return ['README.md', ...docs.sort()];
}

/** Every block and link of README.md and docs/, and each file's anchors. */
export function readDocs(root = packageRoot()): {
  blocks: CodeBlock[];
  links: Link[];
  anchors: ReadonlyMap<string, readonly string[]>;
} {
  const files = markdownFiles(root);
  const all = files.map((file) => readMarkdown(file, readFileSync(path.join(root, file), 'utf8')));
  return {
    blocks: all.flatMap((d) => d.blocks),
    links: all.flatMap((d) => d.links),
    anchors: new Map(files.map((file, i) => [file, all[i]!.anchors])),
  };
}

type Plain = Record<string, unknown>;
const isObject = (value: unknown): value is Plain =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** `fragment` merged into `base`: objects key by key; arrays and scalars replaced. */
export function mergeFragment(base: unknown, fragment: unknown): unknown {
  if (!isObject(base) || !isObject(fragment)) return fragment;
  const merged: Plain = { ...base };
  for (const [key, value] of Object.entries(fragment)) merged[key] = mergeFragment(base[key], value);
  return merged;
}

/** The problems of one block (empty: it passes), by its info string. */
export async function blockProblems(block: CodeBlock, root = packageRoot()): Promise<string[]> {
  const [kind, ...flags] = block.info.split(/\s+/);
  if (kind === 'yaml') return yamlProblems(block.text, flags, root);
  if (kind === 'sh' || kind === 'bash') return shellProblems(block.text, false, root);
  if (kind === 'console') return shellProblems(block.text, true, root);
  if (kind === 'ts')
    return flags.length === 0 || (flags.length === 1 && flags[0] === 'run')
      ? []
      : [`ts takes only "run", got "${block.info}"`];
  if ((UNCHECKED as readonly string[]).includes(kind ?? '') && flags.length === 0) return [];
  return [
    `a code block says what it holds: yaml, yaml fragment [base=<file>], sh, bash, console, ts, ts run, ${UNCHECKED.join(', ')}; got "${block.info}"`,
  ];
}

async function yamlProblems(text: string, flags: string[], root: string): Promise<string[]> {
  let yaml = text;
  let file = path.join(root, 'pipeline.yaml');
  if (flags.length > 0) {
    const [fragment, base, ...rest] = flags;
    const baseFile = base?.startsWith('base=')
      ? base.slice('base='.length)
      : base === undefined
        ? 'pipelines/quickstart.yaml'
        : undefined;
    if (fragment !== 'fragment' || baseFile === undefined || rest.length > 0)
      return [`yaml takes "fragment" and then "base=<file>", got "yaml ${flags.join(' ')}"`];
    file = path.join(root, baseFile);
    let merged: unknown;
    try {
      merged = mergeFragment(parseYaml(readFileSync(file, 'utf8')), parseYaml(text));
    } catch (error) {
      return [`the fragment or its base ${baseFile} does not read: ${(error as Error).message}`];
    }
    yaml = stringify(merged);
  }
  const outcome = await validate({ yaml, path: file });
  return outcome.ok ? [] : outcome.diagnostics.map(formatDiagnostic);
}

/** The shell lines of a block as commands: `\` continuations joined, comments dropped; for console, the `$ ` lines only. */
export function shellCommands(text: string, console: boolean): string[] {
  const lines: string[] = [];
  let pending = '';
  for (const raw of text.split('\n')) {
    if (pending === '' && console && !raw.startsWith('$ ')) continue;
    const line = pending === '' && console ? raw.slice(2) : raw;
    if (line.trimEnd().endsWith('\\')) {
      pending += `${line.trimEnd().slice(0, -1)} `;
      continue;
    }
    lines.push(pending + line);
    pending = '';
  }
  if (pending !== '') lines.push(pending);
  return lines.filter((line) => line.trim() !== '');
}

const knownVariables = new Set([...settingsTable(), ...TEST_SUITE_VARIABLES].map((row) => row.name));

const REDIRECTIONS = new Set(['<', '>', '>>', '>&', '<&', '>|', '<(', '<<<']);

/** One shell line split into simple commands (at `&&`, `|`, `;`…), each a list of words, comments dropped. */
export function simpleCommands(line: string): string[][] {
  const commands: string[][] = [[]];
  let redirectTarget = false;
  // Variables stay as written (`$RUN`): a command is checked for its shape, not its values.
  for (const entry of parseShell(line, (name) => `$${name}`) as ParseEntry[]) {
    // The word after `<` or `>` is a file (or a placeholder such as `<repository-url>`), not a command.
    if (redirectTarget && typeof entry === 'string') redirectTarget = false;
    else if (typeof entry === 'string') commands.at(-1)!.push(entry);
    else if ('comment' in entry) break;
    else if ('op' in entry && REDIRECTIONS.has(entry.op)) redirectTarget = true;
    else if ('op' in entry && entry.op === 'glob') commands.at(-1)!.push(entry.pattern);
    else commands.push([]);
  }
  return commands.filter((words) => words.length > 0);
}

async function shellProblems(text: string, console: boolean, root: string): Promise<string[]> {
  const scripts = Object.keys(
    (JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { scripts: Plain }).scripts,
  );
  const problems: string[] = [];
  for (const line of shellCommands(text, console)) {
    for (let words of simpleCommands(line)) {
      // Leading VAR=value assignments: a TLPIPE_* one must be a variable tlpipe reads.
      while (words[0] !== undefined && /^[A-Za-z_][A-Za-z0-9_]*=/.test(words[0])) {
        const name = words[0].slice(0, words[0].indexOf('='));
        if (name.startsWith('TLPIPE_') && !knownVariables.has(name))
          problems.push(`${line}: ${name} is not a variable tlpipe reads (tlpipe --help-env lists them)`);
        words = words.slice(1);
      }
      if (words[0] === 'npx' && words[1] === 'tlpipe') words = words.slice(1);
      if (words[0] === 'tlpipe') {
        const problem = await commandLineProblem(words.slice(1));
        if (problem !== undefined) problems.push(`${line}: ${problem}`);
      } else if (words[0] === 'npm' && words[1] === 'run' && words[2] !== undefined && !scripts.includes(words[2])) {
        problems.push(`${line}: package.json has no script "${words[2]}"`);
      }
    }
  }
  return problems;
}

/**
 * Whether a relative link's file exists and, for a Markdown file, its `#anchor` is one of that
 * file's headings (`anchors` of a file, undefined when it is not Markdown the docs hold). A link to
 * a web page or a mail address is not checked.
 */
export function linkProblem(
  link: Link,
  exists: (file: string) => boolean,
  anchors: (file: string) => readonly string[] | undefined,
): string | undefined {
  if (/^[a-z][a-z0-9+.-]*:/i.test(link.target)) return undefined;
  const [pathPart = '', fragment] = link.target.replace(/\?[^#]*/, '').split('#');
  const file =
    pathPart === '' ? link.file : path.normalize(path.join(path.dirname(link.file), decodeURIComponent(pathPart)));
  if (file.startsWith('..')) return `${link.target} is outside the package`;
  if (!exists(file)) return `${link.target}: no such file (${file})`;
  const headings = fragment === undefined ? undefined : anchors(file);
  if (headings && !headings.includes(decodeURIComponent(fragment!)))
    return `${link.target}: ${file} has no heading whose anchor is #${fragment}`;
  return undefined;
}
