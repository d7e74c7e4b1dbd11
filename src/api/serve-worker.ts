/**
 * A worker thread of `tlpipe serve`: it opens the model folder exactly as
 * `loadModel` does (every file checked), warms it up on one input, and
 * answers batches through the task's own methods — the code `tlpipe
 * predict` runs — so a served answer is predict's answer. Batches run here,
 * never on the server's event loop.
 */
import { parentPort, workerData } from 'node:worker_threads';
import sharp from 'sharp';
import { formatDiagnostic } from '../diagnostics/diagnostic.js';
import type { BackendName } from '../format/types.js';
import type { InferenceReply, InferenceRequest, WorkerStart } from '../serve/inference-pool.js';
import type { ServedInput } from '../serve/served-answers.js';
import { loadModel } from './load-model.js';
import { TASK_MODELS } from './tasks/registry.js';

export interface ServeWorkerData {
  modelDir: string;
  backend: BackendName;
}

const data = workerData as ServeWorkerData;
const port = parentPort!;

// The server has checked the run's status already (and refused an incomplete one unless told): the worker opens what it is given.
const opened = await loadModel(data.modelDir, { backend: data.backend, allowIncomplete: true }).catch(
  (error: unknown) => ({ ok: false as const, diagnostics: [], thrown: (error as Error).message }),
);
if (!opened.ok) {
  const said = 'thrown' in opened ? opened.thrown : opened.diagnostics.map((d) => formatDiagnostic(d)).join('\n');
  port.postMessage({ failed: said } satisfies WorkerStart);
} else {
  const loaded = opened.value;
  const serveBatch = (inputs: readonly ServedInput[]) => TASK_MODELS[loaded.task].serve(loaded, inputs);
  // The first batch builds every kernel; a warmed-up worker answers its first request as fast as its hundredth.
  const pre = loaded.preprocessing;
  const warmUp: ServedInput =
    pre.kind === 'image'
      ? {
          kind: 'image',
          name: 'warm-up',
          bytes: await sharp({ create: { width: 8, height: 8, channels: 3, background: '#808080' } })
            .png()
            .toBuffer(),
        }
      : { kind: 'row', name: 'warm-up', values: pre.columns.map(() => 0) };
  const warmed = await serveBatch([warmUp]).then(
    (answers) => ('error' in answers[0]! ? answers[0].error : undefined),
    (error: unknown) => (error as Error).message,
  );
  if (warmed !== undefined)
    port.postMessage({ failed: `the model failed on a blank input: ${warmed}` } satisfies WorkerStart);
  else {
    port.on('message', (request: InferenceRequest) => {
      serveBatch(request.inputs).then(
        (answers) => port.postMessage({ id: request.id, answers } satisfies InferenceReply),
        (error: unknown) =>
          port.postMessage({
            id: request.id,
            error: (error as Error).message.split('\n')[0]!,
          } satisfies InferenceReply),
      );
    });
    port.postMessage({
      ready: { task: loaded.task, labels: loaded.labels, preprocessing: pre, outputs: loaded.outputs },
    } satisfies WorkerStart);
  }
}
