import { createGunzip, gunzipSync } from 'node:zlib';

/** The contents of an IDX file of unsigned bytes: MNIST's images (rank 3) and labels (rank 1). */
export interface IdxArray {
  shape: number[];
  data: Uint8Array;
}

export class IdxFormatError extends Error {}

const UNSIGNED_BYTE = 0x08;

const isGzip = (raw: Uint8Array): boolean => raw[0] === 0x1f && raw[1] === 0x8b;

/** The shape an IDX header declares, once enough bytes of it are there; undefined before. */
function declaredShape(head: Uint8Array): number[] | undefined {
  if (head.length < 4) return undefined;
  const rank = head[3]!;
  if (head.length < 4 + 4 * rank) return undefined;
  const view = new DataView(head.buffer, head.byteOffset, head.byteLength);
  return Array.from({ length: rank }, (_, i) => view.getUint32(4 + 4 * i, false));
}

/**
 * A gzipped IDX file decompressed as a stream, bounded twice: by `maxBytes`
 * and by what its header declares, so a small file that inflates to
 * gigabytes (a gzip bomb) is stopped after its header or at its declared
 * end, never held whole. Plain files come back as they are.
 */
export async function decompressIdx(raw: Uint8Array, maxBytes: number): Promise<Uint8Array> {
  if (!isGzip(raw)) return raw;
  const gunzip = createGunzip();
  const chunks: Buffer[] = [];
  let total = 0;
  let expected: number | undefined;
  const finished = new Promise<void>((resolve, reject) => {
    gunzip.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      total += chunk.length;
      if (expected === undefined) {
        const shape = declaredShape(chunks.length === 1 ? chunk : Buffer.concat(chunks));
        if (shape) {
          expected = 4 + 4 * shape.length + shape.reduce((a, b) => a * b, 1);
          if (expected > maxBytes)
            gunzip.destroy(
              new IdxFormatError(
                `the header declares ${shape.join('×')} = ${expected} bytes, more than the ${maxBytes / 2 ** 20} MiB tlpipe reads (TLPIPE_MAX_FILE_MB)`,
              ),
            );
        } else if (total > 4 + 4 * 255) gunzip.destroy(new IdxFormatError('not an IDX file: no header'));
      }
      if (expected !== undefined && total > expected)
        gunzip.destroy(new IdxFormatError(`it decompresses to more than the ${expected} bytes its header declares`));
      else if (total > maxBytes)
        gunzip.destroy(new IdxFormatError(`it decompresses to more than ${maxBytes / 2 ** 20} MiB`));
    });
    gunzip.on('end', resolve);
    gunzip.on('error', reject);
  });
  gunzip.end(raw);
  await finished;
  return new Uint8Array(Buffer.concat(chunks));
}

/** Parses an IDX file, gunzipping it first when it starts with the gzip magic bytes (for small files in memory; datasets go through decompressIdx). */
export function parseIdx(raw: Uint8Array): IdxArray {
  const bytes = isGzip(raw) ? new Uint8Array(gunzipSync(raw)) : raw;
  if (bytes.length < 4) throw new IdxFormatError(`too short for an IDX header (${bytes.length} bytes)`);
  if (bytes[0] !== 0 || bytes[1] !== 0) throw new IdxFormatError('not an IDX file: the first two bytes must be zero');
  const type = bytes[2]!;
  const rank = bytes[3]!;
  if (type !== UNSIGNED_BYTE)
    throw new IdxFormatError(
      `element type 0x${type.toString(16)} is not supported; tlpipe reads unsigned-byte IDX files (0x08)`,
    );
  if (rank < 1 || rank > 4) throw new IdxFormatError(`rank ${rank} is not supported (1 to 4)`);
  const headerLength = 4 + 4 * rank;
  if (bytes.length < headerLength)
    throw new IdxFormatError(
      `header of a rank-${rank} IDX file needs ${headerLength} bytes, the file has ${bytes.length}`,
    );
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const shape = Array.from({ length: rank }, (_, i) => view.getUint32(4 + 4 * i, false));
  if (shape.some((d) => d === 0))
    throw new IdxFormatError(
      `the header declares ${shape.join('×')}: ${shape[0] === 0 ? 'no examples' : 'examples of no pixels'}`,
    );
  const expected = shape.reduce((a, b) => a * b, 1);
  const actual = bytes.length - headerLength;
  if (actual !== expected) {
    throw new IdxFormatError(
      `header says ${shape.join('×')} = ${expected} bytes of data, the file has ${actual}${actual < expected ? ' (truncated?)' : ''}`,
    );
  }
  return { shape, data: bytes.subarray(headerLength) };
}

/** Writes an IDX file of unsigned bytes; used to make small fixtures from real data. */
export function encodeIdx(shape: number[], data: Uint8Array): Uint8Array {
  const header = new Uint8Array(4 + 4 * shape.length);
  const view = new DataView(header.buffer);
  header[2] = UNSIGNED_BYTE;
  header[3] = shape.length;
  shape.forEach((n, i) => view.setUint32(4 + 4 * i, n, false));
  const out = new Uint8Array(header.length + data.length);
  out.set(header);
  out.set(data, header.length);
  return out;
}
