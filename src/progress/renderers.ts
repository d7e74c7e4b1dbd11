import { Listr, type DefaultRenderer, type ListrTaskWrapper, type SimpleRenderer } from 'listr2';
import type { EpochMetrics, RunEvent, RunStartEvent } from '../engine/events.js';
import { formatEventLine } from './event-lines.js';
import { formatProgress, formatProgressBar, progressTracker } from './progress-rate.js';
import { fitText } from './text-width.js';
import { setting } from '../platform/settings.js';

export type ProgressMode = 'tty' | 'plain' | 'json' | 'quiet';

export interface ProgressRenderer {
  listener: (event: RunEvent) => void;
  /** Ends the display: every pending step succeeds, or fails with `error`. */
  close(error?: Error): Promise<void>;
}

/** One line per event worth a line, for pipes and CI (how the run ended is the caller's to say). */
export function plainRenderer(writeLine: (line: string) => void, everyMs = progressIntervalMs()): ProgressRenderer {
  const write = (line: string): void => writeLine(fitText(line));
  const track = progressTracker();
  let lastLine = performance.now();
  return {
    listener: (event) => {
      // A long phase (extraction, an epoch) says where it is every ~10 s, with its rate and ETA, so a pipe is never silent for long.
      const progress = track(event);
      if (progress) {
        if (!progress.last && performance.now() - lastLine >= everyMs) {
          write(formatProgress(progress));
          lastLine = performance.now();
        }
        return;
      }
      const line = event.type === 'run-end' ? undefined : formatEventLine(event);
      if (line !== undefined) {
        write(line);
        lastLine = performance.now();
      }
    },
    close: async () => {},
  };
}

/** How often piped output reports a long phase: $TLPIPE_PROGRESS_S (10 s). */
const progressIntervalMs = (): number => setting('TLPIPE_PROGRESS_S') * 1000;

/**
 * One JSON object per line per event, for machines: nothing else goes to
 * stdout. Per-batch progress (batch-end, features-progress) is at most one
 * line per 250 ms of each phase, plus its last, each with its rate and ETA.
 */
export function jsonRenderer(write: (line: string) => void, everyMs = 250): ProgressRenderer {
  const track = progressTracker();
  const lastWritten = new Map<string, number>();
  return {
    listener: (event) => {
      const progress = track(event);
      if (progress) {
        const at = performance.now();
        if (!progress.last && at - (lastWritten.get(progress.phase) ?? -Infinity) < everyMs) return;
        lastWritten.set(progress.phase, at);
        write(
          JSON.stringify({
            ...event,
            perSecond: progress.perSecond,
            ...(Number.isFinite(progress.etaSeconds) ? { etaSeconds: progress.etaSeconds } : {}),
          }),
        );
        return;
      }
      write(JSON.stringify(event));
    },
    close: async () => {},
  };
}

export const quietRenderer = (): ProgressRenderer => ({ listener: () => undefined, close: async () => {} });

interface Step {
  title: string;
  /** The event that completes this step. */
  endsOn: (event: RunEvent) => boolean;
  /** Live output for the step while it runs. */
  output?: (event: RunEvent) => string | undefined;
  task?: { output: string };
  /** Output that arrived before listr started the step; shown when it does. */
  pendingOutput?: string;
}

/** A promise with its settle functions, created before listr asks for it. */
function deferred(): { promise: Promise<void>; resolve: () => void; reject: (error: Error) => void } {
  let resolve!: () => void;
  let reject!: (error: Error) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  // Listr may stop before it awaits a later step; that rejection is not news.
  promise.catch(() => undefined);
  return { promise, resolve, reject };
}

/** The steps a run shows, from what its run-start event says it will do. */
function stepsOf(start: RunStartEvent, rows = process.stderr.rows || 40): Step[] {
  const steps: Step[] = [];
  const track = progressTracker();
  if (start.features === 'precompute') {
    // Each split's line stays once it is done; the bar of the split in progress goes below them.
    const splitLines: string[] = [];
    steps.push({
      title: 'Extract features with the frozen base',
      endsOn: (e) => e.type === 'stage-start' || e.type === 'evaluate-end' || e.type === 'export-end',
      output: (e) => {
        if ((e.type === 'features-end' || e.type === 'features-reused') && !e.at) {
          splitLines.push(formatEventLine(e)!);
          return splitLines.join('\n');
        }
        // Until the first count (the data read, the base built, feature workers loading tfjs), the step says what it is doing.
        if (e.type === 'data') return `data: ${e.train} train, ${e.validation} validation, ${e.test} test`;
        if (e.type === 'base')
          return e.model === 'none'
            ? 'no base'
            : `base ${e.model} cut at ${e.cut}, features ${e.outputShape.join('×')}`;
        if (e.type === 'features-start' && !e.at) return [...splitLines, `${formatEventLine(e)!}…`].join('\n');
        const p = e.type === 'features-progress' && !e.at ? track(e) : undefined;
        return p ? [...splitLines, formatProgressBar(p)].join('\n') : undefined;
      },
    });
  }
  for (const stage of start.stages) {
    // Every finished epoch's line stays under its stage; the bar of the epoch in progress goes below them.
    const epochLines: string[] = [];
    // Past what the terminal can show with the other steps, the oldest lines give way (listr redraws its whole
    // display, and a display taller than the terminal leaves a copy in the scrollback at every redraw).
    const room = Math.max(5, rows - start.stages.length - 12);
    const withEpochs = (live?: string): string => {
      const hidden = epochLines.length > room ? epochLines.length - room + 1 : 0;
      const shown =
        hidden > 0 ? [`… ${hidden} earlier epoch(s), every one in log.txt`, ...epochLines.slice(hidden)] : epochLines;
      return [...shown, ...(live !== undefined ? [live] : [])].join('\n');
    };
    steps.push({
      title: `Stage ${stage.name}: epochs ${stage.firstEpoch}–${stage.lastEpoch}, ${stage.optimizer} lr ${stage.learningRate}`,
      endsOn: (e) => (e.type === 'stage-end' || e.type === 'stage-reused') && e.stage === stage.name,
      output: (e) => {
        if (e.type === 'batch-end' && e.stage === stage.name)
          return withEpochs(`${formatProgressBar(track(e)!, `epoch ${e.epoch}`)}, loss ${e.loss.toFixed(4)}`);
        if (e.type === 'features-progress' && e.at) return withEpochs(formatProgressBar(track(e)!));
        if (e.type === 'epoch-end' && e.metrics.stage === stage.name) {
          epochLines.push(epochLine(e.metrics));
          return withEpochs();
        }
        if (e.type === 'stage-end' && e.stage === stage.name) return withEpochs(formatEventLine(e));
        return undefined;
      },
    });
  }
  if (start.evaluates)
    steps.push({
      title: 'Evaluate on the test split',
      endsOn: (e) => e.type === 'evaluate-end' || e.type === 'export-end',
      output: (e) => (e.type === 'evaluate-end' ? formatEventLine(e) : undefined),
    });
  steps.push({
    title: 'Export the model',
    endsOn: (e) => e.type === 'export-end',
    output: (e) => (e.type === 'export-end' ? formatEventLine(e) : undefined),
  });
  return steps;
}

/** An epoch's figures in at most 80 columns with listr's indent, under its stage's title (which names the stage). */
function epochLine(m: EpochMetrics): string {
  const loss = (x: number | undefined): string => (x === undefined ? '–' : x.toFixed(4));
  const percent = (x: number | undefined): string => (x === undefined ? '–' : `${(x * 100).toFixed(1)}%`);
  const rate = m.lr >= 1e-3 ? String(Number(m.lr.toPrecision(2))) : m.lr.toExponential(1).replace('.0e', 'e');
  const seconds = m.seconds >= 10 ? `${Math.round(m.seconds)}s` : `${m.seconds.toFixed(1)}s`;
  const val = m.val_loss === undefined ? '' : `  val loss ${loss(m.val_loss)} acc ${percent(m.val_accuracy)}`;
  return `epoch ${m.epoch}${m.reused ? ' (reused)' : ''}  loss ${loss(m.loss)} acc ${percent(m.accuracy)}${val}  lr ${rate}  ${seconds}`;
}

/**
 * listr2 on a TTY: one line per step of the run (features, each stage,
 * evaluate, export), live batch and epoch figures under the running one.
 * It is only a subscriber of events; it learns the steps from run-start, and
 * steps complete as events arrive. Lines before run-start (or after a run
 * that never started) are written as they are.
 */
export function ttyRenderer(writeLine: (line: string) => void): ProgressRenderer {
  // What is written outside listr's display (lines before run-start, warnings after it) fits the width too.
  const write = (line: string): void => writeLine(fitText(line));
  let steps: Step[] = [];
  let settlers: ReturnType<typeof deferred>[] = [];
  let running: Promise<unknown> | undefined;
  // Warnings would break listr's redrawing; they are printed once it has finished.
  const warnings: string[] = [];
  let current = 0;
  const start = (event: RunStartEvent): void => {
    steps = stepsOf(event);
    settlers = steps.map(() => deferred());
    const list = new Listr(
      steps.map((step, i) => ({
        title: step.title,
        task: (_ctx: unknown, task: ListrTaskWrapper<unknown, typeof DefaultRenderer, typeof SimpleRenderer>) => {
          step.task = task;
          if (step.pendingOutput !== undefined) task.output = step.pendingOutput;
          return settlers[i]!.promise;
        },
        rendererOptions: { persistentOutput: true, outputBar: 1 },
      })),
      {
        concurrent: false,
        exitOnError: true,
        registerSignalListeners: false,
        rendererOptions: { collapseErrors: false },
      },
    );
    running = list.run().catch(() => undefined);
  };
  return {
    listener: (event) => {
      if (event.type === 'run-start') {
        write(formatEventLine(event)!);
        start(event);
        return;
      }
      if (!running) {
        const line = formatEventLine(event);
        if (line !== undefined) write(line);
        return;
      }
      if (event.type === 'run-end') {
        // However it ended, the display stops: pending steps succeed with the run or fail with it.
        for (const settler of settlers.slice(current)) {
          if (event.status === 'completed') settler.resolve();
          else settler.reject(new Error(event.error?.message ?? event.status));
        }
        current = steps.length;
        return;
      }
      if ((event.type === 'log' && event.level === 'warn') || event.type === 'warning')
        warnings.push(formatEventLine(event)!);
      for (let i = current; i < steps.length; i++) {
        const step = steps[i]!;
        const text = step.output?.(event);
        if (text !== undefined) {
          if (step.task) step.task.output = text;
          else step.pendingOutput = text;
        }
        if (step.endsOn(event)) {
          // Completing a later step completes every step before it.
          for (let j = current; j <= i; j++) settlers[j]!.resolve();
          current = i + 1;
          break;
        }
      }
    },
    close: async (error) => {
      for (const settler of settlers.slice(current)) {
        if (error) settler.reject(error);
        else settler.resolve();
      }
      await running;
      for (const warning of warnings) write(warning);
    },
  };
}
