import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import multipart from '@fastify/multipart';
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { BatchingOptions } from './micro-batcher.js';
import { QueueFull } from './micro-batcher.js';
import { WorkerFailed } from './inference-pool.js';
import type { ModelSlot } from './model-slot.js';
import { inferBody, predictBody } from './request-schemas.js';
import type { ModelDescription, ServedAnswer, ServedInput } from './served-answers.js';
import { checkInstances, type CheckedInstance, type RequestInstance } from './served-inputs.js';
import { ServerMetrics } from './server-metrics.js';
import { inferResponse, inferInstances } from './open-inference.js';

/** What the server refuses, and when it gives up. */
export interface ServeLimits {
  /** A request body bigger than this is refused with 413 (a multipart upload: all its files together). */
  bodyLimitBytes: number;
  /** Instances one request may hold (more: 413). */
  maxInstances: number;
  /** A request not answered this long after it arrived is answered 504. */
  timeoutMs: number;
  /** How long a client may take to send a whole request (a slow client's connection is closed with 408). */
  receiveTimeoutMs: number;
  /** Connections open at once; more are closed as they arrive. */
  maxConnections: number;
}

/** What happens in the server, for a log: one `request` per answer. */
export type ServeEvent =
  | {
      type: 'request';
      id: string;
      method: string;
      url: string;
      status: number;
      ms: number;
      instances?: number;
      run?: string;
    }
  | { type: 'internal-error'; id: string; message: string };

export interface HttpServerOptions {
  limits: ServeLimits;
  batching: BatchingOptions;
  /** A folder whose image files requests may name by path (`{"path": "…"}`); none when absent. */
  allowFiles?: string;
  version: string;
  onEvent: (event: ServeEvent) => void;
}

/** A failure the server answers with a status code and a message of its own. */
class HttpFailure extends Error {
  constructor(
    readonly statusCode: number,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

const RETRY_AFTER_S = 1;

/** Content types whose bodies are read as JSON besides application/json: what curl -d and fetch with a string send. */
const JSON_ALIASES = ['application/x-www-form-urlencoded', 'text/plain'] as const;

/** A route's JSON schema for every content type read as JSON, so none reaches the handler unchecked. */
const jsonContent = <S>(schema: S): Record<string, { schema: S }> =>
  Object.fromEntries(['application/json', ...JSON_ALIASES].map((type) => [type, { schema }]));

/** How long past its timeout a request's answer (its 504) may take to be written before its socket may be closed. */
const ANSWER_GRACE_MS = 5000;

/**
 * The HTTP server over a model slot: TF Serving's predict and model routes,
 * the Open Inference Protocol's, health, readiness and Prometheus metrics.
 * Every limit is a status code: nothing a client sends makes it throw.
 */
export async function httpServer(
  slot: ModelSlot,
  metrics: ServerMetrics,
  options: HttpServerOptions,
): Promise<{ app: FastifyInstance; state: { ready: boolean } }> {
  const { limits } = options;
  const state = { ready: false };
  const app = Fastify({
    logger: false,
    bodyLimit: limits.bodyLimitBytes,
    requestTimeout: limits.receiveTimeoutMs,
    // A socket's inactivity bound, so it must outlast a received request's wait for its answer (a 504 at worst):
    // bounded by the receive time alone, a request that waited longer lost its socket, unanswered.
    connectionTimeout: Math.max(limits.receiveTimeoutMs, limits.timeoutMs) + ANSWER_GRACE_MS,
    keepAliveTimeout: 5000,
    return503OnClosing: true,
    forceCloseConnections: 'idle',
    // Node's own default for maxParamLength (100) would 404 a long model name; names are short, and compared, never used as paths.
    routerOptions: { maxParamLength: 512 },
    // Given to Node's server itself: requestTimeout set after it is made (as Fastify does) is not enforced while
    // headersTimeout is longer (a client dribbling its body kept its connection for as long as it liked), and Node
    // looks for requests past their time only every connectionsCheckingInterval (30 s unless told).
    http: {
      requestTimeout: limits.receiveTimeoutMs,
      headersTimeout: limits.receiveTimeoutMs,
      connectionsCheckingInterval: Math.max(100, Math.min(1000, Math.ceil(limits.receiveTimeoutMs / 4))),
    },
    // Ajv's messages, with the key they are about where Ajv knows it: "must NOT have additional properties (`extra`)".
    schemaErrorFormatter: (errors, dataVar) =>
      new Error(
        errors
          .map((e) => {
            const key = (e.params as { additionalProperty?: string }).additionalProperty;
            return `${dataVar}${e.instancePath} ${e.message ?? 'does not fit'}${key !== undefined ? ` (\`${key.slice(0, 100)}\`)` : ''}`;
          })
          .join(', '),
      ),
    // No coercion: {"b64": 5} is a wrong type, not the base64 text "5" (which decodes to no bytes); no key dropped
    // unsaid: one the schema does not know is refused by name.
    ajv: { customOptions: { allErrors: false, coerceTypes: false, removeAdditional: false, allowUnionTypes: true } },
    // Node's own errors before a request exists (a slow client, a connection ended mid-request, bytes that are not
    // HTTP), answered in the server's shape with what happened instead of Fastify's "Client Error".
    clientErrorHandler: (error: NodeJS.ErrnoException, socket: Socket) => {
      if (error.code === 'ECONNRESET' || socket.destroyed) return;
      const [status, message] =
        error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
          ? [408, `the whole request did not arrive within ${limits.receiveTimeoutMs} ms`]
          : error.code === 'HPE_HEADER_OVERFLOW'
            ? [431, 'the request headers are too large']
            : error.code === 'HPE_INVALID_EOF_STATE'
              ? [400, 'the connection ended before the whole request arrived']
              : [400, `the request is not well-formed HTTP (${error.code ?? error.message.split('\n')[0]})`];
      const body = JSON.stringify({ error: message });
      if (socket.writable)
        socket.write(
          `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
        );
      socket.destroy();
    },
    // A name past maxParamLength, or a URL that is not well-formed, is answered here rather than by Fastify's own reply (its shape, the whole URL echoed, no log line).
    frameworkErrors: (error, _request, reply: FastifyReply) => {
      const [status, message] =
        error.code === 'FST_ERR_MAX_PARAM_LENGTH'
          ? [
              404,
              `no model by a name that long here; this server serves \`${slot.description?.name ?? '(still opening)'}\``,
            ]
          : error.code === 'FST_ERR_BAD_URL'
            ? [400, 'the URL is not well-formed (a % not followed by two hex digits?)']
            : [500, `the server failed to answer: ${error.message.split('\n')[0]}`];
      void reply.code(status).send({ error: message });
    },
  });
  await app.register(multipart, {
    limits: {
      fileSize: limits.bodyLimitBytes,
      files: limits.maxInstances,
      fields: 4,
      parts: limits.maxInstances + 4,
      headerPairs: 64,
    },
  });
  const instanceCounts = new WeakMap<FastifyRequest, number>();

  // The bodies curl -d (form-urlencoded) and fetch with a string (text/plain) send are JSON all the same, as TF Serving takes them.
  app.removeContentTypeParser('text/plain');
  app.addContentTypeParser([...JSON_ALIASES], { parseAs: 'string' }, app.getDefaultJsonParser('error', 'error'));
  app.addHook('onRequest', async (request) => {
    // A compressed body is refused unread: inflating it could turn a body under the limit into gigabytes.
    const encoding = request.headers['content-encoding']?.trim().toLowerCase();
    if (encoding !== undefined && encoding !== '' && encoding !== 'identity')
      throw new HttpFailure(
        415,
        `a body with Content-Encoding ${JSON.stringify(encoding.slice(0, 50))} is not taken; send it uncompressed`,
        { 'accept-encoding': 'identity' },
      );
  });
  // Closing: each answer tells its client to go, so no kept-alive connection holds the server open after the last answer.
  app.addHook('onSend', async (_request, reply) => {
    if (!state.ready) reply.header('connection', 'close');
  });
  app.addHook('onResponse', async (request, reply) => {
    const ms = reply.elapsedTime;
    const route = request.routeOptions.url ?? 'unknown';
    const status = String(reply.statusCode);
    metrics.requests.inc({ route, status });
    if (reply.statusCode >= 400) metrics.errors.inc({ route, status });
    metrics.latency.observe({ route }, ms / 1000);
    const instances = instanceCounts.get(request);
    const run = reply.getHeader('x-tlpipe-run');
    options.onEvent({
      type: 'request',
      id: request.id,
      method: request.method,
      url: request.url.slice(0, 200),
      status: reply.statusCode,
      ms: Math.round(ms * 10) / 10,
      ...(instances !== undefined ? { instances } : {}),
      ...(typeof run === 'string' ? { run } : {}),
    });
  });

  app.setErrorHandler((error: FastifyError | HttpFailure, request, reply) => {
    if (error instanceof HttpFailure)
      return reply.code(error.statusCode).headers(error.headers).send({ error: error.message });
    if (error instanceof QueueFull)
      return reply
        .code(503)
        .header('retry-after', String(RETRY_AFTER_S))
        .send({ error: `${error.message}; try again in ${RETRY_AFTER_S} s` });
    if (error instanceof WorkerFailed)
      return reply
        .code(503)
        .header('retry-after', String(RETRY_AFTER_S))
        .send({ error: `the model could not answer: ${error.message}; try again in ${RETRY_AFTER_S} s` });
    if ((error as Error).name === 'TimeoutError')
      return reply.code(504).send({ error: `no answer within ${limits.timeoutMs} ms (the server is busy)` });
    if (error.validation) return reply.code(400).send({ error: `the body does not fit: ${error.message}` });
    const code = (error as FastifyError).code;
    if (code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE')
      return reply.code(415).send({
        error: `a body of ${request.headers['content-type'] ? JSON.stringify(request.headers['content-type'].slice(0, 100)) : 'no content type'} is not taken: send JSON (content-type: application/json) or images as multipart/form-data`,
      });
    if (code === 'FST_ERR_CTP_INVALID_JSON_BODY')
      return reply.code(400).send({
        error:
          'the body is not JSON, or it holds a "__proto__" key or a "constructor" with a "prototype" (refused: they could change every object)',
      });
    if (
      code === 'FST_ERR_CTP_BODY_TOO_LARGE' ||
      code === 'FST_REQ_FILE_TOO_LARGE' ||
      code === 'FST_FILES_LIMIT' ||
      code === 'FST_PARTS_LIMIT'
    )
      return reply.code(413).send({
        error: `${error.message} (at most ${limits.bodyLimitBytes} bytes and ${limits.maxInstances} files a request)`,
      });
    const status = (error as FastifyError).statusCode;
    if (status !== undefined && status >= 400 && status < 500) return reply.code(status).send({ error: error.message });
    options.onEvent({ type: 'internal-error', id: request.id, message: (error as Error).message });
    return reply.code(500).send({ error: `the server failed to answer: ${(error as Error).message.split('\n')[0]}` });
  });
  app.setNotFoundHandler((request, reply) =>
    reply.code(404).send({
      error: `no route ${request.method} ${request.url.slice(0, 200)}`,
      routes: [
        'POST /v1/models/{name}:predict',
        'GET /v1/models/{name}',
        'POST /v2/models/{name}/infer',
        'GET /v2/models/{name}',
        'GET /healthz',
        'GET /readyz',
        'GET /metrics',
      ],
    }),
  );

  /** The model a request names, or a 404 saying which one this server serves. */
  const modelNamed = (name: string, reply: FastifyReply): ModelDescription => {
    const model = slot.description;
    if (!model) throw new HttpFailure(503, 'the model is still opening', { 'retry-after': String(RETRY_AFTER_S) });
    if (name !== model.name)
      throw new HttpFailure(
        404,
        `no model named ${JSON.stringify(name.slice(0, 100))} here; this server serves \`${model.name}\``,
      );
    if (model.run) reply.header('x-tlpipe-run', model.run.id);
    return model;
  };

  /** The run that answered, which after a swap may be another than the one the request was checked against. */
  const answeredBy = (reply: FastifyReply, model: ModelDescription): void => {
    if (model.run) reply.header('x-tlpipe-run', model.run.id);
    else reply.removeHeader('x-tlpipe-run');
  };

  /**
   * The answers to checked instances (those that could not be checked answer with their error, the others go to
   * the model), and the model that answered: after a swap, another than the one the request was checked against.
   */
  const answer = async (
    request: FastifyRequest,
    reply: FastifyReply,
    checked: CheckedInstance[],
    checkedAgainst: ModelDescription,
  ): Promise<{ answers: ServedAnswer[]; model: ModelDescription }> => {
    instanceCounts.set(request, checked.length);
    const inputs = checked.filter((c): c is ServedInput => !('error' in c));
    let answers: ServedAnswer[] = [];
    let model = checkedAgainst;
    if (inputs.length > 0) {
      // A client that has gone takes its instances out of the queue, as a request past its time does.
      const gone = new AbortController();
      const onClose = (): void => {
        if (!reply.raw.writableFinished) gone.abort(new Error('the client closed the connection'));
      };
      reply.raw.once('close', onClose);
      try {
        const remainingMs = Math.max(1, Math.ceil(limits.timeoutMs - reply.elapsedTime));
        const answered = await slot.submit(inputs, AbortSignal.any([AbortSignal.timeout(remainingMs), gone.signal]));
        answeredBy(reply, answered.model);
        ({ answers, model } = answered);
      } finally {
        reply.raw.off('close', onClose);
      }
    }
    let next = 0;
    const all = checked.map((c) => ('error' in c ? { error: c.error } : answers[next++]!));
    const failed = all.filter((a) => 'error' in a).length;
    metrics.instances.inc({ outcome: 'ok' }, all.length - failed);
    if (failed > 0) metrics.instances.inc({ outcome: 'failed' }, failed);
    return { answers: all, model };
  };
  /** Ready: listening, not closing, and the model has a worker running. */
  const ready = (): boolean => state.ready && slot.ready;

  app.get('/healthz', async () => ({ status: 'live' }));
  app.get('/readyz', async (_request, reply) => {
    const model = slot.description;
    if (!ready() || !model)
      return reply.code(503).header('retry-after', String(RETRY_AFTER_S)).send({ status: 'not ready' });
    return { status: 'ready', model: model.name, ...(model.run ? { run: model.run.id } : {}) };
  });
  app.get('/metrics', async (_request, reply) =>
    reply.header('content-type', metrics.registry.contentType).send(await metrics.registry.metrics()),
  );

  app.get<{ Params: { name: string } }>('/v1/models/:name', async (request, reply) => {
    const model = modelNamed(request.params.name, reply);
    return describe(model, options.batching);
  });

  app.post<{ Params: { call: string }; Body: { instances: RequestInstance[]; top?: number } }>(
    '/v1/models/:call',
    // Only JSON bodies are checked by schema; a multipart upload is read part by part.
    { schema: { body: { content: jsonContent(predictBody) } } },
    async (request, reply) => {
      const call = /^(.*):predict$/s.exec(request.params.call);
      if (!call)
        throw new HttpFailure(
          404,
          `no route ${request.method} ${request.url.slice(0, 200)}; predict is POST /v1/models/{name}:predict`,
        );
      const model = modelNamed(call[1]!, reply);
      // A body of no content type is not parsed, and reaches here unchecked.
      if (!request.isMultipart() && (typeof request.body !== 'object' || request.body === null))
        throw new HttpFailure(
          415,
          `predict takes application/json or multipart/form-data, not ${request.headers['content-type'] ? JSON.stringify(request.headers['content-type'].slice(0, 100)) : 'a body without a content type'}`,
        );
      // Checked here, not by the schema's maxItems: too many instances is a body too big (413), as a multipart upload's too many files is.
      if (!request.isMultipart() && request.body.instances.length > limits.maxInstances)
        throw new HttpFailure(
          413,
          `${request.body.instances.length} instances; a request holds at most ${limits.maxInstances} (send them in several requests)`,
        );
      const { checked, top } = request.isMultipart()
        ? { checked: await uploadedImages(request, model, limits), top: undefined }
        : {
            checked: await checkInstances(request.body.instances, model, options.allowFiles, limits.bodyLimitBytes),
            top: request.body.top,
          };
      const predictions = (await answer(request, reply, checked, model)).answers.map((a) => withTop(a, top));
      const failed = predictions.flatMap((p, i) => ('error' in p ? [`instance ${i}: ${p.error}`] : []));
      if (failed.length > 0)
        return reply.code(400).send({
          error: `${failed.length} of ${predictions.length} instances could not be answered: ${failed.slice(0, 5).join('; ')}${failed.length > 5 ? '; …' : ''}`,
          predictions,
        });
      return { predictions };
    },
  );

  app.get('/v2', async () => ({ name: 'tlpipe', version: options.version, extensions: [] }));
  app.get('/v2/health/live', async () => ({ live: true }));
  app.get('/v2/health/ready', async (_request, reply) =>
    ready() ? { ready: true } : reply.code(503).send({ ready: false }),
  );
  app.get<{ Params: { name: string } }>('/v2/models/:name', async (request, reply) => {
    const model = modelNamed(request.params.name, reply);
    return openInferenceMetadata(model);
  });
  app.get<{ Params: { name: string } }>('/v2/models/:name/ready', async (request, reply) => {
    modelNamed(request.params.name, reply);
    return { name: request.params.name, ready: ready() };
  });
  app.post<{ Params: { name: string }; Body: Parameters<typeof inferInstances>[0] }>(
    '/v2/models/:name/infer',
    { schema: { body: { content: jsonContent(inferBody(limits.maxInstances)) } } },
    async (request, reply) => {
      const model = modelNamed(request.params.name, reply);
      const read = inferInstances(request.body, model, limits.maxInstances);
      if ('error' in read) throw new HttpFailure(read.status ?? 400, read.error);
      const answered = await answer(request, reply, read.instances, model);
      const failed = answered.answers.findIndex((a) => 'error' in a);
      if (failed >= 0)
        throw new HttpFailure(400, `instance ${failed}: ${(answered.answers[failed] as { error: string }).error}`);
      return inferResponse(request.body, answered.model, answered.answers);
    },
  );

  return { app, state };
}

/** What GET /v1/models/{name} says: enough to send the model what it takes and read what it gives. */
function describe(model: ModelDescription, batching: BatchingOptions): Record<string, unknown> {
  return {
    name: model.name,
    task: model.task,
    labels: model.labels,
    preprocessing: model.preprocessing,
    ...(model.preprocessing.kind === 'image'
      ? { input: { size: model.preprocessing.inputSize, channels: model.preprocessing.channels } }
      : { input: { columns: model.preprocessing.columns } }),
    outputs: model.outputs,
    run: model.run
      ? {
          pipeline: model.run.pipeline,
          id: model.run.id,
          fingerprint: model.run.fingerprint,
          ...(model.run.endedAt ? { endedAt: model.run.endedAt } : {}),
        }
      : null,
    // No folder of the server's is named: a client has no use for it, and an address on 0.0.0.0 would tell it to anyone.
    batching,
    // TF Serving's model status, for clients that read it.
    model_version_status: [
      { version: model.run?.id ?? '0', state: 'AVAILABLE', status: { error_code: 'OK', error_message: '' } },
    ],
  };
}

function openInferenceMetadata(model: ModelDescription): Record<string, unknown> {
  const images = model.preprocessing.kind === 'image';
  return {
    name: model.name,
    versions: [model.run?.id ?? '0'],
    platform: 'tlpipe_tfjs',
    inputs: images
      ? [{ name: 'image', datatype: 'BYTES', shape: [-1] }]
      : [
          {
            name: 'rows',
            datatype: 'FP32',
            shape: [-1, model.preprocessing.kind === 'tabular' ? model.preprocessing.columns.length : 0],
          },
        ],
    outputs: inferResponse({}, model, []).outputs.map((o) => ({
      name: o.name,
      datatype: o.datatype,
      shape: [-1, ...o.shape.slice(1)],
    })),
  };
}

/** A classification answer's `top`, as many as the request asked for (3 unless it said). */
function withTop(answer: ServedAnswer, top: number | undefined): ServedAnswer {
  if (!('top' in answer)) return answer;
  return { ...answer, top: answer.top.slice(0, top ?? 3) };
}

/** The image files of a multipart upload, each an instance named by its file name; every byte counted against the body limit. */
async function uploadedImages(
  request: FastifyRequest,
  model: ModelDescription,
  limits: ServeLimits,
): Promise<CheckedInstance[]> {
  const checked: CheckedInstance[] = [];
  let total = 0;
  for await (const part of request.parts()) {
    if (part.type !== 'file') continue;
    const bytes = await part.toBuffer();
    total += bytes.length;
    if (total > limits.bodyLimitBytes)
      throw new HttpFailure(413, `the uploaded files are over ${limits.bodyLimitBytes} bytes together`);
    if (model.preprocessing.kind !== 'image') checked.push({ error: 'this model takes table rows, not images' });
    else checked.push({ kind: 'image', name: part.filename || part.fieldname, bytes });
  }
  if (checked.length === 0)
    throw new HttpFailure(400, 'the upload holds no file: send each image as a file part of multipart/form-data');
  return checked;
}
