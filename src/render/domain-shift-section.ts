import type { RunSummary } from '../store/summary-file.js';
import { escapeHtml as escape } from './report-charts.js';

/** An AUROC at least this much closer to 0.5 after adaptation is called a reduction: out-of-fold AUROCs of a few hundred images move by a few hundredths by chance. */
const REDUCED_BY = 0.05;

/** How far from indistinguishable (measure-shift reports a score below chance as 0.5). */
const distance = (auroc: number): number => Math.max(0, auroc - 0.5);

/** Whether adaptation brought the domains closer, in words. */
export function shiftVerdict(before: number, after: number): string {
  const change = distance(before) - distance(after);
  if (change >= REDUCED_BY) return `adaptation reduced the shift (AUROC ${before.toFixed(3)} → ${after.toFixed(3)})`;
  if (change <= -REDUCED_BY) return `the shift grew during the run (AUROC ${before.toFixed(3)} → ${after.toFixed(3)})`;
  return `the shift is unchanged (AUROC ${before.toFixed(3)} → ${after.toFixed(3)})`;
}

/** `adapt:`: the domain shift before and after adaptation, and what the numbers mean. Nothing for a run without it. */
export function domainShiftSection(shift: RunSummary['domainShift']): string {
  if (!shift) return '';
  const { before, after } = shift;
  return `<h2>Domain shift</h2><p>How well a logistic regression, cross-validated, tells ${shift.target} target images (<code>adapt.images</code>) from ${shift.train} training images by the base's features (${escape(shift.features)}): its AUROC is 0.5 when the base sees the two alike, near 1 when they are two domains. <b id="domain-shift-verdict">${escape(shiftVerdict(before.auroc, after.auroc))}</b>.</p>
<table class="domain-shift"><tr><th></th><th>AUROC</th></tr><tr><th>before adaptation (the base as cut)</th><td id="shift-before">${before.auroc.toFixed(3)}</td></tr><tr><th>after adaptation (the base as the run ends)</th><td id="shift-after">${after.auroc.toFixed(3)}</td></tr></table>
<p>A smaller shift makes the head's training more likely to carry over to the target images; it says nothing of their accuracy, which needs labelled target images.</p>`;
}
