import type { RunReportSources } from '../../store/report-file.js';

/** What differs between the page that lists an image's classes and the one that draws its mask. */
export interface PageView {
  title: string;
  heading: string;
  /** What the page does to the picked image, after "prepared as the model was trained and". */
  done: string;
  style: string;
  canvases: string;
  /** The script's function that answers for an image, `(model, url)`, and its name. */
  answer: string;
  answerName: string;
}

/** What the demo page beside a task's model shows: its view, and data the view reads beyond the model's files. */
export interface DemoPageView {
  view: PageView;
  /** `<script type="application/json">` elements the view's script reads, from the model's labels. */
  extraJson?: (labels: readonly string[]) => string;
}

/**
 * A task's part of what a person opens: its report page, and the demo
 * page beside its exported model. Each task is one module in this folder
 * and one line in registry.ts.
 */
export interface TaskRender {
  /** The run's report.html from the run's own files. */
  report(sources: RunReportSources): string;
  /** The demo page's view; absent where the task exports no page. */
  demoPage?: DemoPageView;
}
