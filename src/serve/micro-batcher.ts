import type { ServedAnswer, ServedInput } from './served-answers.js';

/** How requests are gathered into batches. */
export interface BatchingOptions {
  /** Instances a batch holds at most. */
  maxBatchSize: number;
  /** How long the oldest waiting instance waits for others before a smaller batch goes. */
  maxLatencyMs: number;
  /** Instances waiting at most; a request that would go over is refused (503), not queued without end. */
  maxQueue: number;
}

/** The queue is full: the request was not accepted, and should be tried again shortly. */
export class QueueFull extends Error {
  constructor(readonly depth: number) {
    super(`the queue is full (${depth} instances waiting)`);
  }
}

interface Waiting {
  inputs: readonly ServedInput[];
  answers: ServedAnswer[];
  /** The next instance to go into a batch. */
  next: number;
  /** Instances answered so far. */
  answered: number;
  since: number;
  cancelled: boolean;
  resolve: (answers: ServedAnswer[]) => void;
  reject: (error: Error) => void;
}

/**
 * Gathers the instances of concurrent requests into batches for a pool of
 * workers: a batch goes when it is full, or when its oldest instance has
 * waited `maxLatencyMs`, and only while a worker is free, so instances wait
 * here (counted, bounded) rather than in the workers' message queues. A
 * request bigger than a batch is split across batches; its answers come
 * back together, in order.
 */
export class MicroBatcher {
  private readonly queue: Waiting[] = [];
  private queued = 0;
  private inFlight = 0;
  private timer: NodeJS.Timeout | undefined;
  private idle: (() => void)[] = [];
  /** Closing: nothing waits for company any more. */
  private flushing = false;

  constructor(
    private readonly runBatch: (inputs: ServedInput[]) => Promise<ServedAnswer[]>,
    private readonly workers: number,
    private readonly options: BatchingOptions,
    private readonly onBatch: (size: number) => void = () => {},
  ) {}

  /** Instances waiting for a batch. */
  get depth(): number {
    return this.queued;
  }

  /**
   * The answers to `inputs`, in order. Throws QueueFull at once when they
   * do not fit in the queue; `signal` withdraws the instances not yet in a
   * batch (a request past its timeout), and the promise rejects with its reason.
   */
  submit(inputs: readonly ServedInput[], signal?: AbortSignal): Promise<ServedAnswer[]> {
    // No instance would ever go into a batch to answer it: the request would wait for ever.
    if (inputs.length === 0) return Promise.resolve([]);
    if (this.queued + inputs.length > this.options.maxQueue) return Promise.reject(new QueueFull(this.queued));
    return new Promise((resolve, reject) => {
      // The listener holds the request's inputs: it goes as soon as the request is settled, not when its timeout
      // fires (AbortSignal.timeout keeps what listens to it until then, 30 s of every answered request's bytes).
      const withdraw = (): void => {
        if (waiting.answered === inputs.length) return;
        waiting.cancelled = true;
        this.queued -= inputs.length - waiting.next;
        waiting.next = inputs.length;
        reject(signal!.reason as Error);
        this.settled();
      };
      const settle =
        <T>(finish: (value: T) => void) =>
        (value: T): void => {
          signal?.removeEventListener('abort', withdraw);
          finish(value);
        };
      const waiting: Waiting = {
        inputs,
        answers: new Array<ServedAnswer>(inputs.length),
        next: 0,
        answered: 0,
        since: performance.now(),
        cancelled: false,
        resolve: settle(resolve),
        reject: settle(reject),
      };
      if (signal) {
        if (signal.aborted) return reject(signal.reason as Error);
        signal.addEventListener('abort', withdraw, { once: true });
      }
      this.queue.push(waiting);
      this.queued += inputs.length;
      this.pump();
    });
  }

  /** Resolves once nothing waits and nothing is in a worker (a swapped-out model, a server closing). */
  drained(): Promise<void> {
    if (this.queued === 0 && this.inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => {
      this.idle.push(resolve);
      this.pump(true);
    });
  }

  /** From now on every instance goes as soon as a worker is free, without waiting for others (the server is closing). */
  flush(): void {
    this.flushing = true;
    this.pump();
  }

  /** Sends what may go now; otherwise arms the timer for when the oldest instance has waited long enough. */
  private pump(flush = false): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    while (this.inFlight < this.workers && this.queued > 0) {
      const oldest = this.queue.find((w) => w.next < w.inputs.length)!;
      const waited = performance.now() - oldest.since;
      const draining = flush || this.flushing || this.idle.length > 0;
      if (this.queued < this.options.maxBatchSize && waited < this.options.maxLatencyMs && !draining) {
        this.timer = setTimeout(() => this.pump(), Math.max(0, this.options.maxLatencyMs - waited));
        return;
      }
      this.send(this.take());
    }
  }

  /** Up to maxBatchSize instances, oldest first, with where each answer goes. */
  private take(): { inputs: ServedInput[]; owners: { waiting: Waiting; index: number }[] } {
    const inputs: ServedInput[] = [];
    const owners: { waiting: Waiting; index: number }[] = [];
    while (inputs.length < this.options.maxBatchSize && this.queue.length > 0) {
      const waiting = this.queue[0]!;
      while (waiting.next < waiting.inputs.length && inputs.length < this.options.maxBatchSize) {
        owners.push({ waiting, index: waiting.next });
        inputs.push(waiting.inputs[waiting.next++]!);
      }
      if (waiting.next === waiting.inputs.length) this.queue.shift();
    }
    this.queued -= inputs.length;
    return { inputs, owners };
  }

  private send(batch: { inputs: ServedInput[]; owners: { waiting: Waiting; index: number }[] }): void {
    this.inFlight++;
    this.onBatch(batch.inputs.length);
    this.runBatch(batch.inputs).then(
      (answers) => {
        batch.owners.forEach(({ waiting, index }, i) => {
          if (waiting.cancelled) return;
          waiting.answers[index] = answers[i] ?? { error: 'the worker gave no answer for this instance' };
          if (++waiting.answered === waiting.inputs.length) waiting.resolve(waiting.answers);
        });
        this.finished();
      },
      (error: Error) => {
        for (const { waiting } of batch.owners) {
          if (waiting.cancelled) continue;
          // The rest of the request is not worth answering: it has failed.
          waiting.cancelled = true;
          this.queued -= waiting.inputs.length - waiting.next;
          waiting.next = waiting.inputs.length;
          waiting.reject(error);
        }
        this.finished();
      },
    );
  }

  private finished(): void {
    this.inFlight--;
    this.settled();
    this.pump();
  }

  private settled(): void {
    // Cancelled requests leave finished entries at the head of the queue.
    while (this.queue.length > 0 && this.queue[0]!.next === this.queue[0]!.inputs.length) this.queue.shift();
    if (this.queued === 0 && this.inFlight === 0) for (const resolve of this.idle.splice(0)) resolve();
  }
}
