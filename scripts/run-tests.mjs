// Runs the whole vitest suite and ends with the plain closing line CI reads:
// "tests: N passed, N failed, N skipped". Exits with vitest's exit code.
// Before it, one line per group of machine-dependent tests (see
// packages/core/test/support/machine-outcome.ts): how many ran here, how many were skipped and why.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

// vitest's own CLI entry, so that this script also runs outside `npm test` (no .bin on PATH).
const vitestCli = join(dirname(createRequire(import.meta.url).resolve('vitest/package.json')), 'vitest.mjs');

/** "group: N of M ran; K skipped: reason (count); …" for each group recorded in the tests' meta. */
function machineOutcomeLines(report) {
  const groups = new Map();
  for (const file of report.testResults ?? []) {
    for (const t of file.assertionResults ?? []) {
      const o = t.meta?.machineOutcome;
      if (!o) continue;
      const g = groups.get(o.group) ?? { ran: 0, total: 0, reasons: new Map() };
      g.total += 1;
      if (o.ran) g.ran += 1;
      else g.reasons.set(o.reason, (g.reasons.get(o.reason) ?? 0) + 1);
      groups.set(o.group, g);
    }
  }
  return [...groups].map(([name, g]) => {
    const why = [...g.reasons].map(([reason, n]) => `${reason} (${n})`).join('; ');
    return `${name}: ${g.ran} of ${g.total} ran${g.ran < g.total ? `; ${g.total - g.ran} skipped: ${why}` : ''}`;
  });
}

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
  for (const line of machineOutcomeLines(r)) console.log(line);
  console.log(`node ${process.version} (${process.platform}-${process.arch}), uid ${process.getuid?.() ?? '?'}`);
  console.log(`tests: ${r.numPassedTests} passed, ${r.numFailedTests} failed, ${skipped} skipped`);
  if (r.numTotalTests === 0) code = code || 1;
} catch (err) {
  console.log(`tests: 0 passed, 1 failed (no vitest results: ${err.message})`);
  code = code || 1;
}
rmSync(dir, { recursive: true, force: true });
process.exit(code);
