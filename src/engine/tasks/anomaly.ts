import type { TaskEngine } from './task-engine.js';
import { runAnomalyPlan } from './anomaly/run-anomaly-plan.js';

/** Anomaly detection: a memory bank of the frozen base's normal patch features, filled in one pass; nothing trains. */
export const anomalyEngine: TaskEngine = { runs: 'own', run: runAnomalyPlan };
