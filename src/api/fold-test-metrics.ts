/**
 * A fold's test metrics as the flat names summary.json and report.html give
 * per fold and as mean ± std: the plain evaluation, and, where the pipeline
 * asked for them, its test-time-augmented one and its decision rule's
 * (calibration, threshold, abstention). Pure: the read-back summary in, numbers out.
 */

/** A metric read back: null where it is undefined. */
type Read = number | null | undefined;

/** What one evaluation of the test split has, with or without test-time augmentation. */
interface SplitRead {
  accuracy: Read;
  loss: Read;
  topK?: Record<string, Read>;
  perClass: Record<string, { precision: Read; recall: Read; f1: Read; auroc?: Read; averagePrecision?: Read }>;
  calibration?: { ece: Read };
}

interface BinaryRead {
  accuracy: Read;
  precision: Read;
  recall: Read;
  f1: Read;
  balancedAccuracy: Read;
}

/** summary.json `test` of a classification run, as the store reads it back. */
export interface FoldTestRead extends SplitRead {
  tta?: SplitRead;
  decision?: {
    calibration?: { temperature: number; after: { ece: Read; nll: Read } };
    threshold?: { value: number; tuned: BinaryRead };
    abstain?: { coverage: Read; accuracyAnswered: Read };
  };
}

/** test_* (and test_tta_*, test_calibrated_*, test_threshold_*, test_abstain_*) for one fold: only the finite values it has. */
export function foldTestMetrics(test: FoldTestRead): Record<string, number> {
  const { tta, decision } = test;
  const named: [string, Read][] = [
    ...splitMetrics('test', test, true),
    ...(tta ? splitMetrics('test_tta', tta, false) : []),
    ['test_calibrated_ece', decision?.calibration?.after.ece],
    ['test_calibrated_nll', decision?.calibration?.after.nll],
    ['calibration_temperature', decision?.calibration?.temperature],
    ['threshold_value', decision?.threshold?.value],
    ...binaryMetrics('test_threshold', decision?.threshold?.tuned),
    ['test_abstain_coverage', decision?.abstain?.coverage],
    ['test_abstain_accuracy_answered', decision?.abstain?.accuracyAnswered],
  ];
  return Object.fromEntries(
    named.filter((entry): entry is [string, number] => typeof entry[1] === 'number' && Number.isFinite(entry[1])),
  );
}

function splitMetrics(prefix: string, split: SplitRead, withTopK: boolean): [string, Read][] {
  const classes = Object.values(split.perClass);
  const macro = (pick: (c: (typeof classes)[number]) => Read): number | undefined => {
    const values = classes.map(pick);
    return values.every((v): v is number => typeof v === 'number' && Number.isFinite(v)) && values.length > 0
      ? values.reduce((a, b) => a + b, 0) / values.length
      : undefined;
  };
  return [
    [`${prefix}_accuracy`, split.accuracy],
    [`${prefix}_loss`, split.loss],
    ...(withTopK
      ? Object.entries(split.topK ?? {})
          .filter(([k]) => k !== 'top1')
          .map(([k, v]): [string, Read] => [`${prefix}_${k}`, v])
      : []),
    [`${prefix}_macro_precision`, macro((c) => c.precision)],
    [`${prefix}_macro_recall`, macro((c) => c.recall)],
    [`${prefix}_macro_f1`, macro((c) => c.f1)],
    [`${prefix}_macro_auroc`, macro((c) => c.auroc)],
    [`${prefix}_macro_average_precision`, macro((c) => c.averagePrecision)],
    [`${prefix}_ece`, split.calibration?.ece],
  ];
}

function binaryMetrics(prefix: string, metrics: BinaryRead | undefined): [string, Read][] {
  if (!metrics) return [];
  return [
    [`${prefix}_accuracy`, metrics.accuracy],
    [`${prefix}_precision`, metrics.precision],
    [`${prefix}_recall`, metrics.recall],
    [`${prefix}_f1`, metrics.f1],
    [`${prefix}_balanced_accuracy`, metrics.balancedAccuracy],
  ];
}

/** How a metric over folds is written (the CLI's k-fold lines): from here, so printing them loads no engine. */
export { meanPlusMinus } from '../plan/fold-metrics.js';
