// Asking for one's own registration in a real browser, without signing in:
// from the home page to /inscription, the establishment found by a word of its
// name, the form sent back by the server with a per-field message when a field
// is wrong (values kept), then sent, and the confirmation saying that a
// manager of that establishment will validate it; the establishment's manager
// then sees the request on the list of its professionals.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  assertNoBrowserProblems,
  launchBrowser,
  newContext,
  newWatchedPage,
  screenshot,
} from '../lib/browser.mjs';
import { demoInfo, finessOf, searchWord } from '../lib/demo.mjs';

const BASE_URL = process.env.E2E_BASE_URL;
const TEST_TIMEOUT_MS = 120_000;
const SSIAD = '690001037';

function squash(text) {
  return (text ?? '').replace(/\s+/g, ' ').trim();
}

async function goto(page, path, status = 200) {
  const response = await page.goto(new URL(path, BASE_URL).href, { waitUntil: 'load' });
  assert.ok(response, `no response for ${path}`);
  assert.equal(response.status(), status, `GET ${path} answered ${response.status()}`);
  return response;
}

/** Follows a link or submits a form by its button; returns the final document's response. */
async function submit(page, control) {
  const [response] = await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), control.click()]);
  return response;
}

// A name no demo person has; unique per run, so that the request is told apart.
const BIRTH_NAME = `Delaunay-Morel`;
const SUFFIX = String(Date.now()).slice(-4).replace(/\d/g, (d) => 'abcdefghij'[d]);
const FIRST_NAME = `Inès${SUFFIX}`;
const EMAIL = `ines.${SUFFIX}@example.org`;

describe('Demander mon enregistrement', () => {
  let browser;
  before(async () => {
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
  });

  test('find the establishment, fill the form, see the confirmation', { timeout: TEST_TIMEOUT_MS }, async () => {
    const ssiad = demoInfo().structures.find((s) => finessOf(s) === SSIAD);
    assert.ok(ssiad, 'no demo SSIAD');
    const manager = demoInfo().people.find((p) => p.kind === 'manager' && p.structures.includes(SSIAD));
    assert.ok(manager, 'no demo manager of the SSIAD');
    const context = await newContext(browser);
    try {
      const page = await newWatchedPage(context);
      await goto(page, '/');
      let response = await submit(page, page.getByRole('link', { name: 'Demandez votre enregistrement' }));
      assert.equal(response.status(), 200);
      assert.equal(new URL(page.url()).pathname, '/inscription');

      // The establishment, by a word of its name.
      await page.fill('#q', searchWord(ssiad.name));
      response = await submit(page, page.getByRole('button', { name: "Rechercher l'établissement" }));
      assert.equal(response.status(), 200);
      response = await submit(page, page.getByRole('link', { name: `Choisir ${ssiad.name}` }));
      assert.equal(response.status(), 200);
      assert.equal(await page.inputValue('#exercise-establishment_finess'), SSIAD);
      assert.match(squash(await page.textContent('form#demande')), new RegExp(`FINESS ${SSIAD}`));

      // Everything but the birth name: refused, with one message linked to its field.
      await page.selectOption('#identity-civility', 'MME');
      await page.check('#identity-sex');
      await page.fill('#identity-first_names-0', FIRST_NAME);
      await page.fill('#identity-birth_date', '1993-05-17');
      await page.selectOption('#identity-birth_country', '99100');
      await page.fill('#identity-birth_commune', 'Lyon');
      await page.selectOption('#identity-id_document-type', 'CNI');
      await page.fill('#identity-id_document-number', 'E2E7SELF1');
      await page.fill('#identity-id_document-expires_on', '2035-02-28');
      await page.fill('#contact-email', EMAIL);
      await page.fill('#exercise-start_date', '2025-10-06');
      await page.selectOption('#exercise-profession', '371');
      await page.check('input[name="role"][value="GENR12"]');
      response = await submit(page, page.getByRole('button', { name: 'Envoyer ma demande' }));
      assert.equal(response.status(), 422);
      const summary = page.locator('.error-summary[role="alert"]');
      assert.equal(await summary.locator('a').count(), 1, squash(await summary.textContent()));
      assert.equal(await summary.locator('a[href="#identity-birth_name"]').count(), 1);
      assert.equal(await page.getAttribute('#identity-birth_name', 'aria-invalid'), 'true');
      assert.equal(await page.inputValue('#identity-first_names-0'), FIRST_NAME, 'the typed values are kept');
      assert.equal(await page.inputValue('#exercise-establishment_finess'), SSIAD);
      await screenshot(page, 'self-registration-refused');

      await page.fill('#identity-birth_name', BIRTH_NAME);
      response = await submit(page, page.getByRole('button', { name: 'Envoyer ma demande' }));
      assert.equal(response.status(), 200);
      assert.equal(new URL(page.url()).pathname, '/inscription/envoyee');
      const done = squash(await page.textContent('main'));
      assert.match(done, /Votre demande d'enregistrement a été envoyée/);
      assert.ok(done.includes(ssiad.name), 'the confirmation names the establishment');
      assert.match(done, /numéro RPPS vous est envoyé par courriel/);
      for (const personal of [BIRTH_NAME, FIRST_NAME, EMAIL, '1993', 'E2E7SELF1']) {
        assert.ok(!done.includes(personal), `${personal} is not on the page`);
      }
      await screenshot(page, 'self-registration-sent');
      assertNoBrowserProblems(page, assert);
    } finally {
      await context.close();
    }

    // The SSIAD's manager sees the request waiting.
    const managerContext = await newContext(browser);
    try {
      const page = await newWatchedPage(managerContext);
      await goto(page, '/connexion');
      await page.fill('#idnps', manager.idnps);
      await submit(page, page.locator('form[action="/connexion/locale"] button[type="submit"]').first());
      await goto(page, `/structures/${SSIAD}/professionnels`);
      const waiting = page.getByRole('button', { name: `Valider la demande de ${FIRST_NAME} ${BIRTH_NAME}` });
      assert.equal(await waiting.count(), 1, 'the request is on the list');
      assertNoBrowserProblems(page, assert);
    } finally {
      await managerContext.close();
    }
  });
});
