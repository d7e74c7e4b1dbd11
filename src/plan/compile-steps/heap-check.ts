import type { Diagnostic } from '../../diagnostics/diagnostic.js';
import type { PipelineSpec } from '../../format/types.js';
import { heapProblems, type HeapProblem } from '../memory-estimate.js';
import type { Plan, PlanInputs } from '../types.js';

/** The wasm heap is 4 GiB: a batch that cannot fit is an error now, not an abort mid-run. Other backends have no such limit. */
export function heapDiagnostics(spec: PipelineSpec, inputs: PlanInputs, plan: Plan): Diagnostic[] {
  return inputs.backend === 'wasm' ? heapProblems(plan).map((p) => heapDiagnostic(spec, p)) : [];
}

/** A stage whose batch cannot fit the wasm heap, said at the batch size that set it. */
function heapDiagnostic(spec: PipelineSpec, p: HeapProblem): Diagnostic {
  return {
    file: spec.file,
    severity: 'error',
    path: ['train', 'stages', p.stage.index, 'batchSize'],
    locateAt: [
      ['train', 'batchSize'],
      ['train', 'stages', p.stage.index],
    ],
    message: `stage \`${p.stage.name}\` trains on batches of ${p.stage.batchSize} at ${spec.dataset.image.size.join('×')}, which need about ${(p.needBytes / 2 ** 30).toFixed(1)} GiB; the wasm backend's heap holds 4 GiB`,
    hint:
      p.largest > 0
        ? `the largest batch that fits is ${p.largest}: set \`batchSize: ${p.largest}\` on this stage, or use smaller images or fewer unfrozen layers`
        : 'use smaller images or fewer unfrozen layers',
  };
}
