/**
 * What tlpipe knows about each zoo base model without loading it: enough to
 * validate a pipeline and fill its defaults. The engine holds the loaders.
 */
export type NormalizePreset = 'unit' | 'symmetric';

/** Each preset as (pixel / 255 − mean) / std. */
export const NORMALIZE_PRESETS: Readonly<Record<NormalizePreset, { mean: number; std: number; description: string }>> =
  {
    unit: { mean: 0, std: 1, description: '[0, 1]' },
    symmetric: { mean: 0.5, std: 0.5, description: '[-1, 1]' },
  };

export interface ZooEntry {
  name: string;
  description: string;
  /** The layer whose output is the model's feature map; the default cut. */
  featureLayer: string;
  /** The input size the weights were trained at, and the smallest the architecture accepts. */
  nativeInputSize: [number, number];
  minInputSize: number;
  /** How pixels were scaled when the base was trained (the default of `base.normalize`). */
  normalize: NormalizePreset;
  /** A regular expression whose first group names a layer's block (layers of one residual block share it). */
  blockPattern?: string;
  /** Online entries: the model.json downloaded once into the cache. Offline entries ship in an npm package. */
  url?: string;
  /** A mid-level layer: where `strategy: low-level` cuts. */
  lowLevelCut: string;
  /** Cuts `strategy: auto` probes, top first: the feature layer, then lower ones. */
  probeCuts: string[];
}

export const ZOO: Readonly<Record<string, ZooEntry>> = {
  mobilenet_v2: {
    name: 'mobilenet_v2',
    description:
      'MobileNetV2 α=1.0 from the npm package nsfwjs (the version in package.json): ImageNet-initialised, then trained on 5 photo classes; uint8-quantised weights.',
    featureLayer: 'out_relu',
    lowLevelCut: 'block_13_expand_relu',
    probeCuts: ['out_relu', 'block_13_expand_relu', 'block_6_expand_relu'],
    blockPattern: '^(block_\\d+)_',
    nativeInputSize: [224, 224],
    minInputSize: 32,
    normalize: 'unit', // nsfwjs feeds these models pixels / 255
  },
  inception_v3: {
    name: 'inception_v3',
    description:
      'InceptionV3 from the npm package nsfwjs (the version in package.json): ImageNet-initialised, then trained on 5 photo classes; uint8-quantised weights.',
    featureLayer: 'mixed10',
    lowLevelCut: 'mixed7',
    probeCuts: ['mixed10', 'mixed7', 'mixed4'],
    nativeInputSize: [299, 299],
    minInputSize: 75,
    normalize: 'unit', // nsfwjs feeds these models pixels / 255
  },
  'mobilenet_v1_0.25_224': {
    name: 'mobilenet_v1_0.25_224',
    description:
      'MobileNet v1 α=0.25 trained on ImageNet, the public tfjs LayersModel; downloaded once into the cache.',
    featureLayer: 'conv_pw_13_relu',
    lowLevelCut: 'conv_pw_11_relu',
    probeCuts: ['conv_pw_13_relu', 'conv_pw_11_relu', 'conv_pw_5_relu'],
    nativeInputSize: [224, 224],
    minInputSize: 32,
    normalize: 'symmetric',
    url: 'https://storage.googleapis.com/tfjs-models/tfjs/mobilenet_v1_0.25_224/model.json',
  },
  'mobilenet_v1_1.0_224': {
    name: 'mobilenet_v1_1.0_224',
    description: 'MobileNet v1 α=1.0 trained on ImageNet, the public tfjs LayersModel; downloaded once into the cache.',
    featureLayer: 'conv_pw_13_relu',
    lowLevelCut: 'conv_pw_11_relu',
    probeCuts: ['conv_pw_13_relu', 'conv_pw_11_relu', 'conv_pw_5_relu'],
    nativeInputSize: [224, 224],
    minInputSize: 32,
    normalize: 'symmetric',
    url: 'https://storage.googleapis.com/tfjs-models/tfjs/mobilenet_v1_1.0_224/model.json',
  },
};

/** The class count of datasets whose labels are known without reading them. */
export const KNOWN_CLASS_COUNTS: Readonly<Record<string, number>> = { mnist: 10 };
