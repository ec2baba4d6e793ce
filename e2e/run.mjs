// Runs the browser suite against one database.
//
//   RPPSPLUS_BIN=../target/debug/rppsplus \
//   E2E_DATABASE_URL=sqlite:///tmp/e2e.db E2E_LABEL=sqlite \
//   node run.mjs [tests/some.test.mjs ...]
//
// Starts `rppsplus serve --demo` on a free loopback port (the database must
// already be migrated), waits for /readyz, runs the test files one at a time
// with node's test runner (E2E_BASE_URL tells them where the server is),
// then stops the server. The exit code is the test runner's.
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { RESULTS_DIR, RUN_LABEL } from './lib/browser.mjs';
import { startServer } from './lib/server.mjs';

const here = fileURLToPath(new URL('.', import.meta.url));
process.chdir(here);

const files = process.argv.slice(2);
if (files.length === 0) {
  for (const name of readdirSync('tests').sort()) {
    if (name.endsWith('.test.mjs')) files.push(`tests/${name}`);
  }
}

const logPath = `${RESULTS_DIR}server-${RUN_LABEL}.log`;
let server;
try {
  server = await startServer({ logPath });
} catch (err) {
  console.error(`e2e: ${err.message}`);
  process.exit(1);
}
console.log(`e2e: rppsplus serve --demo is ready at ${server.baseUrl} (log: ${logPath})`);

const runner = spawn(
  process.execPath,
  ['--test', '--test-reporter=spec', '--test-concurrency=1', ...files],
  { stdio: 'inherit', env: { ...process.env, E2E_BASE_URL: server.baseUrl } },
);

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    runner.kill(signal);
  });
}

const code = await new Promise((resolve) => {
  runner.once('exit', (status, signal) => resolve(status ?? (signal ? 1 : 0)));
});
await server.stop();
if (code !== 0) {
  console.error(`e2e: the browser suite failed; last lines of the server log:\n${server.tail()}`);
}
process.exit(code);
