import { realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { readRegularFile } from '../engine/read-file.js';
import type { ModelDescription, ServedInput } from './served-answers.js';

/** An instance as a request gives it, before it is checked against the model. */
export type RequestInstance = { b64: string; name?: string } | { path: string } | Record<string, number> | number[];

/** One instance as the model takes it, or why it cannot be one (answered as that instance's error). */
export type CheckedInstance = ServedInput | { error: string };

// Each `=` comes before the line breaks after it, so no run of line breaks can be split two ways (no backtracking).
const BASE64 = /^[A-Za-z0-9+/\r\n]*(?:=[\r\n]*){0,2}$/;

/**
 * Base64 text as bytes. Node's decoder skips what is not base64, so text
 * that is not base64 would reach the decoder as some other image; it is
 * refused by name instead.
 */
export function base64Bytes(text: string): Uint8Array | undefined {
  return BASE64.test(text) ? Buffer.from(text, 'base64') : undefined;
}

/**
 * A request's instances as the model takes them: images (base64, or a
 * file inside the folder the server was allowed to read) for an image
 * model, rows (values by column, or in column order) for a tabular one. An
 * instance of the wrong kind is an error of its own.
 */
export async function checkInstances(
  instances: readonly RequestInstance[],
  model: ModelDescription,
  allowFiles: string | undefined,
  maxFileBytes: number,
): Promise<CheckedInstance[]> {
  const images = model.preprocessing.kind === 'image';
  // Files named by path count together as the body an upload of them would have been, and are read one at a time.
  const files = { allowFiles, limit: maxFileBytes, left: maxFileBytes };
  const checked: CheckedInstance[] = [];
  for (const [i, instance] of instances.entries())
    checked.push(await checkInstance(instance, `instance ${i}`, images, files));
  return checked;
}

/** One instance as the model takes it; a file it names is read within what is `left` of the request's bytes. */
async function checkInstance(
  instance: RequestInstance,
  name: string,
  images: boolean,
  files: { allowFiles: string | undefined; limit: number; left: number },
): Promise<CheckedInstance> {
  if (!Array.isArray(instance) && 'b64' in instance && typeof instance.b64 === 'string') {
    if (!images) return { error: 'this model takes table rows, not images' };
    const bytes = base64Bytes(instance.b64);
    return bytes
      ? { kind: 'image', name: typeof instance.name === 'string' ? instance.name : name, bytes }
      : { error: 'b64 is not base64 text' };
  }
  if (!Array.isArray(instance) && 'path' in instance && typeof instance.path === 'string') {
    if (!images) return { error: 'this model takes table rows, not images' };
    if (files.allowFiles === undefined)
      return {
        error:
          'this server reads no file by path; send the image as {"b64": …} or as a multipart upload (or start it with --allow-files <folder>)',
      };
    const file = await allowedFile(files.allowFiles, instance.path);
    if ('error' in file) return file;
    try {
      const size = (await stat(file.path)).size;
      if (size > files.left)
        return {
          error: `${instance.path} is ${size} bytes, over what is left of the ${files.limit} a request may send`,
        };
      files.left -= size;
      return { kind: 'image', name: instance.path, bytes: await readRegularFile(file.path, 'image') };
    } catch (error) {
      return { error: (error as Error).message.split('\n')[0]!.replace(file.path, instance.path) };
    }
  }
  if (images) return { error: 'an image model takes {"b64": "<base64 image>"} instances' };
  return { kind: 'row', name, values: instance as Record<string, number> | number[] };
}

/**
 * `given`, inside `root` and only there: relative, no `..` that leaves it,
 * no link that points out of it (both sides resolved before they are compared).
 */
export async function allowedFile(root: string, given: string): Promise<{ path: string } | { error: string }> {
  if (given.includes('\0') || path.isAbsolute(given) || path.win32.isAbsolute(given))
    return { error: `path ${JSON.stringify(given)} is not relative to the allowed folder` };
  const outside = { error: `path ${JSON.stringify(given)} is outside the allowed folder` };
  const inside = (base: string, file: string): boolean => {
    const relative = path.relative(base, file);
    // `..name` is a file inside; only `..` itself or `../…` leaves.
    return relative !== '' && relative !== '..' && !relative.startsWith(`..${path.sep}`) && !path.isAbsolute(relative);
  };
  const realRoot = await realpath(root).catch(() => undefined);
  // The folder was there when the server started; one removed since is said, not a 500.
  if (realRoot === undefined) return { error: 'the folder the server was allowed to read is gone' };
  if (!inside(realRoot, path.resolve(realRoot, given))) return outside;
  let real: string;
  try {
    real = await realpath(path.resolve(realRoot, given));
  } catch {
    return { error: `path ${JSON.stringify(given)}: not found in the allowed folder` };
  }
  return inside(realRoot, real) ? { path: real } : outside;
}
