/**
 * Forced interleavings of the races the kernel handles (kernel-semantics §3.5, §3.6, §4.1, §4.2, §5.5),
 * between a producer worker and a reader worker. Each worker (fixtures/interleave-actor.mjs)
 * installs an interleaving hook; the test arms one point, starts an operation, waits for the
 * worker to arrive at the point (Atomics.waitAsync on a shared arrival counter), does the other
 * side's step, then lets it go. No sleeps order anything: the only timer is a short window in
 * which a thread that must be waiting is checked not to have finished.
 *
 * Events are checksummed (cpu, length, seq, checksum) and of one fixed size, with the 'counter'
 * clock (no time extends), so which event lands on which sub-buffer follows from the encoding
 * rules alone (kernel-semantics §2.3): the expectations below come from that model, not from output.
 */
import { Worker } from 'node:worker_threads';
import { InterleavePoint, type InterleavePointName, TraceBuffer, layout } from '@tracebuf/core';
import { afterEach, describe, expect, it } from 'vitest';

const SUBBUF_SIZE = 4096;
const DATA_SIZE = SUBBUF_SIZE - 16;

/** Event length for a payload of `length` bytes (kernel-semantics §2.3): short form up to 112 data bytes. */
function eventSize(length: number): number {
  const data = (length + 3) & ~3;
  return data <= 112 ? 4 + data : 8 + data;
}
/** Events of one size a sub-buffer holds (the first event has delta 0: no extend). */
function perSubbuf(length: number): number {
  return Math.floor(DATA_SIZE / eventSize(length));
}
const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i);

/** A payload of 108 bytes: 112-byte events, 36 per sub-buffer, 48 bytes left (a count fits). */
const L = 108;
const N = perSubbuf(L);

// Int32 indexes of an actor's shared `sync` words (passed to the worker).
const Sync = { ARRIVALS: 0, GO: 1, PAUSED_AT: 2, HITS: 8 } as const;
const POINTS: readonly InterleavePointName[] = Object.values(InterleavePoint);
/** How long a thread that must be blocked is watched (well under the readers' 1 s spin limit). */
const BLOCKED_WINDOW_MS = 25;

interface WriteResult {
  readonly written: number;
  readonly failed: number;
  readonly firstSeq: number;
  readonly lastSeq: number;
}
interface HandOut {
  readonly id: number;
  readonly read: number;
  readonly start: number;
  readonly swapped: boolean;
  readonly missed: boolean;
  readonly lost: number | 'unknown';
  readonly commitLength: number;
  readonly seqs: readonly number[];
  readonly corrupt: string | null;
  readonly meta: { readonly entries: number; readonly overrun: number; readonly read: number; readonly lostEvents: number };
}
interface Reply {
  readonly ok: boolean;
  readonly error?: string;
  readonly code?: string;
}

const workers = new Set<Worker>();
afterEach(async () => {
  await Promise.all([...workers].map((w) => w.terminate()));
  workers.clear();
});

/** One side of the choreography: a worker that runs operations and pauses at armed points. */
class Actor {
  readonly #worker: Worker;
  readonly #sync: Int32Array;
  readonly #replies: ((m: Reply) => void)[] = [];
  #arrivals = 0;

  private constructor(worker: Worker, sync: Int32Array) {
    this.#worker = worker;
    this.#sync = sync;
    worker.on('message', (m: Reply) => this.#replies.shift()?.(m));
    worker.on('error', (err) => {
      for (const r of this.#replies.splice(0)) r({ ok: false, error: String(err) });
    });
  }

  static async start(tb: TraceBuffer, options: { map: boolean }): Promise<Actor> {
    const sync = new SharedArrayBuffer((Sync.HITS + POINTS.length) * 4);
    const w = new Worker(new URL('./fixtures/interleave-actor.mjs', import.meta.url), {
      workerData: { handle: tb.handle, cpu: 0, sync, map: options.map, Sync },
    });
    workers.add(w);
    const actor = new Actor(w, new Int32Array(sync));
    await actor.#next();
    return actor;
  }

  #next<T>(): Promise<T & Reply> {
    return new Promise((resolve, reject) => {
      this.#replies.push((m) => (m.ok ? resolve(m as T & Reply) : reject(Object.assign(new Error(m.error), { code: m.code }))));
    });
  }

  #call<T>(msg: Record<string, unknown>): Promise<T & Reply> {
    const reply = this.#next<T>();
    this.#worker.postMessage(msg);
    return reply;
  }

  /** Pause at the (skip+1)-th next hit of `point`, once. */
  arm(point: InterleavePointName, skip = 0): Promise<Reply> {
    return this.#call({ op: 'arm', point, skip });
  }

  write(count: number, length = L): Promise<WriteResult> {
    return this.#call<WriteResult>({ op: 'write', count, length });
  }

  getReader(): Promise<HandOut> {
    return this.#call<HandOut>({ op: 'getReader' });
  }

  /** `mapping.wait()` in the actor: whether it returned woken (or at the watermark), and how long it took. */
  wait(bufferPercent: number, timeoutMs: number): Promise<{ woken: boolean; ms: number }> {
    return this.#call<{ woken: boolean; ms: number }>({ op: 'wait', bufferPercent, timeoutMs });
  }

  /** Resolves when the actor is paused at the point it was armed for; rejects if `op` ends first. */
  async arrived(point: InterleavePointName, op: Promise<unknown>): Promise<void> {
    const want = ++this.#arrivals;
    let ended = false;
    const ends = op.then(
      () => (ended = true),
      () => (ended = true),
    );
    for (;;) {
      const now = Atomics.load(this.#sync, Sync.ARRIVALS);
      if (now >= want) break;
      const waiting = Atomics.waitAsync(this.#sync, Sync.ARRIVALS, now);
      if (waiting.async) await Promise.race([waiting.value, ends]);
      if (ended && Atomics.load(this.#sync, Sync.ARRIVALS) < want) {
        await op; // surfaces the operation's error, if it failed
        throw new Error(`the operation ended without pausing at ${point}`);
      }
    }
    expect(POINTS[Atomics.load(this.#sync, Sync.PAUSED_AT)], 'paused at the armed point').toBe(point);
  }

  /** Lets the actor go on from its pause. */
  go(): void {
    Atomics.add(this.#sync, Sync.GO, 1);
    Atomics.notify(this.#sync, Sync.GO);
  }

  /** Times the actor's thread passed `point` (armed or not). */
  hits(point: InterleavePointName): number {
    return Atomics.load(this.#sync, Sync.HITS + POINTS.indexOf(point));
  }
}

interface Rig {
  readonly tb: TraceBuffer;
  readonly producer: Actor;
  readonly reader: Actor;
}

/** A one-cpu buffer with a producer worker and a reader worker (which maps it). */
async function rig(options: { nrSubbufs: number; overwrite: boolean }): Promise<Rig> {
  const tb = TraceBuffer.create({ cpus: 1, subbufSize: SUBBUF_SIZE, clock: 'counter', ...options });
  const [producer, reader] = await Promise.all([Actor.start(tb, { map: false }), Actor.start(tb, { map: true })]);
  return { tb, producer, reader };
}

const ctlOf = (tb: TraceBuffer): Int32Array => tb.cpuBuffer(0).ctl;
/** The ring link `id → ?` without its generation bits: `(target << 2) | flag`. */
const nextLink = (tb: TraceBuffer, id: number): number => {
  const cb = tb.cpuBuffer(0);
  return Atomics.load(cb.ctl, cb.nextBase + id) & (2 ** cb.link.genShift - 1);
};
const link = (id: number, flag: number): number => (id << layout.PAGE_LINK_SHIFT) | flag;

/** Waits (yielding to the event loop) until `cond` holds; fails after 10 s. */
async function until(cond: () => boolean, what: string): Promise<void> {
  const deadline = performance.now() + 10_000;
  while (!cond()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((resolve) => setImmediate(resolve));
  }
}

/** Checks that `op` has not finished within a short window (it must be waiting for the other side). */
async function expectStillWaiting(op: Promise<unknown>, what: string): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const window = new Promise<'waiting'>((resolve) => {
    timer = setTimeout(() => resolve('waiting'), BLOCKED_WINDOW_MS);
  });
  const state = await Promise.race([op.then(() => 'finished' as const, () => 'failed' as const), window]);
  clearTimeout(timer);
  expect(state, what).toBe('waiting');
}

/** The reader worker holds the reader lock (it is inside GET_READER). */
const readerLockHeld = (tb: TraceBuffer) => (): boolean => Atomics.load(ctlOf(tb), layout.READER_LOCK_INDEX) !== 0;

/** GET_READER until nothing new; returns every hand-out. Each one is checked whole. */
async function drain(reader: Actor): Promise<HandOut[]> {
  const out: HandOut[] = [];
  for (;;) {
    const h = await reader.getReader();
    expect(h.corrupt, 'no torn or corrupt event').toBeNull();
    if (!h.swapped && h.start === h.read) return out;
    out.push(h);
  }
}

const seqsOf = (hs: readonly HandOut[]): number[] => hs.flatMap((h) => [...h.seqs]);

describe('(a) the reader swap against the head push (overwrite mode)', () => {
  it('reader paused before its CAS while the producer pushes the head: the CAS fails, the reader retries on the new head and flags the loss', async () => {
    const { tb, producer, reader } = await rig({ nrSubbufs: 4, overwrite: true });
    await producer.write(3 * N); // sub-buffers 1, 2, 3 full; the tail is on 3, the head is 1

    await reader.arm(InterleavePoint.READER_SWAP_BEFORE_CAS);
    const swap = reader.getReader();
    await reader.arrived(InterleavePoint.READER_SWAP_BEFORE_CAS, swap);
    // The producer moves off 3: it pushes the head (1) and overwrites it.
    expect(await producer.write(1)).toMatchObject({ written: 1, failed: 0 });
    reader.go();
    const first = await swap;

    expect(reader.hits(InterleavePoint.READER_SWAP_BEFORE_CAS), 'the CAS failed once and was retried').toBe(2);
    expect(first).toMatchObject({ id: 2, swapped: true, missed: true, lost: N, corrupt: null });
    expect(first.seqs).toEqual(range(N + 1, 2 * N));
    const rest = await drain(reader);
    expect(rest.every((h) => !h.missed)).toBe(true);
    expect(seqsOf([first, ...rest]), 'nothing duplicated, nothing else lost').toEqual(range(N + 1, 3 * N + 1));
    const stats = tb.stats(0);
    expect(stats).toMatchObject({ overrun: N, readEvents: 2 * N + 1, committed: 3 * N + 1, entries: 0, pagesLost: 1, lostUnreported: 0 });
  });

  it('producer holding UPDATE while a reader starts: the reader waits, then swaps the new head', async () => {
    const { tb, producer, reader } = await rig({ nrSubbufs: 4, overwrite: true });
    await producer.write(3 * N);

    await producer.arm(InterleavePoint.PRODUCER_PUSH_UPDATE);
    const push = producer.write(1);
    await producer.arrived(InterleavePoint.PRODUCER_PUSH_UPDATE, push);
    expect(nextLink(tb, 3), 'the link to the head is UPDATE').toBe(link(1, layout.PageFlag.UPDATE));

    const swap = reader.getReader();
    await until(readerLockHeld(tb), 'the reader entered GET_READER');
    await expectStillWaiting(swap, 'GET_READER waits while the producer is in the middle of its push');
    expect(reader.hits(InterleavePoint.READER_AFTER_READ_PAGE), 'the reader decided nothing yet').toBe(0);
    producer.go();
    expect(await push).toMatchObject({ written: 1, failed: 0 });
    const first = await swap;

    expect(first).toMatchObject({ id: 2, missed: true, lost: N, corrupt: null });
    expect(first.seqs).toEqual(range(N + 1, 2 * N));
    expect(seqsOf([first, ...(await drain(reader))])).toEqual(range(N + 1, 3 * N + 1));
    expect(tb.stats(0)).toMatchObject({ overrun: N, readEvents: 2 * N + 1, entries: 0 });
  });

  it('reader at its CAS when the producer takes UPDATE: the CAS fails, the reader waits out the UPDATE, then swaps the new head', async () => {
    const { tb, producer, reader } = await rig({ nrSubbufs: 4, overwrite: true });
    await producer.write(3 * N);

    await reader.arm(InterleavePoint.READER_SWAP_BEFORE_CAS);
    const swap = reader.getReader();
    await reader.arrived(InterleavePoint.READER_SWAP_BEFORE_CAS, swap);
    await producer.arm(InterleavePoint.PRODUCER_PUSH_UPDATE);
    const push = producer.write(1);
    await producer.arrived(InterleavePoint.PRODUCER_PUSH_UPDATE, push);

    reader.go(); // its CAS expects HEAD and finds UPDATE
    await expectStillWaiting(swap, 'the reader spins while the link is UPDATE');
    expect(reader.hits(InterleavePoint.READER_SWAP_BEFORE_CAS), 'no second attempt while UPDATE is held').toBe(1);
    expect(nextLink(tb, 3), 'the reader did not take the link').toBe(link(1, layout.PageFlag.UPDATE));
    producer.go();
    expect(await push).toMatchObject({ written: 1 });
    const first = await swap;

    expect(reader.hits(InterleavePoint.READER_SWAP_BEFORE_CAS)).toBe(2);
    expect(first).toMatchObject({ id: 2, missed: true, lost: N, corrupt: null });
    expect(seqsOf([first, ...(await drain(reader))])).toEqual(range(N + 1, 3 * N + 1));
    expect(tb.stats(0)).toMatchObject({ overrun: N, readEvents: 2 * N + 1, entries: 0, pagesLost: 1 });
  });

  it('reader wins the link: the producer, about to read it, finds the old reader sub-buffer and moves onto it without a push', async () => {
    const { tb, producer, reader } = await rig({ nrSubbufs: 4, overwrite: true });
    await producer.write(3 * N);

    await reader.arm(InterleavePoint.READER_SWAP_BEFORE_CAS);
    const swap = reader.getReader();
    await reader.arrived(InterleavePoint.READER_SWAP_BEFORE_CAS, swap);
    await producer.arm(InterleavePoint.PRODUCER_MOVE_TAIL);
    const move = producer.write(1);
    await producer.arrived(InterleavePoint.PRODUCER_MOVE_TAIL, move);
    const movesBefore = producer.hits(InterleavePoint.PRODUCER_MOVE_TAIL);

    reader.go(); // CAS 3 → 1|HEAD into 3 → 0: the old reader sub-buffer joins the ring
    await until(() => nextLink(tb, 3) === link(0, layout.PageFlag.NORMAL), "the reader's CAS");
    expect(nextLink(tb, 0), 'the new head is after the old reader sub-buffer').toBe(link(2, layout.PageFlag.HEAD));
    producer.go();
    expect(await move).toMatchObject({ written: 1, failed: 0 });
    const first = await swap;

    expect(producer.hits(InterleavePoint.PRODUCER_MOVE_TAIL), 'one look at the link, no retry').toBe(movesBefore);
    expect(Atomics.load(ctlOf(tb), layout.TAIL_PAGE_INDEX), 'the producer is on the old reader sub-buffer').toBe(0);
    expect(first).toMatchObject({ id: 1, missed: false, corrupt: null });
    expect(first.seqs).toEqual(range(1, N));
    const rest = await drain(reader);
    expect(rest.some((h) => h.missed)).toBe(false);
    expect(seqsOf([first, ...rest]), 'nothing lost').toEqual(range(1, 3 * N + 1));
    expect(tb.stats(0)).toMatchObject({ overrun: 0, pagesLost: 0, readEvents: 3 * N + 1, entries: 0 });
  });

  it('producer/consumer mode: a producer that finds the ring full while the reader is at its CAS drops the event; the swap frees the ring', async () => {
    const { tb, producer, reader } = await rig({ nrSubbufs: 4, overwrite: false });
    await producer.write(3 * N);

    await reader.arm(InterleavePoint.READER_SWAP_BEFORE_CAS);
    const swap = reader.getReader();
    await reader.arrived(InterleavePoint.READER_SWAP_BEFORE_CAS, swap);
    expect(await producer.write(1), 'the head link is still HEAD: dropped').toMatchObject({ written: 0, failed: 1 });
    reader.go();
    const first = await swap;
    expect(reader.hits(InterleavePoint.READER_SWAP_BEFORE_CAS), 'a drop does not disturb the CAS').toBe(1);
    expect(first.seqs).toEqual(range(1, N));

    expect(await producer.write(1), 'now the link is NORMAL: onto the old reader sub-buffer').toMatchObject({ written: 1, failed: 0 });
    const all = seqsOf([first, ...(await drain(reader))]);
    expect(all).toEqual([...range(1, 3 * N), 3 * N + 2]);
    expect(tb.stats(0)).toMatchObject({ overrun: 0, droppedEvents: 1, readEvents: 3 * N + 1, entries: 0 });
  });

  // The producer laps the whole ring while the reader sits between its overrun read and its
  // CAS: the link the reader expects (3 → 1|HEAD) comes back — with a newer generation, so the
  // CAS fails and the reader retries on the real head instead of succeeding on a stale view
  // (ABA). kernel-semantics §1.2/§4.3: the count on a flagged sub-buffer is the events lost between the
  // previous one and it.
  it('a producer that laps the ring while the reader is at its CAS: the swapped sub-buffer is flagged with the events lost right before it', async () => {
    const { producer, reader } = await rig({ nrSubbufs: 4, overwrite: true });
    await producer.write(3 * N);
    await reader.arm(InterleavePoint.READER_SWAP_BEFORE_CAS);
    const swap = reader.getReader();
    await reader.arrived(InterleavePoint.READER_SWAP_BEFORE_CAS, swap);
    await producer.write(3 * N); // three pushes: 1, 2, 3; the HEAD link is 3 → 1 again
    reader.go();
    const first = await swap;
    expect(first.seqs).toEqual(range(3 * N + 1, 4 * N));
    expect(first).toMatchObject({ missed: true, lost: 3 * N });
  });

  it('a producer that laps the ring while the reader is at its CAS: totals stay exact', async () => {
    const { tb, producer, reader } = await rig({ nrSubbufs: 4, overwrite: true });
    await producer.write(3 * N);
    await reader.arm(InterleavePoint.READER_SWAP_BEFORE_CAS);
    const swap = reader.getReader();
    await reader.arrived(InterleavePoint.READER_SWAP_BEFORE_CAS, swap);
    await producer.write(3 * N);
    reader.go();
    const hs = [await swap, ...(await drain(reader))];
    for (const h of hs) expect(h.corrupt).toBeNull();
    // The newest three sub-buffers survive; everything before them was overwritten.
    expect(seqsOf(hs)).toEqual(range(3 * N + 1, 6 * N));
    const stats = tb.stats(0);
    const stored = hs.reduce((sum, h) => sum + (typeof h.lost === 'number' ? h.lost : 0), 0);
    expect(stats).toMatchObject({ overrun: 3 * N, readEvents: 3 * N, committed: 6 * N, entries: 0, pagesLost: 3 });
    expect(stored + stats.lostUnreported, 'every lost event is reported once, somewhere').toBe(3 * N);
  });
});

describe('a wait registered while the producer is inside a publish', () => {
  // The producer loaded ctrl (no waiter yet) and is about to store the commit word; the waiter
  // registers and re-checks. The re-check must wait for that publish to end and see the event:
  // the producer will not wake anyone (it saw no waiter), so a re-check that missed the event
  // would sleep until its timeout with an event to read.
  it('sees the event being published instead of sleeping through it', async () => {
    const { tb, producer, reader } = await rig({ nrSubbufs: 4, overwrite: true });
    await producer.arm(InterleavePoint.PRODUCER_PUBLISH);
    const publish = producer.write(1);
    await producer.arrived(InterleavePoint.PRODUCER_PUBLISH, publish);
    const wait = reader.wait(0, 5000);
    await until(() => (Atomics.load(ctlOf(tb), layout.CTRL_INDEX) & layout.WAIT_ANY) !== 0, 'the waiter registered');
    producer.go();
    await publish;
    const result = await wait;
    expect(result.woken, 'the wait returned with the event, not by its timeout').toBe(true);
    expect(result.ms).toBeLessThan(4000);
  });
});

describe('(b) the reader catching up with the commit page', () => {
  it('GET_READER while the producer is paused mid-publish on the reader sub-buffer does not wait: it hands out what is committed; the next call hands out the event published meanwhile', async () => {
    const { tb, producer, reader } = await rig({ nrSubbufs: 4, overwrite: true });
    await producer.write(5);
    const first = await reader.getReader(); // swaps in sub-buffer 1, which the producer is on
    expect(first).toMatchObject({ id: 1, read: 5 * eventSize(L), meta: { read: 5 } });
    expect(first.seqs).toEqual(range(1, 5));

    await producer.arm(InterleavePoint.PRODUCER_PUBLISH);
    const publish = producer.write(1);
    await producer.arrived(InterleavePoint.PRODUCER_PUBLISH, publish);
    // wseq is odd and the commit word not yet stored: the reader neither waits nor sees it.
    const during = await reader.getReader();
    expect(during).toMatchObject({ id: 1, start: 5 * eventSize(L), read: 5 * eventSize(L), seqs: [], corrupt: null, meta: { read: 5, entries: 5 } });
    producer.go();
    await publish;
    const second = await reader.getReader();

    expect(second).toMatchObject({ id: 1, start: 5 * eventSize(L), read: 6 * eventSize(L), missed: false, corrupt: null, meta: { read: 6, entries: 6 } });
    expect(second.seqs).toEqual([6]);
    expect(tb.stats(0)).toMatchObject({ readEvents: 6, entries: 0, pagesRead: 1 });
  });

  it('a reader paused after reading the length and count hands out exactly that while the producer appends; the next call hands out the rest; then it has caught up', async () => {
    const { tb, producer, reader } = await rig({ nrSubbufs: 4, overwrite: true });
    const s = eventSize(L);
    await producer.write(5);
    expect((await reader.getReader()).seqs).toEqual(range(1, 5));
    await producer.write(2);

    await reader.arm(InterleavePoint.READER_AFTER_READ_PAGE);
    const get = reader.getReader();
    await reader.arrived(InterleavePoint.READER_AFTER_READ_PAGE, get);
    expect(await producer.write(3), 'the producer never waits for the reader').toMatchObject({ written: 3 });
    reader.go();
    const paused = await get;
    expect(paused).toMatchObject({ id: 1, start: 5 * s, read: 7 * s, meta: { read: 7, entries: 10 } });
    expect(paused.seqs).toEqual([6, 7]);

    const rest = await reader.getReader();
    expect(rest).toMatchObject({ id: 1, start: 7 * s, read: 10 * s, meta: { read: 10 } });
    expect(rest.seqs).toEqual([8, 9, 10]);

    // Caught up: the reader sub-buffer is the commit page; no swap, nothing new.
    const idle = await reader.getReader();
    expect(idle).toMatchObject({ id: 1, read: 10 * s, seqs: [], meta: { read: 10 } });
    expect(tb.stats(0)).toMatchObject({ readEvents: 10, entries: 0, pagesRead: 1 });
  });
});

describe('(c) the writer still on the reader sub-buffer', () => {
  it.each([true, false])(
    'overwrite=%s: the reader swaps in the sub-buffer being written; the rest comes out under the same id; the producer leaves through its next link without a push',
    async (overwrite) => {
      const { tb, producer, reader } = await rig({ nrSubbufs: 4, overwrite });
      const s = eventSize(L);
      await producer.write(5); // head == tail == 1

      await reader.arm(InterleavePoint.READER_SWAP_BEFORE_CAS);
      const swap = reader.getReader();
      await reader.arrived(InterleavePoint.READER_SWAP_BEFORE_CAS, swap);
      expect(await producer.write(3), 'the producer appends to the head being swapped').toMatchObject({ written: 3 });
      reader.go();
      const first = await swap;
      expect(first).toMatchObject({ id: 1, read: 8 * s, missed: false });
      expect(first.seqs).toEqual(range(1, 8));
      expect(Atomics.load(ctlOf(tb), layout.TAIL_PAGE_INDEX), 'the producer is on the reader sub-buffer').toBe(1);

      await producer.write(3);
      const second = await reader.getReader();
      expect(second).toMatchObject({ id: 1, start: 8 * s, read: 11 * s });
      expect(second.seqs).toEqual(range(9, 11));

      // Fill sub-buffer 1 and go on into the ring: pause at the move while a reader calls.
      await producer.arm(InterleavePoint.PRODUCER_MOVE_TAIL);
      const leave = producer.write(N - 11 + 4);
      await producer.arrived(InterleavePoint.PRODUCER_MOVE_TAIL, leave);
      const get = reader.getReader();
      await until(readerLockHeld(tb), 'the reader entered GET_READER');
      await expectStillWaiting(get, 'GET_READER waits while the producer moves its tail');
      producer.go();
      expect(await leave).toMatchObject({ written: N - 7, failed: 0 });
      const third = await get;
      // The whole of sub-buffer 1, up to its end padding, under the same id.
      expect(third).toMatchObject({ id: 1, start: 11 * s, read: DATA_SIZE, missed: false });
      expect(third.seqs).toEqual(range(12, N));
      expect(Atomics.load(ctlOf(tb), layout.TAIL_PAGE_INDEX), 'it left through next[1], onto the head').toBe(2);

      const fourth = await reader.getReader();
      expect(fourth).toMatchObject({ id: 2, swapped: true, missed: false });
      expect(fourth.seqs).toEqual(range(N + 1, N + 4));
      expect(tb.stats(0)).toMatchObject({ overrun: 0, pagesLost: 0, droppedEvents: 0, readEvents: N + 4, entries: 0, lostUnreported: 0 });
    },
  );
});

describe('(d) the writer wrapping onto the reader (overwrite mode)', () => {
  it.each([
    { length: 108, lost: 'stored' },
    { length: 128, lost: 'unknown' },
  ])('payload $length: the held reader sub-buffer never changes while the ring wraps; the loss is flagged at the next swap ($lost count)', async ({ length }) => {
    const { tb, producer, reader } = await rig({ nrSubbufs: 4, overwrite: true });
    const n = perSubbuf(length);
    const ring = 3;
    await producer.write(n + 5, length); // sub-buffer 1 full, 5 events on 2
    const held = await reader.getReader();
    expect(held).toMatchObject({ id: 1 });
    expect(held.seqs).toEqual(range(1, n));
    const m = tb.map(0);
    const before = m.subbuf(1).slice();

    // Wrap the ring ten times; stop once on the way, holding UPDATE, and look at the held page.
    const laps = 10 * ring * n;
    await producer.arm(InterleavePoint.PRODUCER_PUSH_UPDATE, 7);
    const wrap = producer.write(laps, length);
    await producer.arrived(InterleavePoint.PRODUCER_PUSH_UPDATE, wrap);
    expect(m.subbuf(1), 'the held sub-buffer, mid-wrap').toEqual(before);
    producer.go();
    expect(await wrap).toMatchObject({ written: laps, failed: 0 });
    expect(m.subbuf(1), 'the held sub-buffer, after the wrap').toEqual(before);
    expect(m.meta.reader.id, 'still the reader sub-buffer').toBe(1);
    m.unmap();

    // Model: events fill sub-buffers in order, n each; the last three written survive.
    const written = n + 5 + laps;
    const lastIndex = Math.floor((written - 1) / n); // write-order index of the tail sub-buffer
    const firstSurvivor = lastIndex - (ring - 1);
    const lost = (firstSurvivor - 1) * n; // indexes 1 .. firstSurvivor-1 were overwritten
    const next = await reader.getReader();
    expect(next).toMatchObject({ swapped: true, missed: true, lost: DATA_SIZE % eventSize(length) >= 8 ? lost : 'unknown', corrupt: null });
    expect(next.seqs).toEqual(range(firstSurvivor * n + 1, (firstSurvivor + 1) * n));
    const rest = await drain(reader);
    expect(rest.some((h) => h.missed)).toBe(false);
    expect(seqsOf([next, ...rest])).toEqual(range(firstSurvivor * n + 1, written));
    expect(tb.stats(0)).toMatchObject({ overrun: lost, pagesLost: firstSurvivor - 1, readEvents: written - lost, entries: 0, lostUnreported: 0 });
  });
});
