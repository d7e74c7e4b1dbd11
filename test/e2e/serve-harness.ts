/**
 * Helpers for the end-to-end tests of `tlpipe serve`: start the real CLI
 * with `--json --port 0`, learn its address from the `listening` line,
 * speak HTTP to it with Node's own fetch, and read its log, its metrics and
 * `tlpipe predict --json`'s answers to compare with.
 */
import { readFileSync } from 'node:fs';
import { startCli, type StartedCli } from './cli-harness.js';

/** Did not hang: how long a server may take to open its model and listen (generous: two suites share 2 cores). */
export const SERVE_START_BOUND_MS = 120_000;
/** Did not hang: the bound on one HTTP request a test waits for. */
export const REQUEST_BOUND_MS = 120_000;

/** One JSON line of `tlpipe serve --json`'s stdout: `listening`, `request`, `swapped`, `closed`, … */
export type ServeLogLine = { type: string; [key: string]: unknown };

/** A `tlpipe serve` process listening on 127.0.0.1. */
export interface ServeProcess {
  /** `http://127.0.0.1:<port>`, from the `listening` line. */
  url: string;
  /** The `listening` line itself (model, task, run). */
  listening: ServeLogLine;
  cli: StartedCli;
  /** Every JSON line of stdout so far, in order. */
  log(): ServeLogLine[];
  /**
   * Sends `signal` (SIGTERM unless told) and waits for the process to end:
   * its exit code, or the signal's name; killed and failed past `timeoutMs`.
   * Safe to call twice, or after it ended.
   */
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<number | NodeJS.Signals>;
}

/**
 * Starts `tlpipe serve <ref> --json --port 0 ...flags` in `cwd` and waits for
 * its `listening` line. Fails, with what it printed, if the process ends or
 * does not listen within the bound. The process is tracked by cli-harness,
 * so the file's end kills it even if a test forgot to stop it.
 */
export async function startServe(
  ref: string,
  cwd: string,
  flags: readonly string[] = [],
  options: { env?: Record<string, string>; timeoutMs?: number } = {},
): Promise<ServeProcess> {
  const cli = startCli(['serve', ref, '--json', '--port', '0', ...flags], cwd, options.env ? { env: options.env } : {});
  const log = (): ServeLogLine[] =>
    cli
      .stdout()
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as ServeLogLine);
  let exited = false;
  cli.child.once('exit', () => (exited = true));
  const listening = await new Promise<ServeLogLine>((resolve, reject) => {
    const bound = setTimeout(() => {
      cli.child.kill('SIGKILL');
      reject(new Error(`tlpipe serve ${ref} did not listen within ${SERVE_START_BOUND_MS} ms:\n${cli.stderr()}`));
    }, options.timeoutMs ?? SERVE_START_BOUND_MS);
    const look = (): void => {
      const line = log().find((l) => l.type === 'listening');
      if (line) {
        clearTimeout(bound);
        cli.child.stdout!.off('data', look);
        resolve(line);
      }
    };
    cli.child.stdout!.on('data', look);
    cli.child.once('exit', (code, signal) => {
      clearTimeout(bound);
      reject(new Error(`tlpipe serve ${ref} ended (${signal ?? code}) before it listened:\n${cli.stderr()}`));
    });
    look();
  });
  let stopping: Promise<number | NodeJS.Signals> | undefined;
  return {
    url: String(listening['url']),
    listening,
    cli,
    log,
    stop(signal = 'SIGTERM', timeoutMs = 60_000) {
      if (!exited && stopping === undefined) cli.child.kill(signal);
      // Past the bound cli-harness kills it and the wait fails, saying what it printed last.
      stopping ??= cli.exited(timeoutMs);
      return stopping;
    },
  };
}

/** An HTTP answer: status, headers, the body (parsed when it is JSON), and how long it took. */
export interface HttpAnswer<T = any> {
  status: number;
  headers: Headers;
  body: T;
  ms: number;
}

async function request(url: string, init: RequestInit = {}): Promise<HttpAnswer> {
  const started = performance.now();
  const response = await fetch(url, { signal: AbortSignal.timeout(REQUEST_BOUND_MS), ...init });
  const text = await response.text();
  const json = (response.headers.get('content-type') ?? '').includes('json');
  return {
    status: response.status,
    headers: response.headers,
    body: json ? JSON.parse(text) : text,
    ms: performance.now() - started,
  };
}

/** GET `url`; a JSON body parsed, any other as text. */
export function get(url: string): Promise<HttpAnswer> {
  return request(url);
}

/** POST `body` as JSON. */
export function postJson(url: string, body: unknown, init: RequestInit = {}): Promise<HttpAnswer> {
  return request(url, {
    ...init,
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
}

/** POST a body as it is, with the content type given (a malformed body, say). */
export function postRaw(url: string, body: string | Uint8Array, contentType: string): Promise<HttpAnswer> {
  return request(url, { method: 'POST', headers: { 'content-type': contentType }, body });
}

/** An image file of a multipart upload. */
export interface UploadedFile {
  /** The file name the part carries. */
  name: string;
  bytes: Uint8Array;
  /** image/png unless told. */
  type?: string;
}

/** POST the files as multipart/form-data, one file part each (fetch writes the boundary). */
export function postMultipart(url: string, files: readonly UploadedFile[]): Promise<HttpAnswer> {
  const form = new FormData();
  files.forEach((file, i) =>
    form.append(`image${i}`, new Blob([file.bytes], { type: file.type ?? 'image/png' }), file.name),
  );
  return request(url, { method: 'POST', body: form });
}

/** `{"b64": …}`: a file as a TF Serving instance. */
export const b64Instance = (file: string): { b64: string } => ({ b64: readFileSync(file).toString('base64') });

/** One line of `tlpipe predict --json`. */
export interface PredictLine {
  file: string;
  top: { label: string; probability: number }[];
  segmentation?: { fractions: Record<string, number>; mask?: string };
  anomaly?: {
    score: number;
    threshold: number;
    anomalous: boolean;
    heat: { grid: [number, number]; values: number[] };
  };
}

/** `tlpipe predict --json`'s stdout, line by line. */
export const predictLines = (stdout: string): PredictLine[] =>
  stdout
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as PredictLine);

/** Every class's probability from a predict line (predict run with --top at least the number of classes). */
export const probabilitiesOf = (line: PredictLine): Record<string, number> =>
  Object.fromEntries(line.top.map((t) => [t.label, t.probability]));

/** The samples of one metric in Prometheus' text format: labels and value of each `name{…} value` line. */
export function metricSamples(text: string, name: string): { labels: Record<string, string>; value: number }[] {
  const samples: { labels: Record<string, string>; value: number }[] = [];
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const labels = Object.fromEntries(
      [...(match[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1]!, m[2]!]),
    );
    samples.push({ labels, value: Number(match[3]) });
  }
  return samples;
}

/** Polls `check` every `everyMs` until it holds; fails after `timeoutMs`, saying what was awaited. */
export async function waitFor(
  what: string,
  check: () => boolean | Promise<boolean>,
  timeoutMs = 60_000,
  everyMs = 20,
): Promise<void> {
  const until = performance.now() + timeoutMs;
  while (!(await check())) {
    if (performance.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}

/** Instances waiting for a batch, as GET /metrics says. */
export async function queueDepth(url: string): Promise<number> {
  const metrics = await get(`${url}/metrics`);
  return metricSamples(metrics.body as string, 'tlpipe_serve_queue_depth')[0]?.value ?? NaN;
}
