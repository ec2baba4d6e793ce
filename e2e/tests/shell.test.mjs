// Smoke test of the web shell: the accessible page frame, the security
// headers, and the accessible form pattern on the structure search, with
// and without JavaScript.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  assertNoBrowserProblems,
  launchBrowser,
  newContext,
  newWatchedPage,
  screenshot,
} from '../lib/browser.mjs';
import { firstDemoStructure } from '../lib/demo.mjs';

const BASE_URL = process.env.E2E_BASE_URL;
const TEST_TIMEOUT_MS = 60_000;

/** Collapses white space, as a screen reader would read the text. */
function squash(text) {
  return (text ?? '').replace(/\s+/g, ' ').trim();
}

/** Parses a Content-Security-Policy header into directive → source list. */
function parseCsp(header) {
  const directives = new Map();
  for (const part of header.split(';')) {
    const [name, ...values] = part.trim().split(/\s+/);
    if (name && !directives.has(name.toLowerCase())) directives.set(name.toLowerCase(), values);
  }
  return directives;
}

/** Runs `fn` with a watched page in a fresh context, then checks the browser stayed quiet. */
async function withPage(browser, options, fn) {
  const context = await newContext(browser, options);
  try {
    const page = await newWatchedPage(context);
    await fn(page);
    assertNoBrowserProblems(page, assert);
  } finally {
    await context.close();
  }
}

async function goto(page, path) {
  const response = await page.goto(new URL(path, BASE_URL).href, { waitUntil: 'load' });
  assert.ok(response, `no response for ${path}`);
  assert.equal(response.status(), 200, `GET ${path} answered ${response.status()}`);
  return response;
}

/** Fills the search field of /structures and submits its form with the button. */
async function submitSearch(page, query) {
  const field = page.locator('input#q');
  await field.fill(query);
  const form = page.locator('form', { has: page.locator('input#q') });
  await form.locator('button[type="submit"], input[type="submit"], button:not([type])').first().click();
}

/**
 * The accessible form pattern on /structures: a too-short query is refused
 * with an error summary and a described, invalid field; a query made of a
 * word of a demo structure's name, without accents and in lowercase, finds it.
 */
async function checkStructureSearch(page, { label }) {
  const structure = firstDemoStructure();
  await goto(page, '/structures');
  assert.equal(await page.locator('input#q').count(), 1, 'the search field input#q is missing');

  // 1. A one-character query is refused.
  await submitSearch(page, 'a');
  const summary = page.locator('.error-summary');
  await summary.waitFor({ state: 'visible' });
  assert.equal(await summary.count(), 1, 'exactly one error summary is expected');
  assert.equal(await summary.getAttribute('role'), 'alert', 'the error summary needs role="alert"');
  const status = page.lastDocument?.status();
  assert.ok([200, 400, 422].includes(status), `the page with the error answered ${status}`);
  const summaryIsFirst = await summary.evaluate((el) => {
    const form = document.querySelector('input#q')?.form;
    return Boolean(form && el.compareDocumentPosition(form) & Node.DOCUMENT_POSITION_FOLLOWING);
  });
  assert.ok(summaryIsFirst, 'the error summary must come before the form');
  const summaryLink = summary.locator('a[href="#q"]');
  assert.equal(await summaryLink.count(), 1, 'the error summary needs a link to #q');
  const linkText = squash(await summaryLink.textContent());
  assert.notEqual(linkText, '', 'the error summary link needs a text');

  const field = page.locator('input#q');
  assert.equal(await field.getAttribute('aria-invalid'), 'true', 'the field needs aria-invalid="true"');
  assert.equal(await field.inputValue(), 'a', 'the field keeps what was typed');
  const describedBy = squash(await field.getAttribute('aria-describedby'));
  assert.notEqual(describedBy, '', 'the field needs aria-describedby');
  const descriptions = [];
  for (const id of describedBy.split(' ')) {
    const described = page.locator(`[id="${id}"]`);
    assert.equal(await described.count(), 1, `aria-describedby names #${id}, which is not on the page`);
    descriptions.push(squash(await described.textContent()));
  }
  assert.ok(
    descriptions.some((text) => text.includes(linkText)),
    `one element named by aria-describedby must carry the error message ${JSON.stringify(linkText)}; found ${JSON.stringify(descriptions)}`,
  );
  await screenshot(page, `structures-erreur-${label}`);

  // 2. A word of a demo structure's name, without accents, finds it.
  await submitSearch(page, structure.word);
  await page.locator('main').getByText(structure.finess).first().waitFor({ state: 'visible' });
  assert.equal(await page.locator('.error-summary').count(), 0, 'a valid search shows no error summary');
  assert.notEqual(await page.locator('input#q').getAttribute('aria-invalid'), 'true');
}

describe('web shell', () => {
  let browser;

  before(async () => {
    assert.ok(BASE_URL, 'E2E_BASE_URL is not set: run the suite with `node run.mjs` (or scripts/test)');
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
  });

  test('the home page has the accessible page frame and its stylesheet', { timeout: TEST_TIMEOUT_MS }, async () => {
    await withPage(browser, {}, async (page) => {
      const cssResponses = new Map();
      page.on('response', (res) => cssResponses.set(res.url(), res));
      await goto(page, '/');

      assert.equal(await page.locator('html').getAttribute('lang'), 'fr', 'html[lang="fr"] expected');
      assert.ok((await page.locator('a[href="#contenu"]').count()) >= 1, 'a skip link to #contenu is missing');
      assert.equal(await page.locator('main#contenu').count(), 1, 'main#contenu is missing');
      assert.ok(
        (await page.locator('nav[aria-label="Navigation principale"]').count()) >= 1,
        'nav[aria-label="Navigation principale"] is missing',
      );
      assert.ok((await page.locator('header').count()) >= 1, 'a header is missing');

      const sheets = await page.locator('link[rel="stylesheet"]').evaluateAll((links) => links.map((l) => l.href));
      assert.ok(sheets.length >= 1, 'no link[rel="stylesheet"] on the page');
      for (const href of sheets) {
        const res = cssResponses.get(href);
        assert.ok(res, `the stylesheet ${href} was not loaded`);
        assert.equal(res.status(), 200, `the stylesheet ${href} answered ${res.status()}`);
        assert.match(res.headers()['content-type'] ?? '', /^text\/css\b/, `the stylesheet ${href} is not text/css`);
      }

      // The skip link is the first thing the keyboard reaches.
      await page.keyboard.press('Tab');
      const focused = await page.evaluate(() => document.activeElement?.getAttribute('href'));
      assert.equal(focused, '#contenu', 'the first Tab must reach the skip link');

      await screenshot(page, 'accueil');
    });
  });

  test('the home page sends the security headers', { timeout: TEST_TIMEOUT_MS }, async () => {
    await withPage(browser, {}, async (page) => {
      const headers = (await goto(page, '/')).headers();
      const csp = headers['content-security-policy'];
      assert.ok(csp, 'no Content-Security-Policy header');
      const directives = parseCsp(csp);
      assert.deepEqual(directives.get('frame-ancestors'), ["'none'"], `CSP needs frame-ancestors 'none': ${csp}`);
      const scriptDirectives = ['script-src', 'script-src-elem', 'script-src-attr'].filter((d) => directives.has(d));
      if (scriptDirectives.length === 0) {
        assert.ok(directives.has('default-src'), `CSP has neither script-src nor default-src: ${csp}`);
        scriptDirectives.push('default-src');
      }
      for (const d of scriptDirectives) {
        assert.ok(!directives.get(d).includes("'unsafe-inline'"), `CSP ${d} must not allow 'unsafe-inline': ${csp}`);
      }
      assert.equal(headers['x-content-type-options'], 'nosniff');
    });
  });

  test('the structure search follows the accessible form pattern', { timeout: TEST_TIMEOUT_MS }, async () => {
    await withPage(browser, {}, (page) => checkStructureSearch(page, { label: 'js' }));
  });

  test('the structure search works without JavaScript', { timeout: TEST_TIMEOUT_MS }, async () => {
    await withPage(browser, { javaScriptEnabled: false }, (page) => checkStructureSearch(page, { label: 'sans-js' }));
  });
});
