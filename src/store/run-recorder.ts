import type { RunEvent } from '../engine/events.js';
import { appendMetricRow } from './metrics-file.js';
import type { RunFolder } from './run-folder.js';

/**
 * Writes what a run reports as it happens: each epoch's row to
 * metrics.jsonl (or baseline-metrics.jsonl) and a line per event worth one
 * to log.txt. Writes are chained, so rows land in event order; `flush`
 * waits for them (and rethrows the first failure, a full disk say).
 */
export class RunRecorder {
  /** Never rejects: a failed write is kept in `failure` (an unawaited rejection would end the process with a stack trace). */
  private writing: Promise<void> = Promise.resolve();
  private failure: { error: unknown } | undefined;

  constructor(
    private readonly folder: RunFolder,
    /** The log line for an event, or undefined for events that get none (per batch). */
    private readonly describe: (event: RunEvent) => string | undefined,
  ) {}

  record(event: RunEvent): void {
    const line = this.describe(event);
    this.writing = this.writing
      .then(async () => {
        if (this.failure) return;
        if (event.type === 'epoch-end') await appendMetricRow(this.folder.dir, event.metrics);
        if (event.type === 'baseline-epoch-end') await appendMetricRow(this.folder.dir, event.metrics, 'baseline');
        if (line !== undefined) await this.folder.appendLog(`${new Date().toISOString()} ${line}`);
      })
      .catch((error: unknown) => {
        this.failure ??= { error };
      });
  }

  /** Waits for the pending writes; rethrows the first that failed (later ones were not attempted). */
  async flush(): Promise<void> {
    await this.writing;
    if (this.failure) throw this.failure.error;
  }

  /** Waits for pending writes, ignoring their failure: the run is already failing for a reason worth more. */
  async settle(): Promise<void> {
    await this.writing;
  }
}
