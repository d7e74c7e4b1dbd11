import { gunzipSync } from 'node:zlib';

/** The contents of an IDX file of unsigned bytes: MNIST's images (rank 3) and labels (rank 1). */
export interface IdxArray {
  shape: number[];
  data: Uint8Array;
}

export class IdxFormatError extends Error {}

const UNSIGNED_BYTE = 0x08;

/** Parses an IDX file, gunzipping it first when it starts with the gzip magic bytes. */
export function parseIdx(raw: Uint8Array): IdxArray {
  const bytes = raw[0] === 0x1f && raw[1] === 0x8b ? new Uint8Array(gunzipSync(raw)) : raw;
  if (bytes.length < 4) throw new IdxFormatError(`too short for an IDX header (${bytes.length} bytes)`);
  if (bytes[0] !== 0 || bytes[1] !== 0) throw new IdxFormatError('not an IDX file: the first two bytes must be zero');
  const type = bytes[2]!;
  const rank = bytes[3]!;
  if (type !== UNSIGNED_BYTE) throw new IdxFormatError(`element type 0x${type.toString(16)} is not supported; tlpipe reads unsigned-byte IDX files (0x08)`);
  if (rank < 1 || rank > 4) throw new IdxFormatError(`rank ${rank} is not supported (1 to 4)`);
  const headerLength = 4 + 4 * rank;
  if (bytes.length < headerLength) throw new IdxFormatError(`header of a rank-${rank} IDX file needs ${headerLength} bytes, the file has ${bytes.length}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const shape = Array.from({ length: rank }, (_, i) => view.getUint32(4 + 4 * i, false));
  const expected = shape.reduce((a, b) => a * b, 1);
  const actual = bytes.length - headerLength;
  if (actual !== expected) {
    throw new IdxFormatError(`header says ${shape.join('×')} = ${expected} bytes of data, the file has ${actual}${actual < expected ? ' (truncated?)' : ''}`);
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
