/** Damerau-free Levenshtein distance; inputs are short key names. */
export function editDistance(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = prev[0]!;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = prev[j]!;
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      prev[j] = Math.min(above + 1, prev[j - 1]! + 1, diagonal + cost);
      diagonal = above;
    }
  }
  return prev[b.length]!;
}

/**
 * The candidates closest to `word`, best first. Case differences count as
 * near misses (`learningrate` → `learningRate`), and a candidate must be
 * within about a third of the word's length to be offered at all.
 */
export function closestMatches(word: string, candidates: Iterable<string>, max = 3): string[] {
  const lower = word.toLowerCase();
  const scored: { candidate: string; score: number }[] = [];
  for (const candidate of candidates) {
    const score = candidate.toLowerCase() === lower ? 0 : editDistance(lower, candidate.toLowerCase());
    const limit = Math.max(2, Math.ceil(Math.max(word.length, candidate.length) / 3));
    if (score <= limit) scored.push({ candidate, score });
  }
  scored.sort((a, b) => a.score - b.score || a.candidate.localeCompare(b.candidate));
  return scored.slice(0, max).map((s) => s.candidate);
}

export function didYouMean(word: string, candidates: Iterable<string>): string | undefined {
  const [best] = closestMatches(word, candidates, 1);
  return best === undefined ? undefined : `did you mean \`${best}\`?`;
}
