import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

/**
 * The server's Prometheus metrics (GET /metrics), in a registry of its own:
 * two servers in one process (tests, a library user's) count apart.
 */
export class ServerMetrics {
  readonly registry = new Registry();
  readonly requests = new Counter({
    name: 'tlpipe_serve_requests_total',
    help: 'HTTP requests answered, by route and status code',
    labelNames: ['route', 'status'] as const,
    registers: [this.registry],
  });
  readonly errors = new Counter({
    name: 'tlpipe_serve_request_errors_total',
    help: 'HTTP requests answered with a status of 400 or more, by route and status code',
    labelNames: ['route', 'status'] as const,
    registers: [this.registry],
  });
  readonly latency = new Histogram({
    name: 'tlpipe_serve_request_duration_seconds',
    help: 'Time from a request arriving to its answer being sent, by route',
    labelNames: ['route'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });
  readonly batchSize = new Histogram({
    name: 'tlpipe_serve_batch_size',
    help: 'Instances in each batch the workers ran',
    buckets: [1, 2, 4, 8, 16, 32, 64, 128],
    registers: [this.registry],
  });
  readonly instances = new Counter({
    name: 'tlpipe_serve_instances_total',
    help: 'Instances answered, by outcome (ok: a prediction; failed: an error of its own, such as an undecodable image)',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });
  readonly swaps = new Counter({
    name: 'tlpipe_serve_model_swaps_total',
    help: 'Times a newer run replaced the served model',
    registers: [this.registry],
  });

  constructor(queueDepth: () => number, model: () => { run: string; task: string }) {
    new Gauge({
      name: 'tlpipe_serve_queue_depth',
      help: 'Instances waiting for a batch',
      registers: [this.registry],
      collect() {
        this.set(queueDepth());
      },
    });
    new Gauge({
      name: 'tlpipe_serve_model_info',
      help: 'The model being served: 1 for its run and task',
      labelNames: ['run', 'task'] as const,
      registers: [this.registry],
      collect() {
        this.reset();
        this.set(model(), 1);
      },
    });
    // Process metrics, event-loop lag among them: whether batches really stay off the loop.
    collectDefaultMetrics({ register: this.registry, prefix: 'tlpipe_serve_' });
  }
}
