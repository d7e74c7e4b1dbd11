import { taskOf } from '../plan/types.js';
import type { RunReportSources } from '../store/report-file.js';
import { TASK_RENDERS } from './tasks/registry.js';

/** A run's report page from its own files (plan, summary, metrics, pipeline.yaml), as its task shows them. */
export const renderRunReport = (sources: RunReportSources): string =>
  TASK_RENDERS[taskOf(sources.plan)].report(sources);
