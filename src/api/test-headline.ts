/**
 * How a run's end is told: its headline test metric (the CLI's last line).
 * A module of its own so that the CLI loads the store's task registry (and
 * with it ajv) only once a run has ended, not with api/run.ts, whose `run`
 * refuses an invalid pipeline before anything of the store is needed.
 */
export { testHeadline } from '../store/tasks/registry.js';
