/**
 * trace.dat (v6) as the Linux tools read it (issue 9): `trace-cmd report` (Debian's trace-cmd
 * 3.1.6) must print every event of a tracebuf buffer with its fields decoded, the lost-event
 * lines where events were lost, and the timestamps tracebuf's own reader gives. Runs where
 * trace-cmd is installed (`.ci/run` installs it with apt-get as root) and skips with the reason
 * otherwise. Our own reader (`readTraceDat`) must read the same file back to
 * the same events.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type ClockNameValue, TraceBuffer, defineEvent, fieldText } from '@tracebuf/core';
import { type Capture, captureBuffer, decodeCapture, exportTraceDat, readTraceDat, toText, toTraceDat } from '@tracebuf/formats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recordRan, skipBecause } from '../../core/test/support/machine-outcome.js';

const GROUP = 'trace-cmd-report';
let dir = '';
let traceCmd: string | undefined;
let missing = '';

/** trace-cmd on PATH (`.ci/run` installs it as root where apt-get can; `apt-get install trace-cmd`). */
function findTraceCmd(): string | undefined {
  const r = spawnSync('sh', ['-c', 'command -v trace-cmd'], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'tracebuf-tracedat-'));
  traceCmd = findTraceCmd();
  if (traceCmd === undefined) missing = 'trace-cmd is not installed (apt-get install trace-cmd)';
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const Sample = defineEvent('sample', { seq: 'u32', neg: 's16', tiny: 's8', big: 'u64', signed: 's64', ok: 'bool', tag: 'char[8]', msg: 'string', blob: 'bytes' });
const Wide = defineEvent('wide', { seq: 'u32', text: 'string' }, { system: 'app' });

/** A buffer with every field type on three CPUs, events over 112 bytes, and (small rings, overwrite) lost events. */
function filled(clock: ClockNameValue, events = 600): TraceBuffer {
  const tb = TraceBuffer.create({ cpus: 3, nrSubbufs: 6, clock });
  const producers = [tb.producer(0), tb.producer(1), tb.producer(2)];
  for (let i = 0; i < events; i++) {
    const p = producers[i % 3]!;
    Sample.write(p, i, -i, -(i % 100), 2n ** 63n + BigInt(i), -(2 ** 40) - i, i % 2 === 0, `t${i}`, `message ${i} ${'é'.repeat(i % 7)}`, Uint8Array.of(i & 255, 0, 255));
    if (i % 5 === 0) Wide.write(p, i, 'w'.repeat(100 + (i % 150)));
  }
  return tb;
}

/** What trace-cmd should print for each event: `cpu ts name: fields`, in our decoder's terms. */
function expectedLines(capture: Capture): string[] {
  const lines: string[] = [];
  decodeCapture(capture, (r) => {
    if (r.lostBefore !== 0) lines.push(r.lostBefore > 0 ? `CPU:${r.cpu} [${r.lostBefore} EVENTS DROPPED]` : `CPU:${r.cpu} [EVENTS DROPPED]`);
    const fields = Object.entries(r.event.fields)
      .map(([k, v]) => `${k}=${fieldText(v)}`)
      .join(' ');
    lines.push(`${r.cpu} ${r.timestamp} ${r.event.name}: ${fields}`);
  });
  return lines;
}

/** trace-cmd report -t's lines in the same shape (timestamps in ns, or the raw count). */
function traceCmdLines(file: string, ns: boolean): string[] {
  const r = spawnSync(traceCmd!, ['report', '-t', file], { encoding: 'utf8', maxBuffer: 1 << 28 });
  expect(r.status, r.stderr).toBe(0);
  const out: string[] = [];
  for (const line of r.stdout.split('\n')) {
    if (line.startsWith('cpus=') || line.trim() === '') continue;
    if (line.startsWith('CPU:')) {
      out.push(line.trim());
      continue;
    }
    const m = /^\s*\S+-\d+\s+\[(\d+)\]\s+([\d.]+):\s+(\w+):\s+(.*)$/.exec(line);
    if (m === null) throw new Error(`trace-cmd printed a line this test cannot read: ${line}`);
    const ts = ns ? Math.round(Number(m[2]) * 1e9) : Number(m[2]);
    out.push(`${Number(m[1])} ${ts} ${m[3]}: ${m[4]!.trim()}`);
  }
  return out;
}

describe('trace.dat v6', () => {
  it.for(['mono', 'local', 'counter'] as const)('clock %s: trace-cmd report prints every event with its fields, as our reader decodes them', (clock, ctx) => {
    if (traceCmd === undefined) skipBecause(ctx, GROUP, missing);
    recordRan(ctx, GROUP);
    const capture = captureBuffer(filled(clock));
    const file = join(dir, `${clock}.dat`);
    writeFileSync(file, toTraceDat(capture));
    const expected = expectedLines(capture);
    expect(expected.some((l) => l.includes('EVENTS DROPPED'))).toBe(true);
    expect(expected.filter((l) => l.includes(' wide: ')).length).toBeGreaterThan(10);
    // trace-cmd prints the ns clocks' stamps as sec.nsec (-t) and the counter as the count.
    const printed = traceCmdLines(file, clock !== 'counter');
    if (clock === 'mono' || clock === 'local') {
      // Float seconds lose the last digit of a 9-decimal stamp at most: compare per event.
      expect(printed.length).toBe(expected.length);
      for (const [i, line] of printed.entries()) {
        const [pc, pts, ...prest] = line.split(' ');
        const [ec, ets, ...erest] = expected[i]!.split(' ');
        if (line.startsWith('CPU:')) {
          expect(line).toBe(expected[i]);
          continue;
        }
        expect([pc, prest.join(' ')]).toEqual([ec, erest.join(' ')]);
        expect(Math.abs(Number(pts) - Number(ets))).toBeLessThanOrEqual(1);
      }
    } else {
      expect(printed).toEqual(expected);
    }
  });

  it('trace-cmd reads our header without reading past a buffer (valgrind memcheck, where valgrind is installed)', (ctx) => {
    // trace-cmd 3.x parses the TRACECLOCK option's data as a clock text with strtok: an empty
    // option (as trace-cmd record writes it) let it read a 0-byte block's neighbours, and what it
    // found there sometimes turned `report -t` to raw counts. Our option carries the text.
    if (traceCmd === undefined) skipBecause(ctx, GROUP, missing);
    const valgrind = spawnSync('sh', ['-c', 'command -v valgrind'], { encoding: 'utf8' });
    if (valgrind.status !== 0) skipBecause(ctx, GROUP, 'valgrind is not installed (apt-get install valgrind)');
    recordRan(ctx, GROUP);
    const file = join(dir, 'memcheck.dat');
    writeFileSync(file, toTraceDat(captureBuffer(filled('mono', 30))));
    const r = spawnSync(valgrind.stdout.trim(), ['-q', '--error-exitcode=99', traceCmd!, 'report', '-t', file], { encoding: 'utf8', maxBuffer: 1 << 26 });
    expect(r.stderr).not.toMatch(/Invalid read/);
    expect(r.status).toBe(0);
  });

  it('reads back with readTraceDat to the same capture text', () => {
    const capture = captureBuffer(filled('mono'));
    const bytes = toTraceDat(capture);
    const back = readTraceDat(bytes);
    expect(back.subbufSize).toBe(4096);
    expect(back.clock).toBe('mono');
    expect(back.formats.map((f) => `${f.system}:${f.name}`)).toEqual(['tracebuf:sample', 'app:wide']);
    expect(toText(back)).toBe(toText(capture));
    // Page-aligned CPU data, as trace-cmd requires.
    for (const c of back.cpus) if (c.bytes.length > 0) expect(c.fileOffset % 4096).toBe(0);
  });

  it('a snapshot exports like the live buffer (exportTraceDat), and trace-cmd reads it', (ctx) => {
    const tb = filled('counter', 90);
    const snapshot = tb.snapshot();
    // What the snapshot holds, by the non-consuming iterator and the buffer's registry.
    const held = [...snapshot.iterate()].map((e) => {
      const d = snapshot.events.decode(e.payload);
      return `${e.cpu} ${e.timestamp} ${d.name}: ${Object.entries(d.fields)
        .map(([k, v]) => `${k}=${fieldText(v)}`)
        .join(' ')}`;
    });
    expect(held.filter((l) => l.includes(' sample: ')).length).toBe(90);
    const file = join(dir, 'snapshot.dat');
    const progress = exportTraceDat(snapshot, file);
    expect(progress.subbufs).toBeGreaterThan(0);
    const exported = expectedLines(readTraceDat(readFileSync(file))).filter((l) => !l.startsWith('CPU:'));
    const byTime = (a: string, b: string): number => Number(a.split(' ')[1]) - Number(b.split(' ')[1]);
    expect(exported).toEqual([...held].sort(byTime));
    if (traceCmd === undefined) skipBecause(ctx, GROUP, missing);
    recordRan(ctx, GROUP);
    expect(traceCmdLines(file, false).filter((l) => !l.startsWith('CPU:'))).toEqual(exported);
  });
});
