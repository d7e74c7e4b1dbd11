/**
 * A compared number as tlpipe prints it elsewhere: seconds to a tenth, as
 * `tlpipe runs` does; epochs whole; every other metric (accuracy, loss,
 * AUROC, IoU) to 4 decimals, 1 as `1.0000`, so a column lines up.
 */
export function formatComparedNumber(metric: string, value: number | null | undefined): string {
  if (value === null || value === undefined) return '–';
  if (metric === 'seconds') return value.toFixed(1);
  if (metric === 'epochs') return String(value);
  return value.toFixed(4);
}
