/**
 * A module loader hook (registered by record-imports-hook.ts) that appends
 * the URL of each module resolved by an `import` (static or dynamic) to the
 * file TLPIPE_RECORD_IMPORTS names, one a line.
 */
import { appendFileSync } from 'node:fs';

interface Resolved {
  url: string;
}
type NextResolve = (specifier: string, context: unknown) => Promise<Resolved>;

export async function resolve(specifier: string, context: unknown, nextResolve: NextResolve): Promise<Resolved> {
  const resolved = await nextResolve(specifier, context);
  const file = process.env['TLPIPE_RECORD_IMPORTS'];
  if (file) appendFileSync(file, `${resolved.url}\n`);
  return resolved;
}
