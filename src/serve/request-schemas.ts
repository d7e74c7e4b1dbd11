/**
 * The JSON bodies the server accepts, as JSON Schema: Fastify validates a
 * body against its route's schema before the handler runs, and a body that
 * does not fit is a 400 with the schema's message.
 */

/** TF Serving's row format: `{"instances": [{"b64": "…"}, …]}` for images, `{"instances": [{"column": 1.5, …}, …]}` or `[[1.5, …]]` for rows. */
export const predictBody = {
  type: 'object',
  required: ['instances'],
  additionalProperties: false,
  properties: {
    instances: {
      type: 'array',
      minItems: 1,
      // Told apart by if/then rather than anyOf, so a wrong instance is said by the one kind it tried to be
      // ("b64 must be string"), not by every kind it is not.
      items: {
        if: { type: 'object', required: ['b64'] },
        then: {
          type: 'object',
          additionalProperties: false,
          properties: { b64: { type: 'string' }, name: { type: 'string', maxLength: 1024 } },
        },
        else: {
          if: { type: 'object', required: ['path'] },
          then: {
            type: 'object',
            additionalProperties: false,
            properties: { path: { type: 'string', minLength: 1, maxLength: 4096 } },
          },
          else: {
            if: { type: 'array' },
            then: { type: 'array', items: { type: 'number' }, maxItems: 100000 },
            // A row by column may carry columns the model does not read (the label, an id), as a CSV given to predict may.
            else: {
              type: 'object',
              additionalProperties: { type: ['number', 'string', 'boolean', 'null'] },
              maxProperties: 100000,
            },
          },
        },
      },
    },
    top: { type: 'integer', minimum: 1, maximum: 1000 },
    // TF Serving's clients name the signature; a tlpipe model has one.
    signature_name: { type: 'string', maxLength: 256 },
  },
} as const;

/** The Open Inference Protocol's request (KServe v2, Triton): one input tensor, BYTES of base64 images or numbers of rows. */
export const inferBody = (maxInstances: number) =>
  ({
    type: 'object',
    required: ['inputs'],
    properties: {
      id: { type: 'string', maxLength: 256 },
      parameters: { type: 'object' },
      outputs: { type: 'array' },
      inputs: {
        type: 'array',
        minItems: 1,
        maxItems: 1,
        items: {
          type: 'object',
          required: ['name', 'shape', 'datatype', 'data'],
          properties: {
            name: { type: 'string', maxLength: 256 },
            shape: { type: 'array', minItems: 1, maxItems: 2, items: { type: 'integer', minimum: 0 } },
            datatype: { enum: ['BYTES', 'FP32', 'FP64', 'INT8', 'INT16', 'INT32', 'INT64', 'UINT8'] },
            parameters: { type: 'object' },
            data: { type: 'array', minItems: 1, maxItems: maxInstances * 100000 },
          },
        },
      },
    },
  }) as const;
