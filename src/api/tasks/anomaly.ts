import { isAnomalyModelFolder, openAnomalyModel } from '../anomaly-model.js';
import { evaluateAnomalyModel } from '../evaluate-anomaly.js';
import type { TaskModel } from './task-model.js';
import { answerImages } from './answer-batches.js';

/** Anomaly: the cut base with its memory bank and threshold beside it, opened and cross-checked as one. */
export const anomalyModel: TaskModel = {
  opens: 'folder',
  holds: isAnomalyModelFolder,
  open: openAnomalyModel,
  evaluate: evaluateAnomalyModel,
  serve: (loaded, inputs) =>
    answerImages(
      inputs,
      async (images) => {
        const { predictions, failures } = await loaded.score(images);
        return { items: predictions, failures };
      },
      (p) => ({
        label: p.top[0]!.label,
        score: p.anomaly!.score,
        threshold: p.anomaly!.threshold,
        anomalous: p.anomaly!.anomalous,
        heat: p.anomaly!.heat,
      }),
    ),
};
