import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

/** Debian's chromium (apt-get install chromium); .ci/run installs it and sets TLPIPE_REQUIRE_BROWSER=1. */
export const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => existsSync(p));
export const browserSkip =
  CHROMIUM || process.env['TLPIPE_REQUIRE_BROWSER'] === '1'
    ? false
    : 'chromium is not installed (apt-get install chromium); CI installs it';

/** Headless Chromium's flags for a test: a fresh profile, nothing reaching out to the network. */
export function chromiumFlags(): string[] {
  assert.ok(CHROMIUM, 'chromium is required here (TLPIPE_REQUIRE_BROWSER=1) but not installed');
  const profile = mkdtempSync(path.join(tmpdir(), 'tlpipe-chromium-'));
  return [
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--disable-dev-shm-usage',
    '--hide-scrollbars',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-extensions',
    `--user-data-dir=${profile}`,
  ];
}

/**
 * Opens a copy of an HTML page with `script` added at its end, in headless
 * Chromium, and returns what the script left in `window.probe` (as JSON):
 * how tests measure a page the browser laid out (image decoding, bounding
 * boxes) when the page itself has no scripts.
 */
export function probePage(file: string, script: string, windowSize = '1100,1600'): unknown {
  const copy = `${file}.probe.html`;
  const html = readFileSync(file, 'utf8');
  const probe = `<script>window.addEventListener('load', () => { const result = (() => { ${script} })(); const pre = document.createElement('pre'); pre.id = 'probe-result'; pre.textContent = JSON.stringify(result); document.body.append(pre); });</script>`;
  writeFileSync(copy, html.replace('</body>', `${probe}</body>`));
  const dom = execFileSync(
    CHROMIUM!,
    [...chromiumFlags(), `--window-size=${windowSize}`, '--virtual-time-budget=10000', '--dump-dom', `file://${copy}`],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 60_000, maxBuffer: 64 << 20 },
  );
  const found = /<pre id="probe-result">([^<]*)<\/pre>/.exec(dom);
  assert.ok(found, 'the probe script ran and left its result');
  return JSON.parse(
    found[1]!
      .replace(/&quot;/g, '"')
      .replace(/&lt;/g, '<')
      .replace(/&gt;/g, '>')
      .replace(/&amp;/g, '&'),
  );
}
