import type { RunEvent } from '../engine/events.js';

/** A count of a long phase (extraction of a split, an epoch's batches): where it is, how fast, how long to go. */
export interface PhaseProgress {
  /** `features train`, `frozen prefix train`, `head epoch 3`. */
  phase: string;
  done: number;
  total: number;
  unit: string;
  perSecond: number;
  etaSeconds: number;
  /** The last count of its phase. */
  last: boolean;
}

/**
 * Follows per-batch events and gives their phase's progress: the rate since
 * the phase's first count (so a slow start does not stay in it) and the
 * time left at that rate. `now` is for tests.
 */
export function progressTracker(
  now: () => number = () => performance.now(),
): (event: RunEvent) => PhaseProgress | undefined {
  const started = new Map<string, { at: number; done: number }>();
  return (event) => {
    let phase: string;
    let done: number;
    let total: number;
    let unit: string;
    if (event.type === 'features-progress') {
      [phase, done, total, unit] = [
        `${event.at ? 'frozen prefix' : 'features'} ${event.split}`,
        event.done,
        event.total,
        'examples',
      ];
    } else if (event.type === 'batch-end') {
      [phase, done, total, unit] = [`${event.stage} epoch ${event.epoch}`, event.batch, event.batches, 'batches'];
    } else return undefined;
    const first = started.get(phase);
    if (!first) started.set(phase, { at: now(), done });
    const seconds = first ? (now() - first.at) / 1000 : 0;
    const perSecond = first && seconds > 0 ? (done - first.done) / seconds : 0;
    const last = done >= total;
    if (last) started.delete(phase);
    return {
      phase,
      done,
      total,
      unit,
      perSecond,
      etaSeconds: perSecond > 0 ? (total - done) / perSecond : Number.NaN,
      last,
    };
  };
}

/** `features train: 12,000/54,000 examples, 215/s, ETA 3m 15s`. */
export function formatProgress(p: PhaseProgress): string {
  const count = (n: number): string => n.toLocaleString('en-US');
  const rate = p.perSecond > 0 ? `, ${p.perSecond >= 10 ? Math.round(p.perSecond) : p.perSecond.toFixed(1)}/s` : '';
  const eta = Number.isFinite(p.etaSeconds) && !p.last ? `, ETA ${duration(p.etaSeconds)}` : '';
  return `${p.phase}: ${count(p.done)}/${count(p.total)} ${p.unit}${rate}${eta}`;
}

/** Cells of a drawn bar on a terminal: with the count, rate and ETA beside it, a line fits 80 columns. */
const BAR_CELLS = 16;

/** `██████░░░░░░░░░░ epoch 3: 416/540 batches, 23/s, ETA 5s`: the same figures behind a drawn bar, for a terminal; `phase` relabels the phase where a title already names it. */
export function formatProgressBar(p: PhaseProgress, phase = p.phase, cells = BAR_CELLS): string {
  const fraction = p.total > 0 ? Math.min(1, p.done / p.total) : 0;
  const full = Math.round(fraction * cells);
  return `${'█'.repeat(full)}${'░'.repeat(cells - full)} ${formatProgress({ ...p, phase })}`;
}

export function duration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}
