import { Worker } from 'node:worker_threads';
import type { ModelFacts, ServedAnswer, ServedInput } from './served-answers.js';

/** What the pool sends a worker, and what a worker sends back (see api/serve-worker.ts, which answers them). */
export interface InferenceRequest {
  id: number;
  inputs: ServedInput[];
}
export type InferenceReply = { id: number; answers: ServedAnswer[] } | { id: number; error: string };
export type WorkerStart = { ready: ModelFacts } | { failed: string };

/** A worker did not start, or stopped: what it said, for the server's error. */
export class WorkerFailed extends Error {}

interface Busy {
  id: number;
  resolve: (answers: ServedAnswer[]) => void;
  reject: (error: Error) => void;
}

/**
 * Worker threads that each hold the model open and answer batches, so a
 * batch never runs on the event loop that answers health checks and reads
 * uploads. A worker that dies fails the batch it held and is replaced.
 */
export class InferencePool {
  private readonly idle: Worker[] = [];
  private readonly waiting: { resolve: (worker: Worker) => void; reject: (error: Error) => void }[] = [];
  private readonly busy = new Map<Worker, Busy>();
  private nextId = 0;
  private closed = false;

  private constructor(
    private readonly script: URL,
    private readonly workerData: unknown,
    private readonly startTimeoutMs: number,
    readonly facts: ModelFacts,
    /** Workers the pool keeps running (one that dies is replaced). */
    readonly size: number,
  ) {}

  /** `count` workers of `script`, each given `workerData`; rejects with what the first that failed said. */
  static async start(script: URL, count: number, workerData: unknown, startTimeoutMs: number): Promise<InferencePool> {
    const started = await Promise.allSettled(
      Array.from({ length: count }, () => startWorker(script, workerData, startTimeoutMs)),
    );
    const failure = started.find((s) => s.status === 'rejected');
    if (failure) {
      await Promise.all(started.flatMap((s) => (s.status === 'fulfilled' ? [s.value.worker.terminate()] : [])));
      throw failure.reason;
    }
    const workers = started.map((s) => (s as PromiseFulfilledResult<Awaited<ReturnType<typeof startWorker>>>).value);
    const pool = new InferencePool(script, workerData, startTimeoutMs, workers[0]!.facts, count);
    for (const { worker } of workers) pool.adopt(worker);
    return pool;
  }

  /** Workers running now (one that died and has not been replaced is not counted). */
  get alive(): number {
    return this.idle.length + this.busy.size;
  }

  /** The answers of one batch, from the next free worker; rejects at once while no worker is running. */
  async run(inputs: ServedInput[]): Promise<ServedAnswer[]> {
    if (this.closed) throw new WorkerFailed('the model is closing');
    if (this.alive === 0) throw new WorkerFailed('no worker is running the model; a new one is starting');
    const worker =
      this.idle.pop() ?? (await new Promise<Worker>((resolve, reject) => this.waiting.push({ resolve, reject })));
    const id = this.nextId++;
    return new Promise<ServedAnswer[]>((resolve, reject) => {
      this.busy.set(worker, { id, resolve, reject });
      worker.postMessage({ id, inputs } satisfies InferenceRequest);
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    this.failWaiting('the model is closing');
    const workers = [...this.idle, ...this.busy.keys()];
    this.idle.length = 0;
    await Promise.all(workers.map((w) => w.terminate()));
  }

  private adopt(worker: Worker): void {
    worker.on('message', (reply: InferenceReply) => {
      const busy = this.busy.get(worker);
      if (!busy || reply.id !== busy.id) return;
      this.busy.delete(worker);
      if ('error' in reply) busy.reject(new WorkerFailed(reply.error));
      else busy.resolve(reply.answers);
      this.release(worker);
    });
    // A worker that dies (out of memory, a crash in a kernel) fails its batch; a new one takes its place.
    worker.once('exit', (code) => {
      const busy = this.busy.get(worker);
      this.busy.delete(worker);
      const at = this.idle.indexOf(worker);
      if (at >= 0) this.idle.splice(at, 1);
      busy?.reject(new WorkerFailed(`the model's worker stopped (exit code ${code})`));
      if (!this.closed) void this.replace();
    });
    worker.on('error', () => {}); // 'exit' follows and says it.
    this.release(worker);
  }

  /**
   * A worker in place of one that died, tried again with a growing pause
   * until one starts or the pool closes. While none runs, batches waiting for
   * a worker fail at once (503, try again) rather than wait without end.
   */
  private async replace(): Promise<void> {
    for (let attempt = 0; !this.closed; attempt++) {
      if (this.alive === 0) this.failWaiting('no worker is running the model; a new one is starting');
      try {
        const { worker } = await startWorker(this.script, this.workerData, this.startTimeoutMs);
        if (this.closed) await worker.terminate();
        else this.adopt(worker);
        return;
      } catch {
        await new Promise((resolve) => setTimeout(resolve, Math.min(30_000, 500 * 2 ** attempt)).unref());
      }
    }
  }

  private failWaiting(why: string): void {
    for (const waiter of this.waiting.splice(0)) waiter.reject(new WorkerFailed(why));
  }

  private release(worker: Worker): void {
    const next = this.waiting.shift();
    if (next) next.resolve(worker);
    else this.idle.push(worker);
  }
}

/** One worker, once it says it has the model open and warmed up (or why it could not). */
function startWorker(
  script: URL,
  workerData: unknown,
  timeoutMs: number,
): Promise<{ worker: Worker; facts: ModelFacts }> {
  const worker = new Worker(script, { workerData });
  return new Promise((resolve, reject) => {
    const fail = (error: Error): void => {
      clearTimeout(timer);
      void worker.terminate();
      reject(error);
    };
    const timer = setTimeout(
      () => fail(new WorkerFailed(`the model did not open within ${Math.round(timeoutMs / 1000)} s`)),
      timeoutMs,
    );
    worker.once('message', (start: WorkerStart) => {
      clearTimeout(timer);
      if ('failed' in start) fail(new WorkerFailed(start.failed));
      else resolve({ worker, facts: start.ready });
    });
    worker.once('error', (error) => fail(new WorkerFailed(error.message)));
    worker.once('exit', (code) =>
      fail(new WorkerFailed(`the model's worker stopped while opening (exit code ${code})`)),
    );
  });
}
