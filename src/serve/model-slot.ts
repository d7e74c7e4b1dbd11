import { InferencePool } from './inference-pool.js';
import { MicroBatcher, type BatchingOptions } from './micro-batcher.js';
import type { ModelDescription, ServedAnswer, ServedInput, ServedRun } from './served-answers.js';

/** Where a model to serve is, as the API found it. */
export interface ModelLocation {
  name: string;
  modelDir: string;
  run?: ServedRun;
}

/** How a model's workers start: the worker script, and what each is told. */
export interface WorkerSetup {
  script: URL;
  count: number;
  data: (location: ModelLocation) => unknown;
  startTimeoutMs: number;
}

/** One opened model: its workers, its queue, and what it is. */
class OpenModel {
  constructor(
    readonly description: ModelDescription,
    readonly pool: InferencePool,
    readonly batcher: MicroBatcher,
  ) {}

  async close(): Promise<void> {
    await this.batcher.drained();
    await this.pool.close();
  }
}

/**
 * The model the server answers with, replaceable while it serves: a newer
 * run's model opens and warms up beside the old one, requests go to it from
 * then on, and the old one answers what it had accepted before it closes,
 * so no request fails across a swap.
 */
export class ModelSlot {
  private current: OpenModel | undefined;
  private readonly closing: Promise<void>[] = [];
  private closed = false;

  constructor(
    private readonly workers: WorkerSetup,
    private readonly batching: BatchingOptions,
    private readonly onBatch: (size: number) => void,
  ) {}

  get description(): ModelDescription | undefined {
    return this.current?.description;
  }

  /** Instances waiting for a batch in the model being served (a swapped-out one only finishes what it had sent). */
  get depth(): number {
    return this.current?.batcher.depth ?? 0;
  }

  /** Whether the served model has a worker running (one that died is being replaced). */
  get ready(): boolean {
    return !this.closed && (this.current?.pool.alive ?? 0) > 0;
  }

  /** Opens the model at `location` (its workers warmed up) and serves it from now on; the one before finishes its requests and closes. */
  async open(location: ModelLocation): Promise<ModelDescription> {
    const pool = await InferencePool.start(
      this.workers.script,
      this.workers.count,
      this.workers.data(location),
      this.workers.startTimeoutMs,
    );
    const description: ModelDescription = {
      name: location.name,
      modelDir: location.modelDir,
      ...(location.run ? { run: location.run } : {}),
      ...pool.facts,
    };
    // Closed while it opened (a swap when the server stopped): it never serves.
    if (this.closed) {
      await pool.close();
      throw new Error('the server closed while the model opened');
    }
    const batcher = new MicroBatcher((inputs) => pool.run(inputs), pool.size, this.batching, this.onBatch);
    const previous = this.current;
    this.current = new OpenModel(description, pool, batcher);
    if (previous) this.closing.push(previous.close());
    return description;
  }

  /** The answers of the model being served when the request arrived, and which model that was. */
  async submit(
    inputs: readonly ServedInput[],
    signal?: AbortSignal,
  ): Promise<{ model: ModelDescription; answers: ServedAnswer[] }> {
    const serving = this.current;
    if (!serving) throw new Error('no model is open');
    return { model: serving.description, answers: await serving.batcher.submit(inputs, signal) };
  }

  /** Sends every waiting instance, and every one to come, without waiting for a fuller batch (the server is closing). */
  flush(): void {
    this.current?.batcher.flush();
  }

  /** Finishes every accepted request, then stops every worker. */
  async close(): Promise<void> {
    this.closed = true;
    const last = this.current;
    this.current = undefined;
    await Promise.all([...this.closing, last?.close()]);
  }
}
