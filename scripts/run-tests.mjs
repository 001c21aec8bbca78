// Runs the whole vitest suite and ends with the plain closing line CI reads:
// "tests: N passed, N failed, N skipped". Exits with vitest's exit code.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

// vitest's own CLI entry, so that this script also runs outside `npm test` (no .bin on PATH).
const vitestCli = join(dirname(createRequire(import.meta.url).resolve('vitest/package.json')), 'vitest.mjs');

const dir = mkdtempSync(join(tmpdir(), 'tracebuf-vitest-'));
const out = join(dir, 'results.json');
const run = spawnSync(
  process.execPath,
  [vitestCli, 'run', '--reporter=default', '--reporter=json', `--outputFile.json=${out}`, ...process.argv.slice(2)],
  { stdio: 'inherit', shell: false },
);
if (run.error) console.error(`could not run vitest: ${run.error.message}`);
let code = run.status ?? 1;
try {
  const r = JSON.parse(readFileSync(out, 'utf8'));
  const skipped = (r.numPendingTests ?? 0) + (r.numTodoTests ?? 0);
  console.log(`tests: ${r.numPassedTests} passed, ${r.numFailedTests} failed, ${skipped} skipped`);
  if (r.numTotalTests === 0) code = code || 1;
} catch (err) {
  console.log(`tests: 0 passed, 1 failed (no vitest results: ${err.message})`);
  code = code || 1;
}
rmSync(dir, { recursive: true, force: true });
process.exit(code);
