/**
 * Runs every benchmark in sequence, each in a fresh Node process (so one benchmark's JIT
 * feedback and heap do not colour the next), then prints the verdict of each from its JSON.
 *
 * Run: `npm run bench` at the repository root (builds first), or `node benchmarks/dist/run-all.js`.
 * `TRACEBUF_BENCH_SMOKE=1` runs everything with tiny budgets in a few seconds (what CI runs);
 * the other `TRACEBUF_BENCH_*` variables pass through to the scripts.
 *
 * @packageDocumentation
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { RESULTS_DIR, SMOKE } from './common.js';

/** The benchmark scripts, in the order they run. */
export const BENCHMARKS = ['write-single-thread', 'get-reader', 'gc-write', 'one-to-one', 'n-to-one', 'consumer-slowdown', 'wakeup-latency', 'formats', 'log'] as const;

const here = dirname(fileURLToPath(import.meta.url));

function verdictOf(name: string): string {
  try {
    const json = JSON.parse(readFileSync(join(RESULTS_DIR, `${name}.json`), 'utf8')) as {
      goal?: { verdict?: string };
      verdict?: string;
    };
    return json.goal?.verdict ?? json.verdict ?? '(no verdict in the JSON)';
  } catch (err) {
    return `(no result: ${(err as Error).message})`;
  }
}

const started = performance.now();
const failed: string[] = [];
for (const name of BENCHMARKS) {
  // A stale file from an earlier run must not stand in for a run that failed.
  rmSync(join(RESULTS_DIR, `${name}.json`), { force: true });
  const run = spawnSync(process.execPath, [join(here, `${name}.js`)], { stdio: 'inherit', env: process.env });
  if (run.status !== 0) failed.push(`${name} (exit ${run.status ?? run.signal})`);
}

console.log(`\n=== summary${SMOKE ? ' (smoke: numbers not meaningful)' : ''}`);
for (const name of BENCHMARKS) console.log(`${name}: ${verdictOf(name)}`);
console.log(`results in ${RESULTS_DIR}; ${((performance.now() - started) / 1000).toFixed(1)} s`);
if (failed.length !== 0) {
  console.log(`FAILED: ${failed.join(', ')}`);
  process.exitCode = 1;
}
