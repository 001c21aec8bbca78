/**
 * Helpers shared by the benchmark scripts: run settings from the environment, the environment
 * report, a plain-text table, and the JSON result files.
 *
 * @packageDocumentation
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** `TRACEBUF_BENCH_SMOKE=1`: tiny budgets and counts, for CI (checks that the scripts run). */
export const SMOKE = /^(1|true|yes)$/i.test(process.env['TRACEBUF_BENCH_SMOKE'] ?? '');

/** A positive integer from the environment variable `name`, or `fallback`. */
export function envInt(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw.replace(/_/g, ''));
  if (!Number.isSafeInteger(value) || value <= 0) {
    throw new Error(`environment variable must be a positive integer: ${name}=${raw}`);
  }
  return value;
}

/** Where the machine and runtime are: printed first and stored in every JSON file. */
export interface Environment {
  readonly node: string;
  readonly v8: string;
  readonly os: string;
  readonly arch: string;
  readonly cpuModel: string;
  readonly logicalCpus: number;
  readonly loadAverage1m: number;
  readonly smoke: boolean;
  readonly execArgv: readonly string[];
  readonly date: string;
}

/** The environment of this process, now. */
export function environment(): Environment {
  const cpus = os.cpus();
  return {
    node: process.version,
    v8: process.versions.v8,
    os: `${os.type()} ${os.release()}`,
    arch: process.arch,
    cpuModel: cpus[0]?.model.trim() ?? 'unknown',
    logicalCpus: os.availableParallelism(),
    loadAverage1m: Number((os.loadavg()[0] ?? 0).toFixed(2)),
    smoke: SMOKE,
    execArgv: process.execArgv,
    date: new Date().toISOString(),
  };
}

/** Prints the environment as a few `key: value` lines. */
export function printEnvironment(env: Environment): void {
  console.log(`node ${env.node} (V8 ${env.v8}), ${env.os} ${env.arch}`);
  console.log(`cpu: ${env.cpuModel}, ${env.logicalCpus} logical cpus, load average (1 min) ${env.loadAverage1m}`);
  if (env.smoke) console.log('SMOKE mode (TRACEBUF_BENCH_SMOKE=1): tiny budgets, numbers are not meaningful');
}

/** Prints `rows` as an aligned text table; numeric-looking cells are right-aligned. */
export function printTable(header: readonly string[], rows: readonly (readonly string[])[]): void {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const numeric = /^[-+]?[\d.,]+(?:\s?[×%a-zµ]+)?$/;
  const line = (cells: readonly string[]): string =>
    cells
      .map((c, i) => {
        const w = widths[i] ?? 0;
        return numeric.test(c) ? c.padStart(w) : c.padEnd(w);
      })
      .join('  ')
      .trimEnd();
  console.log(line(header));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const r of rows) console.log(line(r));
}

/** `value` with `digits` decimals. */
export function fixed(value: number, digits = 1): string {
  return Number.isFinite(value) ? value.toFixed(digits) : String(value);
}

/** The directory the JSON results go to: `benchmarks/results/`. */
export const RESULTS_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..', 'results');

/** Writes `data` as pretty JSON to `benchmarks/results/<name>.json` and returns the path. */
export function writeResult(name: string, data: unknown): string {
  mkdirSync(RESULTS_DIR, { recursive: true });
  const path = join(RESULTS_DIR, `${name}.json`);
  writeFileSync(path, `${JSON.stringify(data, null, 2)}\n`);
  return path;
}

/** True when the module at `moduleUrl` is the script node was started with. */
export function isMain(moduleUrl: string): boolean {
  const script = process.argv[1];
  return script !== undefined && pathToFileURL(resolve(script)).href === moduleUrl;
}

/** Median of `values` (NaN for none). */
export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** The `q` quantile (0..1) of `values`, nearest rank (NaN for none). */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[rank]!;
}

/** Mean of `values` (NaN for none). */
export function mean(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  let sum = 0;
  for (const v of values) sum += v;
  return sum / values.length;
}

/** Deterministic filler bytes for payloads (xorshift32; the content does not matter, only that it varies). */
export function fillerBytes(length: number, seed = 0x9e3779b9): Uint8Array {
  const out = new Uint8Array(length);
  let x = seed | 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}
