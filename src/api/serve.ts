import { lstat, stat } from 'node:fs/promises';
import path from 'node:path';
import { version } from '../package/package-root.js';
import { setting } from '../platform/settings.js';
import { findRun, listRuns } from '../store/find-run.js';
import { isModelFolder } from '../store/model-folder.js';
import { readRunRecord, RUN_FILE, type RunRecord } from '../store/run-record.js';
import type {
  BatchingOptions,
  ModelDescription,
  ModelLocation,
  ModelServer,
  ServeEvent,
  ServeLimits,
} from '../serve/model-server.js';
import { findExportedModel, type ModelOptions } from './load-model.js';
import { loadInput, runsRootOf } from './pipeline-input.js';
import { userErrorsAt } from './run-refs.js';
import { failed, ok, problem, type Outcome } from './types.js';
import type { ServeWorkerData } from './serve-worker.js';

export type { ServeEvent, ModelDescription } from '../serve/model-server.js';
export type { ServedAnswer } from '../serve/served-answers.js';

export interface ServeOptions extends ModelOptions {
  /** Where to listen: 127.0.0.1 unless told (0.0.0.0 or :: listens on every interface). */
  host?: string;
  /** 8080 unless told; 0 picks a free port (the server's `port` says which). */
  port?: number;
  /** The name in the routes (/v1/models/{name}:predict); default: the run's pipeline, or the model folder's name. */
  name?: string;
  /** Worker threads that run the model, each with its own copy: $TLPIPE_WORKERS unless told (cores, at most 4). */
  workers?: number;
  /** Instances in one batch at most (default 16). */
  maxBatchSize?: number;
  /** How long a lone request waits for others to batch with (default 5 ms). */
  maxLatencyMs?: number;
  /** Instances waiting at most; a request over it is answered 503 with Retry-After (default 256). */
  maxQueue?: number;
  /** A request not answered within this is answered 504 (default 30 000 ms). */
  timeoutMs?: number;
  /** A body over this is answered 413 (default 32 MiB). */
  maxBodyBytes?: number;
  /** Instances one request may hold (default 64; more: 413). */
  maxInstances?: number;
  /** Time a client has to send a whole request (default 30 000 ms; a slow client gets 408). */
  receiveTimeoutMs?: number;
  /** Connections open at once (default 1024). */
  maxConnections?: number;
  /** A folder whose image files requests may name by path; none unless given. */
  allowFiles?: string;
  /**
   * Serve the newest completed run of the pipeline named (a pipeline file, a
   * pipeline's runs folder, or `<pipeline>`), and swap to a newer one when it
   * completes. On by default for a pipeline's runs folder.
   */
  follow?: boolean;
  /** How often a followed pipeline's runs are looked at (default 1000 ms). */
  followIntervalMs?: number;
  /** Each request answered, each swap, each failure: for a log. The API prints nothing. */
  onEvent?: (event: ServeEvent | FollowEvent) => void;
}

/** What following a pipeline does: a newer run swapped in, or one that could not be. */
export type FollowEvent =
  { type: 'swapped'; from?: string; to: string; ms: number } | { type: 'swap-failed'; run: string; message: string };

/** A model answering over HTTP. */
export interface Server {
  /** `http://127.0.0.1:8080`: where it listens. */
  url: string;
  host: string;
  port: number;
  /** The model answering now (its run, when it has one). */
  model(): ModelDescription;
  /** Stops accepting requests, answers every one already accepted, and stops the workers. */
  close(): Promise<void>;
}

const DEFAULTS = {
  host: '127.0.0.1',
  port: 8080,
  maxBatchSize: 16,
  maxLatencyMs: 5,
  maxQueue: 256,
  timeoutMs: 30_000,
  maxBodyBytes: 32 * 2 ** 20,
  maxInstances: 64,
  receiveTimeoutMs: 30_000,
  maxConnections: 1024,
  followIntervalMs: 1000,
};
const WORKER_START_TIMEOUT_MS = 120_000;

/**
 * Serves a model over HTTP (`tlpipe serve`): a run, a model folder, or the
 * newest completed run of a pipeline, followed to newer ones when asked.
 * Its answers are `predict`'s: the model opens in worker threads exactly as
 * loadModel opens it, and each batch goes through the task's own methods.
 */
export async function serve(ref: string, options: ServeOptions = {}): Promise<Outcome<Server>> {
  return userErrorsAt(ref, async () => {
    const limits: ServeLimits = {
      bodyLimitBytes: options.maxBodyBytes ?? DEFAULTS.maxBodyBytes,
      maxInstances: options.maxInstances ?? DEFAULTS.maxInstances,
      timeoutMs: options.timeoutMs ?? DEFAULTS.timeoutMs,
      receiveTimeoutMs: options.receiveTimeoutMs ?? DEFAULTS.receiveTimeoutMs,
      maxConnections: options.maxConnections ?? DEFAULTS.maxConnections,
    };
    const batching: BatchingOptions = {
      maxBatchSize: options.maxBatchSize ?? DEFAULTS.maxBatchSize,
      maxLatencyMs: options.maxLatencyMs ?? DEFAULTS.maxLatencyMs,
      maxQueue: options.maxQueue ?? DEFAULTS.maxQueue,
    };
    const bad = badNumbers({ ...limits, ...batching, workers: options.workers ?? 1, port: options.port ?? 0 });
    if (bad) return failed([problem(ref, bad, 'each limit is a whole number of at least 1 (the port: 0–65535)')]);
    // A request the queue can never hold would be told to try again for ever.
    if (limits.maxInstances > batching.maxQueue)
      return failed([
        problem(
          ref,
          `maxInstances (${limits.maxInstances}) is more than maxQueue (${batching.maxQueue}): a request that big would never fit in the queue`,
          'raise maxQueue (--max-queue) or lower maxInstances (--max-instances)',
        ),
      ]);
    if (
      options.allowFiles !== undefined &&
      !(await stat(options.allowFiles).then(
        (s) => s.isDirectory(),
        () => false,
      ))
    )
      return failed([
        problem(options.allowFiles, 'not a folder', 'allowFiles names the folder requests may read images from'),
      ]);
    const source = await sourceOf(ref, options);
    if (!source.ok) return source.outcome;
    const first = await source.newest();
    if (!first.ok) return first.outcome;
    const onEvent = options.onEvent ?? (() => {});
    // Loaded here, not with the library: a program that never serves never loads the HTTP server.
    const { startModelServer } = await import('../serve/model-server.js');
    let server;
    try {
      server = await startModelServer(first.location, {
        host: options.host ?? DEFAULTS.host,
        port: options.port ?? DEFAULTS.port,
        limits,
        batching,
        workers: {
          script: new URL('./serve-worker.js', import.meta.url),
          count: options.workers ?? setting('TLPIPE_WORKERS'),
          data: (location): ServeWorkerData => ({ modelDir: location.modelDir, backend: options.backend ?? 'auto' }),
          startTimeoutMs: WORKER_START_TIMEOUT_MS,
        },
        ...(options.allowFiles !== undefined ? { allowFiles: path.resolve(options.allowFiles) } : {}),
        version,
        onEvent,
      });
    } catch (error) {
      const listen = error as NodeJS.ErrnoException;
      if (['EADDRINUSE', 'EACCES', 'EADDRNOTAVAIL', 'ENOTFOUND', 'EAI_AGAIN'].includes(listen.code ?? ''))
        return failed([
          problem(
            ref,
            `cannot listen on ${options.host ?? DEFAULTS.host}:${options.port ?? DEFAULTS.port}: ${listen.code}`,
            'choose another --port (0 picks a free one) or --host',
          ),
        ]);
      return failed([problem(first.location.modelDir, `the model cannot be served: ${(error as Error).message}`)]);
    }
    const following = source.follows ? follow(server, source.newest, options, onEvent) : undefined;
    const started = server;
    return ok<Server>({
      url: started.url,
      host: started.host,
      port: started.port,
      model: () => started.model(),
      close: async () => {
        // Requests stop being accepted at once; a swap under way is abandoned (its model closed as it opens), not waited for.
        following?.stop();
        await started.close();
        await following?.settled();
      },
    });
  });
}

/** Where the model to serve comes from: always the same one, or the newest completed run of a pipeline. */
type Source = {
  follows: boolean;
  newest: () => Promise<{ ok: true; location: ModelLocation } | { ok: false; outcome: Outcome<never> }>;
};

async function sourceOf(
  ref: string,
  options: ServeOptions,
): Promise<({ ok: true } & Source) | { ok: false; outcome: Outcome<never> }> {
  const pipeline = await pipelineOf(ref, options);
  if (pipeline) {
    if (!pipeline.ok) return pipeline;
    const { runsRoot, name } = pipeline;
    return {
      ok: true,
      follows: options.follow ?? pipeline.followsByDefault,
      newest: async () => {
        const found = await findRun(runsRoot, name);
        if (!found.ok) return { ok: false, outcome: failed([problem(ref, found.message, found.hint)]) };
        return {
          ok: true,
          location: runLocation(options.name ?? name, path.join(found.dir, 'model'), found.dir, found.record),
        };
      },
    };
  }
  if (options.follow)
    return {
      ok: false,
      outcome: failed([
        problem(
          ref,
          'follow serves the newest run of a pipeline; this names one model',
          'give the pipeline file, or runs/<pipeline>',
        ),
      ]),
    };
  const found = await findExportedModel(ref, options);
  if (!found.ok) return found;
  const record = found.runDir ? await readRunRecord(found.runDir).catch(() => undefined) : undefined;
  const name = options.name ?? record?.pipeline ?? path.basename(found.modelDir);
  const location = runLocation(name, found.modelDir, found.runDir, record);
  return { ok: true, follows: false, newest: async () => ({ ok: true, location }) };
}

/** The pipeline a ref names to follow: a pipeline file (its `name`), or a pipeline's folder of runs. */
async function pipelineOf(
  ref: string,
  options: ServeOptions,
): Promise<
  | { ok: true; runsRoot: string; name: string; followsByDefault: boolean }
  | { ok: false; outcome: Outcome<never> }
  | undefined
> {
  const stats = await stat(ref).catch(() => undefined);
  if (stats?.isFile() && /\.ya?ml$/i.test(ref)) {
    const loaded = loadInput(ref, options);
    if (!loaded.ok) return { ok: false, outcome: failed(loaded.diagnostics) };
    return { ok: true, runsRoot: runsRootOf(options), name: loaded.value.spec.name, followsByDefault: false };
  }
  if (!stats?.isDirectory() || (await isModelFolder(ref))) return undefined;
  // A folder that holds runs: not a dataset's folder that happens to share a pipeline's name.
  if ((await listRuns(path.dirname(path.resolve(ref)), path.basename(path.resolve(ref)))).length === 0)
    return undefined;
  if (
    await lstat(path.join(ref, RUN_FILE)).then(
      () => true,
      () => false,
    )
  )
    return undefined;
  return {
    ok: true,
    runsRoot: path.dirname(path.resolve(ref)),
    name: path.basename(path.resolve(ref)),
    followsByDefault: true,
  };
}

function runLocation(
  name: string,
  modelDir: string,
  runDir: string | undefined,
  record: RunRecord | undefined,
): ModelLocation {
  return {
    name,
    modelDir,
    ...(runDir && record
      ? {
          run: {
            pipeline: record.pipeline,
            id: record.id,
            dir: runDir,
            fingerprint: record.fingerprint,
            ...(record.endedAt ? { endedAt: record.endedAt } : {}),
          },
        }
      : {}),
  };
}

/**
 * Looks for a newer completed run every `followIntervalMs` and swaps it in;
 * one that cannot be opened is said once, and the server goes on with the
 * model it has. Returns how to stop, which waits for a swap under way.
 */
function follow(
  server: ModelServer,
  newest: Source['newest'],
  options: ServeOptions,
  onEvent: (event: FollowEvent) => void,
): { stop: () => void; settled: () => Promise<void> } {
  let stopped = false;
  let tried = server.model().run?.dir;
  let looking: Promise<void> = Promise.resolve();
  const look = async (): Promise<void> => {
    const found = await newest().catch(() => undefined);
    if (stopped || !found?.ok || !found.location.run || found.location.run.dir === tried) return;
    tried = found.location.run.dir;
    const from = server.model().run?.id;
    const started = performance.now();
    try {
      await server.swap(found.location);
      onEvent({
        type: 'swapped',
        ...(from ? { from } : {}),
        to: found.location.run.id,
        ms: Math.round(performance.now() - started),
      });
    } catch (error) {
      if (!stopped) onEvent({ type: 'swap-failed', run: found.location.run.id, message: (error as Error).message });
    }
  };
  const timer = setInterval(() => {
    // A look that throws (a listener's error, say) is one missed look, not the end of following.
    looking = looking.then(look).catch(() => {});
  }, options.followIntervalMs ?? DEFAULTS.followIntervalMs);
  return {
    stop: () => {
      stopped = true;
      clearInterval(timer);
    },
    settled: () => looking,
  };
}

/** The first limit that is not a whole number in its range, said. */
function badNumbers(values: Record<string, number>): string | undefined {
  for (const [key, value] of Object.entries(values)) {
    const min = key === 'port' ? 0 : 1;
    const max = key === 'port' ? 65535 : Number.MAX_SAFE_INTEGER;
    if (!Number.isInteger(value) || value < min || value > max)
      return `${key} must be a whole number from ${min} to ${max}, got ${value}`;
  }
  return undefined;
}
