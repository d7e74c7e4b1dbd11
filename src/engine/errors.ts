/** The run was cancelled through its AbortSignal. */
export class RunInterrupted extends Error {
  constructor(reason = 'interrupted') {
    super(reason);
    this.name = 'RunInterrupted';
  }
}

/** Throws RunInterrupted once `signal` has aborted: the check between files, batches and steps. */
export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new RunInterrupted();
}
