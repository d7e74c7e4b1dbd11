import { renderStagedReport } from '../staged-report.js';
import type { PageView, TaskRender } from './task-render.js';

/**
 * decision.json applied in the page as src/engine/evaluate/decision-rule.ts
 * applies it in Node (kept the same step for step; the browser test holds
 * them to agree): probabilities (a linear model's softmaxed), temperature
 * on their logarithms, the two-class threshold, "unsure" below the top
 * probability. Absent decision.json, the page shows the model's outputs.
 */
const DECIDE_SCRIPT = `const decisionElement = document.getElementById('decision');
const rule = decisionElement ? JSON.parse(decisionElement.textContent) : null;
const softmax = (v) => { const m = Math.max(...v); const e = v.map((x) => Math.exp(x - m)); const s = e.reduce((a, b) => a + b, 0); return e.map((x) => x / s); };
function decide(raw, model) {
  const out = model.outputs[0], layer = out.sourceLayer, config = layer.getConfig();
  const probabilities = config.activation === 'softmax' || layer.getClassName() === 'Softmax' ? raw : softmax(raw);
  const calibrated = rule.temperature !== undefined && rule.temperature !== 1
    ? softmax(probabilities.map((q) => Math.log(Math.max(q, 1.1754943508222875e-38)) / rule.temperature))
    : probabilities;
  let predicted = calibrated.reduce((best, v, i) => (v > calibrated[best] ? i : best), 0);
  const positive = rule.threshold ? labels.indexOf(rule.threshold.positive) : -1;
  if (rule.threshold && positive >= 0 && calibrated.length === 2) predicted = calibrated[positive] >= rule.threshold.value ? positive : 1 - positive;
  const unsure = rule.abstain !== undefined && Math.max(...calibrated) < rule.abstain;
  return { probabilities: calibrated, label: unsure ? 'unsure' : labels[predicted], unsure };
}
`;

const CLASSIFICATION_VIEW: PageView = {
  title: 'classify an image',
  heading: 'Classify an image',
  done: 'classified',
  style: '.bar{background:#1f6feb;height:.7rem}',
  canvases: '<canvas id="input"></canvas>',
  answerName: 'classify',
  answer: `${DECIDE_SCRIPT}async function classify(model, url) {
  const image = await decoded(url);
  const x = input(draw(image));
  const raw = Array.from(await model.predict(x).data());
  x.dispose();
  const decided = rule ? decide(raw, model) : null;
  const p = decided ? decided.probabilities : raw;
  const ranked = labels.map((name, i) => ({ name, probability: p[i] })).sort((a, b) => b.probability - a.probability);
  document.getElementById('classes').innerHTML = '';
  for (const r of ranked.slice(0, 5)) {
    const row = document.getElementById('classes').insertRow();
    row.insertCell().textContent = r.name;
    row.insertCell().textContent = r.probability.toFixed(4);
    const bar = document.createElement('div'); bar.className = 'bar'; bar.style.width = (r.probability * 12) + 'rem';
    row.insertCell().appendChild(bar);
  }
  const result = document.getElementById('result');
  const label = decided ? decided.label : ranked[0].name;
  result.textContent = JSON.stringify({ backend: tf.getBackend(), probabilities: p, top: ranked[0].name, label, unsure: !!(decided && decided.unsure) });
  status(decided && decided.unsure ? 'unsure (top: ' + ranked[0].name + ', ' + ranked[0].probability.toFixed(4) + ')' : label + ' (' + p[labels.indexOf(label)].toFixed(4) + ')');
}
`,
};

/** Classification: the staged report with its confusion matrix and worst images; a page that lists an image's classes. */
export const classificationRender: TaskRender = {
  report: (sources) => renderStagedReport(sources),
  demoPage: { view: CLASSIFICATION_VIEW },
};
