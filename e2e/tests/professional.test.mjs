// A professional's page in a real browser: a manager finds an active
// professional in the structure's list, opens their page, changes the role of
// their situation, then closes it with today's date, and sees the status turn
// to "Close" and the effective access to patient documents disappear.
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
const TEST_TIMEOUT_MS = 90_000;
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

describe('Page d\'un professionnel', () => {
  let browser;
  before(async () => {
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
  });

  test('change the role, then close the situation: the access disappears', { timeout: TEST_TIMEOUT_MS }, async () => {
    const manager = demoInfo().people.find((p) => p.kind === 'manager' && p.structures.includes(SSIAD));
    assert.ok(manager, 'no demo manager of the SSIAD');
    const context = await newContext(browser);
    try {
      const page = await newWatchedPage(context);
      await signIn(page, manager.idnps);

      // "Mes structures" leads to the list; the list filters the active professionals.
      await goto(page, '/mes-structures');
      await submit(page, page.locator('a[href$="/professionnels"]').first());
      assert.match(squash(await page.textContent('h1')), /Professionnels de/);
      await page.selectOption('#filtre-statut', 'active');
      await page.selectOption('#filtre-etablissement', SSIAD);
      await submit(page, page.getByRole('button', { name: 'Filtrer' }));
      const rows = page.locator('table tbody tr');
      assert.ok((await rows.count()) > 0, 'no active professional at the SSIAD');
      await screenshot(page, 'structure-professionals');
      // The last one: other browser tests pick the first professionals of the demo.
      await submit(page, rows.last().locator('th[scope="row"] a'));
      assert.match(new URL(page.url()).pathname, /^\/professionnels\/\d{11}$/);

      const section = page.locator('section.situation:has(.tag.status-active)').filter({ hasText: 'SSIAD' }).first();
      const id = await section.getAttribute('id');
      assert.ok(id, 'no active situation at the SSIAD on the page');
      const card = page.locator(`#${id}`);
      assert.ok((await card.locator('table tbody tr').count()) > 0, 'an active situation opens documents');

      // Change the role.
      await card.locator('summary', { hasText: 'Modifier la situation' }).click();
      const current = await card.locator('input[type="radio"][name="role"]:checked').getAttribute('value');
      const next = current === 'GENR08' ? 'GENR12' : 'GENR08';
      await card.locator(`input[type="radio"][name="role"][value="${next}"]`).check();
      let response = await submit(page, card.getByRole('button', { name: 'Enregistrer les modifications' }));
      assert.equal(response.status(), 200);
      assert.match(squash(await page.textContent('[role="status"]')), /situation d'exercice a été modifiée/);
      assert.match(squash(await card.locator('dl').textContent()), new RegExp(`\\(${next}\\)`));
      assert.match(squash(await card.locator('table caption').textContent()), /ouverts maintenant par le rôle/);
      await screenshot(page, 'professional-role-changed');

      // Close it today: at once, the access disappears.
      await card.locator('summary', { hasText: 'Clôturer la situation' }).click();
      await card.locator('input[name="end_date"]').fill(todayInParis());
      await card.locator('input[name="reason"]').fill('Fin de contrat');
      response = await submit(page, card.getByRole('button', { name: 'Clôturer la situation' }));
      assert.equal(response.status(), 200);
      assert.match(squash(await page.textContent('[role="status"]')), /retirés dès maintenant/);
      assert.equal(squash(await card.locator(`#${id}-status`).textContent()), 'Close');
      assert.equal(await card.locator('table').count(), 0, 'no document is open any more');
      assert.match(squash(await card.textContent()), /Aucun accès : la situation est close/);
      assert.match(squash(await page.locator('#historique-title + table').textContent()), /Situation d'exercice close/);
      await screenshot(page, 'professional-closed');

      assertNoBrowserProblems(page, assert);
    } finally {
      await context.close();
    }
  });
});
