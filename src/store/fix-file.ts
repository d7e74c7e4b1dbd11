import type { ExampleRef, LabelIssueFinding } from '../engine/audit/audit-types.js';
import type { AuditResult } from '../engine/audit/audit-types.js';
import { writeFileAtomic } from './atomic-write.js';
import { csvField } from './report-file.js';

/**
 * `tlpipe audit --fix <file.csv>`: the audit's suggestions as CSV rows a
 * person (or a script) applies to their data; the data itself is never
 * changed.
 */

/** One row of `--fix`'s CSV: what to do about one example. */
export interface FixRow {
  example: string;
  split: string;
  given: string;
  /** A class name, or `remove`. */
  suggested: string;
  reason: string;
  score: number;
}

export const FIX_HEADER = ['example', 'split', 'given', 'suggested', 'reason', 'score'] as const;

/**
 * The suggestions of an audit as rows: relabel each likely label error to
 * the class the data says; remove the held-out copy of each exact leak
 * (the test or validation image that training saw), and the later copy of
 * each exact duplicate within a split. Near-duplicates are left to a
 * person: similar is not the same.
 */
export function fixRows(audit: AuditResult): FixRow[] {
  const name = (label: number): string => audit.classes[label] ?? String(label);
  const rows: FixRow[] = audit.labelIssues.shown.map((issue: LabelIssueFinding) => ({
    example: issue.name,
    split: issue.split,
    given: name(issue.label),
    suggested: name(issue.suggested),
    reason: `label error: out-of-fold p(${name(issue.label)}) ${issue.selfConfidence.toFixed(3)}, ${name(issue.suggested)} likelier by ${issue.margin.toFixed(3)}`,
    score: issue.margin,
  }));
  const removed = new Set(rows.map((r) => `${r.split}:${r.example}`));
  const remove = (e: ExampleRef, reason: string): void => {
    const key = `${e.split}:${e.name}`;
    if (removed.has(key)) return;
    removed.add(key);
    rows.push({ example: e.name, split: e.split, given: name(e.label), suggested: 'remove', reason, score: 1 });
  };
  for (const p of audit.duplicates.leaks.filter((p) => p.exact))
    remove(p.a, `leak: the same image as ${p.b.split} example ${p.b.name}`);
  for (const p of audit.duplicates.within.filter((p) => p.exact))
    remove(p.b, `duplicate: the same image as ${p.a.split} example ${p.a.name}`);
  return rows;
}

export function fixCsv(rows: readonly FixRow[]): string {
  const lines = [FIX_HEADER.join(',')];
  for (const r of rows)
    lines.push([r.example, r.split, r.given, r.suggested, r.reason, r.score.toFixed(4)].map(csvField).join(','));
  return lines.join('\n') + '\n';
}

export function writeFixCsv(file: string, rows: readonly FixRow[]): Promise<void> {
  return writeFileAtomic(file, fixCsv(rows));
}
