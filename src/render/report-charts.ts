/**
 * The line charts of report pages, as inline SVG: no script, nothing
 * fetched. Ticks fall on round numbers, a series breaks where a stage ends
 * (a new stage is a new optimizer, not a continuation), and the legend has
 * rows of its own under the plot, so no text is drawn over other text.
 */

export const escapeHtml = (text: string): string =>
  text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

export interface Series {
  name: string;
  color: string;
  /** [epoch, value]; an epoch without a value is a gap in the line. */
  points: [number, number][];
  dashed?: boolean;
  /** This series' own stage boundaries (epochs between two stages), where its line is lifted; a comparison's runs each have theirs. */
  breaks?: number[];
  /** Drawn wider and paler, so a series drawn over it with the same values stays visible. */
  wide?: boolean;
}

/** A vertical mark at an epoch: the best epoch, the epoch early stopping restored. */
export interface EpochMark {
  epoch: number;
  label: string;
  color: string;
}

export interface ChartOptions {
  /** Where one stage ends and the next begins (between two epochs), with the name of the one beginning. */
  boundaries?: { epoch: number; stage: string }[];
  marks?: EpochMark[];
  /** A log scale, for learning rates that decay over orders of magnitude. */
  log?: boolean;
}

const WIDTH = 520;
const PLOT = { left: 56, right: 16, top: 30, height: 190 };
/** Rough width of a character of the 11 px legend font, to lay legend entries out in rows. */
const CHAR_PX = 6.4;
const LEGEND_ROW = 16;

/** A line chart; x is the continuous epoch number. Empty when no series has a point. */
export function lineChart(title: string, series: Series[], options: ChartOptions = {}): string {
  const drawn = series.filter((s) => s.points.length > 0);
  const all = drawn.flatMap((s) => s.points);
  if (all.length === 0) return '';
  const log = options.log === true && all.every(([, y]) => y > 0);
  const value = (y: number): number => (log ? Math.log10(y) : y);
  const xs = all.map(([x]) => x),
    ys = all.map(([, y]) => value(y));
  const xMin = Math.min(...xs, 0),
    xMax = Math.max(...xs, 1);
  const ticks = log ? logTicks(Math.min(...ys), Math.max(...ys)) : niceTicks(Math.min(...ys), Math.max(...ys));
  const yMin = ticks[0]!.value,
    yMax = ticks.at(-1)!.value;
  const bottom = PLOT.top + PLOT.height;
  const sx = (x: number): number => PLOT.left + ((x - xMin) / (xMax - xMin)) * (WIDTH - PLOT.left - PLOT.right);
  const sy = (y: number): number => PLOT.top + (1 - (value(y) - yMin) / (yMax - yMin || 1)) * PLOT.height;
  const syValue = (v: number): number => PLOT.top + (1 - (v - yMin) / (yMax - yMin || 1)) * PLOT.height;
  const breaks = (options.boundaries ?? []).map((b) => b.epoch);
  const legend = legendRows(drawn, options.marks ?? []);
  const height = bottom + 34 + legend.rows * LEGEND_ROW + 4;
  const parts = [
    `<svg class="chart" role="img" aria-label="${escapeHtml(title)}" viewBox="0 0 ${WIDTH} ${height}" width="${WIDTH}" height="${height}" xmlns="http://www.w3.org/2000/svg">`,
    `<text x="${PLOT.left}" y="18" class="title">${escapeHtml(title)}</text>`,
    ...ticks.map(
      (t) =>
        `<line x1="${PLOT.left}" x2="${WIDTH - PLOT.right}" y1="${f(syValue(t.value))}" y2="${f(syValue(t.value))}" class="grid"/><text x="${PLOT.left - 6}" y="${f(syValue(t.value) + 4)}" text-anchor="end" class="tick">${t.label}</text>`,
    ),
    ...(options.boundaries ?? []).map(
      (b) =>
        `<line x1="${f(sx(b.epoch))}" x2="${f(sx(b.epoch))}" y1="${PLOT.top}" y2="${bottom}" class="stage"/><text x="${f(sx(b.epoch) + 4)}" y="${PLOT.top + 11}" class="tick stage-label">${escapeHtml(b.stage)}</text>`,
    ),
    ...(options.marks ?? []).map(
      (m) =>
        `<line class="mark" data-mark="${escapeHtml(m.label)}" x1="${f(sx(m.epoch))}" x2="${f(sx(m.epoch))}" y1="${PLOT.top}" y2="${bottom}" stroke="${m.color}" stroke-width="1.5" stroke-dasharray="2 2"/>`,
    ),
    ...epochTicks(xMin, xMax).map(
      (x) => `<text x="${f(sx(x))}" y="${bottom + 14}" text-anchor="middle" class="tick">${x}</text>`,
    ),
    `<text x="${(PLOT.left + WIDTH - PLOT.right) / 2}" y="${bottom + 28}" text-anchor="middle" class="tick">epoch</text>`,
    ...drawn.map((s) => {
      const d = pathOf(s.points, [...breaks, ...(s.breaks ?? [])], sx, sy);
      const dots = s.points
        .map(
          ([x, y]) =>
            `<circle cx="${f(sx(x))}" cy="${f(sy(y))}" r="${s.wide ? 3.5 : 2.5}" fill="${s.color}"${s.wide ? ' fill-opacity="0.45"' : ''}/>`,
        )
        .join('');
      const style = s.wide ? ' stroke-width="6" stroke-opacity="0.45"' : ' stroke-width="2"';
      return `<path class="series" data-series="${escapeHtml(s.name)}" d="${d}" stroke="${s.color}" fill="none"${style}${s.dashed ? ' stroke-dasharray="6 3"' : ''}/>${dots}`;
    }),
    `<g class="legend">${legend.items.map((item) => `<g><line x1="${f(item.x)}" x2="${f(item.x + 18)}" y1="${f(bottom + 40 + item.row * LEGEND_ROW)}" y2="${f(bottom + 40 + item.row * LEGEND_ROW)}" stroke="${item.color}" stroke-width="${item.wide ? 5 : 2}"${item.wide ? ' stroke-opacity="0.45"' : ''}${item.dashed ? ' stroke-dasharray="6 3"' : ''}/><text x="${f(item.x + 22)}" y="${f(bottom + 44 + item.row * LEGEND_ROW)}" class="legend-label">${escapeHtml(item.name)}</text></g>`).join('')}</g>`,
    '</svg>',
  ];
  return parts.join('\n');
}

const f = (n: number): string => n.toFixed(1);

/** The path through a series' points, lifted at every stage boundary between two consecutive points and at every gap of more than one epoch. */
function pathOf(
  points: [number, number][],
  breaks: number[],
  sx: (x: number) => number,
  sy: (y: number) => number,
): string {
  return points
    .map(([x, y], i) => {
      const previous = points[i - 1];
      const joined = previous !== undefined && x - previous[0] <= 1 && !breaks.some((b) => b > previous[0] && b < x);
      return `${joined ? 'L' : 'M'}${f(sx(x))},${f(sy(y))}`;
    })
    .join(' ');
}

/** Legend entries laid out left to right in rows that fit the chart's width. */
function legendRows(
  series: Series[],
  marks: EpochMark[],
): { rows: number; items: (Pick<Series, 'name' | 'color' | 'dashed' | 'wide'> & { x: number; row: number })[] } {
  const entries = [
    ...series.map((s) => ({
      name: s.name,
      color: s.color,
      ...(s.dashed ? { dashed: true } : {}),
      ...(s.wide ? { wide: true } : {}),
    })),
    ...marks.map((m) => ({ name: `${m.label} (epoch ${m.epoch})`, color: m.color, dashed: true })),
  ];
  const items: ((typeof entries)[number] & { x: number; row: number })[] = [];
  let x = PLOT.left,
    row = 0;
  for (const entry of entries) {
    const width = 22 + entry.name.length * CHAR_PX + 16;
    if (x + width > WIDTH - PLOT.right && x > PLOT.left) {
      row++;
      x = PLOT.left;
    }
    items.push({ ...entry, x, row });
    x += width;
  }
  return { rows: entries.length === 0 ? 0 : row + 1, items };
}

/**
 * About five ticks on round values (1, 2 or 5 × a power of ten) covering
 * [min, max], labelled with as many decimals as the step needs. A flat
 * series gets a band around its value.
 */
export function niceTicks(min: number, max: number, count = 5): { value: number; label: string }[] {
  if (max - min < 1e-12) {
    const pad = Math.abs(max) * 0.5 || 0.5;
    [min, max] = [min >= 0 && min - pad < 0 ? 0 : min - pad, max + pad];
  }
  const rough = (max - min) / (count - 1);
  const power = 10 ** Math.floor(Math.log10(rough));
  const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= rough)!;
  const first = Math.floor(min / step + 1e-9) * step;
  const last = Math.ceil(max / step - 1e-9) * step;
  const decimals = Math.max(0, -Math.floor(Math.log10(step) + 1e-9));
  const small = Math.max(Math.abs(first), Math.abs(last)) < 1e-3;
  const ticks: { value: number; label: string }[] = [];
  for (let v = first; v <= last + step / 2; v += step) {
    const value = Math.abs(v) < step / 1e6 ? 0 : v;
    ticks.push({ value, label: value === 0 ? '0' : small ? compactExponent(value) : value.toFixed(decimals) });
  }
  return ticks;
}

/** Ticks for log10 values: every power of ten in range (at least two), labelled as 10^k in e-notation. */
function logTicks(min: number, max: number): { value: number; label: string }[] {
  let low = Math.floor(min + 1e-9),
    high = Math.ceil(max - 1e-9);
  if (high === low) [low, high] = [low - 1, high + 1];
  const ticks: { value: number; label: string }[] = [];
  for (let k = low; k <= high; k++) ticks.push({ value: k, label: compactExponent(10 ** k) });
  return ticks;
}

/** `1e-4`, `2.5e-5`: e-notation without trailing zeros. */
const compactExponent = (v: number): string =>
  v
    .toExponential(2)
    .replace(/\.?0+e/, 'e')
    .replace('e+', 'e');

/** About six whole-epoch ticks between the ends. */
function epochTicks(min: number, max: number): number[] {
  const step = Math.max(1, Math.ceil((max - min) / 6));
  const ticks: number[] = [];
  for (let x = Math.max(1, Math.ceil(min)); x <= max; x += step) ticks.push(x);
  return ticks;
}
