import { renderStagedReport } from '../staged-report.js';
import type { PageView, TaskRender } from './task-render.js';

const CLASSIFICATION_VIEW: PageView = {
  title: 'classify an image',
  heading: 'Classify an image',
  done: 'classified',
  style: '.bar{background:#1f6feb;height:.7rem}',
  canvases: '<canvas id="input"></canvas>',
  answerName: 'classify',
  answer: `async function classify(model, url) {
  const image = await decoded(url);
  const x = input(draw(image));
  const p = Array.from(await model.predict(x).data());
  x.dispose();
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
  result.textContent = JSON.stringify({ backend: tf.getBackend(), probabilities: p, top: ranked[0].name });
  status(ranked[0].name + ' (' + ranked[0].probability.toFixed(4) + ')');
}
`,
};

/** Classification: the staged report with its confusion matrix and worst images; a page that lists an image's classes. */
export const classificationRender: TaskRender = {
  report: (sources) => renderStagedReport(sources),
  demoPage: { view: CLASSIFICATION_VIEW },
};
