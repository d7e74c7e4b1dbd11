/**
 * `tlpipe serve` under load (issue 26): the quickstart's model (MobileNetV2
 * cut at block_13_expand_relu, 64×64, ten digits) served by `serve()` on
 * 127.0.0.1, driven by autocannon with 1, 8 and 32 concurrent clients, one
 * real MNIST test digit (PNG, base64) per request, rotating through the
 * set. Beside it, the same encoded digits through `loadModel().classify` in
 * this process, in batches of the server's size: the time per image with no
 * HTTP, no JSON and no worker threads. Prints requests/s, p50/p99 latency,
 * the server's time per image over the in-process one (the issue aims at
 * ≤ 1.2× with 32 clients), the batch sizes the server formed in each phase
 * (from its /metrics), where the server's CPU went (its event loop: HTTP,
 * JSON, base64, batching; its workers: decoding and the model) beside the
 * in-process CPU per image, and the machine's load at start and end.
 * autocannon runs in a child process, so the CPU counted here is the
 * server's alone (the load generator's is printed apart: on a small
 * machine it competes with the server for the same cores).
 *
 *   npm run bench:serve -- [--run <run folder>] [--runs runs/bench-serve] [--duration 10]
 *     [--images 256] [--workers n] [--max-batch-size 16] [--max-latency-ms 5]
 *     [--connections 1,8,32] [--repeats 3] [--backend auto]
 *
 * Without --run (or $TLPIPE_BENCH_RUN) it serves the newest completed
 * quickstart run under --runs, training one first (2 epochs) when there is none.
 */
import { execFileSync, spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { loadModel, serve } from '../src/api/index.js';
import { mnistFiles, readIdxDataset } from '../src/engine/data/idx-dataset.js';
import type { BackendName } from '../src/format/types.js';
import { setting } from '../src/platform/settings.js';
import { findRun } from '../src/store/find-run.js';

const { values } = parseArgs({
  options: {
    run: { type: 'string', default: process.env.TLPIPE_BENCH_RUN ?? '' },
    runs: { type: 'string', default: 'runs/bench-serve' },
    duration: { type: 'string', default: '10' },
    images: { type: 'string', default: '256' },
    workers: { type: 'string', default: '' },
    'max-batch-size': { type: 'string', default: '16' },
    'max-latency-ms': { type: 'string', default: '5' },
    connections: { type: 'string', default: '1,8,32' },
    repeats: { type: 'string', default: '3' },
    backend: { type: 'string', default: 'auto' },
    // Internal: this file run as the load generator (a child process): autocannon's options on stdin, its result on stdout.
    'load-generator': { type: 'boolean', default: false },
  },
});

const settings = {
  durationS: Number(values.duration),
  images: Number(values.images),
  workers: values.workers ? Number(values.workers) : setting('TLPIPE_WORKERS'),
  maxBatchSize: Number(values['max-batch-size']),
  maxLatencyMs: Number(values['max-latency-ms']),
  connections: values.connections.split(',').map(Number),
  repeats: Number(values.repeats),
  backend: values.backend as BackendName,
};

const CLI = path.resolve(import.meta.dirname, '../src/cli/main.js');
const PIPELINE = path.resolve(import.meta.dirname, '../../pipelines/quickstart.yaml');

/** The little of autocannon's API and result used here (it ships no types). */
interface AutocannonResult {
  duration: number;
  errors: number;
  timeouts: number;
  non2xx: number;
  '2xx': number;
  latency: { p50: number; p99: number; average: number };
  requests: { average: number; total: number };
}
type Autocannon = (options: Record<string, unknown>) => Promise<AutocannonResult>;

/** The load generator's side: autocannon with the options read from stdin; prints its result and the CPU it used. */
async function generateLoad(): Promise<void> {
  const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon;
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  const cpu = process.cpuUsage();
  const result = await autocannon(JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>);
  const used = process.cpuUsage(cpu);
  process.stdout.write(JSON.stringify({ result, cpuMs: (used.user + used.system) / 1000 }));
}

/** One phase of load from a child process, so its CPU is not counted as the server's, nor its event loop shared. */
function loadFromChild(options: Record<string, unknown>): Promise<{ result: AutocannonResult; cpuMs: number }> {
  const child = spawn(process.execPath, [import.meta.filename, '--load-generator'], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const out: Buffer[] = [];
  child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
  child.stdin.end(JSON.stringify(options));
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => {
      if (code !== 0) return reject(new Error(`the load generator exited with code ${code}`));
      resolve(JSON.parse(Buffer.concat(out).toString('utf8')) as { result: AutocannonResult; cpuMs: number });
    });
  });
}

/** The run to serve: the one given, or the newest completed quickstart run under --runs (trained when there is none). */
async function quickstartRun(): Promise<string> {
  if (values.run) return path.resolve(values.run);
  const found = await findRun(values.runs, 'quickstart');
  if (found.ok) return found.dir;
  console.log(`no completed quickstart run in ${values.runs}: training one (2 epochs)…`);
  execFileSync(
    process.execPath,
    [CLI, 'run', PIPELINE, '--runs', values.runs, '--set', 'train.stages[0].epochs=2', '--quiet'],
    { stdio: 'inherit' },
  );
  const trained = await findRun(values.runs, 'quickstart');
  if (!trained.ok) throw new Error(`training left no completed run: ${trained.message}`);
  return trained.dir;
}

/** The first `count` MNIST test digits, each encoded as a PNG file would hold it. */
async function mnistPngs(count: number): Promise<{ name: string; bytes: Buffer }[]> {
  const test = (await readIdxDataset(mnistFiles())).test!;
  const indexes = Array.from({ length: count }, (_, i) => i);
  const pixels = await test.pixels(indexes);
  const size = pixels.height * pixels.width * pixels.channels;
  return Promise.all(
    indexes.map(async (i) => ({
      name: `t10k-${i}.png`,
      bytes: await sharp(Buffer.from(pixels.data.subarray(i * size, (i + 1) * size)), {
        raw: { width: pixels.width, height: pixels.height, channels: pixels.channels },
      })
        .png()
        .toBuffer(),
    })),
  );
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** The CPU this process (every thread) used while `work` ran, and how busy its event loop was. */
async function withCpu<T>(
  work: () => Promise<T>,
): Promise<{ value: T; wallMs: number; cpuMs: number; loopBusyMs: number }> {
  const cpu = process.cpuUsage();
  const loop = performance.eventLoopUtilization();
  const started = performance.now();
  const value = await work();
  const wallMs = performance.now() - started;
  const used = process.cpuUsage(cpu);
  const loopBusyMs = performance.eventLoopUtilization(loop).active;
  return { value, wallMs, cpuMs: (used.user + used.system) / 1000, loopBusyMs };
}

/** The batch-size histogram's buckets (cumulative, by upper bound), sum and count, from /metrics. */
interface BatchSizes {
  buckets: Map<string, number>;
  sum: number;
  count: number;
}
/** From the server's /metrics: the batch sizes so far, and the predict route's answers and their summed latency. */
async function serverMetrics(
  url: string,
): Promise<{ batchSizes: BatchSizes; predictCount: number; predictSeconds: number }> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const batchSizes: BatchSizes = { buckets: new Map(), sum: 0, count: 0 };
  let predictCount = 0;
  let predictSeconds = 0;
  for (const line of text.split('\n')) {
    const bucket = /^tlpipe_serve_batch_size_bucket\{le="([^"]+)"\} (\S+)/.exec(line);
    if (bucket) batchSizes.buckets.set(bucket[1]!, Number(bucket[2]));
    else if (line.startsWith('tlpipe_serve_batch_size_sum ')) batchSizes.sum = Number(line.split(' ')[1]);
    else if (line.startsWith('tlpipe_serve_batch_size_count ')) batchSizes.count = Number(line.split(' ')[1]);
    else if (/^tlpipe_serve_request_duration_seconds_sum\{route="\/v1\/models\/:call"\}/.test(line))
      predictSeconds = Number(line.split(' ')[1]);
    else if (/^tlpipe_serve_request_duration_seconds_count\{route="\/v1\/models\/:call"\}/.test(line))
      predictCount = Number(line.split(' ')[1]);
  }
  return { batchSizes, predictCount, predictSeconds };
}

/** The batches formed between two readings: count, mean size, and how many fell in each bucket (size ≤ le, > the bucket before). */
function batchesBetween(before: BatchSizes, after: BatchSizes): { count: number; mean: number; spread: string } {
  const count = after.count - before.count;
  let below = 0;
  const spread: string[] = [];
  let lower = 0;
  for (const [le, cumulative] of after.buckets) {
    const inBucket = cumulative - (before.buckets.get(le) ?? 0) - below;
    below += inBucket;
    if (inBucket > 0) {
      const range = le === '+Inf' ? `>${lower}` : Number(le) === lower + 1 ? le : `${lower + 1}-${le}`;
      spread.push(`${range}:${inBucket}`);
    }
    if (le !== '+Inf') lower = Number(le);
  }
  return { count, mean: count > 0 ? (after.sum - before.sum) / count : 0, spread: spread.join(' ') };
}

const loadavg = (): string =>
  os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');
const pad = (s: string | number, n: number): string => String(s).padStart(n);

async function main(): Promise<void> {
  const started = performance.now();
  const loadAtStart = loadavg();
  console.log(
    `serve-throughput: ${os.cpus().length} cores (${os.cpus()[0]?.model ?? '?'}), node ${process.version}, load at start ${loadAtStart}`,
  );
  const run = await quickstartRun();
  const images = await mnistPngs(settings.images);
  const meanBytes = images.reduce((n, i) => n + i.bytes.length, 0) / images.length;
  console.log(
    `run ${path.relative(process.cwd(), run)}; ${images.length} MNIST test digits as PNG (mean ${meanBytes.toFixed(0)} bytes)`,
  );

  // In-process: the same encoded digits, in batches of the server's size, through classify (as the server's workers call it).
  const opened = await loadModel(run, { backend: settings.backend });
  if (!opened.ok) throw new Error(`loadModel failed: ${JSON.stringify(opened.diagnostics)}`);
  const model = opened.value;
  const top = model.labels.length;
  const classifyAll = async (batchSize: number, count = images.length): Promise<string[]> => {
    const labels: string[] = [];
    for (let at = 0; at < count; at += batchSize) {
      const batch = images.slice(at, Math.min(at + batchSize, count));
      const { predictions, failures } = await model.classify(batch, { top });
      if (failures.length > 0) throw new Error(`in-process classify failed: ${failures[0]!.reason}`);
      labels.push(...predictions.map((p) => p.top[0]!.label));
    }
    return labels;
  };
  const expected = await classifyAll(settings.maxBatchSize); // warm-up: every kernel built
  await classifyAll(1, 8);
  const inProcessOnce = async (): Promise<{ msPerImage: number; cpuMsPerImage: number }> => {
    const timed = await withCpu(() => classifyAll(settings.maxBatchSize));
    return { msPerImage: timed.wallMs / images.length, cpuMsPerImage: timed.cpuMs / images.length };
  };
  const repeats: { msPerImage: number; cpuMsPerImage: number }[] = [];
  for (let r = 0; r < settings.repeats; r++) repeats.push(await inProcessOnce());
  // One image a call, as a lone client's request is answered: what the 1-client latency compares with.
  const single = await withCpu(() => classifyAll(1, 64));
  const inProcessMs = median(repeats.map((r) => r.msPerImage));
  const inProcessCpuMs = median(repeats.map((r) => r.cpuMsPerImage));
  console.log(
    `in-process loadModel().classify, batches of ${settings.maxBatchSize}: ${repeats.map((r) => r.msPerImage.toFixed(2)).join(', ')} ms/image ` +
      `(median ${inProcessMs.toFixed(2)} ms = ${(1000 / inProcessMs).toFixed(1)} images/s; CPU ${inProcessCpuMs.toFixed(2)} ms/image); ` +
      `one image a call: ${(single.wallMs / 64).toFixed(2)} ms/image`,
  );

  const served = await serve(run, {
    host: '127.0.0.1',
    port: 0,
    workers: settings.workers,
    maxBatchSize: settings.maxBatchSize,
    maxLatencyMs: settings.maxLatencyMs,
    backend: settings.backend,
  });
  if (!served.ok) throw new Error(`serve failed: ${JSON.stringify(served.diagnostics)}`);
  const server = served.value;
  const phases: {
    connections: number;
    result: AutocannonResult;
    batches: ReturnType<typeof batchesBetween>;
    serverMeanMs: number;
    wallMs: number;
    cpuMs: number;
    loopBusyMs: number;
    loadCpuMs: number;
    /** In-process ms per image measured just before and just after the phase (the server idle): the same load on the machine. */
    beside: { msPerImage: number; cpuMsPerImage: number };
  }[] = [];
  let mismatched = 0;
  try {
    const name = server.model().name;
    const route = `/v1/models/${encodeURIComponent(name)}:predict`;
    const bodies = images.map((image) => JSON.stringify({ instances: [{ b64: image.bytes.toString('base64') }] }));
    // The served answers are the in-process ones (a bench of wrong answers would measure nothing).
    for (let i = 0; i < Math.min(16, bodies.length); i++) {
      const answer = (await (
        await fetch(`${server.url}${route}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: bodies[i],
        })
      ).json()) as { predictions: { label?: string }[] };
      if (answer.predictions[0]?.label !== expected[i]) mismatched++;
    }
    console.log(
      `server ${server.url}${route}: ${settings.workers} workers, maxBatchSize ${settings.maxBatchSize}, maxLatencyMs ${settings.maxLatencyMs}; ` +
        `first 16 served labels ${mismatched === 0 ? 'equal' : `DIFFER (${mismatched})`} the in-process ones; ` +
        `one body ≈ ${bodies[0]!.length} bytes; ${settings.durationS} s a phase`,
    );
    const requests = bodies.map((body) => ({
      method: 'POST',
      path: route,
      headers: { 'content-type': 'application/json' },
      body,
    }));
    // The machine's other load changes from minute to minute: each phase is compared with in-process runs on either side of it.
    let previous = await inProcessOnce();
    for (const connections of settings.connections) {
      const before = await serverMetrics(server.url);
      const timed = await withCpu(() =>
        loadFromChild({ url: server.url, connections, duration: settings.durationS, requests, timeout: 30 }),
      );
      const after = await serverMetrics(server.url);
      const answered = after.predictCount - before.predictCount;
      const next = await inProcessOnce();
      const beside = {
        msPerImage: (previous.msPerImage + next.msPerImage) / 2,
        cpuMsPerImage: (previous.cpuMsPerImage + next.cpuMsPerImage) / 2,
      };
      previous = next;
      phases.push({
        connections,
        result: timed.value.result,
        batches: batchesBetween(before.batchSizes, after.batchSizes),
        serverMeanMs: answered > 0 ? ((after.predictSeconds - before.predictSeconds) / answered) * 1000 : 0,
        wallMs: timed.wallMs,
        cpuMs: timed.cpuMs,
        loopBusyMs: timed.loopBusyMs,
        loadCpuMs: timed.value.cpuMs,
        beside,
      });
    }
  } finally {
    await server.close();
    model.dispose();
  }

  console.log('');
  console.log(
    `${pad('clients', 7)} ${pad('req/s', 7)} ${pad('ms/image', 8)} ${pad('in-proc', 7)} ${pad('÷in-proc', 8)} ${pad('p50 ms', 6)} ${pad('p99 ms', 6)} ` +
      `${pad('mean', 6)} ${pad('in srv', 6)} ${pad('2xx', 5)} ${pad('non2xx', 6)} ${pad('errors', 6)}  batches: count, mean size, sizes:count`,
  );
  for (const { connections, result, batches, serverMeanMs, beside } of phases) {
    const perSecond = result['2xx'] / result.duration;
    const msPerImage = 1000 / perSecond;
    console.log(
      `${pad(connections, 7)} ${pad(perSecond.toFixed(1), 7)} ${pad(msPerImage.toFixed(2), 8)} ${pad(beside.msPerImage.toFixed(2), 7)} ` +
        `${pad(`${(msPerImage / beside.msPerImage).toFixed(2)}×`, 8)} ${pad(result.latency.p50, 6)} ${pad(result.latency.p99, 6)} ` +
        `${pad(result.latency.average.toFixed(1), 6)} ${pad(serverMeanMs.toFixed(1), 6)} ${pad(result['2xx'], 5)} ` +
        `${pad(result.non2xx, 6)} ${pad(result.errors + result.timeouts, 6)}  ${batches.count}, ${batches.mean.toFixed(2)}, ${batches.spread}`,
    );
  }
  console.log(
    `ms/image: the phase's wall time per answered image; in-proc: loadModel().classify's, in batches of ${settings.maxBatchSize} on one thread, ` +
      `measured just before and after the phase (mean); mean and in srv: latency as the client saw it, and from arriving to answered in the server`,
  );
  console.log('');
  console.log(
    'CPU per image answered (ms): the server process = its event loop (HTTP, JSON, base64, batching) + its workers',
  );
  console.log(
    `${pad('clients', 7)} ${pad('server', 7)} ${pad('loop', 6)} ${pad('workers', 7)} ${pad('in-proc', 7)} ${pad('÷in-proc', 8)} ${pad('load gen', 8)}  cores busy: server, load generator (of ${os.cpus().length})`,
  );
  for (const { connections, result, wallMs, cpuMs, loopBusyMs, loadCpuMs, beside } of phases) {
    const n = result['2xx'] + result.non2xx;
    console.log(
      `${pad(connections, 7)} ${pad((cpuMs / n).toFixed(2), 7)} ${pad((loopBusyMs / n).toFixed(2), 6)} ${pad(((cpuMs - loopBusyMs) / n).toFixed(2), 7)} ` +
        `${pad(beside.cpuMsPerImage.toFixed(2), 7)} ${pad(`${(cpuMs / n / beside.cpuMsPerImage).toFixed(2)}×`, 8)} ${pad((loadCpuMs / n).toFixed(2), 8)}  ` +
        `${(cpuMs / wallMs).toFixed(2)}, ${(loadCpuMs / wallMs).toFixed(2)}`,
    );
  }
  console.log(
    "(loop: the event loop's busy wall time, which counts time the OS gave the thread's core to another process; workers: the rest)",
  );
  const allOk = phases.every((p) => p.result.non2xx === 0 && p.result.errors === 0 && p.result.timeouts === 0);
  console.log('');
  console.log(
    allOk
      ? `every response was 2xx (${phases.reduce((n, p) => n + p.result['2xx'], 0)} in all; no errors, no timeouts)`
      : 'NOT every response was 2xx: see non2xx and errors above',
  );
  const at32 = phases.find((p) => p.connections === 32) ?? phases.at(-1)!;
  const ratio = 1000 / (at32.result['2xx'] / at32.result.duration) / at32.beside.msPerImage;
  const cpuRatio = at32.cpuMs / (at32.result['2xx'] + at32.result.non2xx) / at32.beside.cpuMsPerImage;
  console.log(
    `server time per image at ${at32.connections} clients ÷ in-process time per image: ${ratio.toFixed(2)}× (aim ≤ 1.2×); ` +
      `CPU per image ÷ in-process CPU per image: ${cpuRatio.toFixed(2)}×`,
  );
  console.log(
    `${settings.workers} workers; machine load (1, 5, 15 min) at start ${loadAtStart}, at end ${loadavg()}; wall ${((performance.now() - started) / 1000).toFixed(0)} s`,
  );
  if (!allOk || mismatched > 0) process.exitCode = 1;
}

if (values['load-generator']) await generateLoad();
else await main();
