/**
 * The data audit as HTML: a section (report.html includes it when the
 * pipeline asks for `evaluate: { audit: true }`) and audit.html, the page
 * `tlpipe audit` writes. Self-contained: thumbnails inline, no scripts.
 */
import type { ExampleRef, PairFinding } from '../engine/audit/audit-types.js';
import { exampleKey, type StoredAudit } from '../store/audit-file.js';
import { escapeHtml as escape } from './report-charts.js';
import { confusionHeatmap, page } from './report-html.js';

/** Rows each list shows (audit.json holds more). */
const SHOWN = 40;

const fixed = (n: number | null | undefined, digits = 3): string =>
  n === null || n === undefined || !Number.isFinite(n) ? '–' : n.toFixed(digits);

/** audit.html: the audit of `pipeline` as one page. */
export function renderAuditPage(audit: StoredAudit, pipeline: string): string {
  return page(`Data audit: ${pipeline}`, auditBody(audit, 2));
}

/** The audit as a section of a run's report. */
export function auditSection(audit: StoredAudit): string {
  return `<h2 id="audit">Data audit</h2>${auditBody(audit, 3)}`;
}

function auditBody(audit: StoredAudit, level: 2 | 3): string {
  const h = (text: string, id: string): string => `<h${level} id="${id}">${escape(text)}</h${level}>`;
  return [
    `<p class="headline">${headline(audit)}</p>`,
    `<p class="note">On the base's features (${audit.features.width} values per example) of ${audit.examples.train} train, ${audit.examples.validation} validation and ${audit.examples.test} test examples; out-of-fold probabilities of a logistic regression over ${audit.settings.folds} stratified folds (seed ${audit.settings.seed}), averaged with a vote of each example's 10 nearest neighbours by features; their accuracy ${fixed(audit.outOfFoldAccuracy)}.</p>`,
    h('Likely label errors', 'audit-labels'),
    labelSection(audit),
    h('Train/test leaks', 'audit-leaks'),
    pairSection(audit, audit.duplicates.leaks, 'leak'),
    h('Duplicates within a split', 'audit-duplicates'),
    pairSection(audit, audit.duplicates.within, 'duplicate'),
    h('Classes', 'audit-classes'),
    classSection(audit),
    h('Domain shift (train vs test)', 'audit-shift'),
    shiftSection(audit),
  ].join('\n');
}

/** What the audit found, as plain text on one line. */
export const headlineText = (audit: StoredAudit): string => headline(audit).replace(/<[^>]+>/g, '');

/** One line of what the audit found. */
export function headline(audit: StoredAudit): string {
  const c = audit.duplicates.counts;
  const parts = [
    `<b id="audit-label-issues">${audit.labelIssues.total}</b> likely label errors`,
    `<b id="audit-leaks">${c.exactLeaks + c.nearLeaks}</b> train/test leaks (${c.exactLeaks} exact)`,
    `${c.exactWithin + c.nearWithin} duplicates within splits (${c.exactWithin} exact)`,
    `class imbalance ${fixed(audit.balance.ratio, 1)}×${audit.balance.warn ? ' (warning)' : ''}`,
    `${audit.imageStatistics.outliers.length} classes with unusual image statistics`,
    audit.shift ? `train/test shift AUROC ${fixed(audit.shift.auroc)}` : 'no train/test shift measured',
  ];
  return parts.join(' · ');
}

const className = (audit: StoredAudit, label: number): string => audit.classes[label] ?? String(label);

function thumbnail(audit: StoredAudit, e: ExampleRef): string {
  const png = audit.thumbnails[exampleKey(e)];
  return png
    ? `<img class="thumbnail" src="data:image/png;base64,${png}" alt="${escape(e.name)}" width="64" height="64">`
    : '';
}

function labelSection(audit: StoredAudit): string {
  const weak = audit.weakFeatures
    ? `<p class="audit-weak"><b>The features separate the classes poorly</b> (out-of-fold accuracy ${fixed(audit.outOfFoldAccuracy)}): many flags below are the simple classifier's mistakes, not wrong labels. A base cut where its features suit these images (an earlier cut for small or unusual images) makes the label audit sharper.</p>`
    : '';
  const issues = audit.labelIssues.shown;
  if (issues.length === 0) return `${weak}<p>No example is confidently another class than its label.</p>`;
  const rows = issues
    .slice(0, SHOWN)
    .map(
      (e) =>
        `<tr><td>${thumbnail(audit, e)}</td><td style="text-align:left">${escape(e.name)}</td><td>${e.split}</td><td>${escape(className(audit, e.label))}</td><td>${escape(className(audit, e.suggested))}</td><td>${fixed(e.selfConfidence)}</td><td>${fixed(e.margin)}</td></tr>`,
    )
    .join('');
  const more =
    audit.labelIssues.total > SHOWN
      ? `<p class="note">The surest ${SHOWN} of ${audit.labelIssues.total}; audit.json lists up to ${issues.length}.</p>`
      : '';
  return `${weak}<p class="note">Confident learning (cleanlab's prune by noise rate): each class's threshold is the mean out-of-fold probability of the class over the examples labelled with it; counting the examples whose probability of another class reaches that class's threshold estimates how many examples labelled i are really j, and that many examples labelled i are flagged, those where j is likeliest over the label by the largest margin. Ranked by that margin.</p><table class="audit-labels"><tr><th>image</th><th>example</th><th>split</th><th>label</th><th>suggested</th><th>p(label)</th><th>margin</th></tr>${rows}</table>${more}`;
}

function pairSection(audit: StoredAudit, pairs: readonly PairFinding[], kind: 'leak' | 'duplicate'): string {
  if (pairs.length === 0)
    return `<p>None: no two ${kind === 'leak' ? 'examples of different splits' : 'examples of one split'} have the same pixels or a feature similarity of ${String(audit.settings.threshold)} or more.</p>`;
  const rows = pairs
    .slice(0, SHOWN)
    .map(
      (p) =>
        `<tr><td>${thumbnail(audit, p.a)}</td><td>${thumbnail(audit, p.b)}</td><td style="text-align:left">${escape(p.a.split)} ${escape(p.a.name)} (${escape(className(audit, p.a.label))})<br>${escape(p.b.split)} ${escape(p.b.name)} (${escape(className(audit, p.b.label))})</td><td>${pairVerdict(p)}</td></tr>`,
    )
    .join('');
  const note =
    kind === 'leak'
      ? 'A held-out image that training also saw (or one very like it) makes the held-out metrics too good.'
      : 'Copies within a split weigh an image more than the others; near-copies may be bursts of one scene.';
  return `<p class="note">${note} Exact copies by their pixels' digest; moved or recompressed copies by their pixels aligned (each image against its nearest neighbours by features); look-alikes by the cosine similarity of their features (≥ ${String(audit.settings.threshold)}).</p><table class="audit-pairs"><tr><th>image</th><th>image</th><th>examples</th><th>found by</th></tr>${rows}</table>`;
}

/** How a pair was found: identical pixels, the same picture aligned, or similar features. */
function pairVerdict(p: PairFinding): string {
  if (p.exact) return 'identical pixels';
  if (p.pixelDistance !== undefined)
    return `the same picture, moved or recompressed (aligned pixel distance ${fixed(p.pixelDistance)}; features ${fixed(p.similarity)})`;
  return `features ${fixed(p.similarity)}`;
}

function classSection(audit: StoredAudit): string {
  const { balance, imageStatistics } = audit;
  const outlier = (k: number): string =>
    imageStatistics.outliers
      .filter((o) => o.class === k)
      .map((o) => `${o.statistic} ${o.direction}`)
      .join(', ');
  const rows = audit.classes
    .map((name, k) => {
      const s = imageStatistics.perClass[k];
      return `<tr><th>${escape(name)}</th><td>${balance.counts[k] ?? 0}</td><td>${balance.perSplit.train[k] ?? 0}</td><td>${balance.perSplit.validation[k] ?? 0}</td><td>${balance.perSplit.test[k] ?? 0}</td><td>${fixed(s?.brightness, 1)}</td><td>${fixed(s?.contrast, 1)}</td><td>${escape(outlier(k))}</td></tr>`;
    })
    .join('');
  const warnings = [
    ...(balance.warn
      ? [
          `The largest class has ${fixed(balance.ratio, 1)}× the examples of the smallest: weigh the classes (train.classWeights) or collect more of the small ones.`,
        ]
      : []),
    ...imageStatistics.outliers.map(
      (o) =>
        `Class ${escape(className(audit, o.class))} is much ${o.statistic === 'brightness' ? (o.direction === 'higher' ? 'brighter' : 'darker') : o.direction === 'higher' ? 'more contrasted' : 'flatter'} than the others (${fixed(o.value, 1)} against ${fixed(o.others, 1)}, ${fixed(Math.abs(o.spreads), 1)} within-class standard deviations): a shortcut the model can learn instead of the objects.`,
    ),
    ...audit.confusion.hardPairs.map(
      (p) =>
        `${fixed(p.share * 100, 0)}% of ${escape(className(audit, p.actual))} is predicted ${escape(className(audit, p.predicted))} out of fold: hard to separate on these features.`,
    ),
  ];
  return `${warnings.length > 0 ? `<ul class="audit-warnings">${warnings.map((w) => `<li>${w}</li>`).join('')}</ul>` : '<p>No class stands out.</p>'}<table class="audit-classes"><tr><th>class</th><th>examples</th><th>train</th><th>validation</th><th>test</th><th>mean brightness</th><th>mean contrast</th><th>stands out</th></tr>${rows}</table><p class="note">Out-of-fold confusion (rows: labels, columns: predictions).</p>${confusionHeatmap(audit.confusion.matrix, audit.classes)}`;
}

function shiftSection(audit: StoredAudit): string {
  const shift = audit.shift;
  const perSplit = audit.imageStatistics.perSplit ?? {};
  const splits = (['train', 'validation', 'test'] as const).filter((s) => perSplit[s]);
  const table =
    splits.length > 0
      ? `<table class="audit-splits"><tr><th>split</th><th>examples</th><th>mean brightness</th><th>mean contrast</th></tr>${splits
          .map(
            (s) =>
              `<tr><th>${s}</th><td>${perSplit[s]!.count}</td><td>${fixed(perSplit[s]!.brightness, 1)}</td><td>${fixed(perSplit[s]!.contrast, 1)}</td></tr>`,
          )
          .join('')}</table>`
      : '';
  if (!shift) return `<p>Not measured: it needs a test split and at least 10 examples on each side.</p>${table}`;
  return `${table}<p>A classifier told which split each example's features come from reaches an out-of-fold AUROC of <b id="audit-shift">${fixed(shift.auroc)}</b> (${shift.train} training, ${shift.test} test examples). ${shift.warn ? 'The test split looks different from the training data: its metrics may not say how the model does on the training distribution, or the reverse.' : 'About 0.5: the splits look alike.'}</p>`;
}
