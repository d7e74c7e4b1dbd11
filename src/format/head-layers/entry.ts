import type { Static, TSchema } from '@sinclair/typebox';

/** A size along one axis; null where it is not known yet (the file's early check, `units: classes` before the data is read). */
export type Dim = number | null;

/** Why a layer cannot take the tensor it receives. */
export interface ShapeProblem {
  message: string;
  hint: string;
  /** Under `head[i]`, the key the problem is about (`['concatenate', 'with']`); absent: the layer itself. */
  key?: string[];
}

/** What a layer's shape check knows besides the tensor it receives. */
export interface ShapeContext {
  /** Where the head made the feature map a vector (a flatten or global pooling), for messages. */
  vectorFrom: number | undefined;
  /** The base's layers by name with one example's output shape; absent when the base is not known yet. */
  baseLayers?: ReadonlyMap<string, readonly Dim[] | undefined>;
}

/**
 * One Keras layer as tfjs-layers serialises it (`{className: 'Dense', config: {...}}`,
 * initializers and regularizers as `{className, config}` too). The engine
 * deserialises it; the format stays free of tfjs.
 */
export interface KerasLayer {
  className: string;
  config: Record<string, unknown>;
  /** A skip connection: the layer takes the current tensor and this base layer's output. */
  reads?: string;
}

/** What the builder hands an entry: its layer name and the head's seeded stream for initial weights. */
export interface KerasContext {
  /** `head_<i>_<type>`; an entry that yields several layers suffixes it. */
  name: string;
  /** The next initializer seed; drawn in layer order, so the same seed builds the same weights. */
  nextSeed: () => number;
}

/** `classes` (the dataset's class count) replaced by the number the plan found. */
export type ClassesFilled<S> = S extends unknown ? { [K in keyof S]: Exclude<S[K], 'classes'> } : never;

/**
 * One head layer type: everything tlpipe knows about it, in one place.
 * `Spec` is the resolved layer (`{type, ...options with defaults}`).
 */
export interface HeadLayerEntry<Spec extends { type: string }, Options extends TSchema = TSchema> {
  /** The schema of the value under the layer's key (its description is `description`). */
  options: Options;
  /** One line, what editors show. */
  description: string;
  /** The options as written, schema defaults filled, to the resolved layer. */
  resolve: (options: Static<Options>) => Spec;
  /** The option that may say `classes`, filled with the class count by the planner. */
  classesOption?: keyof Spec & string;
  /** The output shape (no batch axis) for an input shape, or why the layer cannot take it. */
  outputShape: (layer: Spec, input: readonly Dim[], context: ShapeContext) => Dim[] | ShapeProblem;
  /**
   * Whether the vector it outputs was made here (flatten, global pooling: messages then name it) or
   * from no layer's doing (reshape); absent: as the layer before left it.
   */
  vectorOrigin?: 'here' | 'none';
  /**
   * The base layers it reads besides the tensor it receives (a skip connection): the head then
   * trains through the whole model, since features of the cut lack them.
   */
  reads?: (layer: Spec) => string[];
  /** Trainable parameters for an input shape (batch norm's moving statistics do not train). */
  paramCount: (layer: ClassesFilled<Spec>, input: readonly number[]) => number;
  /** The Keras layers it is built from, in order. */
  keras: (layer: ClassesFilled<Spec>, context: KerasContext) => KerasLayer[];
}

/** The shape problems a head layer can report, as pure values. */
export const isShapeProblem = (value: Dim[] | ShapeProblem): value is ShapeProblem => !Array.isArray(value);

/** The last axis, the channels of a feature map or the width of a vector. */
export const lastDim = (shape: readonly Dim[]): Dim => shape[shape.length - 1] ?? null;

export const product = (shape: readonly Dim[]): Dim =>
  shape.reduce<Dim>((a, b) => (a === null || b === null ? null : a * b), 1);

/** Output size of a convolution or pooling window along one axis, as Keras computes it. */
export function windowOutput(n: Dim, size: number, stride: number, padding: 'same' | 'valid'): Dim {
  if (n === null) return null;
  return padding === 'same' ? Math.ceil(n / stride) : Math.ceil((n - size + 1) / stride);
}

/** Output size of a transposed convolution along one axis (Keras' deconv_output_length, no output padding). */
export function transposedOutput(n: Dim, size: number, stride: number, padding: 'same' | 'valid'): Dim {
  if (n === null) return null;
  return padding === 'same' ? n * stride : n * stride + Math.max(size - stride, 0);
}

/** The feature-map check of layers that need [height, width, channels]. */
export function needsFeatureMap(type: string, input: readonly Dim[], context: ShapeContext): ShapeProblem | undefined {
  if (input.length === 3) return undefined;
  const from = context.vectorFrom;
  return {
    message: `\`${type}\` needs a feature map [height, width, channels], but ${from !== undefined ? `head[${from}] turned it into a vector` : 'it receives a vector'}`,
    hint: 'put convolutions and pooling before any flatten, global pooling or dense layer',
  };
}

/** `{className: 'GlorotUniform', config: {seed}}`: Keras' default kernel initializer, seeded. */
export const glorotUniform = (seed: number): KerasLayer['config'] => ({ className: 'GlorotUniform', config: { seed } });

/** An L1L2 regularizer's Keras config, when the layer has one. */
export const regularizerConfig = (
  key: string,
  spec: { l1?: number; l2?: number } | undefined,
): Record<string, unknown> => (spec ? { [key]: { className: 'L1L2', config: { ...spec } } } : {});
