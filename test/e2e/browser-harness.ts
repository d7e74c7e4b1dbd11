import assert from 'node:assert/strict';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

/** Debian's chromium (apt-get install chromium); .ci/run installs it and sets TLPIPE_REQUIRE_BROWSER=1. */
export const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => existsSync(p));
export const browserSkip = CHROMIUM || process.env['TLPIPE_REQUIRE_BROWSER'] === '1' ? false : 'chromium is not installed (apt-get install chromium); CI installs it';

/** Headless Chromium's flags for a test: a fresh profile, nothing reaching out to the network. */
export function chromiumFlags(): string[] {
  assert.ok(CHROMIUM, 'chromium is required here (TLPIPE_REQUIRE_BROWSER=1) but not installed');
  const profile = mkdtempSync(path.join(tmpdir(), 'tlpipe-chromium-'));
  return ['--headless', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--hide-scrollbars', '--no-first-run', '--disable-background-networking', '--disable-extensions', `--user-data-dir=${profile}`];
}
