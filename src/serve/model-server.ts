import type { AddressInfo } from 'node:net';
import { httpServer, type ServeEvent, type ServeLimits } from './http-server.js';
import type { BatchingOptions } from './micro-batcher.js';
import { ModelSlot, type ModelLocation, type WorkerSetup } from './model-slot.js';
import type { ModelDescription } from './served-answers.js';
import { ServerMetrics } from './server-metrics.js';

export interface ModelServerOptions {
  host: string;
  port: number;
  limits: ServeLimits;
  batching: BatchingOptions;
  workers: WorkerSetup;
  allowFiles?: string;
  version: string;
  onEvent: (event: ServeEvent) => void;
}

/** A model being served over HTTP. */
export interface ModelServer {
  /** `http://host:port`, as it listens (the port chosen when 0 was asked for). */
  url: string;
  host: string;
  port: number;
  /** The model answering now. */
  model(): ModelDescription;
  /** Serves the model at `location` from now on, once its workers have it open; requests already accepted finish on the old one. */
  swap(location: ModelLocation): Promise<ModelDescription>;
  /** Stops accepting requests, answers every one already accepted, stops the workers. */
  close(): Promise<void>;
}

/**
 * Listens, then opens the model: while its workers open and warm up, /healthz
 * answers (live) and /readyz and predictions answer 503, as an orchestrator
 * expects of a server starting; a port already taken is said before any model
 * is read. Resolves once the model answers; a model that cannot be opened
 * closes the server again.
 */
export async function startModelServer(location: ModelLocation, options: ModelServerOptions): Promise<ModelServer> {
  // Read only when scraped, once the slot below exists.
  const metrics = new ServerMetrics(
    () => slot.depth,
    () => ({ run: slot.description?.run?.id ?? '', task: slot.description?.task ?? '' }),
  );
  const slot = new ModelSlot(options.workers, options.batching, (size) => metrics.batchSize.observe(size));
  const { app, state } = await httpServer(slot, metrics, options);
  await app.listen({ host: options.host, port: options.port });
  app.server.maxConnections = options.limits.maxConnections;
  let first: ModelDescription;
  try {
    first = await slot.open(location);
  } catch (error) {
    await app.close();
    await slot.close();
    throw error;
  }
  state.ready = true;
  const address = app.server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  let closing: Promise<void> | undefined;
  return {
    url: `http://${host}:${address.port}`,
    host: address.address,
    port: address.port,
    model: () => slot.description ?? first,
    async swap(next) {
      const opened = await slot.open(next);
      metrics.swaps.inc();
      return opened;
    },
    close() {
      closing ??= (async () => {
        state.ready = false;
        // The requests in flight are answered now, not after --max-latency-ms: app.close() waits for them.
        slot.flush();
        // Fastify stops accepting, answers 503 on kept-alive connections, and waits for the requests in flight.
        await app.close();
        await slot.close();
      })();
      return closing;
    },
  };
}

export type { ServeEvent, ServeLimits, BatchingOptions, ModelLocation, ModelDescription };
