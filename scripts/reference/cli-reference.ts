/**
 * docs/reference/cli.md, written from what the CLI parses: the commander
 * program built from the command table (src/cli/commands.ts), so every
 * command, argument and option is listed as `tlpipe <command> --help` shows
 * it, then the TLPIPE_* environment variables (src/platform/settings.ts) and
 * the exit codes. Anything without a description is an error.
 */
import { markdownCell } from './markdown-text.js';
import type { Command } from 'commander';

export interface SettingLine {
  name: string;
  default: string;
  description: string;
}

export interface CliSources {
  program: Command;
  /** The TLPIPE_* variables by group heading, in order. */
  settings: { heading: string; rows: readonly SettingLine[] }[];
  exitCodes: Readonly<Record<string, number>>;
}

/** What each exit code means; a code added to EXIT without a line here is an error. */
const EXIT_MEANINGS: Readonly<Record<string, string>> = {
  ok: 'success',
  failed: 'an invalid pipeline, a failed run or a refused input (the message says which)',
  usage:
    'a usage error: an unknown command or option, a missing argument, a TLPIPE_* variable with a value it does not take',
  interrupted: 'interrupted (Ctrl-C or SIGTERM); a run is marked interrupted and keeps its checkpoints',
};

const undocumented = (what: string): Error =>
  new Error(`${what} has no description: give it one in src/cli/commands.ts (or program.ts), then run npm run docs`);

function commandSection(command: Command, parent: Command): string {
  const help = parent.createHelp();
  const name = command.name();
  const summary = command.summary() || command.description().split('\n')[0]!;
  if (!summary.trim()) throw undocumented(`the command ${name}`);
  const args = help.visibleArguments(command);
  const options = help.visibleOptions(command);
  const lines = [
    `## \`tlpipe ${name}\``,
    '',
    '```text',
    `tlpipe ${help.commandUsage(command).replace(/^tlpipe /, '')}`,
    '```',
    '',
  ];
  // The command's description repeats its summary as its first paragraph; the rest is the detail.
  const detail = command.description().split('\n\n').slice(1).join('\n\n').trim();
  lines.push(markdownCell(`${summary[0]!.toUpperCase()}${summary.slice(1)}.`), '');
  if (detail) lines.push(markdownCell(detail), '');
  if (args.length > 0) {
    lines.push('| argument | description |', '|---|---|');
    for (const arg of args) {
      if (!arg.description.trim()) throw undocumented(`the argument ${arg.name()} of ${name}`);
      const term = `${arg.name()}${arg.variadic ? '...' : ''}`;
      lines.push(`| \`${arg.required ? `<${term}>` : `[${term}]`}\` | ${markdownCell(arg.description)} |`);
    }
    lines.push('');
  }
  lines.push('| option | description |', '|---|---|');
  for (const option of options) {
    if (!option.description.trim()) throw undocumented(`the option ${option.flags} of ${name}`);
    const choices = option.argChoices ? `; one of: ${option.argChoices.map((c) => `\`${c}\``).join(', ')}.` : '';
    lines.push(`| \`${option.flags}\` | ${markdownCell(option.description)}${choices} |`);
  }
  return lines.join('\n');
}

export function cliReference(sources: CliSources): string {
  const { program } = sources;
  const help = program.createHelp();
  const commands = help.visibleCommands(program).filter((c) => c.name() !== 'help');
  const helpCommand = help.visibleCommands(program).find((c) => c.name() === 'help');
  const index = [
    '| command | what it does |',
    '|---|---|',
    ...commands.map(
      (c) => `| [\`${c.name()}\`](#tlpipe-${c.name()}) | ${markdownCell(c.summary() || c.description())} |`,
    ),
    ...(helpCommand ? [`| \`help [command]\` | ${markdownCell(helpCommand.description())} |`] : []),
  ];
  const globalOptions = [
    '| option | description |',
    '|---|---|',
    ...help.visibleOptions(program).map((o) => {
      if (!o.description.trim()) throw undocumented(`the option ${o.flags}`);
      return `| \`${o.flags}\` | ${markdownCell(o.description)} |`;
    }),
  ];
  const settings = sources.settings.flatMap(({ heading, rows }) => [
    `### ${heading}`,
    '',
    '| variable | default | what it sets |',
    '|---|---|---|',
    ...rows.map((r) => {
      if (!r.description.trim()) throw undocumented(`the environment variable ${r.name}`);
      return `| \`${r.name}\` | ${markdownCell(r.default)} | ${markdownCell(r.description)} |`;
    }),
    '',
  ]);
  const exitCodes = [
    '| code | meaning |',
    '|---|---|',
    ...Object.entries(sources.exitCodes).map(([key, code]) => {
      const meaning = EXIT_MEANINGS[key];
      if (!meaning)
        throw new Error(`the exit code ${key} (${code}) has no meaning in scripts/reference/cli-reference.ts`);
      return `| ${code} | ${meaning} |`;
    }),
  ];
  return `${[
    '# Command-line reference',
    '',
    '<!-- Written by `npm run docs` from src/cli/commands.ts, src/cli/program.ts and src/platform/settings.ts; test/scripts/reference.test.ts fails when it is stale. Do not edit. -->',
    '',
    `${markdownCell(program.description())} Every command below is also \`tlpipe <command> --help\` and \`tlpipe help <command>\`; with \`npm i -D\`, run them as \`npx tlpipe …\`.`,
    '',
    ...index,
    '',
    'Options of `tlpipe` itself:',
    '',
    ...globalOptions,
    '',
    ...commands.flatMap((c) => [commandSection(c, program), '']),
    '## Environment variables',
    '',
    'tlpipe reads these (`tlpipe --help-env` lists them). Unset or empty means the default; a value a variable does not take is an error (exit 2) before a command starts.',
    '',
    ...settings,
    '## Exit codes',
    '',
    ...exitCodes,
  ]
    .join('\n')
    .trimEnd()}\n`;
}
