import { Worker } from 'node:worker_threads';
import type { PixelBatch, SplitData } from '../data/datasets.js';
import { RunInterrupted } from '../errors.js';
import type { FeatureReply, FeatureRequest, FeatureWorkerData } from './feature-worker.js';
import { setting } from '../../platform/settings.js';

/** Below this many examples starting workers costs more than it saves. */
export const MIN_EXAMPLES_FOR_WORKERS = 256;

/** Workers for feature extraction: $TLPIPE_WORKERS, or one per core (at most 4). 1 means the main thread alone. */
export function featureWorkerCount(): number {
  return setting('TLPIPE_WORKERS');
}

/**
 * A pool of feature workers over one base. Batches of decoded pixels go to
 * whichever worker is free; decoding (sharp, on libuv's threads) overlaps.
 */
export class FeatureWorkerPool {
  private readonly workers: Worker[] = [];
  private readonly idle: Worker[] = [];
  private readonly waiting: ((worker: Worker) => void)[] = [];
  private nextId = 0;

  private constructor() {}

  /** How many workers the pool runs. */
  get size(): number {
    return this.workers.length;
  }

  static async start(count: number, data: FeatureWorkerData): Promise<FeatureWorkerPool> {
    const pool = new FeatureWorkerPool();
    await Promise.all(
      Array.from({ length: count }, async () => {
        const worker = new Worker(new URL('./feature-worker.js', import.meta.url), { workerData: data });
        await new Promise<void>((resolve, reject) => {
          worker.once('message', () => resolve());
          worker.once('error', reject);
        });
        pool.workers.push(worker);
        pool.idle.push(worker);
      }),
    );
    return pool;
  }

  /** Features of `indexes` of `split`, in order, as rows of one Float32Array (outside the wasm heap); with `prefix`, the unfolded base up to that layer. */
  async rows(
    split: SplitData,
    indexes: number[],
    batch: number,
    onProgress: (done: number) => void,
    aborted: () => boolean,
    prefix?: string,
  ): Promise<{ shape: number[]; data: Float32Array }> {
    const chunks: number[][] = [];
    for (let i = 0; i < indexes.length; i += batch) chunks.push(indexes.slice(i, i + batch));
    const results = new Array<{ features: Float32Array; shape: number[] }>(chunks.length);
    let done = 0;
    // A chunk that finds the run aborted stops it: Promise.all rejects at once, and the chunks in
    // flight finish into the void (their workers are terminated with the pool).
    await Promise.all(
      chunks.map(async (chunk, i) => {
        const worker = await this.acquire();
        try {
          if (aborted()) throw new RunInterrupted();
          const pixels = await split.pixels(chunk);
          results[i] = await this.run(worker, pixels, prefix);
          done += chunk.length;
          onProgress(done);
        } finally {
          this.release(worker);
        }
      }),
    );
    const shape = [indexes.length, ...results[0]!.shape.slice(1)];
    const all = new Float32Array(shape.reduce((a, b) => a * b, 1));
    let offset = 0;
    for (const r of results) {
      all.set(r.features, offset);
      offset += r.features.length;
    }
    return { shape, data: all };
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }

  private acquire(): Promise<Worker> {
    const worker = this.idle.pop();
    return worker ? Promise.resolve(worker) : new Promise((resolve) => this.waiting.push(resolve));
  }

  private release(worker: Worker): void {
    const next = this.waiting.shift();
    if (next) next(worker);
    else this.idle.push(worker);
  }

  private run(
    worker: Worker,
    batch: PixelBatch,
    prefix?: string,
  ): Promise<{ features: Float32Array; shape: number[] }> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const onMessage = (reply: FeatureReply): void => {
        if (reply.id !== id) return;
        worker.off('message', onMessage);
        worker.off('error', reject);
        if ('error' in reply) reject(new Error(`feature worker: ${reply.error}`));
        else resolve(reply);
      };
      worker.on('message', onMessage);
      worker.once('error', reject);
      const copy = batch.data.slice();
      worker.postMessage(
        {
          id,
          pixels: copy,
          count: batch.count,
          height: batch.height,
          width: batch.width,
          channels: batch.channels,
          ...(prefix ? { prefix } : {}),
        } satisfies FeatureRequest,
        [copy.buffer as ArrayBuffer],
      );
    });
  }
}
