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
  private writing: Promise<void> = Promise.resolve();

  constructor(
    private readonly folder: RunFolder,
    /** The log line for an event, or undefined for events that get none (per batch). */
    private readonly describe: (event: RunEvent) => string | undefined,
  ) {}

  record(event: RunEvent): void {
    const line = this.describe(event);
    this.writing = this.writing.then(async () => {
      if (event.type === 'epoch-end') await appendMetricRow(this.folder.dir, event.metrics);
      if (event.type === 'baseline-epoch-end') await appendMetricRow(this.folder.dir, event.metrics, 'baseline');
      if (line !== undefined) await this.folder.appendLog(`${new Date().toISOString()} ${line}`);
    });
  }

  flush(): Promise<void> {
    return this.writing;
  }

  /** Waits for pending writes, ignoring their failure: the run is already failing for a reason worth more. */
  async settle(): Promise<void> {
    await this.writing.catch(() => undefined);
  }
}
