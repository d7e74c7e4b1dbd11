import type { FollowEvent, ServeEvent, ServeOptions } from '../api/index.js';
import { failure, runsOption, usage, type CommandArgs } from './commands.js';
import { EXIT, printLine, whileRunning, type Printer } from './output.js';
import { terminalLines } from './terminal-text.js';

/** `--name value` options that are whole numbers, and the ServeOptions key each sets. */
type NumberKey =
  'port' | 'workers' | 'maxBatchSize' | 'maxLatencyMs' | 'maxQueue' | 'timeoutMs' | 'maxBodyBytes' | 'maxInstances';
const NUMBER_OPTIONS: readonly [flag: string, key: NumberKey, scale?: number][] = [
  ['port', 'port'],
  ['workers', 'workers'],
  ['maxBatchSize', 'maxBatchSize'],
  ['maxLatencyMs', 'maxLatencyMs'],
  ['maxQueue', 'maxQueue'],
  ['timeoutMs', 'timeoutMs'],
  ['maxBodyMb', 'maxBodyBytes', 2 ** 20],
  ['maxInstances', 'maxInstances'],
];

/**
 * `tlpipe serve`: serves until SIGINT or SIGTERM, then stops accepting,
 * answers every request it had accepted, and exits 0. One line per request
 * on stderr (with --json, one JSON object per line on stdout).
 */
export async function serveCommand({ positional: [ref], options }: CommandArgs, print: Printer): Promise<number> {
  const numbers: Partial<Record<NumberKey, number>> = {};
  for (const [flag, key, scale] of NUMBER_OPTIONS) {
    if (options[flag] === undefined) continue;
    const value = Number(options[flag]);
    const cased = flag.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
    const [min, max] = flag === 'port' ? [0, 65535] : [scale ? 0 : 1, Number.MAX_SAFE_INTEGER];
    if (
      !Number.isFinite(value) ||
      (scale === undefined && !Number.isInteger(value)) ||
      value < min ||
      value > max ||
      (scale && value <= 0)
    )
      return usage(
        `--${cased} must be ${scale ? 'a number above 0' : `a whole number from ${min}${max === 65535 ? ' to 65535' : ' up'}`}, got '${String(options[flag])}'`,
        print,
      );
    numbers[key] = scale ? Math.round(value * scale) : value;
  }
  const json = options['json'] === true;
  const log = (event: ServeEvent | FollowEvent): void => {
    if (json) return printLine(print.out, JSON.stringify({ time: new Date().toISOString(), ...event }));
    printLine(print.err, terminalLines(eventLine(event)));
  };
  const { serve } = await import('../api/index.js');
  return whileRunning(
    async (signal) => {
      const served = await serve(ref!, {
        ...numbers,
        ...(options['host'] !== undefined ? { host: String(options['host']) } : {}),
        ...(options['name'] !== undefined ? { name: String(options['name']) } : {}),
        ...(options['allowFiles'] !== undefined ? { allowFiles: String(options['allowFiles']) } : {}),
        ...(options['follow'] ? { follow: true } : {}),
        ...(options['allowIncomplete'] ? { allowIncomplete: true } : {}),
        ...(options['backend'] ? { backend: options['backend'] as ServeOptions['backend'] } : {}),
        ...runsOption(options),
        onEvent: log,
      });
      if (!served.ok) return failure(served.diagnostics, print, json, options);
      const server = served.value;
      const model = server.model();
      const listening = {
        type: 'listening',
        url: server.url,
        model: model.name,
        task: model.task,
        ...(model.run ? { run: model.run.id } : {}),
      };
      if (json) printLine(print.out, JSON.stringify({ time: new Date().toISOString(), ...listening }));
      else
        printLine(
          print.err,
          terminalLines(
            `serving ${model.name} (${model.task}${model.run ? `, run ${model.run.pipeline}/${model.run.id}` : ''}) at ${server.url}\n` +
              `  POST ${server.url}/v1/models/${model.name}:predict   GET ${server.url}/v1/models/${model.name}   /healthz /readyz /metrics\n` +
              '  Ctrl-C to stop (requests already accepted are answered first)',
          ),
        );
      // A signal while the model was opening has aborted already, and an abort listener added now would never hear it.
      if (!signal.aborted)
        await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
      await server.close();
      if (json) printLine(print.out, JSON.stringify({ time: new Date().toISOString(), type: 'closed' }));
      else printLine(print.err, 'stopped: every accepted request was answered');
      return EXIT.ok;
    },
    (signal) =>
      printLine(
        print.err,
        `\n${signal}: no longer accepting; answering the requests in flight (again to quit at once)`,
      ),
  );
}

function eventLine(event: ServeEvent | FollowEvent): string {
  switch (event.type) {
    case 'request':
      return `${event.method} ${event.url} ${event.status} ${event.ms} ms${event.instances !== undefined ? ` ${event.instances} instance${event.instances === 1 ? '' : 's'}` : ''}${event.run ? ` run ${event.run}` : ''}`;
    case 'internal-error':
      return `internal error answering ${event.id} (a bug; please report it): ${event.message}`;
    case 'swapped':
      return `now serving run ${event.to}${event.from ? ` (was ${event.from})` : ''}, opened in ${event.ms} ms`;
    case 'swap-failed':
      return `run ${event.run} completed but cannot be served, so the model before it goes on: ${event.message}`;
  }
}
