/**
 * Likely label errors by confident learning (Northcutt, Jiang & Chuang,
 * "Confident Learning: Estimating Uncertainty in Dataset Labels", 2021; as
 * cleanlab's find_label_issues): from out-of-fold predicted probabilities,
 * a per-class threshold t_j (the mean probability of class j over the
 * examples labelled j), the confident joint (how many examples labelled i
 * are confidently class j), calibrated to estimate how many labelled i are
 * truly j, and that many examples labelled i flagged, largest p_j - p_i first.
 * Pure: tables in, findings out.
 */

/** One example flagged as probably mislabelled. */
export interface LabelIssue {
  /** The example's position in the table. */
  index: number;
  given: number;
  /** The class it is likelier to be instead (the confident joint's cell it was flagged from). */
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
 * `probabilities[n][k]` out-of-fold, `labels[n]` the given classes. The
 * confident joint counts each example labelled i whose likeliest class
 * among those reaching their threshold is j; calibrated so that row i sums
 * to the examples labelled i, its off-diagonal cell (i, j) estimates how
 * many labelled i are truly j. Then, as cleanlab's default
 * (filter_by='prune_by_noise_rate'), that many examples labelled i are
 * flagged: those with the largest margin p_j - p_i among ALL labelled i,
 * not only those the joint counted. Measured on planted look-alike flips
 * (9 labelled 4, 3 labelled 5): a flipped example often misses its true
 * class's threshold, so flagging only the joint's own off-diagonal
 * examples found 5 of 8; ranking by margin finds them. An example the
 * classifier finds likeliest as labelled is never flagged (cleanlab's
 * filter_by='both' asks that too).
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
  const byLabel = Array.from({ length: classes }, () => [] as number[]);
  probabilities.forEach((p, index) => {
    const given = labels[index]!;
    byLabel[given]!.push(index);
    const confident = confidentClass(p, thresholds);
    if (confident !== undefined) confidentJoint[given]![confident]!++;
  });
  const flagged = new Map<number, LabelIssue>();
  calibratedJoint(confidentJoint, byLabel).forEach((row, given) =>
    row.forEach((estimate, suggested) => {
      const count = Math.round(estimate);
      if (suggested === given || count < 1) return;
      const margin = (index: number): number => probabilities[index]![suggested]! - probabilities[index]![given]!;
      const ranked = [...byLabel[given]!].sort((a, b) => margin(b) - margin(a) || a - b);
      for (const index of ranked.slice(0, count)) {
        const p = probabilities[index]!;
        const other = bestOther(p, given);
        if (flagged.has(index) || !(p[other]! > p[given]!)) continue;
        flagged.set(index, { index, given, suggested, selfConfidence: p[given]!, margin: p[other]! - p[given]! });
      }
    }),
  );
  const issues = [...flagged.values()].sort(
    (a, b) => b.margin - a.margin || a.selfConfidence - b.selfConfidence || a.index - b.index,
  );
  return { thresholds, confidentJoint, issues };
}

/** The confident joint with each row scaled to the count of examples labelled with its class (cleanlab's calibrate_confident_joint). */
function calibratedJoint(joint: readonly number[][], byLabel: readonly number[][]): number[][] {
  return joint.map((row, i) => {
    const counted = row.reduce((sum, v) => sum + v, 0);
    return row.map((v) => (counted > 0 ? (v / counted) * byLabel[i]!.length : 0));
  });
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
