// Registering a professional in a real browser: the demo manager searches
// before creating, walks the three steps (état civil with the scan of the
// identity document, contact, exercice), is sent back by the server with a
// per-field message when a field is wrong, confirms and sees the RPPS number;
// then, on the professional's page, changes the role and closes the situation.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  assertNoBrowserProblems,
  launchBrowser,
  newContext,
  newWatchedPage,
  screenshot,
} from '../lib/browser.mjs';
import { demoInfo } from '../lib/demo.mjs';

const BASE_URL = process.env.E2E_BASE_URL;
const TEST_TIMEOUT_MS = 120_000;
const EHPAD = '690001029';

function squash(text) {
  return (text ?? '').replace(/\s+/g, ' ').trim();
}

async function goto(page, path, status = 200) {
  const response = await page.goto(new URL(path, BASE_URL).href, { waitUntil: 'load' });
  assert.ok(response, `no response for ${path}`);
  assert.equal(response.status(), status, `GET ${path} answered ${response.status()}`);
  return response;
}

/** Submits a form by its button and returns the final document's response. */
async function submit(page, button) {
  const [response] = await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), button.click()]);
  return response;
}

async function signIn(page, idnps) {
  await goto(page, '/connexion');
  await page.fill('#idnps', idnps);
  const response = await submit(page, page.locator('form[action="/connexion/locale"] button[type="submit"]').first());
  assert.equal(response.status(), 200);
}

/** Today in Europe/Paris as JJ/MM/AAAA, the registry's civil date. */
function todayInParis() {
  const parts = new Intl.DateTimeFormat('fr-FR', {
    timeZone: 'Europe/Paris',
    day: '2-digit',
    month: '2-digit',
    year: 'numeric',
  }).formatToParts(new Date());
  const get = (type) => parts.find((p) => p.type === type).value;
  return `${get('day')}/${get('month')}/${get('year')}`;
}

// A name no demo person has, so that the search finds nobody.
const BIRTH_NAME = 'Vasseur-Lenoir';
const FIRST_NAME = 'Maëlle';
const BIRTH_DATE = '1991-03-22';
// A minimal PDF: the server checks the content, not the name.
const PDF = Buffer.from('%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n');

describe('Enregistrer un professionnel', () => {
  let browser;
  before(async () => {
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
  });

  test('search, three steps, confirmation, RPPS number, then role change and closing', { timeout: TEST_TIMEOUT_MS }, async () => {
    const manager = demoInfo().people.find((p) => p.kind === 'manager' && p.structures.includes(EHPAD));
    assert.ok(manager, 'no demo manager of the EHPAD');
    const context = await newContext(browser);
    try {
      const page = await newWatchedPage(context);
      await signIn(page, manager.idnps);

      // The navigation leads to the wizard; search before create.
      await submit(page, page.getByRole('link', { name: 'Enregistrer un professionnel' }));
      await submit(page, page.getByRole('link', { name: 'Commencer un enregistrement' }));
      await page.fill('#name', BIRTH_NAME);
      await page.fill('#first_name', FIRST_NAME);
      await page.fill('#birth_date', BIRTH_DATE);
      let response = await submit(page, page.getByRole('button', { name: 'Rechercher par identité' }));
      assert.equal(response.status(), 200);
      assert.match(squash(await page.textContent('main')), /Aucune personne enregistrée ne correspond/);
      response = await submit(page, page.getByRole('button', { name: 'Créer une nouvelle personne' }));
      assert.equal(response.status(), 200);
      assert.match(new URL(page.url()).pathname, /^\/enregistrements\/\d+\/etat-civil$/);

      // Step 1: prefilled from the search; a wrong commune is refused with its own message.
      assert.equal(await page.inputValue('#identity-birth_name'), BIRTH_NAME);
      assert.equal(await page.inputValue('#identity-first_names-0'), FIRST_NAME);
      await page.selectOption('#identity-civility', 'MME');
      await page.check('#identity-sex');
      await page.fill('#identity-first_names-1', 'Louise');
      await page.selectOption('#identity-birth_country', '99100');
      await page.fill('#identity-birth_commune', '99999');
      await page.selectOption('#identity-id_document-type', 'CNI');
      await page.fill('#identity-id_document-number', 'E2E4RTBPF');
      await page.fill('#identity-id_document-expires_on', '2034-06-30');
      await page.setInputFiles('#identity-scan', { name: 'cni.pdf', mimeType: 'application/pdf', buffer: PDF });
      response = await submit(page, page.getByRole('button', { name: 'Enregistrer et continuer' }));
      assert.equal(response.status(), 422);
      const summary = page.locator('.error-summary[role="alert"]');
      assert.equal(await summary.locator('a').count(), 1);
      assert.equal(await summary.locator('a[href="#identity-birth_commune"]').count(), 1);
      assert.equal(await page.getAttribute('#identity-birth_commune', 'aria-invalid'), 'true');
      assert.equal(await page.inputValue('#identity-first_names-1'), 'Louise', 'the typed values are kept');
      await screenshot(page, 'registration-identity-refused');
      await page.fill('#identity-birth_commune', 'Lyon');
      await page.setInputFiles('#identity-scan', { name: 'cni.pdf', mimeType: 'application/pdf', buffer: PDF });
      response = await submit(page, page.getByRole('button', { name: 'Enregistrer et continuer' }));
      assert.equal(response.status(), 200);
      assert.match(new URL(page.url()).pathname, /\/contact$/);

      // Step 2: contact.
      await page.fill('#contact-email', 'maelle.vasseur@example.org');
      await page.fill('#contact-mobile', '06 71 23 45 67');
      response = await submit(page, page.getByRole('button', { name: 'Enregistrer et continuer' }));
      assert.equal(response.status(), 200);
      assert.match(new URL(page.url()).pathname, /\/exercice$/);

      // Step 3: exercise names prefilled; each role says which documents it opens.
      assert.equal(await page.inputValue('#exercise-exercise_last_name'), BIRTH_NAME);
      assert.equal(await page.inputValue('#exercise-exercise_first_name'), FIRST_NAME);
      assert.match(squash(await page.textContent('#role-GENR12-documents')), /type/);
      await page.selectOption('#exercise-establishment_finess', EHPAD);
      await page.fill('#exercise-start_date', '2025-09-01');
      await page.selectOption('#exercise-profession', '328');
      await page.check('input[name="role"][value="GENR12"]');
      await page.check('input[name="practice_mode"][value="S"]');
      response = await submit(page, page.getByRole('button', { name: 'Enregistrer et continuer' }));
      assert.equal(response.status(), 200);
      assert.match(new URL(page.url()).pathname, /\/confirmation$/);

      // Confirmation: everything recapitulated.
      const recap = squash(await page.textContent('main'));
      for (const shown of [BIRTH_NAME, `${FIRST_NAME}, Louise`, '22/03/1991', 'maelle.vasseur@example.org', 'EHPAD', 'GENR12', 'PDF']) {
        assert.ok(recap.includes(shown), `the recap shows ${shown}`);
      }
      await screenshot(page, 'registration-confirmation');
      response = await submit(page, page.getByRole('button', { name: 'Enregistrer le professionnel' }));
      assert.equal(response.status(), 200);
      const rpps = squash(await page.textContent('#rpps-number'));
      assert.match(rpps, /^\d{11}$/, 'the RPPS number is shown');
      await screenshot(page, 'registration-done');
      // The draft is gone.
      await goto(page, '/enregistrements');
      assert.match(squash(await page.textContent('main')), /aucun enregistrement en cours/);

      // The professional's page: change the role, then close the situation.
      await goto(page, `/professionnels/${rpps}`);
      const card = page.locator('section.situation').filter({ hasText: 'EHPAD' }).first();
      const id = await card.getAttribute('id');
      assert.ok(id, 'the new situation is on the page');
      await card.locator('summary', { hasText: 'Modifier la situation' }).click();
      assert.equal(await card.locator('input[type="radio"][name="role"]:checked').getAttribute('value'), 'GENR12');
      await card.locator('input[type="radio"][name="role"][value="GENR10"]').check();
      response = await submit(page, card.getByRole('button', { name: 'Enregistrer les modifications' }));
      assert.equal(response.status(), 200);
      assert.match(squash(await page.textContent('[role="status"]')), /situation d'exercice a été modifiée/);
      const changed = page.locator(`#${id}`);
      assert.match(squash(await changed.locator('dl').textContent()), /\(GENR10\)/);

      await changed.locator('summary', { hasText: 'Clôturer la situation' }).click();
      await changed.locator('input[name="end_date"]').fill(todayInParis());
      await changed.locator('input[name="reason"]').fill('Fin de contrat');
      response = await submit(page, changed.getByRole('button', { name: 'Clôturer la situation' }));
      assert.equal(response.status(), 200);
      assert.match(squash(await page.textContent('[role="status"]')), /retirés dès maintenant/);
      assert.equal(squash(await page.locator(`#${id}-status`).textContent()), 'Close');
      assert.match(squash(await page.locator(`#${id}`).textContent()), /Aucun accès : la situation est close/);
      await screenshot(page, 'registration-closed');

      assertNoBrowserProblems(page, assert);
    } finally {
      await context.close();
    }
  });
});
