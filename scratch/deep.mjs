import { loadPipelineText } from '/work/main/dist/src/spec/load-pipeline.js';
import { formatDiagnostic } from '/work/main/dist/src/spec/diagnostics.js';
for (const text of ["name: don't\nhead: " + '['.repeat(3000), 'name: "a\\"b [[["\nhead: ' + '{a: '.repeat(3000), 'x: 1 # [[[[[[\n', "dataset: { format: mnist }\nhead: [{ dense: { units: classes, activation: softmax } }]\ntrain: { stages: [{ epochs: 1, name: 'it''s' }] }\n"]) {
  const r = loadPipelineText('/x/p.yaml', text, 'p.yaml');
  console.log(r.ok ? 'ok' : r.diagnostics.map(formatDiagnostic).join('\n').slice(0, 200));
}
