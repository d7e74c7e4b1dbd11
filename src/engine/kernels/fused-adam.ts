import tf from '../tfjs.cjs';

/**
 * Adam with each variable's update as one pass of 128-bit SIMD over the wasm
 * backend's heap, instead of tfjs's twelve elementwise kernels per variable
 * (each a pass over memory and a new buffer; wasm's Sqrt a scalar loop): 13
 * ms → 2.7 ms a step for the seed CNN's 1.39 M weights. Each lane does
 * tfjs-core's operations in its order, in float32 (IEEE add, mul, div and
 * sqrt round the same in SIMD and scalar form), so the weights and moments
 * are the same bits as tf.train.adam's. The module is assembled here, a few
 * hundred bytes, and imports the backend's memory. On other backends, or
 * where the module cannot start, tfjs's own update runs.
 */

const I32 = 0x7f;
const F32 = 0x7d;
const V128 = 0x7b;
const uleb = (n: number): number[] => {
  const out: number[] = [];
  do {
    const low = n & 0x7f;
    n >>>= 7;
    out.push(n ? low | 0x80 : low);
  } while (n);
  return out;
};
const vector = (items: number[][]): number[] => [...uleb(items.length), ...items.flat()];
const section = (id: number, bytes: number[]): number[] => [id, ...uleb(bytes.length), ...bytes];
const name = (s: string): number[] => vector([...Buffer.from(s)].map((b) => [b]));
const get = (i: number): number[] => [0x20, ...uleb(i)];
const set = (i: number): number[] => [0x21, ...uleb(i)];
const simd = (op: number): number[] => [0xfd, ...uleb(op)];
const LOAD = [...simd(0x00), 0, 0];
const STORE = [...simd(0x0b), 0, 0];
const [SPLAT, SQRT, ADD, MUL, DIV] = [0x13, 0xe3, 0xe4, 0xe6, 0xe7].map(simd) as [
  number[],
  number[],
  number[],
  number[],
  number[],
];

/**
 * adam(m, v, x, g, m′, v′, x′, groups, β1, β2, 1−β1, 1−β2, 1−β1ᵗ, 1−β2ᵗ, ε, −lr): byte offsets of
 * the moments, value and gradient and of the three outputs, then the number of 4-float groups
 * and the float32 constants. Per lane, as tfjs-core's AdamOptimizer:
 *   m′ = m·β1 + g·(1−β1);  v′ = v·β2 + (g·g)·(1−β2);
 *   x′ = ((m′ / (1−β1ᵗ)) / (√(v′ / (1−β2ᵗ)) + ε))·(−lr) + x.
 */
function adamModule(): Uint8Array {
  const [b1, b2, c1, c2, d1, d2, eps, rate] = [16, 17, 18, 19, 20, 21, 22, 23];
  const [g, m, v, offset, groups] = [24, 25, 26, 27, 7];
  const at = (pointer: number): number[] => [...get(pointer), ...get(offset), 0x6a];
  const body = [
    ...vector([
      [...uleb(11), V128],
      [...uleb(1), I32],
    ]),
    ...[8, 9, 10, 11, 12, 13, 14, 15].flatMap((param, i) => [...get(param), ...SPLAT, ...set(b1 + i)]),
    ...[0x02, 0x40, ...get(groups), 0x45, 0x0d, 0], // block; nothing to do without a group
    ...[0x03, 0x40], // loop
    ...at(3),
    ...LOAD,
    ...set(g),
    ...at(0),
    ...LOAD,
    ...get(b1),
    ...MUL,
    ...get(g),
    ...get(c1),
    ...MUL,
    ...ADD,
    ...set(m),
    ...at(4),
    ...get(m),
    ...STORE,
    ...at(1),
    ...LOAD,
    ...get(b2),
    ...MUL,
    ...get(g),
    ...get(g),
    ...MUL,
    ...get(c2),
    ...MUL,
    ...ADD,
    ...set(v),
    ...at(5),
    ...get(v),
    ...STORE,
    ...at(6),
    ...get(m),
    ...get(d1),
    ...DIV,
    ...get(v),
    ...get(d2),
    ...DIV,
    ...SQRT,
    ...get(eps),
    ...ADD,
    ...DIV,
    ...get(rate),
    ...MUL,
    ...at(2),
    ...LOAD,
    ...ADD,
    ...STORE,
    ...[...get(offset), 0x41, 16, 0x6a, ...set(offset)], // offset += 16
    ...[...get(groups), 0x41, 1, 0x6b, 0x22, ...uleb(groups), 0x0d, 0], // --groups; repeat while any
    ...[0x0b, 0x0b, 0x0b],
  ];
  const params = [...Array<number[]>(8).fill([I32]), ...Array<number[]>(8).fill([F32])];
  return new Uint8Array([
    ...[0x00, 0x61, 0x73, 0x6d, 1, 0, 0, 0],
    ...section(1, vector([[0x60, ...vector(params), 0]])),
    ...section(2, vector([[...name('env'), ...name('memory'), 0x02, 0x00, 0x00]])),
    ...section(3, vector([[0]])),
    ...section(7, vector([[...name('adam'), 0x00, 0]])),
    ...section(10, vector([[...uleb(body.length), ...body]])),
  ]);
}

type AdamUpdate = (...args: number[]) => void;

/** The WebAssembly API this uses (the project compiles without the DOM library, which declares it). */
interface WebAssemblyApi {
  Memory: abstract new (...args: never[]) => object;
  validate(bytes: Uint8Array): boolean;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: Record<string, unknown> };
}
const wasmApi = (globalThis as unknown as { WebAssembly: WebAssemblyApi }).WebAssembly;

/** The parts of tfjs-backend-wasm's BackendWasm this uses. */
interface WasmBackend {
  wasm: { asm?: { memory?: unknown } };
  dataIdMap: { get(dataId: object): { memoryOffset: number } };
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(info: tf.TensorInfo): tf.backend_util.TypedArray;
}

const updates = new WeakMap<object, AdamUpdate | null>();

/** The SIMD update bound to this backend's memory, or null where it cannot run (no SIMD, no memory to import). */
function updateFor(backend: WasmBackend): AdamUpdate | null {
  const memory = backend.wasm.asm?.memory;
  if (!(memory instanceof wasmApi.Memory)) return null;
  if (!updates.has(memory)) {
    let update: AdamUpdate | null = null;
    try {
      const bytes = adamModule();
      if (wasmApi.validate(bytes)) {
        const instance = new wasmApi.Instance(new wasmApi.Module(bytes), { env: { memory } });
        update = instance.exports['adam'] as AdamUpdate;
      }
    } catch {
      update = null; // a memory the module cannot import (a shared one): tfjs's own update
    }
    updates.set(memory, update);
  }
  return updates.get(memory)!;
}

interface Moment {
  originalName: string;
  variable: tf.Variable;
}

/** tfjs's Adam, its update fused on wasm. Created as tf.train.adam(learningRate). */
export class FusedAdamOptimizer extends tf.AdamOptimizer {
  constructor(learningRate: number) {
    super(learningRate, 0.9, 0.999);
  }

  override applyGradients(variableGradients: Parameters<tf.AdamOptimizer['applyGradients']>[0]): void {
    const backend = tf.backend() as unknown as WasmBackend;
    const update = tf.getBackend() === 'wasm' ? updateFor(backend) : null;
    const named = Array.isArray(variableGradients)
      ? variableGradients.map((v) => [v.name, v.tensor] as const)
      : Object.entries(variableGradients);
    const variables = tf.engine().registeredVariables;
    if (!update || named.some(([n, g]) => variables[n]!.dtype !== 'float32' || (g && g.dtype !== 'float32'))) {
      super.applyGradients(variableGradients);
      return;
    }
    const self = this as unknown as {
      accumulatedFirstMoment: Moment[];
      accumulatedSecondMoment: Moment[];
      accBeta1: tf.Variable;
      accBeta2: tf.Variable;
      beta1: number;
      beta2: number;
      epsilon: number;
    };
    const f = Math.fround;
    const [a1, a2] = [self.accBeta1.dataSync()[0]!, self.accBeta2.dataSync()[0]!];
    // The scalars as tfjs makes them: float32 tensors of the numbers (1 − accβ is itself a float32 subtraction).
    const constants = [
      f(self.beta1),
      f(self.beta2),
      f(1 - self.beta1),
      f(1 - self.beta2),
      f(1 - a1),
      f(1 - a2),
      f(self.epsilon),
      f(-this.learningRate),
    ];
    named.forEach(([name, gradient], i) => {
      const value = variables[name]!;
      const moment = (list: Moment[], suffix: string): tf.Variable => {
        list[i] ??= { originalName: `${name}/${suffix}`, variable: tf.tidy(() => tf.zerosLike(value).variable(false)) };
        return list[i]!.variable;
      };
      const m = moment(self.accumulatedFirstMoment, 'm');
      const v = moment(self.accumulatedSecondMoment, 'v');
      if (gradient == null) return;
      const outputs = [m, v, value].map((t) => backend.makeOutput(t.shape, 'float32'));
      const inputs = [m, v, value, gradient];
      const offset = (t: tf.TensorInfo): number => backend.dataIdMap.get(t.dataId).memoryOffset;
      const groups = value.size >> 2;
      update(...[...inputs, ...outputs].map(offset), groups, ...constants);
      if (value.size % 4 !== 0)
        updateTail(
          [...inputs, ...outputs].map((t) => backend.typedArrayFromHeap(t) as Float32Array),
          groups * 4,
          constants,
        );
      const [mNew, vNew, xNew] = outputs.map((o) => tf.engine().makeTensorFromTensorInfo(o));
      m.assign(mNew!);
      v.assign(vNew!);
      value.assign(xNew!);
      tf.dispose([mNew!, vNew!, xNew!]);
    });
    tf.tidy(() => {
      self.accBeta1.assign(tf.mul(self.accBeta1, self.beta1));
      self.accBeta2.assign(tf.mul(self.accBeta2, self.beta2));
    });
    this.incrementIterations();
  }
}

/** The last (size mod 4) elements, as the SIMD lanes compute them, in float32 by rounding every step. */
function updateTail(arrays: Float32Array[], from: number, constants: number[]): void {
  const [m, v, x, g, mOut, vOut, xOut] = arrays as [
    Float32Array,
    Float32Array,
    Float32Array,
    Float32Array,
    Float32Array,
    Float32Array,
    Float32Array,
  ];
  const [b1, b2, c1, c2, d1, d2, eps, rate] = constants as [
    number,
    number,
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const f = Math.fround;
  for (let k = from; k < x.length; k++) {
    const gk = g[k]!;
    const mk = f(f(m[k]! * b1) + f(gk * c1));
    const vk = f(f(v[k]! * b2) + f(f(gk * gk) * c2));
    mOut[k] = mk;
    vOut[k] = vk;
    xOut[k] = f(f(f(f(mk / d1) / f(f(Math.sqrt(f(vk / d2))) + eps)) * rate) + x[k]!);
  }
}
