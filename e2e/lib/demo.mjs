// What the demo data set holds, as told by `rppsplus demo info` (JSON).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { databaseUrl, rppsplusBin } from './server.mjs';

let cached;

/** Runs `rppsplus demo info` once and returns the parsed JSON. */
export function demoInfo() {
  if (cached) return cached;
  // Run it from an empty folder so that nothing can land in the work tree.
  const cwd = mkdtempSync(join(tmpdir(), 'rppsplus-demo-info-'));
  try {
    const out = execFileSync(rppsplusBin(), ['demo', 'info'], {
      cwd,
      encoding: 'utf8',
      timeout: 60_000,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, RPPSPLUS_DATABASE_URL: databaseUrl() },
    });
    cached = JSON.parse(out);
  } finally {
    rmSync(cwd, { recursive: true, force: true });
  }
  return cached;
}

/** Removes accents and lowercases: "Hôpital Saint-Éloi" → "hopital saint-eloi". */
export function foldAccents(text) {
  return text.normalize('NFD').replace(/\p{M}/gu, '').toLowerCase();
}

/** First word of at least `min` letters of `name`, without accents, in lowercase. */
export function searchWord(name, min = 5) {
  const word = foldAccents(name)
    .split(/[^a-z]+/)
    .find((w) => w.length >= min);
  if (!word) throw new Error(`no word of ${min} letters or more in ${JSON.stringify(name)}`);
  return word;
}

/**
 * The FINESS number of a structure record of `demo info`: the `finess`
 * field, or else the first text field whose name mentions "finess".
 */
export function finessOf(structure) {
  if (typeof structure.finess === 'string') return structure.finess;
  for (const [key, value] of Object.entries(structure)) {
    if (/finess/i.test(key) && typeof value === 'string' && value !== '') return value;
  }
  throw new Error(`no FINESS number in demo structure ${JSON.stringify(structure)}`);
}

/** The first demo structure, with the word to search it by and its FINESS. */
export function firstDemoStructure() {
  const info = demoInfo();
  const structure = info?.structures?.[0];
  if (!structure || typeof structure.name !== 'string') {
    throw new Error(`\`rppsplus demo info\` lists no structure with a name: ${JSON.stringify(info).slice(0, 500)}`);
  }
  return { name: structure.name, word: searchWord(structure.name), finess: finessOf(structure) };
}
