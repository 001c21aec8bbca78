/**
 * The other formats of issue 9: raw sub-buffers (the `trace_pipe_raw` stream, written straight
 * from the shared memory and read back by our decoder), `trace_pipe`-style text, and Chrome
 * trace-event JSON (instants, begin/end spans, counters).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TraceBuffer, defineEvent, layout } from '@tracebuf/core';
import { CounterSample, SpanBegin, SpanEnd, TraceDatRecorder, captureBuffer, decodeCapture, readRaw, readTraceDat, toChromeTrace, toText, writeRaw } from '@tracebuf/formats';
import { afterAll, describe, expect, it } from 'vitest';

const dir = mkdtempSync(join(tmpdir(), 'tracebuf-formats-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const Tick = defineEvent('tick', { n: 'u32', label: 'string' });

function twin(): [TraceBuffer, TraceBuffer] {
  const make = (): TraceBuffer => TraceBuffer.create({ cpus: 1, nrSubbufs: 8, clock: 'counter' });
  return [make(), make()];
}

describe('raw sub-buffers', () => {
  it('writeRaw writes whole sub-buffers, zero-padded, that readRaw decodes to the same events', () => {
    const [a, b] = twin();
    for (const tb of [a, b]) {
      const p = tb.producer(0);
      for (let i = 0; i < 300; i++) Tick.write(p, i, `label ${i}`);
    }
    const file = join(dir, 'cpu0.raw');
    const written = writeRaw(a, 0, file);
    const bytes = readFileSync(file);
    expect(written.bytes).toBe(bytes.length);
    expect(bytes.length).toBe(written.subbufs * 4096);
    // The same data captured in memory gives the same bytes: header, data, zeros.
    expect(bytes.equals(Buffer.from(captureBuffer(b).cpus[0]!.bytes))).toBe(true);
    const seen: number[] = [];
    decodeCapture(readRaw(bytes, { formats: a.events.formats(), clock: 'counter' }), (r) => seen.push(r.event.fields.n as number));
    expect(seen).toEqual(Array.from({ length: 300 }, (_, i) => i));
    // Zero-filled after each sub-buffer's data (and stored lost count), as trace_pipe_raw is.
    const view = new DataView(bytes.buffer, bytes.byteOffset);
    for (let page = 0; page < written.subbufs; page++) {
      const commit = view.getUint32(page * 4096 + layout.SUBBUF_COMMIT_OFFSET, true) & layout.COMMIT_LENGTH_MASK;
      expect(bytes.subarray(page * 4096 + 16 + commit, (page + 1) * 4096).every((x) => x === 0)).toBe(true);
    }
  });

  it('a partly read sub-buffer continues with the time stamp its earlier events ran up to', () => {
    const tb = TraceBuffer.create({ cpus: 1, nrSubbufs: 8, clock: 'counter' });
    const p = tb.producer(0);
    const file1 = join(dir, 'part1.raw');
    const file2 = join(dir, 'part2.raw');
    for (let i = 0; i < 5; i++) Tick.write(p, i, 'first');
    writeRaw(tb, 0, file1);
    for (let i = 5; i < 9; i++) Tick.write(p, i, 'second');
    writeRaw(tb, 0, file2);
    const stamps: number[] = [];
    const ns: number[] = [];
    for (const f of [file1, file2]) {
      decodeCapture(readRaw(readFileSync(f), { formats: tb.events.formats() }), (r) => {
        stamps.push(r.timestamp);
        ns.push(r.event.fields.n as number);
      });
    }
    expect(ns).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8]);
    // counter stamps: strictly increasing by the global sequence.
    for (let i = 1; i < stamps.length; i++) expect(stamps[i]!).toBeGreaterThan(stamps[i - 1]!);
  });
});

describe('text', () => {
  it('prints one trace_pipe-style line per event: thread-pid, [cpu], timestamp, name, fields', () => {
    const tb = TraceBuffer.create({ cpus: 2, nrSubbufs: 8, clock: 'counter' });
    const p = tb.producer(1);
    Tick.write(p, 7, 'hello');
    const text = toText(captureBuffer(tb));
    expect(text).toMatch(/^\s+main-\d+\s+\[001\]\s+\d+: tick: n=7 label=hello\n$/);
  });
});

describe('Chrome trace-event JSON', () => {
  it('spans become B/E, counters C, other events instants, with thread names', () => {
    const tb = TraceBuffer.create({ cpus: 1, nrSubbufs: 8 });
    const p = tb.producer(0);
    SpanBegin.write(p, 'request', 'http');
    Tick.write(p, 1, 'inside');
    CounterSample.write(p, 'queue', 42);
    SpanEnd.write(p, 'request');
    const trace = toChromeTrace(captureBuffer(tb));
    const json = JSON.parse(JSON.stringify(trace)) as typeof trace;
    const phases = json.traceEvents.map((e) => [e.ph, e.name]);
    expect(phases).toEqual([
      ['M', 'thread_name'],
      ['B', 'request'],
      ['i', 'tick'],
      ['C', 'queue'],
      ['E', 'request'],
    ]);
    const [meta, begin, tick, counter, end] = json.traceEvents;
    expect(meta!.args).toEqual({ name: 'main' });
    expect(begin!.cat).toBe('http');
    expect(tick!.args).toMatchObject({ n: 1, label: 'inside' });
    expect(counter!.args).toEqual({ value: 42 });
    // mono stamps are ns: ts is in µs, non-decreasing, and the same thread throughout.
    expect(end!.ts).toBeGreaterThanOrEqual(begin!.ts);
    expect(new Set(json.traceEvents.map((e) => e.tid)).size).toBe(1);
    expect(json.displayTimeUnit).toBe('ns');
  });
});

describe('a snapshot', () => {
  it('exports to every format, like the live buffer', () => {
    const tb = TraceBuffer.create({ cpus: 2, nrSubbufs: 8, clock: 'counter' });
    const p = tb.producer(1);
    for (let i = 0; i < 40; i++) Tick.write(p, i, `snap ${i}`);
    const snapshot = tb.snapshot();
    const file = join(dir, 'snapshot-cpu1.raw');
    writeRaw(snapshot, 1, file);
    const fromRaw: number[] = [];
    decodeCapture(readRaw(readFileSync(file), { cpu: 1, formats: snapshot.events.formats() }), (r) => fromRaw.push(r.event.fields.n as number));
    expect(fromRaw).toEqual(Array.from({ length: 40 }, (_, i) => i));
    // writeRaw consumed the snapshot's cpu 1: take another one of the same data for the others.
    const again = TraceBuffer.create({ cpus: 2, nrSubbufs: 8, clock: 'counter' });
    const q = again.producer(1);
    for (let i = 0; i < 40; i++) Tick.write(q, i, `snap ${i}`);
    const capture = captureBuffer(again.snapshot());
    expect(toText(capture).trim().split('\n')).toHaveLength(40);
    expect(toChromeTrace(capture).traceEvents.filter((e) => e.ph === 'i')).toHaveLength(40);
  });
});

describe('slots that come online while recording', () => {
  it('TraceDatRecorder made with one slot online records the slots that came online since', () => {
    const tb = TraceBuffer.create({ cpus: 1, nrSubbufs: 8, clock: 'counter' });
    const recorder = new TraceDatRecorder(tb);
    const p0 = tb.producer();
    for (let i = 0; i < 10; i++) Tick.write(p0, i, 'on 0');
    recorder.drain();
    const p1 = tb.producer(); // every slot claimed: slot 1 comes online
    expect(p1.cpu).toBe(1);
    for (let i = 10; i < 30; i++) Tick.write(p1, i, 'on 1');
    const file = join(dir, 'online.dat');
    recorder.finish(file);
    const capture = readTraceDat(readFileSync(file));
    expect(capture.cpus).toHaveLength(2);
    const seen: [number, number][] = [];
    decodeCapture(capture, (r) => seen.push([r.cpu, r.event.fields.n as number]));
    expect(seen).toEqual([...Array.from({ length: 10 }, (_, i) => [0, i]), ...Array.from({ length: 20 }, (_, i) => [1, 10 + i])]);
  });
});
