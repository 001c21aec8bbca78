/**
 * The string table (tracebuf's `printk_formats`): strings interned by any thread of a buffer get
 * IDs every thread resolves; a full table or an over-long string gives NO_STRING and changes
 * nothing; a bad ID is EINVAL.
 */
import { Worker } from 'node:worker_threads';
import { NO_STRING, StringTable, TraceBuffer } from '@tracebuf/core';
import { afterEach, describe, expect, it } from 'vitest';
import { codeOf } from './support/errors.js';

const workers = new Set<Worker>();
afterEach(async () => {
  await Promise.all([...workers].map((w) => w.terminate()));
  workers.clear();
});

describe('StringTable', () => {
  it('interns once per thread and resolves IDs; entries() lists them in order', () => {
    const tb = TraceBuffer.create({ cpus: 1, nrSubbufs: 4 });
    const a = tb.strings.intern('user %s logged in');
    const b = tb.strings.intern('ünïcödé %d');
    const e = tb.strings.intern('');
    expect(tb.strings.intern('user %s logged in')).toBe(a);
    expect([a, b, e].every((id) => id > 0)).toBe(true);
    const other = TraceBuffer.attach(tb.handle);
    expect(other.strings.get(a)).toBe('user %s logged in');
    expect(other.strings.get(b)).toBe('ünïcödé %d');
    expect(other.strings.get(e)).toBe('');
    expect([...other.strings.entries()]).toEqual([
      [a, 'user %s logged in'],
      [b, 'ünïcödé %d'],
      [e, ''],
    ]);
    expect(tb.snapshot().strings.get(b)).toBe('ünïcödé %d');
  });

  it('over-long strings and a full table give NO_STRING; bad IDs are EINVAL', () => {
    const table = new StringTable(StringTable.allocate(64));
    expect(table.intern('x'.repeat(2000))).toBe(NO_STRING);
    const ids: number[] = [];
    for (let i = 0; i < 20; i++) ids.push(table.intern(`string ${i}`));
    const ok = ids.filter((id) => id !== NO_STRING);
    expect(ok.length).toBeGreaterThan(0);
    expect(ok.length).toBeLessThan(20);
    expect(ok.map((id) => table.get(id))).toEqual(ok.map((_, i) => `string ${i}`));
    expect(codeOf(() => table.get(3))).toBe('EINVAL');
    expect(codeOf(() => table.get(60))).toBe('EINVAL');
    expect(codeOf(() => table.get(-1))).toBe('EINVAL');
  });

  it('a worker interns; the main thread resolves its IDs', async () => {
    const tb = TraceBuffer.create({ cpus: 1, nrSubbufs: 4 });
    const src = `
      const { parentPort, workerData } = require('node:worker_threads');
      import('@tracebuf/core').then(({ TraceBuffer }) => {
        const tb = TraceBuffer.attach(workerData);
        parentPort.postMessage(Array.from({ length: 50 }, (_, i) => tb.strings.intern('from worker ' + i)));
      });`;
    const w = new Worker(src, { eval: true, workerData: tb.handle });
    workers.add(w);
    const ids = await new Promise<number[]>((resolve, reject) => {
      w.once('message', resolve);
      w.once('error', reject);
    });
    expect(ids.map((id) => tb.strings.get(id))).toEqual(Array.from({ length: 50 }, (_, i) => `from worker ${i}`));
  });
});
