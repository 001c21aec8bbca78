/**
 * `@tracebuf/log` (issue 10): a pino-shaped logger storing binary records; the consumer writes
 * the lines pino would have written (compared with pino itself), pino-pretty reads them, worker
 * threads log into one ordered stream, lost records are reported, an exit loses nothing
 * committed, and bad input (cycles, BigInt, long strings, non-string messages, unreadable
 * records) never crashes.
 */
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { TraceBuffer, layout } from '@tracebuf/core';
import { LogConsumer, createLogger, tracebufDestination } from '@tracebuf/log';
import fc from 'fast-check';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';

const here = dirname(fileURLToPath(import.meta.url));
const workers = new Set<Worker>();
afterEach(async () => {
  await Promise.all([...workers].map((w) => w.terminate()));
  workers.clear();
});

/** A consumer collecting lines, with `time` zeroed (pino's and ours differ by when they ran). */
function collector(tb: TraceBuffer): { consumer: LogConsumer; lines: string[] } {
  const lines: string[] = [];
  const consumer = new LogConsumer(tb, {
    hostname: 'host',
    pid: 1,
    destination: (text) => {
      for (const l of text.split('\n')) if (l !== '') lines.push(l);
    },
  });
  return { consumer, lines };
}

const zeroTime = (l: string): string => l.replace(/"time":\d+/, '"time":0');

type AnyLogger = { info: (...a: unknown[]) => void; warn: (...a: unknown[]) => void; error: (...a: unknown[]) => void; child: (b: Record<string, unknown>) => AnyLogger };

/** The same statements for pino and for ours. */
function statements(l: AnyLogger): void {
  l.info('hello');
  l.info({ user: 42, ok: true, nested: { a: [1, 2] } }, 'user %s logged in after %d ms', 'bob', 12.5);
  l.child({ reqId: 7 }).warn('warned %j %o', { x: 1 }, [1]);
  l.info({ a: 1 });
  l.info('%s and %s', 'one');
  l.info('100%% sure %i', 3.7);
  // quick-format's quirks: a '%' before another character takes an argument's place; %d of
  // undefined stays; %j of a string is quoted with '; %s of an error; no arguments: as it is.
  l.info('50% off %s', 'now');
  l.info('%d and %s then %j %o', undefined, 'x', 'str', undefined);
  l.info('%s', new Error('boom'));
  l.info('100%% sure, no arguments %s');
  // Messages that are not strings, and first arguments pino reads its own way.
  l.info({ a: 1 }, 5);
  l.info({ a: 1 }, { b: 2 });
  l.info({ a: 1 }, { b: 2 }, 'x');
  l.info(null);
  l.info(null, 'm %s', 'x');
  l.info(undefined, 'm %s', 'x');
  l.info({ a: 1 }, true);
  l.info({ msg: 'own' });
  l.info({ err: { message: 'error-like' } });
  l.info({ a: 1 }, () => 1);
  l.info({ s: 'q"uote\n' }, 'uni ü %s', 'é');
  l.info(42);
  l.info({ u: undefined, n: null }, 'undef');
  l.child({ a: { deep: true } }).child({ b: 2 }).info('child obj');
  l.error({ code: 'E1' }, 'failed: %s', 'disk');
  // One statement, objects of several shapes: keys stored once per shape (SHAPED), re-learnt
  // when they change (order, count, an undefined value, a nested object, a key to escape).
  // Values of every kind under a learnt shape: -0, non-int32 numbers, int32 limits, non-ASCII and
  // long strings, null.
  const shapes = [{ a: 1, b: 'x' }, { a: 2, b: 'y' }, { a: -0, b: 1.5 }, { a: 2 ** 31 - 1, b: -(2 ** 31) }, { a: 2 ** 31, b: -1 }, { a: 'é', b: 'x'.repeat(100) }, { a: null, b: '\u2028"' }, { b: 3, a: 4 }, { a: 5 }, { a: undefined, b: 6 }, { a: 7, b: 'z', c: true }, { a: { n: 1 }, b: 8 }, { a: () => 1, b: 9 }, { a: 10, b: 11 }, { a: Symbol('s'), b: 12 }, { 'k"ey': 1, b: 2 }, { 'k"ey': 3, b: 4 }];
  for (const o of shapes) l.info(o, 'shaped %d', 1);
  for (const o of shapes) l.child({ c: 'child' }).info(o);
  // One statement from ten loggers in turn, some values undefined, an argument missing: the
  // consumer's line templates (per format, bindings and key shape, eight at most) and the lines
  // they do not cover.
  const children = Array.from({ length: 10 }, (_, i) => l.child({ worker: i }));
  for (let round = 0; round < 3; round++) {
    children.forEach((c, i) => c.info({ n: round, s: i % 3 === 0 ? undefined : 'w"\u0001' }, 'turn %d of %s', round, i % 4 === 0 ? 'x' : 'y'));
    children.forEach((c) => c.info('turn %d of %s', round));
  }
}

describe('the lines', () => {
  it('are the lines pino writes for the same statements (time aside)', () => {
    const pinoLines: string[] = [];
    const p = pino({ name: 'app', base: { pid: 1, hostname: 'host' }, timestamp: () => ',"time":0' }, { write: (s: string) => void pinoLines.push(s.trimEnd()) });
    statements(p as unknown as AnyLogger);
    const tb = TraceBuffer.create({ cpus: 1, nrSubbufs: 16 });
    const { consumer, lines } = collector(tb);
    statements(createLogger(tb, { name: 'app' }) as unknown as AnyLogger);
    consumer.drain();
    expect(lines.map(zeroTime)).toEqual(pinoLines);
  });

  it('pino-pretty formats them', () => {
    const tb = TraceBuffer.create({ cpus: 1, nrSubbufs: 16 });
    const { consumer, lines } = collector(tb);
    const log = createLogger(tb, { name: 'app' });
    log.info({ user: 42 }, 'user %s logged in', 'bob');
    log.warn('careful');
    consumer.drain();
    const bin = join(dirname(createRequire(import.meta.url).resolve('pino-pretty/package.json')), 'bin.js');
    const run = spawnSync(process.execPath, [bin, '--no-colorize'], { input: `${lines.join('\n')}\n`, encoding: 'utf8' });
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/INFO.*\(app\/1( on host)?\): user bob logged in\n\s+user: 42/);
    expect(run.stdout).toMatch(/WARN.*\(app\/1( on host)?\): careful/);
  });

  it('time is the epoch ms of the call', () => {
    const tb = TraceBuffer.create({ cpus: 1, nrSubbufs: 16 });
    const { consumer, lines } = collector(tb);
    const before = Date.now();
    createLogger(tb).info('now');
    const after = Date.now();
    consumer.drain();
    const time = (JSON.parse(lines[0]!) as { time: number }).time;
    expect(time).toBeGreaterThanOrEqual(before - 2);
    expect(time).toBeLessThanOrEqual(after + 2);
  });
});

/** 'start' from `main`, `count` records from each of 3 workers (until they exit), 'end' from `main`. */
async function logFromWorkers(tb: TraceBuffer, main: ReturnType<typeof createLogger>, count: number): Promise<void> {
  main.info('start');
  await Promise.all(
    [0, 1, 2].map((index) => {
      const w = new Worker(join(here, 'fixtures/log-worker.mjs'), { workerData: { handle: tb.handle, index, count } });
      workers.add(w);
      return new Promise((resolve, reject) => {
        w.once('exit', resolve);
        w.once('error', reject);
      });
    }),
  );
  main.info('end');
}

describe('threads', () => {
  it('worker threads log into their own rings; one consumer writes one stream in time order', async () => {
    const tb = TraceBuffer.create({ cpus: 4, nrSubbufs: 64, overwrite: false });
    const { consumer, lines } = collector(tb);
    const main = createLogger(tb, { name: 'main' });
    const count = 500;
    await logFromWorkers(tb, main, count);
    consumer.drain();
    const parsed = lines.map((l) => JSON.parse(l) as { name: string; msg: string; worker?: number; seq?: number; time: number });
    expect(parsed).toHaveLength(2 + 3 * count);
    expect(parsed[0]!.msg).toBe('start');
    expect(parsed.at(-1)!.msg).toBe('end');
    for (const index of [0, 1, 2]) {
      const mine = parsed.filter((p) => p.worker === index);
      expect(mine.map((p) => p.seq)).toEqual(Array.from({ length: count }, (_, i) => i));
      expect(mine[7]!.msg).toBe(`record 7 of worker ${index}`);
      expect(mine[0]!.name).toBe(`worker-${index}`);
    }
    for (let i = 1; i < parsed.length; i++) expect(parsed[i]!.time).toBeGreaterThanOrEqual(parsed[i - 1]!.time);
    // The workers' slots came back when they exited: three more threads can log.
    expect(() => [tb.producer(), tb.producer(), tb.producer()]).not.toThrow();
  });

  it('more threads than slots: the buffer brings a slot online for each extra thread; one consumer merges them all in time order', async () => {
    const tb = TraceBuffer.create({ cpus: 1, nrSubbufs: 64, overwrite: false, clock: 'local' });
    const { consumer, lines } = collector(tb);
    const main = createLogger(tb, { name: 'main' }); // takes the only slot
    const count = 300;
    await logFromWorkers(tb, main, count);
    // At least one slot came online (main holds the first); more when the workers overlapped
    // (an exited worker's slot is taken again by the next).
    expect(tb.cpus).toBeGreaterThanOrEqual(2);
    expect(tb.cpus).toBeLessThanOrEqual(4);
    consumer.drain();
    // The consumer was made when one slot was online; it reads those that came online since.
    expect(consumer.slots).toBe(tb.cpus);
    const parsed = lines.map((l) => JSON.parse(l) as { name: string; msg: string; worker?: number; seq?: number; time: number });
    expect(parsed).toHaveLength(2 + 3 * count);
    expect([parsed[0]!.msg, parsed.at(-1)!.msg]).toEqual(['start', 'end']);
    for (const index of [0, 1, 2]) expect(parsed.filter((p) => p.worker === index).map((p) => p.seq)).toEqual(Array.from({ length: count }, (_, i) => i));
    for (let i = 1; i < parsed.length; i++) expect(parsed[i]!.time).toBeGreaterThanOrEqual(parsed[i - 1]!.time);
  });

  it('a buffer capped at its slots (maxCpus = cpus) keeps EBUSY', () => {
    const tb = TraceBuffer.create({ cpus: 1, maxCpus: 1, nrSubbufs: 4 });
    tb.producer(0);
    expect(() => createLogger(tb)).toThrow(/EBUSY: no free cpu slot: cpus=1 \(maxCpus=1\)/);
    expect(() => createLogger(tb, { cpu: 0 })).toThrow(/EBUSY/);
  });
});

describe('lost records are never silent', () => {
  it('records overwritten before the consumer read them become a line saying how many, on which cpu', () => {
    const tb = TraceBuffer.create({ cpus: 1, nrSubbufs: 4, overwrite: true });
    const { consumer, lines } = collector(tb);
    const log = createLogger(tb);
    for (let i = 0; i < 2000; i++) log.info({ i }, 'filler %d', i);
    consumer.drain();
    const lost = lines.map((l) => JSON.parse(l) as { lost?: number | null; cpu?: number; tid?: number; msg: string; i?: number }).filter((l) => l.lost !== undefined);
    expect(lost).toHaveLength(1);
    const kept = lines.length - 1;
    expect(tb.stats(0).overrun + kept).toBe(2000);
    // The count is known when the sub-buffer had 8 bytes left to store it (the kernel's rule);
    // the line says so either way.
    const tid = lost[0]!.tid!;
    expect(tid).toBeGreaterThan(0);
    const where = `on cpu 0 (overwritten before they were read; thread ${tid} writes there)`;
    if (lost[0]!.lost === null) expect(lost[0]!.msg).toBe(`tracebuf: an unknown number of log records lost ${where}`);
    else {
      expect(lost[0]!.lost! + kept).toBe(2000);
      expect(lost[0]!.msg).toBe(`tracebuf: ${lost[0]!.lost} log records lost ${where}`);
    }
  });

  it('records dropped in producer/consumer mode are counted, and a line in the stream says how many and by which thread', () => {
    const tb = TraceBuffer.create({ cpus: 1, nrSubbufs: 4, overwrite: false });
    const { consumer, lines } = collector(tb);
    const log = createLogger(tb);
    for (let i = 0; i < 2000; i++) log.info('drop %d', i);
    const first = log.dropped;
    expect(first).toBeGreaterThan(0);
    expect(tb.stats(0).droppedEvents).toBe(first);
    consumer.drain(); // room again: the next record carries the count
    log.info('after');
    log.info('again');
    for (let i = 0; i < 2000; i++) log.info('drop again %d', i); // refused, and no record after them
    consumer.close(); // reports those from the buffer's count
    type Line = { msg: string; dropped?: number; cpu?: number; tid?: number };
    const parsed = lines.map((l) => JSON.parse(l) as Line);
    const drops = parsed.filter((l) => l.dropped !== undefined);
    expect(drops).toHaveLength(2);
    const at = parsed.findIndex((l) => l.msg === 'after');
    expect(parsed[at - 1]).toMatchObject({ dropped: first, cpu: 0, msg: expect.stringMatching(new RegExp(`^tracebuf: ${first} log records dropped on cpu 0 by thread \\d+`)) });
    expect(parsed[at - 1]!.tid).toBeGreaterThan(0);
    expect(parsed.at(-1)).toMatchObject({ dropped: log.dropped - first, cpu: 0, msg: expect.stringContaining('after its last record') });
    expect(consumer.stats.dropped).toBe(log.dropped);
    expect(tb.stats(0).droppedEvents).toBe(log.dropped);
    // Every statement is a line or counted in a drop line.
    expect(parsed.length - drops.length + log.dropped).toBe(4002);
  });

  it.for(['exit', 'throw'] as const)('process %s: the exit drain writes every committed record', (how) => {
    const run = spawnSync(process.execPath, [join(here, 'fixtures/exit-child.mjs'), how], { encoding: 'utf8', timeout: 30_000 });
    expect(run.status).toBe(how === 'exit' ? 3 : 1);
    const lines = run.stdout.trim().split('\n');
    expect(lines).toHaveLength(500);
    expect((JSON.parse(lines[499]!) as { i: number }).i).toBe(499);
  });
});

describe('a crashed worker', () => {
  it.for(['throw', 'terminate'] as const)('%s: every record it committed is written; its slot can be taken again', async (how) => {
    const tb = TraceBuffer.create({ cpus: 1, nrSubbufs: 256, overwrite: false });
    const { consumer, lines } = collector(tb);
    const w = new Worker(join(here, 'fixtures/crash-worker.mjs'), { workerData: { handle: tb.handle, count: 200, how } });
    workers.add(w);
    const exited = new Promise((resolve) => w.once('exit', resolve));
    if (how === 'throw') {
      w.once('error', () => {}); // the crash is the point
    } else {
      await new Promise((resolve) => w.once('message', resolve));
      await w.terminate();
    }
    await exited;
    // An uncaught exception still runs the thread's exit handlers, which give the slot back. A
    // terminated thread runs none, and it may have died inside a write (the worker logs until it
    // is terminated): its owner takes the slot back first, as a piscina pool does, and readers
    // then see a consistent ring (without recover(), GET_READER waits for the dead writer and
    // fails with EFAULT).
    if (how === 'terminate') tb.recover(0);
    consumer.drain();
    const crashed = lines.map((l) => JSON.parse(l) as { i?: number; msg: string }).filter((l) => l.i !== undefined);
    expect(crashed.map((l) => l.i)).toEqual(Array.from({ length: 200 }, (_, i) => i));
    expect(() => createLogger(tb)).not.toThrow();
  });
});

describe('a writer that stalls inside a log call', () => {
  it('its slot is said so and skipped, the other slots are read, and it is read again once the writer goes on', async () => {
    const tb = TraceBuffer.create({ cpus: 2, maxCpus: 2, nrSubbufs: 16 });
    const { consumer, lines } = collector(tb);
    const main = createLogger(tb);
    main.info('from the main thread');
    const w = new Worker(join(here, 'fixtures/log-worker.mjs'), { workerData: { handle: tb.handle, index: 1, count: 5 } });
    workers.add(w);
    await new Promise((resolve, reject) => {
      w.once('exit', resolve);
      w.once('error', reject);
    });
    // The main thread's writer "stops" in the middle of moving to a new sub-buffer (its writer and
    // crossing sequences left odd, as a thread that died there leaves them).
    const cpu = main.producer.cpu;
    const ctl = tb.cpuBuffer(cpu).ctl;
    Atomics.add(ctl, layout.WSEQ_INDEX, 1);
    Atomics.add(ctl, layout.CROSS_SEQ_INDEX, 1);
    consumer.drain();
    const parsed = lines.map((l) => JSON.parse(l) as { msg: string; cpu?: number; seq?: number });
    expect(parsed.filter((l) => l.seq !== undefined).map((l) => l.seq)).toEqual([0, 1, 2, 3, 4]);
    expect(parsed.filter((l) => l.cpu === cpu)).toEqual([expect.objectContaining({ level: 50, msg: expect.stringMatching(/did not finish moving to a new sub-buffer/) })]);
    expect(parsed.some((l) => l.msg === 'from the main thread')).toBe(false);
    // Skipped while it stays stalled: no second wait, no second line.
    const before = lines.length;
    const started = performance.now();
    consumer.drain();
    expect(performance.now() - started).toBeLessThan(500);
    expect(lines).toHaveLength(before);
    // The writer goes on: its records are read.
    Atomics.add(ctl, layout.CROSS_SEQ_INDEX, 1);
    Atomics.add(ctl, layout.WSEQ_INDEX, 1);
    consumer.drain();
    expect(lines.slice(before).map((l) => (JSON.parse(l) as { msg: string }).msg)).toEqual(['from the main thread']);
  });
});

describe('bad input never crashes', () => {
  it('cycles, BigInt, symbols, functions, errors, non-string messages', () => {
    const tb = TraceBuffer.create({ cpus: 1, nrSubbufs: 16 });
    const { consumer, lines } = collector(tb);
    const log = createLogger(tb);
    const cyclic: Record<string, unknown> = { name: 'loop' };
    cyclic.self = cyclic;
    log.info(cyclic, 'cycle %j', cyclic);
    log.info({ big: 2n ** 70n }, 'big %s %d', 5n, 7n);
    log.info({ f: () => 1, s: Symbol('x'), ok: 1 }, 'skipped fields');
    log.info(null as unknown as string);
    log.info(undefined as unknown as string);
    log.info(true as unknown as string);
    log.info(Symbol('m') as unknown as string);
    log.error(new TypeError('bad type'), 'with %s', 'context');
    consumer.drain();
    const parsed = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    // As pino writes them: a cycle as "[Circular]" where it closes, a BigInt as its digits
    // (`%s` of one is String(5n), as quick-format writes it).
    expect(parsed[0]).toMatchObject({ name: 'loop', self: { name: 'loop', self: '[Circular]' }, msg: 'cycle {"name":"loop","self":"[Circular]"}' });
    expect(lines[1]).toContain('"big":1180591620717411303424,');
    expect(parsed[1]).toMatchObject({ msg: 'big 5 7' });
    expect(parsed[2]).toMatchObject({ ok: 1, msg: 'skipped fields' });
    expect(parsed[2]).not.toHaveProperty('f');
    expect(parsed[5]).toMatchObject({ msg: true });
    expect(parsed[6]).toMatchObject({ msg: 'Symbol(m)' });
    expect(parsed[7]).toMatchObject({ err: { type: 'TypeError', message: 'bad type' }, msg: 'with context' });
  });

  it('strings longer than a record are cut with a marker that says how much', () => {
    const tb = TraceBuffer.create({ cpus: 1, nrSubbufs: 16 });
    const { consumer, lines } = collector(tb);
    const log = createLogger(tb);
    log.info({ field: 'f'.repeat(10_000) }, 'arg %s', 'a'.repeat(100_000));
    log.info('m'.repeat(3000));
    // Merging objects that do not fit: fields left out, or JSON cut, are said so by a last field.
    log.info({ a: 'x'.repeat(2000), b: 'y'.repeat(2000), c: 'z'.repeat(2000), d: 1 }, 'flat');
    log.info({ n: { deep: 'q'.repeat(5000) }, after: 1 }, 'json');
    consumer.drain();
    const [, , flat, json] = lines.map((l) => JSON.parse(l) as Record<string, string>);
    expect(flat).toMatchObject({ a: 'x'.repeat(2000), tracebuf_truncated: '2 fields left out: the record is full', msg: 'flat' });
    expect(flat!['b']).toMatch(/^y+\.\.\.\[truncated: \d+ of 2000 bytes\]$/);
    expect(json!['tracebuf_truncated']).toMatch(/^\{"n":\{"deep":"q+\.\.\.\[truncated: \d+ of \d+ bytes\]$/);
    expect(json).toMatchObject({ msg: 'json' });
    const [first, second] = lines.map((l) => JSON.parse(l) as { field: string; msg: string });
    expect(first!.field).toMatch(/^f+\.\.\.\[truncated: \d+ of 10000 bytes\]$/);
    expect(first!.msg).toMatch(/^arg a*(\.\.\.\[truncated: \d+ of 100000 bytes\])?$/);
    expect(lines[0]!.length).toBeLessThan(4096 + 200);
    // A message over the string table's limit goes inline (and is cut to the record).
    expect(second!.msg).toMatch(/^m+/);
  });

  it('formats whose text grows when escaped, and many placeholders, render whole lines at any output position', () => {
    // 1000 control characters escape to 6000 bytes (\u0001 each), more than the record's own
    // bytes; 200 `%s` given undefined become "undefined" each. Enough lines to cross the
    // consumer's output buffer many times.
    const tb = TraceBuffer.create({ cpus: 1, nrSubbufs: 256, overwrite: false });
    const { consumer, lines } = collector(tb);
    const log = createLogger(tb);
    const control = `${'\u0001'.repeat(1000)} %d`;
    const manyS = '%s'.repeat(200);
    const undef = new Array<undefined>(200).fill(undefined);
    for (let i = 0; i < 60; i++) {
      log.info(control, i);
      log.info(manyS, ...undef);
    }
    consumer.drain();
    expect(lines).toHaveLength(120);
    for (let i = 0; i < 60; i++) {
      expect(JSON.parse(lines[2 * i]!).msg).toBe(`${'\u0001'.repeat(1000)} ${i}`);
      expect(JSON.parse(lines[2 * i + 1]!).msg).toBe('undefined'.repeat(200));
    }
  });

  it('lines whose format and values both grow when escaped are whole at any output position', () => {
    // A format of 100 control characters (600 bytes escaped) and an argument of 150 to 156 (about
    // 900 escaped), from a child and with a merging object: the room for the format, the keys and
    // the bindings comes on top of the room for the record's escaped bytes.
    const tb = TraceBuffer.create({ cpus: 1, nrSubbufs: 512, overwrite: false });
    const { consumer, lines } = collector(tb);
    const log = createLogger(tb).child({ c: 1 });
    const fmt = `${'\u0002'.repeat(100)}%s`;
    const arg = (i: number): string => '\u0001'.repeat(150 + (i % 7));
    for (let i = 0; i < 400; i++) log.info({ k: i }, fmt, arg(i));
    consumer.drain();
    expect(lines).toHaveLength(400);
    lines.forEach((l, i) => expect(JSON.parse(l)).toMatchObject({ c: 1, k: i, msg: `${'\u0002'.repeat(100)}${arg(i)}` }));
  });

  it('an unreadable record (unknown message ID) becomes a line that says so', () => {
    const tb = TraceBuffer.create({ cpus: 1, nrSubbufs: 16 });
    const { consumer, lines } = collector(tb);
    const log = createLogger(tb);
    log.info('fine');
    // A record naming a string ID that does not exist, as a damaged or foreign record would.
    const r = log.producer.reserve(24)!;
    const id = tb.events.formats().find((f) => f.name === 'log')!.id;
    r.view.setUint16(r.offset, id, true);
    r.view.setUint8(r.offset + 8, 30);
    r.view.setUint32(r.offset + 12, 999_999, true);
    r.view.setUint32(r.offset + 16, (4 << 16) | 20, true);
    r.view.setUint32(r.offset + 20, 4, true); // flags HAS_MSG, then a bindings length that runs past the end
    log.producer.commit();
    log.info('after');
    consumer.drain();
    expect(lines).toHaveLength(3);
    expect(JSON.parse(lines[1]!)).toMatchObject({ level: 50, msg: expect.stringMatching(/^tracebuf: unreadable log record: EINVAL/) });
    expect(JSON.parse(lines[2]!)).toMatchObject({ msg: 'after' });
  });
});

describe('the string table', () => {
  it('a child made per request does not fill it: bindings are interned at a logger\'s second record, a bounded number per thread', () => {
    const tb = TraceBuffer.create({ cpus: 1, nrSubbufs: 256, overwrite: false });
    const { consumer, lines } = collector(tb);
    const log = createLogger(tb, { name: 'app' });
    const before = tb.strings.entries().size;
    for (let i = 0; i < 3000; i++) log.child({ reqId: `request-${i}` }).info('handled');
    const long = log.child({ component: 'db' });
    for (let i = 0; i < 3; i++) long.info('query %d', i);
    consumer.drain();
    // 'handled', the name's bindings, 'query %d' and the child's bindings: not 3000 more.
    expect(tb.strings.entries().size - before).toBeLessThanOrEqual(4);
    expect(lines).toHaveLength(3003);
    expect(JSON.parse(lines[2999]!)).toMatchObject({ name: 'app', reqId: 'request-2999', msg: 'handled' });
    expect(lines.slice(3000).map((l) => JSON.parse(l) as { component: string; msg: string })).toEqual([
      expect.objectContaining({ component: 'db', msg: 'query 0' }),
      expect.objectContaining({ component: 'db', msg: 'query 1' }),
      expect.objectContaining({ component: 'db', msg: 'query 2' }),
    ]);
  });
});

describe('consumer.run()', () => {
  it('drains until aborted, with a watermark; a bad one is EINVAL', async () => {
    const tb = TraceBuffer.create({ cpus: 1, nrSubbufs: 16 });
    const { consumer, lines } = collector(tb);
    await expect(consumer.run({ bufferPercent: 101 })).rejects.toThrow(/EINVAL: bufferPercent must be an integer 0\.\.100: bufferPercent=101/);
    const ac = new AbortController();
    const running = consumer.run({ signal: ac.signal, bufferPercent: 50, idleMs: 5 });
    const log = createLogger(tb);
    log.info('one');
    // Below the watermark: the idle timeout drains it.
    for (let i = 0; i < 200 && lines.length === 0; i++) await new Promise((r) => setTimeout(r, 5));
    expect(lines.map((l) => (JSON.parse(l) as { msg: string }).msg)).toEqual(['one']);
    log.info('two');
    ac.abort();
    await running;
    expect(lines).toHaveLength(2);
  });
});

describe('records naming strings the table does not have', () => {
  it('unknown bindings, an unknown key shape, a string that is not a shape: a line that says so', () => {
    const tb = TraceBuffer.create({ cpus: 1, nrSubbufs: 16 });
    const { consumer, lines } = collector(tb);
    const log = createLogger(tb);
    log.info('fine');
    const id = tb.events.formats().find((f) => f.name === 'log')!.id;
    const notShape = tb.strings.intern('not a shape');
    const write = (data: number[]): void => {
      const r = log.producer.reserve(20 + data.length)!;
      r.view.setUint16(r.offset, id, true);
      r.view.setUint8(r.offset + 8, 30);
      r.view.setUint32(r.offset + 12, 0xffff_ffff, true);
      r.view.setUint32(r.offset + 16, (data.length << 16) | 20, true);
      r.bytes.set(data, r.offset + 20);
      log.producer.commit();
    };
    const u32 = (v: number): number[] => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, v >>> 24];
    write([8, ...u32(999_996), 0]); // BINDINGS_ID naming nothing
    write([1, ...u32(0), 12, ...u32(999_996), 0]); // HAS_OBJECT, SHAPED naming nothing
    write([1, ...u32(0), 12, ...u32(notShape), 0]); // SHAPED naming a string that is no shape
    log.info('after');
    consumer.drain();
    expect(lines).toHaveLength(5);
    for (const l of lines.slice(1, 4)) expect(JSON.parse(l)).toMatchObject({ level: 50, msg: expect.stringMatching(/^tracebuf: unreadable log record: EINVAL/) });
    expect(lines[3]).toMatch(/not a key shape/);
    expect(JSON.parse(lines[4]!)).toMatchObject({ msg: 'after' });
  });
});

describe('any input', () => {
  it('every record becomes one line of valid JSON, whatever is logged (seeded; TRACEBUF_SEED replays)', () => {
    const tb = TraceBuffer.create({ cpus: 1, nrSubbufs: 64, overwrite: false });
    const log = createLogger(tb);
    const { consumer, lines } = collector(tb);
    const seed = process.env['TRACEBUF_SEED'] ? { seed: Number(process.env['TRACEBUF_SEED']) } : {};
    fc.assert(
      fc.property(fc.oneof(fc.object(), fc.constant(undefined)), fc.string(), fc.array(fc.anything({ withBigInt: true, withNullPrototype: true, withTypedArray: true }), { maxLength: 6 }), (obj, msg, args) => {
        lines.length = 0;
        if (obj === undefined) log.info(msg, ...args);
        else log.info(obj, msg, ...args);
        consumer.drain();
        expect(lines).toHaveLength(1);
        const line = JSON.parse(lines[0]!) as { level: number; msg?: unknown };
        expect(line.level).toBe(30);
      }),
      { numRuns: 300, ...seed },
    );
  });
});

describe('the same lines as pino, whatever the statement', () => {
  it('random statements logged again and again, from two loggers: pino\'s lines (seeded; TRACEBUF_SEED replays)', () => {
    // Values of every kind the fast paths render (strings with control, quote, backslash and
    // non-ASCII characters; int32s and doubles; booleans; null; undefined) and those the general
    // path writes (nested JSON, BigInts, errors with fields and causes, a cycle), under random
    // keys and `err`; formats of random text with %s %d %i %f %j %o %%; each statement three
    // times with new values and the same keys (the shapes and line templates), from a root
    // logger and a child with random bindings.
    const text = fc.string({ unit: fc.oneof(fc.constantFrom('"', '\\', '\n', '\u0001', '\u2028', 'é', '😀', '%'), fc.string({ unit: 'grapheme', minLength: 1, maxLength: 1 })), maxLength: 40 });
    const error = fc
      .record({ message: text, code: fc.option(text, { nil: undefined }), cause: fc.option(text, { nil: undefined }), big: fc.option(fc.bigInt(), { nil: undefined }) })
      .map(({ message, code, cause, big }) => {
        const e = cause === undefined ? new TypeError(message) : new Error(message, { cause: new RangeError(cause) });
        return Object.assign(e, code === undefined ? {} : { code }, big === undefined ? {} : { big });
      });
    const cyclic = (): object => {
      const o: Record<string, unknown> = { z: 1, a: [2n] };
      o['self'] = o;
      return o;
    };
    const special = fc.oneof(fc.bigInt(), error, fc.constant(null).map(cyclic), fc.jsonValue({ maxDepth: 2 }), fc.array(fc.integer(), { maxLength: 3 }));
    const plain = fc.oneof(text, fc.integer(), fc.double(), fc.boolean(), fc.constant(null), fc.constant(undefined), special);
    const key = fc.oneof(fc.constant('err'), fc.string({ minLength: 1, maxLength: 8 }).filter((k) => k !== 'msg' && k !== 'level' && k !== 'time' && k !== '__proto__'));
    const spec = fc.constantFrom('%s', '%d', '%i', '%f', '%j', '%o');
    const statement = fc.record({
      keys: fc.uniqueArray(key, { maxLength: 4 }),
      pieces: fc.array(text.map((t) => t.replace(/%/g, '%%')), { minLength: 1, maxLength: 4 }),
      specs: fc.array(spec, { maxLength: 3 }),
      bindings: fc.dictionary(key, plain, { maxKeys: 3 }).map((d) => ({ ...d })), // (pino's child() needs Object.prototype)
      // How the call is made: (object, message, ...args), (message, ...args), (object),
      // (error, message, ...args), (error), a number; at which level.
      form: fc.constantFrom('object', 'message', 'object only', 'error', 'error only', 'number'),
      level: fc.constantFrom('info', 'warn', 'error'),
    });
    const arg = fc.oneof(text, fc.integer(), fc.double(), fc.boolean(), fc.constant(null), fc.constant(undefined), fc.bigInt(), error);
    const seed = process.env['TRACEBUF_SEED'] ? { seed: Number(process.env['TRACEBUF_SEED']) } : {};
    fc.assert(
      fc.property(
        statement.chain((st) =>
          fc.record({
            st: fc.constant(st),
            calls: fc.array(fc.record({ values: fc.array(plain, { minLength: st.keys.length, maxLength: st.keys.length }), args: fc.array(arg, { maxLength: st.specs.length + 1 }), error }), { minLength: 3, maxLength: 3 }),
          }),
        ),
        ({ st, calls }) => {
          const fmt = st.pieces.map((piece, i) => (i < st.specs.length ? piece + st.specs[i] : piece)).join('');
          const run = (root: AnyLogger): void => {
            const child = root.child(st.bindings);
            for (const l of [root, child, root, child]) {
              for (const c of calls) {
                const obj = Object.fromEntries(st.keys.map((k, i) => [k, c.values[i]]));
                const method = (l as unknown as Record<string, (...a: unknown[]) => void>)[st.level]!;
                const log = (...a: unknown[]): void => method.apply(l, a);
                if (st.form === 'object') log(obj, fmt, ...c.args);
                else if (st.form === 'message') log(fmt, ...c.args);
                else if (st.form === 'object only') log(obj);
                else if (st.form === 'error') log(c.error, fmt, ...c.args);
                else if (st.form === 'error only') log(c.error);
                else log(c.values.length);
              }
            }
          };
          const pinoLines: string[] = [];
          run(pino({ base: { pid: 1, hostname: 'host' }, timestamp: () => ',"time":0' }, { write: (line: string) => void pinoLines.push(line.trimEnd()) }) as unknown as AnyLogger);
          // (Sub-buffers of 64 KiB: records with a few errors' stacks fit whole; cut records are
          // tested above.)
          const tb = TraceBuffer.create({ cpus: 1, subbufSize: 65536, nrSubbufs: 16, overwrite: false });
          const { consumer, lines } = collector(tb);
          run(createLogger(tb) as unknown as AnyLogger);
          consumer.drain();
          expect(lines.map(zeroTime)).toEqual(pinoLines);
        },
      ),
      { numRuns: 200, ...seed },
    );
  });
});

describe('pino destination', () => {
  it('pino(tracebufDestination(tb)) lines travel through the ring unchanged', () => {
    const tb = TraceBuffer.create({ cpus: 2, nrSubbufs: 16 });
    const { consumer, lines } = collector(tb);
    const p = pino({ base: { pid: 1, hostname: 'host' } }, tracebufDestination(tb));
    p.info({ a: 1 }, 'through %s', 'pino');
    consumer.drain();
    expect(lines.map(zeroTime)).toEqual(['{"level":30,"time":0,"pid":1,"hostname":"host","a":1,"msg":"through pino"}']);
  });
});
