/**
 * Likely label errors by confident learning (Northcutt, Jiang & Chuang,
 * "Confident Learning: Estimating Uncertainty in Dataset Labels", 2021; as
 * cleanlab's find_label_issues): from out-of-fold predicted probabilities,
 * a per-class threshold t_j (the mean probability of class j over the
 * examples labelled j), the confident joint (how many examples labelled i
 * are confidently class j), and the examples it puts off the diagonal.
 * Pure: tables in, findings out.
 */

/** One example flagged as probably mislabelled. */
export interface LabelIssue {
  /** The example's position in the table. */
  index: number;
  given: number;
  /** The class the example confidently belongs to instead. */
  suggested: number;
  /** Its out-of-fold probability of the given label (self-confidence). */
  selfConfidence: number;
  /** max over other classes of p_j, minus p_given: in (0, 1], higher is surer. */
  margin: number;
}

export interface ConfidentLearning {
  /** t_j per class; NaN for a class no example is labelled with. */
  thresholds: number[];
  /** confidentJoint[i][j]: examples labelled i that are confidently j (those with no class above its threshold are not counted). */
  confidentJoint: number[][];
  /** Flagged examples, surest first (largest margin, then lowest self-confidence, then position). */
  issues: LabelIssue[];
}

/**
 * `probabilities[n][k]` out-of-fold, `labels[n]` the given classes. An
 * example labelled y is flagged when p_y is below t_y and some other class
 * j reaches its own threshold t_j: the confident joint counts it off the
 * diagonal, at the class among those above threshold it is likeliest to be.
 * Requiring p_y < t_y, and the classifier's likeliest class to be another
 * than y (cleanlab's filter_by='both' asks that too), keeps examples the
 * model finds plausible as labelled out of the list.
 */
export function confidentLearning(
  probabilities: readonly ArrayLike<number>[],
  labels: ArrayLike<number>,
  classes: number,
): ConfidentLearning {
  if (probabilities.length !== labels.length)
    throw new RangeError(`${probabilities.length} rows of probabilities for ${labels.length} labels`);
  const thresholds = classThresholds(probabilities, labels, classes);
  const confidentJoint = Array.from({ length: classes }, () => new Array<number>(classes).fill(0));
  const issues: LabelIssue[] = [];
  probabilities.forEach((p, index) => {
    const given = labels[index]!;
    const confident = confidentClass(p, thresholds);
    if (confident === undefined) return;
    confidentJoint[given]![confident]!++;
    if (confident === given || !(p[given]! < thresholds[given]!)) return;
    const other = bestOther(p, given);
    if (!(p[other]! > p[given]!)) return;
    issues.push({ index, given, suggested: confident, selfConfidence: p[given]!, margin: p[other]! - p[given]! });
  });
  issues.sort((a, b) => b.margin - a.margin || a.selfConfidence - b.selfConfidence || a.index - b.index);
  return { thresholds, confidentJoint, issues };
}

/** t_j: the mean of p_j over the examples labelled j. */
export function classThresholds(
  probabilities: readonly ArrayLike<number>[],
  labels: ArrayLike<number>,
  classes: number,
): number[] {
  const sums = new Array<number>(classes).fill(0);
  const counts = new Array<number>(classes).fill(0);
  probabilities.forEach((p, i) => {
    const y = labels[i]!;
    sums[y]! += p[y]!;
    counts[y]!++;
  });
  return sums.map((s, j) => (counts[j]! > 0 ? s / counts[j]! : Number.NaN));
}

/** The likeliest class among those whose probability reaches their threshold; none when no class does. */
function confidentClass(p: ArrayLike<number>, thresholds: readonly number[]): number | undefined {
  let best: number | undefined;
  for (let j = 0; j < thresholds.length; j++) {
    if (!(p[j]! >= thresholds[j]!)) continue;
    if (best === undefined || p[j]! > p[best]!) best = j;
  }
  return best;
}

/** The likeliest class other than `given`. */
function bestOther(p: ArrayLike<number>, given: number): number {
  let best = given === 0 ? 1 : 0;
  for (let j = 0; j < p.length; j++) if (j !== given && p[j]! > p[best]!) best = j;
  return best;
}
