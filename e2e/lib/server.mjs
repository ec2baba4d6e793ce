// Starts the real `rppsplus serve --demo` as a child process on a free
// loopback port, waits until `/readyz` answers 200, and stops it afterwards.
import { spawn } from 'node:child_process';
import { createWriteStream, mkdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';

/** Environment variable that must hold the path of the `rppsplus` binary. */
export function rppsplusBin() {
  const bin = process.env.RPPSPLUS_BIN;
  if (!bin) {
    throw new Error('RPPSPLUS_BIN is not set: give the path of the rppsplus binary (scripts/test sets it).');
  }
  return bin;
}

/** Environment variable that must hold the database URL of this run. */
export function databaseUrl() {
  const url = process.env.E2E_DATABASE_URL;
  if (!url) {
    throw new Error('E2E_DATABASE_URL is not set: give a sqlite:// or postgres:// URL (scripts/test sets it).');
  }
  return url;
}

/** Asks the kernel for a free TCP port on 127.0.0.1. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

function tail(path, lines = 40) {
  try {
    return readFileSync(path, 'utf8').split('\n').slice(-lines).join('\n');
  } catch {
    return '(no server log)';
  }
}

/**
 * Polls `url` until it answers 200, the child exits, `attempts` run out or
 * `deadlineMs` passes. Each attempt waits at most `perAttemptMs` for an
 * answer, and attempts are spaced `intervalMs` apart.
 */
async function waitUntilReady(url, child, { attempts, intervalMs, perAttemptMs, deadlineMs }) {
  let last = 'no answer yet';
  const deadline = Date.now() + deadlineMs;
  for (let i = 0; i < attempts && Date.now() < deadline; i += 1) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`the server exited before it was ready (code ${child.exitCode}, signal ${child.signalCode})`);
    }
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(perAttemptMs), redirect: 'manual' });
      await res.arrayBuffer();
      if (res.status === 200) return;
      last = `HTTP ${res.status}`;
    } catch (err) {
      last = err.cause?.code ?? err.name ?? String(err);
    }
    await delay(intervalMs);
  }
  throw new Error(`${url} was not ready in time (at most ${attempts} attempts in ${deadlineMs} ms; last: ${last})`);
}

/**
 * Starts `rppsplus serve --demo` and resolves once it is ready.
 * Returns `{ baseUrl, port, logPath, stop() }`.
 */
export async function startServer({
  bin = rppsplusBin(),
  dbUrl = databaseUrl(),
  logPath,
  extraArgs = [],
  attempts = 600,
  intervalMs = 100,
  deadlineMs = 120_000,
} = {}) {
  const port = await freePort();
  const listen = `127.0.0.1:${port}`;
  const baseUrl = `http://${listen}`;
  mkdirSync(dirname(logPath), { recursive: true });
  const log = createWriteStream(logPath);
  await new Promise((resolve, reject) => {
    log.once('open', resolve);
    log.once('error', reject);
  });

  const args = ['serve', '--demo', '--listen', listen, '--database-url', dbUrl, ...extraArgs];
  const child = spawn(bin, args, {
    stdio: ['ignore', log, log],
    env: { ...process.env, RPPSPLUS_LISTEN: listen, RPPSPLUS_DATABASE_URL: dbUrl, NO_COLOR: '1' },
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const spawnFailed = new Promise((_, reject) => child.once('error', reject));
  // Never leave the server behind, even if the caller crashes.
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);

  let stopped = false;
  async function stop() {
    if (stopped) return;
    stopped = true;
    process.removeListener('exit', killOnExit);
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const grace = new AbortController();
      const killed = await Promise.race([
        exited.then(() => true),
        delay(10_000, false, { signal: grace.signal }).catch(() => false),
      ]);
      grace.abort();
      if (!killed) {
        child.kill('SIGKILL');
        await exited;
      }
    }
    log.end();
  }

  try {
    await Promise.race([
      waitUntilReady(`${baseUrl}/readyz`, child, { attempts, intervalMs, perAttemptMs: 2_000, deadlineMs }),
      spawnFailed,
    ]);
  } catch (err) {
    await stop();
    throw new Error(
      `could not start \`${bin} ${args.join(' ')}\`: ${err.message}\n--- last lines of ${logPath} ---\n${tail(logPath)}`,
    );
  }
  return { baseUrl, port, logPath, stop, tail: () => tail(logPath) };
}
