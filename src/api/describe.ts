/** Plain-language descriptions of plan parts, for programs (and the CLI) that print plans. */
export { describeSchedule } from '../plan/learning-rate-schedule.js';
export { stageBatchNorm } from '../plan/batch-norm.js';
export { describeAlignment } from '../plan/compile-steps/stage-alignment.js';
