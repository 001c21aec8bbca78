/**
 * The kernel's own `trace_pipe_raw`, read by our decoder (issue 9): a private tracefs instance
 * records `trace_marker_raw` writes (the kernel's `ftrace:raw_data` events), every CPU's
 * `trace_pipe_raw` is read, and `readRaw` + `decodeCapture`, with the format the kernel prints in
 * `events/ftrace/raw_data/format`, must give back every write in order — ids, payload bytes, time
 * order — and, with a ring too small for the writes, the kernel's stored lost count. Needs root
 * and tracefs; skips with the reason otherwise. The instance and the mount are removed after.
 */
import { spawnSync } from 'node:child_process';
import { closeSync, constants, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, readSync, readdirSync, rmdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseEventFormat } from '@tracebuf/core';
import { type CaptureRecord, type CpuData, type DecodedRecord, decodeCapture } from '@tracebuf/formats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recordRan, skipBecause } from '../../core/test/support/machine-outcome.js';

const GROUP = 'kernel-trace-pipe-raw';
let mountPoint: string | undefined;
let unavailable = '';

beforeAll(() => {
  if (process.getuid?.() !== 0) {
    unavailable = 'not root (mounting tracefs needs it)';
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'tracebuf-tracefs-'));
  const mount = spawnSync('mount', ['-t', 'tracefs', 'nodev', dir], { encoding: 'utf8' });
  if (mount.status !== 0) {
    rmdirSync(dir);
    unavailable = `cannot mount tracefs: ${mount.stderr.trim() || `exit ${mount.status}`}`;
    return;
  }
  mountPoint = dir;
  if (!existsSync(join(dir, 'instances')) || !existsSync(join(dir, 'events/ftrace/raw_data/format'))) unavailable = 'tracefs has no instances or no ftrace/raw_data event';
});

afterAll(() => {
  if (mountPoint === undefined) return;
  for (const name of readdirSync(join(mountPoint, 'instances'))) if (name.startsWith(`tracebuf-raw-${process.pid}-`)) rmdirSync(join(mountPoint, 'instances', name));
  spawnSync('umount', [mountPoint]);
  rmdirSync(mountPoint);
});

/** A private instance; removed in `finally` by the caller. */
function instance(tag: string): string {
  const dir = join(mountPoint!, 'instances', `tracebuf-raw-${process.pid}-${tag}`);
  mkdirSync(dir);
  return dir;
}

/** Payload of write `seq`: `length` bytes of (seq + i) & 255. */
function payloadOf(seq: number, length: number): Buffer {
  const b = Buffer.alloc(length);
  for (let i = 0; i < length; i++) b[i] = (seq + i) & 255;
  return b;
}

/** Writes `count` raw markers (u32 id = seq, then the payload) from a process pinned to CPU 0. */
function writeMarkers(dir: string, count: number, lengthOf: (seq: number) => number): void {
  const script = `
    const fs = require('node:fs');
    const fd = fs.openSync(${JSON.stringify(join(dir, 'trace_marker_raw'))}, 'w');
    const lengths = ${JSON.stringify(Array.from({ length: count }, (_, i) => lengthOf(i)))};
    for (let seq = 0; seq < lengths.length; seq++) {
      const b = Buffer.alloc(4 + lengths[seq]);
      b.writeUInt32LE(seq, 0);
      for (let i = 0; i < lengths[seq]; i++) b[4 + i] = (seq + i) & 255;
      fs.writeSync(fd, b);
    }`;
  const run = spawnSync('taskset', ['-c', '0', process.execPath, '-e', script], { encoding: 'utf8', timeout: 30_000 });
  if (run.status !== 0) throw new Error(`marker writer failed: ${run.stderr}`);
}

/** Every CPU's trace_pipe_raw, read without blocking until it is empty. */
function readPipes(dir: string): CpuData[] {
  const cpus = readdirSync(join(dir, 'per_cpu'))
    .filter((n) => /^cpu\d+$/.test(n))
    .map((n) => Number(n.slice(3)))
    .sort((a, b) => a - b);
  const out: CpuData[] = [];
  for (const cpu of cpus) {
    const fd = openSync(join(dir, `per_cpu/cpu${cpu}/trace_pipe_raw`), constants.O_RDONLY | constants.O_NONBLOCK);
    const chunks: Buffer[] = [];
    try {
      for (;;) {
        const page = Buffer.alloc(4096);
        let n: number;
        try {
          n = readSync(fd, page, 0, page.length, null);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'EAGAIN') break;
          throw err;
        }
        if (n === 0) break;
        chunks.push(page);
      }
    } finally {
      closeSync(fd);
    }
    out[cpu] = { bytes: Buffer.concat(chunks), fileOffset: 0 };
  }
  for (let i = 0; i < out.length; i++) out[i] ??= { bytes: new Uint8Array(0), fileOffset: 0 };
  return out;
}

/** Every CPU's trace_pipe_raw of instance `dir`, decoded with the kernel's raw_data format. */
function decodeInstance(dir: string, visit: (r: DecodedRecord) => void): void {
  const format = parseEventFormat(readFileSync(join(mountPoint!, 'events/ftrace/raw_data/format'), 'utf8'), 'ftrace');
  decodeCapture({ subbufSize: 4096, clock: 'local', formats: [format], threads: new Map(), cpus: readPipes(dir) }, visit);
}

describe("the kernel's trace_pipe_raw, read by our decoder", () => {
  it('gives back every trace_marker_raw write: ids, payloads (short and long form), time order', (ctx) => {
    if (mountPoint === undefined || unavailable !== '') skipBecause(ctx, GROUP, unavailable);
    recordRan(ctx, GROUP);
    const dir = instance('all');
    try {
      writeFileSync(join(dir, 'tracing_on'), '1');
      const count = 60;
      const lengthOf = (seq: number): number => 8 + ((seq * 37) % 1000);
      writeMarkers(dir, count, lengthOf);
      writeFileSync(join(dir, 'tracing_on'), '0');
      const seen: { id: number; ts: number; record: CaptureRecord }[] = [];
      decodeInstance(dir, (r) => seen.push({ id: r.event.fields.id as number, ts: r.timestamp, record: r }));
      expect(seen.map((s) => s.id)).toEqual(Array.from({ length: count }, (_, i) => i));
      for (const s of seen) {
        const length = lengthOf(s.id);
        const payload = s.record.bytes.subarray(s.record.offset + 12, s.record.offset + 12 + length);
        expect(Buffer.from(payload).equals(payloadOf(s.id, length))).toBe(true);
        // The kernel pads payloads to 4 bytes and does not store the exact length.
        expect(s.record.length).toBe(12 + Math.ceil(length / 4) * 4);
      }
      for (let i = 1; i < seen.length; i++) expect(seen[i]!.ts).toBeGreaterThanOrEqual(seen[i - 1]!.ts);
    } finally {
      rmdirSync(dir);
    }
  });

  it("reports the kernel's stored lost count when the ring overwrote writes", (ctx) => {
    if (mountPoint === undefined || unavailable !== '') skipBecause(ctx, GROUP, unavailable);
    recordRan(ctx, GROUP);
    const dir = instance('overrun');
    try {
      writeFileSync(join(dir, 'buffer_size_kb'), '8');
      writeFileSync(join(dir, 'tracing_on'), '1');
      const count = 2000;
      writeMarkers(dir, count, () => 16);
      writeFileSync(join(dir, 'tracing_on'), '0');
      const ids: number[] = [];
      let lost = 0;
      decodeInstance(dir, (r) => {
        if (r.lostBefore > 0) lost += r.lostBefore;
        ids.push(r.event.fields.id as number);
      });
      expect(ids.length).toBeGreaterThan(0);
      expect(ids.length).toBeLessThan(count);
      // The newest writes survive, in order; the lost count covers exactly the ones before them.
      expect(ids.at(-1)).toBe(count - 1);
      for (let i = 1; i < ids.length; i++) expect(ids[i]).toBe(ids[i - 1]! + 1);
      expect(lost).toBe(ids[0]);
    } finally {
      rmdirSync(dir);
    }
  });
});

