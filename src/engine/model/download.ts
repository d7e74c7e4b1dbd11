import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { UserError } from '../../diagnostics/user-error.js';
import { makeDirs } from '../../platform/make-dirs.js';
import { setting } from '../../platform/settings.js';

/** Where downloaded base models are kept: $TLPIPE_CACHE or ~/.cache/tlpipe. */
export function cacheRoot(): string {
  return setting('TLPIPE_CACHE');
}

export interface DownloadedModel {
  /** The cached model.json. */
  file: string;
  /** sha256 over model.json and every weight file as downloaded, in manifest order. */
  sha256: string;
  /** False when the cache already held it and nothing was fetched. */
  fetched: boolean;
}

const KEY = ['base', 'model'];

function cacheDir(url: string, root: string): string {
  return path.join(root, 'models', createHash('sha256').update(url).digest('hex').slice(0, 24));
}

/** Whether `url` has been downloaded into the cache. */
export function isCached(url: string, root = cacheRoot()): boolean {
  return existsSync(path.join(cacheDir(url, root), 'download.json'));
}

/** The most a base model download may bring, all files together: $TLPIPE_MAX_DOWNLOAD_MB, 1 GiB by default. */
export function maxDownloadBytes(): number {
  return setting('TLPIPE_MAX_DOWNLOAD_MB') * 2 ** 20;
}

interface FetchOptions {
  allowHttp: boolean;
  /** Bytes this download may still bring. */
  budget: { left: number };
}

/** https only, unless the pipeline allows plain http (`base.allowHttp`), before and after redirects. */
function checkProtocol(url: string, allowHttp: boolean): void {
  const protocol = new URL(url).protocol;
  if (protocol === 'https:' || (protocol === 'http:' && allowHttp)) return;
  throw new UserError(
    `${url}: tlpipe downloads base models over https only`,
    KEY,
    protocol === 'http:'
      ? 'use an https:// address, or set `base.allowHttp: true` for a server you trust (such as one on localhost)'
      : 'give an https:// address of a model.json',
  );
}

/**
 * How long a download may wait: for a connection, headers or the next bytes
 * ($TLPIPE_DOWNLOAD_IDLE_S, 30 s), and in all ($TLPIPE_DOWNLOAD_TIMEOUT_S,
 * 600 s, which stops a server that trickles a byte at a time); and how often
 * a failed request is tried again ($TLPIPE_DOWNLOAD_RETRIES, 2).
 */
export function downloadLimits(): { idleMs: number; totalMs: number; retries: number } {
  return {
    idleMs: setting('TLPIPE_DOWNLOAD_IDLE_S') * 1000,
    totalMs: setting('TLPIPE_DOWNLOAD_TIMEOUT_S') * 1000,
    retries: setting('TLPIPE_DOWNLOAD_RETRIES'),
  };
}

/** A failure worth another try: the network, a timeout, or the server's own trouble (5xx, 429). */
class TransientDownloadError extends UserError {}

/** One file, tried again after a pause when it fails for a reason that may pass. */
async function fetchBytes(url: string, options: FetchOptions): Promise<Buffer> {
  const { retries } = downloadLimits();
  for (let attempt = 0; ; attempt++) {
    const budget = options.budget.left;
    try {
      return await fetchOnce(url, options);
    } catch (error) {
      if (!(error instanceof TransientDownloadError) || attempt >= retries) {
        throw error instanceof TransientDownloadError
          ? new UserError(`${error.message} (tried ${attempt + 1} time${attempt === 0 ? '' : 's'})`, KEY, error.hint)
          : error;
      }
      options.budget.left = budget;
      await new Promise((resolve) => setTimeout(resolve, 500 * 2 ** attempt));
    }
  }
}

async function fetchOnce(url: string, options: FetchOptions): Promise<Buffer> {
  checkProtocol(url, options.allowHttp);
  const { idleMs, totalMs } = downloadLimits();
  const controller = new AbortController();
  let why = '';
  const abort = (reason: string): void => {
    why = reason;
    controller.abort();
  };
  let idle = setTimeout(() => abort(`no answer for ${idleMs / 1000} s`), idleMs);
  const progress = (): void => {
    clearTimeout(idle);
    idle = setTimeout(() => abort(`no data for ${idleMs / 1000} s`), idleMs);
  };
  const total = setTimeout(() => abort(`not complete after ${totalMs / 1000} s`), totalMs);
  const retryHint =
    'check the address and the network (timeouts: TLPIPE_DOWNLOAD_IDLE_S, TLPIPE_DOWNLOAD_TIMEOUT_S); a model downloaded once is used from the cache afterwards';
  try {
    let response: Response;
    try {
      response = await fetch(url, { redirect: 'follow', signal: controller.signal });
    } catch (error) {
      const cause = why || ((error as { cause?: Error }).cause?.message ?? (error as Error).message);
      throw new TransientDownloadError(`cannot download ${url}: ${cause}`, KEY, retryHint);
    }
    progress();
    if (response.url && response.url !== url) checkProtocol(response.url, options.allowHttp);
    if (!response.ok) {
      const message = `cannot download ${url}: HTTP ${response.status} ${response.statusText}`;
      await response.body?.cancel().catch(() => undefined);
      throw response.status >= 500 || response.status === 429
        ? new TransientDownloadError(message, KEY, retryHint)
        : new UserError(message, KEY);
    }
    const tooLarge = (): UserError =>
      new UserError(
        `download of ${url} exceeds the size limit of ${Number((maxDownloadBytes() / 2 ** 20).toFixed(2))} MiB`,
        KEY,
        'raise TLPIPE_MAX_DOWNLOAD_MB if this model is really that large; nothing was cached',
      );
    if (Number(response.headers.get('content-length') ?? 0) > options.budget.left) throw tooLarge();
    // Read in chunks, so a server that sends without end is cut off at the limit rather than filling memory.
    const chunks: Uint8Array[] = [];
    try {
      for await (const chunk of (response.body ?? []) as AsyncIterable<Uint8Array>) {
        progress();
        options.budget.left -= chunk.byteLength;
        if (options.budget.left < 0) {
          await response.body?.cancel().catch(() => undefined);
          throw tooLarge();
        }
        chunks.push(chunk);
      }
    } catch (error) {
      if (error instanceof UserError) throw error;
      throw new TransientDownloadError(
        `download of ${url} broke off: ${why || (error as Error).message}`,
        KEY,
        'try again; nothing was cached',
      );
    }
    const body = Buffer.concat(chunks);
    const declared = Number(response.headers.get('content-length') ?? Number.NaN);
    if (Number.isFinite(declared) && declared !== body.length && !response.headers.get('content-encoding')) {
      throw new TransientDownloadError(
        `download of ${url} is truncated: ${body.length} of ${declared} bytes`,
        KEY,
        'try again; nothing was cached',
      );
    }
    return body;
  } finally {
    clearTimeout(idle);
    clearTimeout(total);
  }
}

/**
 * Downloads a tfjs LayersModel (model.json and its weight shards) once into
 * the cache and returns the cached copy. The files go to a temporary folder
 * that is renamed into place only when everything arrived and, if a sha256
 * was pinned, matched it: an interrupted or wrong download never poses as
 * a cached model.
 */
export async function downloadModel(
  url: string,
  options: { sha256?: string; cache?: string; allowHttp?: boolean } = {},
): Promise<DownloadedModel> {
  const fetching: FetchOptions = { allowHttp: options.allowHttp ?? false, budget: { left: maxDownloadBytes() } };
  checkProtocol(url, fetching.allowHttp);
  const root = options.cache ?? cacheRoot();
  const dir = cacheDir(url, root);
  const record = path.join(dir, 'download.json');
  if (existsSync(record)) {
    const cached = JSON.parse(readFileSync(record, 'utf8')) as { url: string; sha256: string };
    if (!options.sha256 || cached.sha256 === options.sha256)
      return { file: path.join(dir, 'model.json'), sha256: cached.sha256, fetched: false };
  }
  const json = await fetchBytes(url, fetching);
  let manifest: { weightsManifest?: { paths: string[] }[] };
  try {
    manifest = JSON.parse(json.toString('utf8')) as typeof manifest;
  } catch {
    throw new UserError(`${url} is not JSON; expected a tfjs model.json`, KEY);
  }
  if (!manifest.weightsManifest)
    throw new UserError(`${url} has no weightsManifest; expected a tfjs LayersModel model.json`, KEY);
  const hash = createHash('sha256').update(json);
  const staging = `${dir}.${process.pid}.partial`;
  await rm(staging, { recursive: true, force: true });
  await makeDirs(staging);
  try {
    await writeFile(path.join(staging, 'model.json'), json);
    for (const group of manifest.weightsManifest) {
      for (const shard of group.paths) {
        const target = path.resolve(staging, shard);
        if (!target.startsWith(staging + path.sep))
          throw new UserError(`${url} names a weight file outside its folder: ${shard}`, KEY);
        const data = await fetchBytes(new URL(shard, url).href, fetching);
        hash.update(data);
        await makeDirs(path.dirname(target));
        await writeFile(target, data);
      }
    }
    const sha256 = hash.digest('hex');
    if (options.sha256 && options.sha256 !== sha256) {
      throw new UserError(
        `${url} downloaded with sha256 ${sha256}, but the pipeline pins ${options.sha256}`,
        ['base', 'sha256'],
        'the file changed on the server, or the pin is wrong; nothing was cached',
      );
    }
    await writeFile(
      path.join(staging, 'download.json'),
      JSON.stringify({ url, sha256, downloadedAt: new Date().toISOString() }, null, 2) + '\n',
    );
    await rm(dir, { recursive: true, force: true });
    await rename(staging, dir);
    return { file: path.join(dir, 'model.json'), sha256, fetched: true };
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}
