// Headless Chromium through playwright-core, with the browser from the
// system package (no browser is ever downloaded), and a watch on every page
// for console errors, uncaught exceptions and Content-Security-Policy
// violations.
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

export const CHROMIUM_PATH = process.env.RPPSPLUS_CHROMIUM || '/usr/bin/chromium';

/** Folder for screenshots and server logs (ignored by git). */
export const RESULTS_DIR = fileURLToPath(new URL('../test-results/', import.meta.url));

/** Short name of the current run (`sqlite`, `postgres`…), used in file names. */
export const RUN_LABEL = process.env.E2E_LABEL || 'local';

/** Default wait for one browser action or condition, in milliseconds. */
export const ACTION_TIMEOUT_MS = 15_000;

/** Launches headless Chromium; playwright gives it a fresh, empty profile. */
export function launchBrowser() {
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/** A new context in French, with bounded default waits. */
export async function newContext(browser, options = {}) {
  const context = await browser.newContext({ locale: 'fr-FR', ...options });
  context.setDefaultTimeout(ACTION_TIMEOUT_MS);
  context.setDefaultNavigationTimeout(ACTION_TIMEOUT_MS);
  return context;
}

const CSP_PATTERN = /content[- ]security[- ]policy/i;
const FAILED_LOAD = /^Failed to load resource/;

/**
 * Opens a page that records what the browser reports: console errors (which
 * include resources that failed to load or that the Content-Security-Policy
 * refused), any console message about the CSP, uncaught exceptions, and
 * crashes. `page.lastDocument` is the last response of a main-frame
 * navigation.
 */
export async function newWatchedPage(context) {
  const page = await context.newPage();
  const reports = [];
  const documentUrls = new Set();
  page.on('response', (res) => {
    if (res.request().isNavigationRequest() && res.frame() === page.mainFrame()) {
      documentUrls.add(res.url());
      page.lastDocument = res;
    }
  });
  page.on('console', (msg) => {
    const text = msg.text();
    if (msg.type() === 'error' || CSP_PATTERN.test(text)) {
      reports.push({ text: `console ${msg.type()}: ${text}`, failedLoad: FAILED_LOAD.test(text), url: msg.location()?.url });
    }
  });
  page.on('pageerror', (err) => reports.push({ text: `page error: ${err.message}` }));
  page.on('crash', () => reports.push({ text: 'page crashed' }));
  // The status of a page itself (a form answered with 422, say) is the
  // test's business, which it checks on the response: only failed loads of
  // other resources are problems.
  Object.defineProperty(page, 'problems', {
    get: () =>
      reports
        .filter((r) => !(r.failedLoad && documentUrls.has(r.url)))
        .map((r) => (r.url && !r.text.includes(r.url) ? `${r.text} (${r.url})` : r.text)),
  });
  return page;
}

/** Fails if the page recorded any console error, exception or CSP violation. */
export function assertNoBrowserProblems(page, assert) {
  const problems = page.problems;
  const hint = problems.some((p) => p.includes('/favicon.ico'))
    ? '\n(browsers ask for /favicon.ico by themselves: serve one, or declare a link rel="icon")'
    : '';
  assert.deepEqual(problems, [], `the browser reported problems:\n${problems.join('\n')}${hint}`);
}

/** Saves a full-page screenshot into test-results/ and returns its path. */
export async function screenshot(page, name) {
  mkdirSync(RESULTS_DIR, { recursive: true });
  const path = `${RESULTS_DIR}${RUN_LABEL}-${name}.png`;
  await page.screenshot({ path, fullPage: true });
  return path;
}
