import path from 'node:path';
import { formatDiagnostic } from '../diagnostics/diagnostic.js';
import type { EpochMetrics, RunEvent } from '../engine/events.js';

const n4 = (x: number | undefined): string => (x === undefined ? '–' : x.toFixed(4));

/**
 * One human line per event worth a line, for pipes, CI and log.txt.
 * Per-batch events return undefined: they are for live renderers only.
 */
const percent = (share: number): string => `${(share * 100).toFixed(0)}%`;

export function formatEventLine(event: RunEvent): string | undefined {
  switch (event.type) {
    case 'run-start':
      return event.resumed
        ? `resuming ${shown(event.dir)} ${event.fromEpoch ? `from epoch ${event.fromEpoch}` : 'from the start (it has no intact checkpoint to continue from)'}`
        : `run ${shown(event.dir)}`;
    case 'run-end':
      return `run ${event.status} in ${event.seconds.toFixed(1)}s${event.error ? `: ${event.error.message}` : ''}`;
    case 'warning':
      return formatDiagnostic(event.diagnostic);
    case 'backend':
      return `backend ${event.backend}${event.skipped.map((s) => ` (skipped ${s.name}: ${s.reason})`).join('')}`;
    case 'data':
      return `data ${event.train} train, ${event.validationFrom === 'test' ? 'validation on the test split' : `${event.validation} validation`}, ${event.test} test; ${event.numClasses} classes; ${event.input}, ${event.storage === 'memory' ? 'held in memory' : 'decoded per batch'}${event.skipped > 0 ? `; ${event.skipped} bad file(s) skipped` : ''}${event.ignored > 0 ? `; ${event.ignored} non-image file(s) ignored` : ''}`;
    case 'base':
      if (event.model === 'none') return `no base: the head reads the ${event.outputShape.join('×')} inputs themselves`;
      return `base ${event.model} cut at ${event.cut}: ${event.layers} layers, ${event.params.toLocaleString('en-US')} params, features ${event.outputShape.join('×')} (${event.seconds.toFixed(1)}s)`;
    case 'features-start':
      return `${featuresOf(event.at)} ${event.split}: extracting ${event.total} examples`;
    case 'features-end':
      return `${featuresOf(event.at)} ${event.split}: ${event.total} examples in ${event.seconds.toFixed(1)}s (${event.imagesPerSecond.toFixed(1)}/s${event.workers ? `, ${event.workers} workers` : ''})`;
    case 'features-reused':
      return `${featuresOf(event.at)} ${event.split}: ${event.total} examples from the stage cache`;
    case 'stage-reused':
      return `stage ${event.stage}: ${event.epochs} epoch(s) reused from the stage cache`;
    case 'stage-start':
      return `stage ${event.stage}: ${event.epochs} epoch(s) from epoch ${event.firstEpoch}`;
    case 'epoch-end': {
      const m = event.metrics;
      const iou = m.val_meanIoU === undefined ? '' : ` val_mIoU ${n4(m.val_meanIoU)}`;
      const val = m.val_loss === undefined ? '' : `  val_loss ${n4(m.val_loss)} val_acc ${n4(m.val_accuracy)}${iou}`;
      // dataset.source: the share of the epoch's examples, and of its loss weight, that came from the source.
      const source =
        m.sourceShare === undefined
          ? ''
          : `  source ${percent(m.sourceShare)} of examples, ${percent(m.sourceWeightShare ?? 0)} of weight`;
      return `${m.stage} epoch ${m.epoch}${m.reused ? ' (reused)' : ''}  loss ${n4(m.loss)} acc ${n4(m.accuracy)}${val}${alignmentText(m)}${source}  lr ${Number(m.lr.toPrecision(3))}  ${m.seconds.toFixed(1)}s`;
    }
    case 'stage-end':
      return `stage ${event.stage} done after ${event.epochsRun} epoch(s)${event.stoppedEarly ? ', stopped early' : ''}${event.restoredEpoch !== undefined ? `; weights of epoch ${event.restoredEpoch} restored` : ''}`;
    case 'baseline-start':
      return `baseline: the same architecture from random initialisation, ${event.epochs} epoch(s)`;
    case 'baseline-epoch-end':
      return `scratch ${formatEventLine({ type: 'epoch-end', metrics: event.metrics })}`;
    case 'baseline-end':
      if (event.test && 'meanIoU' in event.test)
        return `scratch baseline test ${event.test.examples} images: mean IoU ${n4(event.test.meanIoU)} pixel accuracy ${n4(event.test.pixelAccuracy)} loss ${n4(event.test.loss)}`;
      return event.test
        ? `scratch baseline test ${event.test.examples} examples: accuracy ${n4(event.test.accuracy)} loss ${n4(event.test.loss)}`
        : 'scratch baseline done';
    case 'evaluate-end':
      return 'meanIoU' in event.test
        ? `test ${event.test.examples} images: mean IoU ${n4(event.test.meanIoU)} pixel accuracy ${n4(event.test.pixelAccuracy)} loss ${n4(event.test.loss)}`
        : `test ${event.test.examples} examples: accuracy ${n4(event.test.accuracy)} loss ${n4(event.test.loss)}`;
    case 'export-end': {
      const q = event.quantized;
      const quantized = q
        ? `; ${q.dir}/ with ${q.dtype} weights, ${(q.floatWeightBytes / q.weightBytes).toFixed(2)}× smaller${q.test ? `: test accuracy ${n4(q.test.accuracy)}` : ''}`
        : '';
      return `exported ${event.dir}/ (reload check: ${event.verified ? 'identical predictions' : `max difference ${event.maxAbsDifference}`})${quantized}`;
    }
    case 'strategy-probe-start':
      return `strategy auto: probing ${event.model} at ${event.cuts.join(', ')} on ${event.examples} training examples…`;
    case 'strategy-probe-end':
      return `strategy auto (${event.seconds.toFixed(1)}s): ${event.decision}`;
    case 'log':
      return `${event.level === 'warn' ? 'warning: ' : ''}${event.message}`;
    default:
      return undefined;
  }
}

/** A path as a person in the working folder would type it. */
export const shown = (file: string): string => path.relative(process.cwd(), file) || file;

/** Features for the head, or a fine-tuning stage's frozen prefix up to the layer `at`. */
function featuresOf(at: string | undefined): string {
  return at ? `frozen prefix (to ${at})` : 'features';
}

/** adapt.method coral or dann: the epoch's alignment figures. */
function alignmentText(m: EpochMetrics): string {
  if (m.coral_loss !== undefined) return `  coral ${m.coral_loss.toPrecision(4)}`;
  if (m.domain_loss !== undefined) return `  domain_loss ${n4(m.domain_loss)} domain_acc ${n4(m.domain_accuracy)}`;
  return '';
}
