import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  readdirSync,
  renameSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { deflateSync, gzipSync } from 'node:zlib';
import { encodeIdx } from '../../src/engine/data/idx-file.js';
import {
  hasStackTrace,
  tlpipeBounded,
  workspace,
  write,
  writeDigitImageFolder,
  writeMnistSubsetIdx,
} from './cli-harness.js';

const HEAD = `head:
  - globalAveragePooling2d: {}
  - dense: { units: classes, activation: softmax }
train:
  stages:
    - { epochs: 1 }
`;
const folderPipeline = (dir: string, extra = ''): string => `backend: wasm
dataset: { format: imageFolder, dir: ${dir}, test: 0.25, image: { size: [32, 32] }${extra} }
base: { cut: block_2_add }
${HEAD}`;
const idxPipeline = (images: string, labels: string): string => `backend: wasm
dataset: { format: idx, train: { images: ${images}, labels: ${labels} }, image: { size: [32, 32] } }
base: { cut: block_2_add }
${HEAD}`;

/** A valid 1-bit grayscale PNG of `width`×`height` black pixels: a few KiB that declare a huge canvas. */
function blackPng(width: number, height: number): Buffer {
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const crc = (bytes: Buffer): number => {
    let c = 0xffffffff;
    for (const b of bytes) c = crcTable[(c ^ b) & 0xff]! ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  };
  const chunk = (type: string, data: Buffer): Buffer => {
    const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const out = Buffer.alloc(body.length + 8);
    out.writeUInt32BE(data.length, 0);
    body.copy(out, 4);
    out.writeUInt32BE(crc(body), body.length + 4);
    return out;
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header[8] = 1; // bit depth
  header[9] = 0; // grayscale
  const rows = Buffer.alloc((1 + Math.ceil(width / 8)) * height);
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header),
    chunk('IDAT', deflateSync(rows, { level: 9 })),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

/** As root, permissions do not stop reads: such cases run the CLI as `nobody`. */
const AS_ROOT = process.getuid?.() === 0;
const NOBODY = 65534;

/** A case: what the hostile world holds, the command, and what tlpipe must do about it within a time and memory bound. */
interface HostileCase {
  name: string;
  /** Builds the files in `dir`; returns the arguments of the command. */
  setup: (dir: string) => Promise<string[]> | string[];
  code: 0 | 1;
  stderr?: RegExp;
  stdout?: RegExp;
  /** Text that must never appear in what is printed. */
  never?: string;
  maxMiB?: number;
  /** What must (not) be on disk afterwards, checked in `dir`. */
  check?: (dir: string) => void;
  env?: Record<string, string>;
  /** Run the CLI as another user (for permission cases when the tests run as root). */
  uid?: number;
  /** Why the case cannot run here, if it cannot. */
  skip?: () => string | undefined;
}

/**
 * How long a case may take before it counts as hung. The cases assert "ends",
 * not speed: each does seconds of work, and the bound must hold with two
 * suites running at once on two loaded cores (15–20 s bounds failed at load 5–13).
 */
const HANG_BOUND_MS = 120_000;

let server: Server;
let port = 0;

const cases: HostileCase[] = [
  // Symbolic links in image folders.
  {
    name: 'a class folder holding a link to itself (a loop) lists each image once and ends',
    setup: async (dir) => {
      await writeDigitImageFolder(path.join(dir, 'd'), 4);
      symlinkSync('.', path.join(dir, 'd', 'zero', 'again'));
      return ['data', write(dir, 'p.yaml', folderPipeline('d'))];
    },
    code: 0,
    stdout: /ignored: \d+ \(.*1 a link back to a folder it is inside \(a loop\)/,
  },
  {
    name: "a link to the dataset root inside a class folder is an error, not the other classes' images pulled in",
    setup: async (dir) => {
      await writeDigitImageFolder(path.join(dir, 'd'), 4);
      symlinkSync('..', path.join(dir, 'd', 'seven', 'up'));
      return ['data', write(dir, 'p.yaml', folderPipeline('d'))];
    },
    code: 1,
    stderr: /are one file in two classes/,
  },
  {
    name: 'a class folder that is itself a link is a class',
    setup: async (dir) => {
      await writeDigitImageFolder(path.join(dir, 'd'), 4);
      renameSync(path.join(dir, 'd', 'one'), path.join(dir, 'elsewhere'));
      symlinkSync(path.join(dir, 'elsewhere'), path.join(dir, 'd', 'one'));
      return ['data', write(dir, 'p.yaml', folderPipeline('d'))];
    },
    code: 0,
    stdout: /^one +2 +1 +1$/m,
  },
  {
    name: 'a second link to an image in its own class is read once',
    setup: async (dir) => {
      const files = await writeDigitImageFolder(path.join(dir, 'd'), 4);
      symlinkSync(files[0]!, path.join(dir, 'd', 'one', 'again.png'));
      return ['data', write(dir, 'p.yaml', folderPipeline('d'))];
    },
    code: 0,
    stdout: /ignored: 1 \(1 the same file as .* \(reached through a link\)\)/,
  },
  {
    name: 'class folders `café` in NFC and in NFD are refused as one name written twice',
    setup: async (dir) => {
      await writeDigitImageFolder(path.join(dir, 'd'), 4);
      renameSync(path.join(dir, 'd', 'one'), path.join(dir, 'd', 'caf\u00e9'));
      renameSync(path.join(dir, 'd', 'seven'), path.join(dir, 'd', 'cafe\u0301'));
      return ['data', write(dir, 'p.yaml', folderPipeline('d'))];
    },
    code: 1,
    stderr: /the same name in different Unicode forms/,
  },
  // Special files.
  {
    name: 'a FIFO among the images is left out, never opened',
    setup: async (dir) => {
      await writeDigitImageFolder(path.join(dir, 'd'), 4);
      execFileSync('mkfifo', [path.join(dir, 'd', 'zero', 'pipe.png')]);
      return ['data', write(dir, 'p.yaml', folderPipeline('d'))];
    },
    code: 0,
    stdout: /not a regular file \(a pipe, socket or device\)/,
  },
  {
    name: 'a FIFO as the IDX images file is refused at once',
    setup: (dir) => {
      execFileSync('mkfifo', [path.join(dir, 'images')]);
      return ['data', write(dir, 'p.yaml', idxPipeline('images', 'labels'))];
    },
    code: 1,
    stderr: /^p\.yaml:2:42: error: dataset\.train\.images: IDX file .*images is a named pipe \(FIFO\), not a file$/m,
  },
  {
    name: '/dev/zero as the IDX labels file is refused, not read for ever',
    setup: (dir) => {
      const { train } = writeMnistSubsetIdx(dir, 2, 2);
      return ['data', write(dir, 'p.yaml', idxPipeline(train.images, '/dev/zero'))];
    },
    code: 1,
    stderr: /IDX file \/dev\/zero is a device, not a file/,
    maxMiB: 600,
  },
  {
    name: 'a FIFO as the CSV file is refused at once',
    setup: (dir) => {
      execFileSync('mkfifo', [path.join(dir, 'labels.csv')]);
      return ['data', write(dir, 'p.yaml', `dataset: { format: csv, file: labels.csv, test: 0.2 }\n${HEAD}`)];
    },
    code: 1,
    stderr: /CSV file .*labels\.csv is a named pipe \(FIFO\), not a file/,
  },
  {
    name: 'a CSV whose one field is 100 MB: refused at its line as the parser reaches the bound, in bounded memory',
    setup: (dir) => {
      writeFileSync(
        path.join(dir, 'labels.csv'),
        `image,label\na.png,cat\nb.png,${'x'.repeat(100_000_000)}\nc.png,dog\n`,
      );
      return ['data', write(dir, 'p.yaml', `dataset: { format: csv, file: labels.csv, test: 0.2 }\n${HEAD}`)];
    },
    code: 1,
    stderr: /labels\.csv:3: a field longer than 1048576 characters/,
    maxMiB: 600,
  },
  {
    name: 'a CSV record of 200 000 fields is refused at its line',
    setup: (dir) => {
      writeFileSync(path.join(dir, 'labels.csv'), `image,label\n${'1,'.repeat(200_000)}1\n`);
      return ['data', write(dir, 'p.yaml', `dataset: { format: csv, file: labels.csv, test: 0.2 }\n${HEAD}`)];
    },
    code: 1,
    stderr: /labels\.csv:2: a record of more than 100000 fields/,
    maxMiB: 600,
  },
  {
    name: 'a base model.json that is a device, through a link',
    setup: (dir) => {
      symlinkSync('/dev/zero', path.join(dir, 'model.json'));
      return [
        'plan',
        write(
          dir,
          'p.yaml',
          `dataset: { format: mnist, limit: { perClass: 2 } }\nbase: { model: ./model.json, cut: x }\n${HEAD}`,
        ),
      ];
    },
    code: 1,
    stderr: /model file .*model\.json is a device, not a file/,
    maxMiB: 600,
  },
  {
    name: 'a base model.json that is a link to itself',
    setup: (dir) => {
      symlinkSync('loop.json', path.join(dir, 'loop.json'));
      return [
        'plan',
        write(
          dir,
          'p.yaml',
          `dataset: { format: mnist, limit: { perClass: 2 } }\nbase: { model: ./loop.json, cut: x }\n${HEAD}`,
        ),
      ];
    },
    code: 1,
    stderr: /model file .*loop\.json: a symbolic link that loops/,
  },
  {
    name: 'a folder where the IDX images file should be',
    setup: (dir) => {
      mkdirSync(path.join(dir, 'images'));
      return ['data', write(dir, 'p.yaml', idxPipeline('images', 'labels'))];
    },
    code: 1,
    stderr: /IDX file .*images is a folder, not a file/,
  },
  // Decompression and decoding bombs.
  {
    name: "a gzip bomb: 100 MB of zeros behind a 1000×28×28 header stops at the header's size",
    setup: (dir) => {
      const header = encodeIdx([1000, 28, 28], new Uint8Array(0)).subarray(0, 16);
      writeFileSync(path.join(dir, 'images.gz'), gzipSync(Buffer.concat([header, Buffer.alloc(100_000_000)])));
      return ['data', write(dir, 'p.yaml', idxPipeline('images.gz', 'labels.gz'))];
    },
    code: 1,
    stderr: /it decompresses to more than the 784016 bytes its header declares/,
    maxMiB: 600,
  },
  {
    name: 'a gzipped IDX whose header declares 10¹¹ bytes is refused after its header',
    setup: (dir) => {
      const header = Buffer.from(encodeIdx([100000, 1000, 1000], new Uint8Array(0)).subarray(0, 16));
      writeFileSync(path.join(dir, 'images.gz'), gzipSync(Buffer.concat([header, Buffer.alloc(10_000_000)])));
      return ['data', write(dir, 'p.yaml', idxPipeline('images.gz', 'labels.gz'))];
    },
    code: 1,
    stderr: /the header declares 100000×1000×1000 = 100000000016 bytes, more than the 4096 MiB tlpipe reads/,
    maxMiB: 600,
  },
  {
    name: 'IDX images of 0×0 pixels are refused',
    setup: (dir) => {
      writeFileSync(path.join(dir, 'images'), encodeIdx([10, 0, 0], new Uint8Array(0)));
      writeFileSync(path.join(dir, 'labels'), encodeIdx([10], new Uint8Array(10)));
      return ['data', write(dir, 'p.yaml', idxPipeline('images', 'labels'))];
    },
    code: 1,
    stderr: /the header declares 10×0×0: examples of no pixels/,
  },
  {
    name: 'a small PNG that declares 100 megapixels is refused before it is decoded',
    setup: async (dir) => {
      await writeDigitImageFolder(path.join(dir, 'd'), 4);
      writeFileSync(path.join(dir, 'd', 'zero', 'huge.png'), blackPng(10000, 10000));
      return ['data', write(dir, 'p.yaml', folderPipeline('d'))];
    },
    code: 1,
    stderr: /huge\.png: the image has more than 40000000 pixels \(TLPIPE_MAX_IMAGE_PIXELS\)/,
    maxMiB: 700,
  },
  // What messages show.
  {
    name: 'a base model that is a text file: the message says what it is, never what it holds',
    setup: (dir) => {
      write(dir, 'passwd.json', 'root:x:0:0:SECRET-HASH-0123:/root:/bin/bash\n');
      return [
        'plan',
        write(
          dir,
          'p.yaml',
          `dataset: { format: mnist, limit: { perClass: 2 } }\nbase: { model: ./passwd.json, cut: x }\n${HEAD}`,
        ),
      ];
    },
    code: 1,
    stderr: /passwd\.json is not a model\.json: it holds text that is not JSON \(\d+ bytes\)/,
    never: 'SECRET-HASH',
  },
  {
    name: 'a 300 KB line is echoed cut to a sane width',
    setup: (dir) => [
      'validate',
      write(dir, 'p.yaml', `dataset: { format: mnist }\nname: ${'x'.repeat(300_000)}\n${HEAD}`),
    ],
    code: 1,
    stderr: /name: must|is not a valid value/,
  },
  // Downloads from a real HTTP server on 127.0.0.1.
  {
    name: 'a server that accepts and never answers: a bounded wait, a retry, a clear message',
    setup: (dir) => [
      'plan',
      write(
        dir,
        'p.yaml',
        `dataset: { format: mnist, limit: { perClass: 2 } }\nbase: { model: "http://127.0.0.1:${port}/hang/model.json", allowHttp: true, cut: x }\n${HEAD}`,
      ),
    ],
    env: { TLPIPE_DOWNLOAD_IDLE_S: '1', TLPIPE_DOWNLOAD_RETRIES: '1' },
    code: 1,
    stderr: /cannot download http:\/\/127\.0\.0\.1:\d+\/hang\/model\.json: no answer for 1 s \(tried 2 times\)/,
  },
  {
    name: 'a server that trickles a byte at a time is cut off at the total timeout',
    setup: (dir) => [
      'plan',
      write(
        dir,
        'p.yaml',
        `dataset: { format: mnist, limit: { perClass: 2 } }\nbase: { model: "http://127.0.0.1:${port}/trickle/model.json", allowHttp: true, cut: x }\n${HEAD}`,
      ),
    ],
    env: { TLPIPE_DOWNLOAD_IDLE_S: '1', TLPIPE_DOWNLOAD_TIMEOUT_S: '2', TLPIPE_DOWNLOAD_RETRIES: '0' },
    code: 1,
    stderr: /download of http:\/\/127\.0\.0\.1:\d+\/trickle\/model\.json broke off: not complete after 2 s/,
  },
  // File-system errors.
  {
    name: 'an unreadable sub-folder of a class is named, with what to do',
    setup: async (dir) => {
      await writeDigitImageFolder(path.join(dir, 'd'), 4);
      mkdirSync(path.join(dir, 'd', 'zero', 'private'));
      writeFileSync(path.join(dir, 'd', 'zero', 'private', 'x.png'), 'x');
      chmodSync(path.join(dir, 'd', 'zero', 'private'), 0o000);
      return ['data', write(dir, 'p.yaml', folderPipeline('d'))];
    },
    ...(AS_ROOT ? { uid: NOBODY } : {}),
    code: 1,
    stderr: /cannot read folder .*private: permission denied/,
  },
  {
    name: 'a runs folder that cannot be written fails with the path, no stack trace',
    setup: (dir) => {
      mkdirSync(path.join(dir, 'runs'));
      chmodSync(path.join(dir, 'runs'), 0o555);
      return [
        'run',
        write(
          dir,
          'p.yaml',
          `backend: wasm\ndataset: { format: mnist, limit: { perClass: 2, testPerClass: 1 }, image: { size: [32, 32] } }\nbase: { cut: block_2_add }\n${HEAD}`,
        ),
      ];
    },
    ...(AS_ROOT ? { uid: NOBODY } : {}),
    code: 1,
    stderr: /^runs: error: permission denied \(runs\/p\/\.ids\)|permission denied \(runs\/p/m,
  },
  // Node's recursive mkdir never returns under /proc: every folder tlpipe makes is made one level at a time.
  {
    name: 'a runs folder where the file system takes no new folders (/proc): an error at once, not a hang',
    setup: (dir) => [
      'run',
      write(
        dir,
        'p.yaml',
        `backend: wasm\ndataset: { format: mnist, limit: { perClass: 2, testPerClass: 1 }, image: { size: [32, 32] } }\nbase: { cut: block_2_add }\n${HEAD}`,
      ),
      '--runs',
      '/proc/tlpipe-runs',
    ],
    code: 1,
    stderr:
      /error: the file system there does not allow it \(no new folders on \/proc, say\) \(\/proc\/tlpipe-runs\)\n {2}hint: check the path/,
  },
  // init: what is already in the project folder.
  ...(
    [
      ['a folder', (file: string) => mkdirSync(file), /is a folder, not a file/],
      ['a FIFO', (file: string) => execFileSync('mkfifo', [file]), /is a named pipe \(FIFO\), not a file/],
      [
        'a link to /dev/zero',
        (file: string) => symlinkSync('/dev/zero', file),
        /is a link that leads outside .* \(to \/dev\/zero\)/,
      ],
      [
        'a link to a file outside the project',
        (file: string) => symlinkSync(write(path.dirname(path.dirname(file)), 'elsewhere', 'x\n'), file),
        /is a link that leads outside .* \(to .*elsewhere\)/,
      ],
      [
        'a link to nothing',
        (file: string) => symlinkSync('missing-target', file),
        /is a symbolic link to a file that does not exist/,
      ],
      [
        'a 3 MB file',
        (file: string) => writeFileSync(file, '#'.repeat(3_000_000)),
        /is 3000000 bytes, more than the 1048576 tlpipe reads of it/,
      ],
    ] as const
  ).map(([what, make, stderr]): HostileCase => ({
    name: `init where .gitignore is ${what}: refused, naming it, nothing written`,
    setup: (dir) => {
      mkdirSync(path.join(dir, 'proj'));
      make(path.join(dir, 'proj', '.gitignore'));
      return ['init', 'proj'];
    },
    code: 1,
    stderr: new RegExp(`^proj/\\.gitignore: error: ${stderr.source}\\n  hint: `, 'm'),
    maxMiB: 600,
    check: (dir) =>
      assert.equal(
        existsSync(path.join(dir, 'proj', 'pipeline.yaml')),
        false,
        'init wrote pipeline.yaml though it failed',
      ),
  })),
  ...(
    [
      ['a FIFO', (file: string) => execFileSync('mkfifo', [file]), 'a named pipe \\(FIFO\\)'],
      ['a folder', (file: string) => mkdirSync(file), 'a folder'],
      ['a link to nothing', (file: string) => symlinkSync('missing-target', file), 'a symbolic link'],
    ] as const
  ).map(([what, make, kind]): HostileCase => ({
    name: `init where pipeline.yaml is ${what}: refused, never opened or written through`,
    setup: (dir) => {
      mkdirSync(path.join(dir, 'proj'));
      make(path.join(dir, 'proj', 'pipeline.yaml'));
      return ['init', 'proj'];
    },
    code: 1,
    stderr: new RegExp(`^proj/pipeline\\.yaml: error: already exists as ${kind}$`, 'm'),
    check: (dir) =>
      assert.deepEqual(
        [existsSync(path.join(dir, 'proj', '.gitignore')), existsSync(path.join(dir, 'proj', 'missing-target'))],
        [false, false],
      ),
  })),
  {
    name: 'a project folder for init under /proc: an error at once, not a hang',
    setup: () => ['init', '/proc/tlpipe-project/sub'],
    code: 1,
    stderr:
      /^\/proc\/tlpipe-project\/sub: error: the file system there does not allow it \(no new folders on \/proc, say\) \(\/proc\/tlpipe-project\)/m,
  },
  {
    name: 'a read-only file system under the runs folder (a real ro mount)',
    skip: () => (mountable() ? undefined : 'cannot mount a tmpfs here (needs root)'),
    setup: (dir) => {
      mkdirSync(path.join(dir, 'ro'));
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m,ro', 'tmpfs', path.join(dir, 'ro')]);
      mounted.push(path.join(dir, 'ro'));
      return [
        'run',
        write(
          dir,
          'p.yaml',
          `backend: wasm\ndataset: { format: mnist, limit: { perClass: 2, testPerClass: 1 }, image: { size: [32, 32] } }\nbase: { cut: block_2_add }\n${HEAD}`,
        ),
        '--runs',
        'ro',
      ];
    },
    code: 1,
    stderr: /the file system is read-only writing ro\//,
  },
];

const mounted: string[] = [];
function mountable(): boolean {
  if (!AS_ROOT) return false;
  const probe = workspace('mount-probe');
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', probe], { stdio: 'ignore' });
    execFileSync('umount', [probe], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

describe(
  'hostile files, folders, links, archives and servers: a clear message within bounds, never a hang or a stack trace',
  { concurrency: 2 },
  () => {
    before(async () => {
      // /hang accepts and never answers; /trickle sends its headers, then a byte every 300 ms.
      server = createServer((request, response) => {
        if (request.url?.startsWith('/trickle')) {
          response.writeHead(200, { 'content-type': 'application/json' });
          const timer = setInterval(() => response.write(' '), 300);
          response.on('close', () => clearInterval(timer));
        }
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      port = (server.address() as AddressInfo).port;
    });
    after(() => {
      server.closeAllConnections();
      server.close();
      for (const dir of mounted) execFileSync('umount', [dir]);
    });

    for (const c of cases) {
      it(c.name, async (t) => {
        const reason = c.skip?.();
        if (reason) return t.skip(reason);
        const dir = workspace('hostile');
        if (c.uid !== undefined) {
          // The user the CLI runs as must be able to work in the folder it is given.
          chmodSync(dir, 0o777);
        }
        const args = await c.setup(dir);
        if (c.uid !== undefined)
          for (const entry of readdirSync(dir))
            if (entry.endsWith('.yaml')) chownSync(path.join(dir, entry), c.uid, c.uid);
        const r = await tlpipeBounded(args, dir, {
          timeoutMs: HANG_BOUND_MS,
          ...(c.env ? { env: c.env } : {}),
          ...(c.uid !== undefined ? { uid: c.uid } : {}),
        });
        assert.equal(r.timedOut, false, `still running after ${HANG_BOUND_MS} ms:\n${r.stderr}`);
        assert.equal(r.code, c.code, r.stderr);
        if (c.stderr) assert.match(r.stderr, c.stderr);
        if (c.stdout) assert.match(r.stdout, c.stdout);
        if (c.never) assert.equal(`${r.stdout}${r.stderr}`.includes(c.never), false, 'printed what the file holds');
        c.check?.(dir);
        if (c.maxMiB) assert.ok(r.peakMiB < c.maxMiB, `peak memory ${r.peakMiB.toFixed(0)} MiB`);
        assert.equal(hasStackTrace(r.stderr), false, r.stderr);
        assert.ok(
          r.stderr.split('\n').every((line) => line.length < 300),
          'a printed line is longer than 300 characters',
        );
      });
    }
  },
);
