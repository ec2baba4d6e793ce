// "Mes habilitations" in a real browser: the legal representative signs in,
// grants the Gestionnaire RPPS+ right (refused first without the e-learning,
// then accepted), the manager sees their structures, the legal representative
// revokes, and the manager's next request is denied.
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
const ASSOCIATION = '690001011';
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
  assert.equal(new URL(page.url()).pathname, '/mes-structures');
  assert.equal(response.status(), 200);
}

describe('Mes habilitations', () => {
  let browser;
  before(async () => {
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
  });

  test('grant refused without e-learning, then accepted, then revoked', { timeout: TEST_TIMEOUT_MS }, async () => {
    const people = demoInfo().people;
    const rl = people.find((p) => p.kind === 'legal_representative' && p.structures.includes(EHPAD));
    const newcomer = people.find(
      (p) => p.kind === 'professional' && p.structures.length === 1 && p.structures[0] === EHPAD,
    );
    assert.ok(rl && newcomer, 'demo people not found');

    const rlContext = await newContext(browser);
    const managerContext = await newContext(browser);
    try {
      const rlPage = await newWatchedPage(rlContext);
      const managerPage = await newWatchedPage(managerContext);

      await signIn(rlPage, rl.idnps);
      assert.match(squash(await rlPage.textContent('main')), /Association Les Tilleuls/);
      assert.match(squash(await rlPage.textContent('header')), new RegExp(rl.name));

      await signIn(managerPage, newcomer.idnps);
      assert.match(squash(await managerPage.textContent('main')), /aucune habilitation/);

      // Refused without the e-learning: the error summary names the field.
      await goto(rlPage, '/mes-habilitations');
      await rlPage.fill('#grant-person', newcomer.idnps);
      await rlPage.selectOption('#grant-scope', ASSOCIATION);
      let response = await submit(rlPage, rlPage.getByRole('button', { name: "Accorder l'habilitation" }));
      assert.equal(response.status(), 422);
      const summary = rlPage.locator('.error-summary[role="alert"]');
      assert.match(squash(await summary.textContent()), /e-learning/);
      assert.equal(await summary.locator('a[href="#grant-person"]').count(), 1);
      assert.equal(await rlPage.getAttribute('#grant-person', 'aria-invalid'), 'true');
      assert.equal(await rlPage.inputValue('#grant-person'), newcomer.idnps, 'the typed value is kept');
      await screenshot(rlPage, 'habilitation-refused');

      // The e-learning is recorded, then the grant goes through.
      await rlPage.fill('#elearning-person', newcomer.idnps);
      await rlPage.fill('#elearning-completed_on', '02/06/2025');
      await rlPage.fill('#elearning-certificate_ref', 'CERT-E2E-0001');
      response = await submit(rlPage, rlPage.getByRole('button', { name: 'Enregistrer le suivi' }));
      assert.equal(response.status(), 200);
      assert.match(squash(await rlPage.textContent('[role="status"]')), /e-learning a été enregistré/);
      await rlPage.fill('#grant-person', newcomer.idnps);
      await rlPage.selectOption('#grant-scope', ASSOCIATION);
      response = await submit(rlPage, rlPage.getByRole('button', { name: "Accorder l'habilitation" }));
      assert.equal(response.status(), 200);
      assert.match(squash(await rlPage.textContent('[role="status"]')), /habilitation a été accordée/);
      assert.match(squash(await rlPage.textContent('table')), new RegExp(newcomer.idnps));

      // The manager sees the association's establishments.
      await goto(managerPage, '/mes-structures');
      const mine = squash(await managerPage.textContent('main'));
      assert.match(mine, /Gestionnaire RPPS\+/);
      assert.match(mine, /EHPAD Les Tilleuls/);
      assert.match(mine, /SSIAD Les Tilleuls/);
      await screenshot(managerPage, 'manager-structures');

      // Revoked: the manager's very next request shows no right.
      const revoke = rlPage.getByRole('button', { name: new RegExp(`Retirer l'habilitation de ${newcomer.name}`) });
      response = await submit(rlPage, revoke);
      assert.equal(response.status(), 200);
      assert.match(squash(await rlPage.textContent('[role="status"]')), /retirée/);
      await goto(managerPage, '/mes-structures');
      assert.match(squash(await managerPage.textContent('main')), /aucune habilitation/);
      await goto(managerPage, '/mes-habilitations', 403);

      assertNoBrowserProblems(rlPage, assert);
      assertNoBrowserProblems(managerPage, assert);
    } finally {
      await rlContext.close();
      await managerContext.close();
    }
  });
});
