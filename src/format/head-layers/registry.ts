/**
 * Every head layer type, one entry each: adding a layer is one file in this
 * folder and one line in HEAD_LAYERS. The schema's `headLayer`, the resolved
 * types, the shape checks, the parameter counts and the engine's builder
 * all read this table; the order is the schema's.
 */
import { Type, type Static, type TOptional } from '@sinclair/typebox';
import { activation } from './activation.js';
import { batchNormalization } from './batch-normalization.js';
import { concatenate } from './concatenate.js';
import { conv2d } from './conv2d.js';
import { conv2dTranspose } from './conv2d-transpose.js';
import { dense } from './dense.js';
import { dropout } from './dropout.js';
import type { HeadLayerEntry } from './entry.js';
import { flatten } from './flatten.js';
import { layerNormalization } from './layer-normalization.js';
import { globalAveragePooling2d } from './global-average-pooling-2d.js';
import { globalMaxPooling2d } from './global-max-pooling-2d.js';
import { maxPooling2d } from './max-pooling-2d.js';
import { reshape } from './reshape.js';
import { upSampling2d } from './up-sampling-2d.js';
import { upsample } from './upsample.js';

const ENTRIES = {
  globalAveragePooling2d,
  globalMaxPooling2d,
  flatten,
  dense,
  dropout,
  conv2d,
  maxPooling2d,
  batchNormalization,
  layerNormalization,
  activation,
  reshape,
  conv2dTranspose,
  upSampling2d,
  upsample,
  concatenate,
} as const;

/** Each entry checked whole against its own resolved layer and options: an entry that lacks a part does not compile. */
export const HEAD_LAYERS: {
  readonly [K in keyof typeof ENTRIES]: HeadLayerEntry<
    ReturnType<(typeof ENTRIES)[K]['resolve']>,
    (typeof ENTRIES)[K]['options']
  >;
} = ENTRIES;

type Registry = typeof HEAD_LAYERS;
export type HeadLayerType = keyof Registry;

/** A resolved layer of type K: what its entry's functions take. */
export type HeadLayerSpecOf<K extends HeadLayerType> = Parameters<Registry[K]['outputShape']>[0];

/** A layer's key in the file is its resolved `type`: the keys where it is not, which must be none. */
type KeysNotTheirType = { [K in HeadLayerType]: HeadLayerSpecOf<K>['type'] extends K ? never : K }[HeadLayerType];
const keysAreTypes: [KeysNotTheirType] extends [never] ? true : KeysNotTheirType = true;
void keysAreTypes;

/** The entry of a layer type, typed as any entry (its functions take any resolved layer of its type). */
export function headLayerEntry<K extends HeadLayerType>(type: K): HeadLayerEntry<HeadLayerSpecOf<K>> {
  return HEAD_LAYERS[type] as unknown as HeadLayerEntry<HeadLayerSpecOf<K>>;
}

/** One head layer as written: an object with exactly one key, the layer type. */
export const headLayerSchema = Type.Object(
  Object.fromEntries(Object.entries(HEAD_LAYERS).map(([type, entry]) => [type, Type.Optional(entry.options)])) as {
    [K in HeadLayerType]: TOptional<Registry[K]['options']>;
  },
  {
    description: 'One head layer: an object with exactly one key, the layer type.',
    minProperties: 1,
    maxProperties: 1,
    additionalProperties: false,
  },
);

export type HeadLayerAsWritten = Static<typeof headLayerSchema>;
