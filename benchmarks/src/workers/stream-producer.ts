/**
 * Producer worker of the cross-thread stream benchmarks (`one-to-one`, `n-to-one`). For each
 * `RunSpec` it receives it sets the variant up, answers `ready`, blocks until the start word
 * reaches the run's generation, writes `events` events — word 0 of each payload is its sequence
 * number 0..events-1, the consumer checks them — and answers `done`.
 *
 * No event is ever lost: a refused tracebuf write or ringbuf.js push (ring full) and a postMessage
 * beyond the flow-control window are retried after {@link backoff}.
 *
 * @packageDocumentation
 */
import { TraceBuffer } from '@tracebuf/core';
import { RingBuffer } from 'ringbuf.js';
import { type MessagePort, parentPort, workerData } from 'node:worker_threads';
import { fillerBytes } from '../common.js';
import {
  POST_BATCH_EVENTS,
  RINGBUF_BATCH_EVENTS,
  START_INDEX,
  StreamVariant,
  backoff,
  copyPayload,
  recordLength,
  type ProducerWorkerData,
  type RunSpec,
  type WorkerReply,
} from '../stream-protocol.js';

const control = new Int32Array((workerData as ProducerWorkerData).control);

function reply(message: WorkerReply): void {
  parentPort!.postMessage(message);
}

function awaitStart(generation: number): void {
  for (;;) {
    const now = Atomics.load(control, START_INDEX);
    if (now === generation) return;
    Atomics.wait(control, START_INDEX, now);
  }
}

/** The payload of producer `producer`: filler bytes; word 0 becomes the sequence number. */
function payloadOf(spec: RunSpec): { payload: Uint8Array; words: Uint32Array } {
  const payload = fillerBytes(spec.payloadLength, 0x1234 + spec.producer);
  return { payload, words: new Uint32Array(payload.buffer) };
}

/** tracebuf: one `write` per event; a refused write (ring full) is retried after a backoff. */
function prepareTracebuf(spec: RunSpec): () => number {
  const tb = TraceBuffer.attach(spec.handle!);
  const p = tb.producer(spec.producer);
  const { payload, words } = payloadOf(spec);
  const events = spec.events;
  return () => {
    let retries = 0;
    for (let i = 0; i < events; i++) {
      words[0] = i;
      if (!p.write(payload)) {
        let round = 0;
        do backoff(round++);
        while (!p.write(payload));
        retries += round;
      }
    }
    p.release();
    return retries;
  };
}

/**
 * tracebuf, batched: 64 payloads gathered in a private array (the same copy as the other
 * batching variants) and written with one `producer.writeMany()`; the rest of a call the ring
 * refused is retried after a backoff. Each event is still stamped by the buffer's clock.
 */
function prepareTracebufMany(spec: RunSpec): () => number {
  const tb = TraceBuffer.attach(spec.handle!);
  const p = tb.producer(spec.producer);
  const { payload } = payloadOf(spec);
  const L = spec.payloadLength;
  const batch = new Uint8Array(RINGBUF_BATCH_EVENTS * L);
  const words = new Uint32Array(batch.buffer);
  const events = spec.events;
  return () => {
    let retries = 0;
    // Each call the full ring cuts short counts one refused write (the buffer counts one drop).
    const flush = (count: number): void => {
      for (let done = 0, round = 0; ; ) {
        done += p.writeMany(done === 0 ? batch : batch.subarray(done * L), L, count - done);
        if (done === count) return;
        retries++;
        backoff(round++);
      }
    };
    let n = 0;
    for (let i = 0; i < events; i++) {
      copyPayload(payload, batch, n * L);
      words[(n * L) >> 2] = i;
      if (++n === RINGBUF_BATCH_EVENTS) {
        flush(n);
        n = 0;
      }
    }
    if (n !== 0) flush(n);
    p.release();
    return retries;
  };
}

/**
 * ringbuf.js: records (payload, + a Float64 `performance.now()` when timestamped) gathered in a
 * private batch of 64 and pushed whole when the ring has room for it.
 */
function prepareRingbuf(spec: RunSpec): () => number {
  const rb = new RingBuffer(spec.ring!, Uint8Array);
  const { payload } = payloadOf(spec);
  const rec = recordLength(spec.payloadLength, spec.timestamps);
  const batch = new Uint8Array(RINGBUF_BATCH_EVENTS * rec);
  const words = new Uint32Array(batch.buffer);
  const times = new Float64Array(batch.buffer);
  const L = spec.payloadLength;
  const events = spec.events;
  const timestamps = spec.timestamps;
  return () => {
    let retries = 0;
    const flush = (length: number): void => {
      let round = 0;
      while (rb.available_write() < length) backoff(round++);
      retries += round;
      rb.push(batch, length);
    };
    let at = 0;
    for (let i = 0; i < events; i++) {
      copyPayload(payload, batch, at);
      words[at >> 2] = i;
      if (timestamps) times[(at + L) >> 3] = performance.now();
      at += rec;
      if (at === batch.length) {
        flush(at);
        at = 0;
      }
    }
    if (at !== 0) flush(at);
    return retries;
  };
}

/** Waits until fewer than `window - count` events are in flight (the consumer acknowledges in `credits`). */
function makeGate(spec: RunSpec): (sent: number, count: number) => number {
  const credits = new Int32Array(spec.credits!);
  const index = spec.producer;
  const window = spec.window!;
  return (sent, count) => {
    let round = 0;
    while (sent + count - Atomics.load(credits, index) > window) backoff(round++);
    return round;
  };
}

/** postMessage of batches of 1024 records in a fresh ArrayBuffer, transferred. */
function preparePostBatch(spec: RunSpec): () => number {
  const port: MessagePort = spec.port!;
  const gate = makeGate(spec);
  const { payload } = payloadOf(spec);
  const rec = recordLength(spec.payloadLength, spec.timestamps);
  const L = spec.payloadLength;
  const events = spec.events;
  const timestamps = spec.timestamps;
  return () => {
    let retries = 0;
    let batch = new Uint8Array(POST_BATCH_EVENTS * rec);
    let words = new Uint32Array(batch.buffer);
    let times = new Float64Array(batch.buffer);
    let at = 0;
    let sent = 0;
    for (let i = 0; i < events; i++) {
      copyPayload(payload, batch, at);
      words[at >> 2] = i;
      if (timestamps) times[(at + L) >> 3] = performance.now();
      at += rec;
      if (at === batch.length || i === events - 1) {
        const count = at / rec;
        retries += gate(sent, count);
        const out = at === batch.length ? batch : batch.subarray(0, at);
        port.postMessage(out, [batch.buffer]);
        sent += count;
        batch = new Uint8Array(POST_BATCH_EVENTS * rec);
        words = new Uint32Array(batch.buffer);
        times = new Float64Array(batch.buffer);
        at = 0;
      }
    }
    return retries;
  };
}

/** postMessage of one record per event (structured clone of the record's Uint8Array). */
function preparePostEvent(spec: RunSpec): () => number {
  const port: MessagePort = spec.port!;
  const gate = makeGate(spec);
  const { payload } = payloadOf(spec);
  const rec = recordLength(spec.payloadLength, spec.timestamps);
  const record = new Uint8Array(rec);
  const words = new Uint32Array(record.buffer);
  const times = new Float64Array(record.buffer);
  const L = spec.payloadLength;
  const events = spec.events;
  const timestamps = spec.timestamps;
  return () => {
    let retries = 0;
    for (let i = 0; i < events; i++) {
      copyPayload(payload, record, 0);
      words[0] = i;
      if (timestamps) times[L >> 3] = performance.now();
      retries += gate(i, 1);
      port.postMessage(record);
    }
    return retries;
  };
}

function prepare(spec: RunSpec): () => number {
  switch (spec.variant) {
    case StreamVariant.TRACEBUF:
      return prepareTracebuf(spec);
    case StreamVariant.TRACEBUF_MANY:
      return prepareTracebufMany(spec);
    case StreamVariant.RINGBUF:
      return prepareRingbuf(spec);
    case StreamVariant.POST_BATCH:
      return preparePostBatch(spec);
    case StreamVariant.POST_EVENT:
      return preparePostEvent(spec);
  }
}

parentPort!.on('message', (spec: RunSpec) => {
  try {
    const run = prepare(spec);
    reply({ kind: 'ready' });
    awaitStart(spec.generation);
    const started = performance.now();
    const retries = run();
    const producerMs = performance.now() - started;
    // (The port stays open: the consumer closes its end once it has every event.)
    reply({ kind: 'done', retries, producerMs });
  } catch (err) {
    reply({ kind: 'error', message: (err as Error).stack ?? String(err) });
  }
});
