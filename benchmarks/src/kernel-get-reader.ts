/**
 * The kernel's own GET_READER, measured on this machine in the same run as tracebuf's: builds
 * `benchmarks/native/kernel-get-reader.c` with `cc` and runs it on a tracefs (the system's when
 * it is mounted, else a private mount removed afterwards). It needs Linux ≥ 6.10, root and a C
 * compiler; without them it says why, and the benchmark shows its own figures alone.
 *
 * @packageDocumentation
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** ns per call of the kernel's GET_READER (system call included). */
export interface KernelGetReader {
  readonly ok: true;
  readonly cpu: number;
  readonly eventsPerPage: number;
  readonly full: { readonly p50: number; readonly mean: number; readonly min: number; readonly calls: number };
  readonly empty: { readonly p50: number; readonly mean: number; readonly min: number; readonly calls: number };
}

/** Why the kernel was not measured. */
export interface KernelUnavailable {
  readonly ok: false;
  readonly reason: string;
}

const SOURCE = fileURLToPath(new URL('../native/kernel-get-reader.c', import.meta.url));
const BINARY = fileURLToPath(new URL('./native/kernel-get-reader', import.meta.url));
const SYSTEM_TRACEFS = '/sys/kernel/tracing';

const hasInstances = (dir: string): boolean => {
  try {
    return readdirSync(dir).includes('instances');
  } catch {
    return false;
  }
};

/** Runs the kernel measurement: `pages` full sub-buffers handed out per round, `rounds` rounds. */
export function measureKernelGetReader(pages: number, rounds: number): KernelGetReader | KernelUnavailable {
  if (process.platform !== 'linux') return { ok: false, reason: 'not Linux' };
  if (process.getuid?.() !== 0) return { ok: false, reason: 'not running as root (tracefs needs it)' };
  mkdirSync(join(BINARY, '..'), { recursive: true });
  const built = spawnSync('cc', ['-O2', '-Wall', '-o', BINARY, SOURCE], { encoding: 'utf8' });
  if (built.error || built.status !== 0) {
    return { ok: false, reason: `cannot build the kernel probe with cc: ${built.error?.message ?? built.stderr.trim()}` };
  }
  let dir = SYSTEM_TRACEFS;
  let mounted = false;
  if (!hasInstances(dir)) {
    dir = mkdtempSync(join(tmpdir(), 'tbbench-tracefs-'));
    const m = spawnSync('mount', ['-t', 'tracefs', 'nodev', dir], { encoding: 'utf8' });
    if (m.error || m.status !== 0 || !hasInstances(dir)) {
      if (m.status === 0) spawnSync('umount', [dir]);
      rmdirSync(dir);
      return { ok: false, reason: `cannot mount tracefs: ${m.error?.message ?? (m.stderr.trim() || `exit ${m.status}`)}` };
    }
    mounted = true;
  }
  try {
    const r = spawnSync(BINARY, [dir, String(pages), String(rounds)], { encoding: 'utf8', timeout: 120_000 });
    if (r.error) return { ok: false, reason: `kernel probe: ${r.error.message}` };
    let out: { ok: boolean; reason?: string; cpu?: number; events_per_page?: number; full?: KernelGetReader['full']; empty?: KernelGetReader['empty'] };
    try {
      out = JSON.parse(r.stdout) as typeof out;
    } catch {
      return { ok: false, reason: `kernel probe exited ${r.status} without a result: ${r.stderr.trim()}` };
    }
    if (!out.ok) return { ok: false, reason: out.reason ?? `kernel probe exited ${r.status}` };
    return { ok: true, cpu: out.cpu!, eventsPerPage: out.events_per_page!, full: out.full!, empty: out.empty! };
  } finally {
    if (mounted) {
      if (spawnSync('umount', [dir]).status !== 0) spawnSync('umount', ['-l', dir]);
      if (existsSync(dir)) rmdirSync(dir);
    }
  }
}
