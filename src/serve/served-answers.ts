import type { Preprocessing } from '../engine/data/preprocess.js';

/** One instance of a request, as the server hands it to a model: an encoded image, or a table row. */
export type ServedInput =
  | { kind: 'image'; name: string; bytes: Uint8Array }
  | { kind: 'row'; name: string; values: Record<string, number> | number[] };

/** One instance's answer; a task's answer has `label`, an instance that could not be answered has `error`. */
export type ServedAnswer =
  | {
      /** Classification: the most likely class, every class's probability, and the best few. */
      label: string;
      /** The model's decision rule abstained: `label` is "unsure". */
      unsure?: boolean;
      probabilities: Record<string, number>;
      top: { label: string; probability: number }[];
    }
  | {
      /** Segmentation: the class covering most pixels, each class's share, and the mask as a PNG of class indexes. */
      label: string;
      fractions: Record<string, number>;
      mask: { height: number; width: number; png: string };
    }
  | {
      /** Anomaly detection: `normal` or `anomalous`, the score against the model's threshold, and the patch scores. */
      label: string;
      score: number;
      threshold: number;
      anomalous: boolean;
      heat: { grid: [number, number]; values: number[] };
    }
  | { error: string };

/** What a served model says of itself (GET /v1/models/{name}); the worker reports the model's part once it has it open. */
export interface ModelFacts {
  task: string;
  labels: string[];
  preprocessing: Preprocessing;
  outputs: 'probabilities' | 'logits';
}

/** The run a served model belongs to, when it belongs to one. */
export interface ServedRun {
  pipeline: string;
  id: string;
  dir: string;
  fingerprint: string;
  endedAt?: string;
}

export interface ModelDescription extends ModelFacts {
  name: string;
  modelDir: string;
  run?: ServedRun;
}
