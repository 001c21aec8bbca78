// Build/run helper for kernel-probe.c (see that file's header for the CLI and
// the JSON it prints). Node >= 20, ESM, no dependencies.
//
//   import { buildKernelProbe, kernelProbeAvailable, runKernelProbe,
//            KernelProbeUnavailableError } from './native/kernel-probe.mjs';
//
//   const avail = kernelProbeAvailable();          // { ok, reason } (cached)
//   if (!avail.ok) skip(avail.reason);
//   const r = await runKernelProbe({
//     subbuf_kb: 4,            // buffer_subbuf_size_kb        (default 4)
//     buffer_size_kb: 8,       // per-CPU buffer_size_kb       (default 8)
//     overwrite: 1,            // options/overwrite, 0/1/bool  (default 1)
//     payload_lengths: [108, 108, ...],  // event payload bytes, each >= 12
//     drain_every: 0,          // GET_READER drain every N writes (default 0)
//     cpu: undefined,          // optional CPU to probe (default: current)
//     timeout_ms: 60000,       // optional
//   });
//
// runKernelProbe throws KernelProbeUnavailableError (err.skip === true) when
// the probe cannot run here (not root, no tracefs, no mmap support, no C
// compiler), KernelSettingRefusedError (err.skip === true) when this kernel
// refuses a setting of that one scenario (e.g. EPERM on buffer_subbuf_size_kb),
// and a plain Error with the probe's stderr for any other failure.

import { spawn, spawnSync } from 'node:child_process';
import {
  existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmdirSync,
  statSync, unlinkSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = dirname(fileURLToPath(import.meta.url));
export const KERNEL_PROBE_SOURCE = join(HERE, 'kernel-probe.c');
export const KERNEL_PROBE_BINARY = join(HERE, 'build', 'kernel-probe');
const EXIT_SKIP = 77;
const EXIT_REFUSED = 78;
const SYSTEM_TRACEFS = '/sys/kernel/tracing';

export class KernelProbeUnavailableError extends Error {
  constructor(reason) {
    super(`kernel probe unavailable: ${reason}`);
    this.name = 'KernelProbeUnavailableError';
    this.reason = reason;
    this.skip = true;
  }
}

/** This kernel refuses a setting the scenario needs: that scenario cannot run here. */
export class KernelSettingRefusedError extends Error {
  constructor(reason) {
    super(reason);
    this.name = 'KernelSettingRefusedError';
    this.reason = reason;
    this.skip = true;
  }
}

// ---------------------------------------------------------------- building

function binaryIsFresh() {
  try {
    return statSync(KERNEL_PROBE_BINARY).mtimeMs >= statSync(KERNEL_PROBE_SOURCE).mtimeMs;
  } catch {
    return false;
  }
}

function compileArgs(tmpOut) {
  return ['-O2', '-Wall', '-o', tmpOut, KERNEL_PROBE_SOURCE];
}

// Compile into a unique temp name, then rename: concurrent builds cannot see
// a half-written binary.
function tempOutput() {
  mkdirSync(dirname(KERNEL_PROBE_BINARY), { recursive: true });
  return `${KERNEL_PROBE_BINARY}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`;
}

function finishBuild(status, error, stderr, tmpOut) {
  if (error && error.code === 'ENOENT') return null; // no compiler
  if (error || status !== 0) {
    try { unlinkSync(tmpOut); } catch { /* not created */ }
    throw new Error(`compiling ${KERNEL_PROBE_SOURCE} failed:\n${stderr || error}`);
  }
  renameSync(tmpOut, KERNEL_PROBE_BINARY);
  return KERNEL_PROBE_BINARY;
}

function buildKernelProbeSync() {
  if (binaryIsFresh()) return KERNEL_PROBE_BINARY;
  const tmpOut = tempOutput();
  const r = spawnSync('cc', compileArgs(tmpOut), { encoding: 'utf8' });
  return finishBuild(r.status, r.error, r.stderr, tmpOut);
}

/** Compiles kernel-probe.c if needed; resolves to the binary path, or null without a C compiler. */
export async function buildKernelProbe() {
  if (binaryIsFresh()) return KERNEL_PROBE_BINARY;
  const tmpOut = tempOutput();
  return new Promise((resolve, reject) => {
    let stderr = '';
    let spawnError = null;
    const child = spawn('cc', compileArgs(tmpOut), { stdio: ['ignore', 'ignore', 'pipe'] });
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (s) => { stderr += s; });
    child.on('error', (e) => { spawnError = e; });
    child.on('close', (status) => {
      try {
        resolve(finishBuild(status, spawnError, stderr, tmpOut));
      } catch (e) {
        reject(e);
      }
    });
  });
}

// ----------------------------------------------------------------- tracefs

function hasTracefsFiles(dir) {
  try {
    return readdirSync(dir).includes('instances');
  } catch {
    return false;
  }
}

// Returns { dir, release() } or throws KernelProbeUnavailableError.
// Uses /sys/kernel/tracing when it is populated, otherwise mounts tracefs on
// a fresh temporary directory that release() unmounts and removes.
function acquireTracefs() {
  if (hasTracefsFiles(SYSTEM_TRACEFS)) return { dir: SYSTEM_TRACEFS, release() {} };
  const dir = mkdtempSync(join(tmpdir(), 'tbprobe-tracefs-'));
  const r = spawnSync('mount', ['-t', 'tracefs', 'nodev', dir], { encoding: 'utf8' });
  if (r.error || r.status !== 0 || !hasTracefsFiles(dir)) {
    if (r.status === 0) spawnSync('umount', [dir]);
    try { rmdirSync(dir); } catch { /* ignore */ }
    const why = r.error ? r.error.message : (r.stderr || '').trim() || `exit ${r.status}`;
    throw new KernelProbeUnavailableError(`cannot mount tracefs: ${why}`);
  }
  return {
    dir,
    release() {
      const u = spawnSync('umount', [dir], { encoding: 'utf8' });
      if (u.status !== 0) spawnSync('umount', ['-l', dir]); // lazy, as a last resort
      try { rmdirSync(dir); } catch { /* still busy; leave the empty dir */ }
    },
  };
}

// The probe removes its instance itself; this only covers a probe that was
// killed with SIGKILL.
function removeLeftoverInstance(tracefsDir, pid) {
  if (!pid) return;
  const inst = join(tracefsDir, 'instances', `tbprobe_${pid}`);
  if (existsSync(inst)) {
    try { rmdirSync(inst); } catch { /* ignore */ }
  }
}

// ------------------------------------------------------------ availability

let availability = null;

/** Synchronous, cached: can the kernel probe run on this machine? */
export function kernelProbeAvailable() {
  if (availability) return availability;
  availability = checkAvailability();
  return availability;
}

function checkAvailability() {
  if (process.platform !== 'linux') return { ok: false, reason: 'not Linux' };
  if (process.arch !== 'x64' && process.arch !== 'arm64') {
    return { ok: false, reason: `unsupported arch ${process.arch}` };
  }
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) {
    return { ok: false, reason: 'not running as root' };
  }
  try {
    if (!/\btracefs\b/.test(readFileSync('/proc/filesystems', 'utf8'))) {
      return { ok: false, reason: 'kernel has no tracefs' };
    }
  } catch {
    return { ok: false, reason: 'cannot read /proc/filesystems' };
  }
  let bin;
  try {
    bin = buildKernelProbeSync();
  } catch (e) {
    return { ok: false, reason: e.message };
  }
  if (!bin) return { ok: false, reason: 'no C compiler (cc)' };
  let fs;
  try {
    fs = acquireTracefs();
  } catch (e) {
    return { ok: false, reason: e.reason || e.message };
  }
  try {
    const r = spawnSync(bin, ['--tracefs', fs.dir, '--check'], { encoding: 'utf8', timeout: 30000 });
    if (r.status === 0) {
      return { ok: true, reason: `trace_pipe_raw mmap works (${r.stdout.trim()})` };
    }
    const msg = (r.stderr || '').trim() || (r.error ? r.error.message : `exit ${r.status}`);
    return { ok: false, reason: r.status === EXIT_SKIP ? msg : `probe check failed: ${msg}` };
  } finally {
    fs.release();
  }
}

// --------------------------------------------------------------------- run

// Run-length encodes the lengths ("108x400,12") for the probe's stdin.
function encodeLengths(lengths) {
  const parts = [];
  for (let i = 0; i < lengths.length;) {
    let j = i;
    while (j < lengths.length && lengths[j] === lengths[i]) j++;
    parts.push(j - i > 1 ? `${lengths[i]}x${j - i}` : `${lengths[i]}`);
    i = j;
  }
  return parts.join(',');
}

function probeArgs(spec, tracefsDir) {
  const lengths = spec.payload_lengths;
  if (!Array.isArray(lengths) || lengths.length === 0) {
    throw new TypeError('spec.payload_lengths must be a non-empty array');
  }
  for (const l of lengths) {
    if (!Number.isInteger(l) || l < 12) {
      throw new RangeError(`payload length ${l} invalid: integers >= 12 only (raw marker = L - 8 bytes)`);
    }
  }
  const int = (v, def, name) => {
    const x = v === undefined ? def : Number(v);
    if (!Number.isInteger(x) || x < 0) throw new RangeError(`spec.${name} must be a non-negative integer`);
    return x;
  };
  const args = [
    '--tracefs', tracefsDir,
    '--subbuf-kb', String(int(spec.subbuf_kb, 4, 'subbuf_kb')),
    '--size-kb', String(int(spec.buffer_size_kb, 8, 'buffer_size_kb')),
    '--overwrite', spec.overwrite === undefined || spec.overwrite ? '1' : '0',
    '--drain-every', String(int(spec.drain_every, 0, 'drain_every')),
    '--lengths', '-',
  ];
  if (spec.cpu !== undefined && spec.cpu !== null) args.push('--cpu', String(int(spec.cpu, 0, 'cpu')));
  return { args, input: encodeLengths(lengths) };
}

/**
 * What a probe's exit means: null for success, else the error to throw — the probe cannot run on
 * this machine (77), this kernel refuses a setting of the scenario (78), or a real failure.
 */
export function probeFailure(code, signal, stderr) {
  const message = stderr.trim().replace(/^kernel-probe: /, '');
  if (code === 0 && !signal) return null;
  if (code === EXIT_SKIP) return new KernelProbeUnavailableError(message);
  if (code === EXIT_REFUSED) return new KernelSettingRefusedError(message);
  return new Error(`kernel-probe failed (${signal ? `signal ${signal}` : `exit ${code}`}): ${message}`);
}

/** Runs one probe (see the header of kernel-probe.c for the result's fields). */
export async function runKernelProbe(spec) {
  const bin = await buildKernelProbe();
  if (!bin) throw new KernelProbeUnavailableError('no C compiler (cc)');
  const fs = acquireTracefs();
  let pid = 0;
  try {
    const { args, input } = probeArgs(spec, fs.dir);
    const timeoutMs = spec.timeout_ms ?? 60000;
    const { code, signal, stdout, stderr } = await new Promise((resolve, reject) => {
      const child = spawn(bin, args, { stdio: ['pipe', 'pipe', 'pipe'] });
      pid = child.pid;
      let out = '';
      let err = '';
      child.stdout.setEncoding('utf8');
      child.stderr.setEncoding('utf8');
      child.stdout.on('data', (s) => { out += s; });
      child.stderr.on('data', (s) => { err += s; });
      child.on('error', reject);
      // SIGTERM lets the probe unmap, close and rmdir its instance.
      let timedOut = false;
      const timer = setTimeout(() => { timedOut = true; child.kill('SIGTERM'); }, timeoutMs);
      child.on('close', (c, s) => {
        clearTimeout(timer);
        if (timedOut) err = `timed out after ${timeoutMs} ms ${err}`;
        resolve({ code: c, signal: s, stdout: out, stderr: err });
      });
      child.stdin.on('error', () => { /* probe exited early; reported via exit code */ });
      child.stdin.end(input);
    });
    const failure = probeFailure(code, signal, stderr);
    if (failure) throw failure;
    return JSON.parse(stdout);
  } finally {
    removeLeftoverInstance(fs.dir, pid);
    fs.release();
  }
}
