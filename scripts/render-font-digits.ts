/**
 * Digits 0–9 rendered from the system's fonts as MNIST-like images: 28×28
 * grayscale, a white digit on black, scaled to fit a 20×20 box and placed
 * by its centre of mass, as MNIST's digits were, then moved by a seeded
 * offset. Each digit is drawn by sharp (librsvg) from an SVG <text>, with a
 * seeded rotation and stroke width, cycling through the font faces so every
 * class has each face about equally often. A domain shift with known labels:
 * a model trained on handwriting meets type.
 *
 * Writes OUT/images-idx3-ubyte.gz and OUT/labels-idx1-ubyte.gz (what
 * `dataset.format: idx` reads), OUT/faces.txt (the faces used, one a line),
 * and with --png also OUT/images/<digit>/<nnnnn>.png (an image folder, e.g.
 * for `adapt.images`). The same options write the same bytes, given the
 * same sharp build and font files (another librsvg or font version may
 * draw a glyph's edge a shade differently).
 *
 *   node dist/scripts/render-font-digits.js OUT [--count 100 (per class)] [--seed 1]
 *     [--fonts "DejaVu Sans,DejaVu Serif:bold,Liberation Mono:italic"] [--offset 3]
 *     [--rotate 12] [--stroke 1] [--blur 0] [--png]
 *
 * A face is `family[:bold][:italic]`. Faces fontconfig does not have are
 * left out (it would silently draw another font instead), named on stderr;
 * with none left the script refuses.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { gzipSync } from 'node:zlib';
import sharp from 'sharp';
import { encodeIdx } from '../src/engine/data/idx-file.js';
import { SeededRandom } from '../src/engine/random.js';

/** Debian's fonts-dejavu-core/-extra and fonts-liberation faces: sans, serif and mono, in bold, italic and narrow cuts. */
export const DEFAULT_FACES = [
  'DejaVu Sans',
  'DejaVu Sans:bold',
  'DejaVu Sans:italic',
  'DejaVu Sans Condensed',
  'DejaVu Serif',
  'DejaVu Serif:bold',
  'DejaVu Serif:italic',
  'DejaVu Serif Condensed:bold',
  'DejaVu Sans Mono',
  'DejaVu Sans Mono:bold',
  'Liberation Sans',
  'Liberation Sans:bold',
  'Liberation Sans:italic',
  'Liberation Sans Narrow',
  'Liberation Serif',
  'Liberation Serif:bold',
  'Liberation Serif:italic',
  'Liberation Mono',
  'Liberation Mono:bold:italic',
];

const SIDE = 28;
/** MNIST's digits were scaled to fit this box before being centred in 28×28. */
const BOX = 20;
/** The SVG canvas: large, so the digit is drawn with detail and scaled down once. */
const CANVAS = 160;
const FONT_SIZE = 96;

export interface Face {
  family: string;
  bold: boolean;
  italic: boolean;
}

export interface RenderOptions {
  perClass: number;
  seed: number;
  faces: Face[];
  /** Largest shift of the centre of mass from the image centre, in pixels, each axis. */
  offset: number;
  /** Largest rotation, degrees, either way. */
  rotate: number;
  /** Largest extra stroke width, in output pixels (0: the font's own weight). */
  stroke: number;
  /** Largest Gaussian blur sigma, in output pixels (0 or below 0.3: none). */
  blur: number;
}

export const faceName = (face: Face): string =>
  [face.family, face.bold ? 'bold' : '', face.italic ? 'italic' : ''].filter(Boolean).join(':');

export function parseFace(text: string): Face {
  const [family, ...styles] = text.split(':').map((part) => part.trim());
  const unknown = styles.filter((style) => style !== 'bold' && style !== 'italic');
  if (!family || unknown.length > 0)
    throw new Error(`font face '${text}': expected family[:bold][:italic], e.g. 'DejaVu Serif:bold'`);
  return { family, bold: styles.includes('bold'), italic: styles.includes('italic') };
}

const escapeXml = (text: string): string => text.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);

function svgText(text: string, face: Face, angle: number, strokeWidth: number): Buffer {
  const centre = CANVAS / 2;
  return Buffer.from(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${CANVAS}" height="${CANVAS}">` +
      `<rect width="${CANVAS}" height="${CANVAS}" fill="#000"/>` +
      `<text x="${centre}" y="${centre}" transform="rotate(${angle.toFixed(3)} ${centre} ${centre})"` +
      ` font-family="${escapeXml(face.family)}" font-weight="${face.bold ? 'bold' : 'normal'}"` +
      ` font-style="${face.italic ? 'italic' : 'normal'}" font-size="${FONT_SIZE}"` +
      ` fill="#fff" stroke="#fff" stroke-width="${strokeWidth.toFixed(3)}" stroke-linejoin="round"` +
      ` text-anchor="middle" dominant-baseline="central">${escapeXml(text)}</text></svg>`,
  );
}

async function gray(svg: Buffer): Promise<Uint8Array> {
  return new Uint8Array(await sharp(svg).extractChannel(0).raw().toBuffer());
}

/** The smallest rectangle holding every inked pixel; undefined for a blank image. */
function inkBox(pixels: Uint8Array, width: number, height: number) {
  let [top, left, bottom, right] = [height, width, -1, -1];
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++)
      if (pixels[y * width + x]! > 0) {
        top = Math.min(top, y);
        bottom = Math.max(bottom, y);
        left = Math.min(left, x);
        right = Math.max(right, x);
      }
  return bottom < 0 ? undefined : { top, left, width: right - left + 1, height: bottom - top + 1 };
}

function centreOfMass(pixels: Uint8Array, width: number, height: number): { x: number; y: number } {
  let [mass, sx, sy] = [0, 0, 0];
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) {
      const v = pixels[y * width + x]!;
      mass += v;
      sx += v * x;
      sy += v * y;
    }
  return { x: sx / mass, y: sy / mass };
}

const clamp = (value: number, low: number, high: number): number => Math.min(high, Math.max(low, value));

/** One digit drawn in one face: 28×28 bytes. */
async function renderDigit(digit: number, face: Face, random: SeededRandom, options: RenderOptions) {
  const uniform = (max: number): number => (random.next() * 2 - 1) * max;
  const angle = uniform(options.rotate);
  // The canvas is drawn at about 3.5× the output's scale (a digit's ~70 px ink to 20 px).
  const strokeWidth = random.next() * options.stroke * 3.5;
  const dx = Math.round(uniform(options.offset));
  const dy = Math.round(uniform(options.offset));
  const sigma = options.blur >= 0.3 ? 0.3 + random.next() * (options.blur - 0.3) : 0;

  const big = await gray(svgText(String(digit), face, angle, strokeWidth));
  const box = inkBox(big, CANVAS, CANVAS);
  if (!box) throw new Error(`face '${faceName(face)}' drew nothing for digit ${digit}`);
  const scale = BOX / Math.max(box.width, box.height);
  const width = Math.max(1, Math.round(box.width * scale));
  const height = Math.max(1, Math.round(box.height * scale));
  const small = new Uint8Array(
    await sharp(Buffer.from(big), { raw: { width: CANVAS, height: CANVAS, channels: 1 } })
      .extract(box)
      .resize({ width, height, fit: 'fill', kernel: 'lanczos3' })
      .extractChannel(0)
      .raw()
      .toBuffer(),
  );
  const mass = centreOfMass(small, width, height);
  const left = clamp(Math.round(SIDE / 2 + dx - mass.x), 0, SIDE - width);
  const top = clamp(Math.round(SIDE / 2 + dy - mass.y), 0, SIDE - height);
  let image = new Uint8Array(SIDE * SIDE);
  for (let y = 0; y < height; y++) image.set(small.subarray(y * width, (y + 1) * width), (top + y) * SIDE + left);
  if (sigma > 0)
    image = new Uint8Array(
      await sharp(Buffer.from(image), { raw: { width: SIDE, height: SIDE, channels: 1 } })
        .blur(sigma)
        .extractChannel(0)
        .raw()
        .toBuffer(),
    );
  return image;
}

/** The families fontconfig lists, or undefined when `fc-list` is not installed. */
function listedFamilies(): Set<string> | undefined {
  try {
    const out = execFileSync('fc-list', ['--format', '%{family}\n'], { encoding: 'utf8', timeout: 60_000 });
    return new Set(out.split(/[\n,]/).map((family) => family.trim()));
  } catch {
    return undefined;
  }
}

/**
 * The faces that draw themselves. Fontconfig draws a missing family in a
 * fallback font without a word, so a face is kept only when fc-list names
 * its family (where fc-list is installed) and when its glyphs differ from
 * those of every face kept before it (two faces drawing the same pixels
 * are one font).
 */
export async function usableFaces(faces: Face[]): Promise<{ usable: Face[]; dropped: string[] }> {
  const listed = listedFamilies();
  const seen = new Map<string, string>();
  const usable: Face[] = [];
  const dropped: string[] = [];
  for (const face of faces) {
    if (listed && !listed.has(face.family)) {
      dropped.push(`${faceName(face)}: fontconfig does not list the family '${face.family}'`);
      continue;
    }
    const glyphs = await gray(svgText('0123456789', face, 0, 0));
    if (!glyphs.some((v) => v > 0)) {
      dropped.push(`${faceName(face)}: draws nothing (no fonts installed?)`);
      continue;
    }
    const digest = createHash('sha256').update(glyphs).digest('hex');
    const same = seen.get(digest);
    if (same) {
      dropped.push(`${faceName(face)}: draws exactly as ${same} (fontconfig substituted a font)`);
      continue;
    }
    seen.set(digest, faceName(face));
    usable.push(face);
  }
  return { usable, dropped };
}

export interface RenderedDigits {
  /** count × 28 × 28 bytes. */
  images: Uint8Array;
  labels: Uint8Array;
  /** Index into the faces, per image. */
  faceOf: number[];
  count: number;
}

/**
 * perClass images of each digit, interleaved (0, 1, …, 9, 0, 1, …). The
 * n-th image of a digit uses face (n + digit) mod faces, so each class has
 * every face about equally often and no face is tied to one digit.
 */
export async function renderDigits(options: RenderOptions): Promise<RenderedDigits> {
  const count = options.perClass * 10;
  const images = new Uint8Array(count * SIDE * SIDE);
  const labels = new Uint8Array(count);
  const faceOf: number[] = [];
  const root = new SeededRandom(options.seed);
  for (let n = 0, at = 0; n < options.perClass; n++)
    for (let digit = 0; digit < 10; digit++, at++) {
      const which = (n + digit) % options.faces.length;
      // A stream per image: the image's draw does not depend on how many numbers the others drew.
      const image = await renderDigit(digit, options.faces[which]!, root.fork(`${digit}-${n}`), options);
      images.set(image, at * SIDE * SIDE);
      labels[at] = digit;
      faceOf.push(which);
    }
  return { images, labels, faceOf, count };
}

async function writeOutput(out: string, rendered: RenderedDigits, faces: Face[], png: boolean): Promise<void> {
  mkdirSync(out, { recursive: true });
  writeFileSync(
    path.join(out, 'images-idx3-ubyte.gz'),
    gzipSync(encodeIdx([rendered.count, SIDE, SIDE], rendered.images)),
  );
  writeFileSync(path.join(out, 'labels-idx1-ubyte.gz'), gzipSync(encodeIdx([rendered.count], rendered.labels)));
  writeFileSync(path.join(out, 'faces.txt'), faces.map(faceName).join('\n') + '\n');
  if (!png) return;
  for (let digit = 0; digit < 10; digit++) mkdirSync(path.join(out, 'images', String(digit)), { recursive: true });
  for (let i = 0; i < rendered.count; i++) {
    const pixels = Buffer.from(rendered.images.subarray(i * SIDE * SIDE, (i + 1) * SIDE * SIDE));
    const file = path.join(out, 'images', String(rendered.labels[i]), `${String(i).padStart(5, '0')}.png`);
    await sharp(pixels, { raw: { width: SIDE, height: SIDE, channels: 1 } })
      .toColourspace('b-w')
      .png({ compressionLevel: 9 })
      .toFile(file);
  }
}

const USAGE =
  'usage: render-font-digits OUT [--count N ≥ 1 per class] [--seed N] [--fonts "Family[:bold][:italic],…"] ' +
  '[--offset PX ≥ 0] [--rotate DEG ≥ 0] [--stroke PX ≥ 0] [--blur SIGMA ≥ 0] [--png]';

function fail(message: string): never {
  console.error(`render-font-digits: ${message}`);
  process.exit(2);
}

async function main(): Promise<void> {
  let parsed;
  try {
    parsed = parseArgs({
      allowPositionals: true,
      options: {
        count: { type: 'string', default: '100' },
        seed: { type: 'string', default: '1' },
        fonts: { type: 'string', default: DEFAULT_FACES.join(',') },
        offset: { type: 'string', default: '3' },
        rotate: { type: 'string', default: '12' },
        stroke: { type: 'string', default: '1' },
        blur: { type: 'string', default: '0' },
        png: { type: 'boolean', default: false },
      },
    });
  } catch (error) {
    // An unknown or malformed option is the user's mistake: the usage, not a stack trace.
    fail(`${(error as Error).message.split('. ')[0]}\n${USAGE}`);
  }
  const { values, positionals } = parsed;
  const out = positionals[0];
  const numbers = {
    perClass: Number(values.count),
    seed: Number(values.seed),
    offset: Number(values.offset),
    rotate: Number(values.rotate),
    stroke: Number(values.stroke),
    blur: Number(values.blur),
  };
  if (
    !out ||
    positionals.length > 1 ||
    !Number.isInteger(numbers.perClass) ||
    numbers.perClass < 1 ||
    !Number.isInteger(numbers.seed) ||
    !(numbers.offset >= 0 && numbers.offset <= 8) ||
    !(numbers.rotate >= 0 && numbers.rotate <= 180) ||
    !(numbers.stroke >= 0 && numbers.stroke <= 4) ||
    !(numbers.blur >= 0 && numbers.blur <= 3)
  )
    fail(USAGE);
  let requested: Face[];
  try {
    requested = values.fonts
      .split(',')
      .filter((f) => f.trim())
      .map(parseFace);
  } catch (error) {
    fail((error as Error).message);
  }
  const { usable, dropped } = await usableFaces(requested);
  for (const reason of dropped) console.error(`render-font-digits: left out ${reason}`);
  if (usable.length === 0)
    fail(
      'none of the requested fonts can be drawn here. Install them (Debian: apt-get install fonts-dejavu-core fonts-liberation) or name installed ones with --fonts (see fc-list).',
    );
  const rendered = await renderDigits({ ...numbers, faces: usable });
  await writeOutput(out, rendered, usable, values.png);
  console.log(
    `${rendered.count} digits (${numbers.perClass} per class) from ${usable.length} faces → ${out} (seed ${numbers.seed})`,
  );
}

// Run as a script; imported (by the bench) it only lends its functions.
if (process.argv[1] && import.meta.url.endsWith(path.basename(process.argv[1]))) await main();
