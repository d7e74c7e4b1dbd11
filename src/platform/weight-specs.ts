/**
 * tfjs weight specs (name, shape, dtype, and the quantization of an exported
 * copy) read back from a checkpoint, an exported model or a stage-cache
 * entry: each declares a size, and every declared size is bounded before
 * anything is allocated. One check for all three, so a limit or a message
 * never differs between them.
 */

/** Bytes per element of the dtypes tfjs's encodeWeights writes. */
export const DTYPE_BYTES: Readonly<Record<string, number>> = { float32: 4, int32: 4, bool: 1 };
/** Bytes per element of the quantized types a weights manifest may name. */
const QUANTIZED_BYTES: Readonly<Record<string, number>> = { uint8: 1, uint16: 2, float16: 2 };
/** More dimensions than any layer of a model tlpipe builds has. */
const MAX_RANK = 8;
/** More weights in one file than any model tlpipe builds has. */
const MAX_SPECS = 100_000;

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);
const isSize = (value: unknown): value is number =>
  Number.isSafeInteger(value) && (value as number) >= 0 && (value as number) <= 2 ** 31;

/**
 * A list of weight specs whose shapes and dtypes add up to `byteLength`
 * exactly, or what is wrong, in a person's words, from `where`. The sum
 * stops as soon as it passes, so a declared 2³¹ × 2³¹ tensor is refused
 * before any multiplication overflows or memory is asked for. `quantized`:
 * an exported copy's specs may say how their values are stored.
 */
export function weightSpecsProblem(
  specs: unknown,
  byteLength: number,
  where: string,
  options: { quantized?: boolean } = {},
): string | undefined {
  if (!Array.isArray(specs) || specs.length > MAX_SPECS) return `${where} is not a list of weights`;
  const names = new Set<string>();
  let total = 0;
  for (const [i, spec] of specs.entries()) {
    if (!isRecord(spec) || typeof spec['name'] !== 'string' || spec['name'] === '') return `${where}[${i}] has no name`;
    const name = spec['name'];
    if (names.has(name)) return `${where}: weight ${name} is named twice`;
    names.add(name);
    let bytes = DTYPE_BYTES[spec['dtype'] as string];
    if (bytes === undefined)
      return `${where}: weight ${name} has dtype ${JSON.stringify(spec['dtype'])} (float32, int32 or bool expected)`;
    if ('quantization' in spec) {
      const stored = isRecord(spec['quantization'])
        ? QUANTIZED_BYTES[spec['quantization']['dtype'] as string]
        : undefined;
      if (!options.quantized) return `${where}: weight ${name} is quantized, which tlpipe never writes there`;
      if (stored === undefined) return `${where}: weight ${name} has a quantization tfjs does not know`;
      bytes = stored;
    }
    const shape = spec['shape'];
    if (!Array.isArray(shape) || shape.length > MAX_RANK || !shape.every(isSize))
      return `${where}: weight ${name} has shape ${JSON.stringify(shape)}, not a list of at most ${MAX_RANK} sizes`;
    let size = bytes;
    for (const d of shape as number[]) {
      size *= d;
      if (size > byteLength)
        return `${where}: weight ${name} declares ${JSON.stringify(shape)} ${String(spec['dtype'])}, more than the ${byteLength} bytes there are`;
    }
    total += size;
    if (total > byteLength) return `${where}: the weights declare more than the ${byteLength} bytes there are`;
  }
  if (total !== byteLength) return `${where}: the weights declare ${total} bytes, but there are ${byteLength}`;
  return undefined;
}
