/**
 * What the cross-thread stream benchmarks (`one-to-one`, `n-to-one`) share between the main
 * thread (the consumer) and the producer workers (`workers/stream-producer.js`): the variants,
 * the per-run message, the record layout of the baselines, the payload copy and the backoff.
 *
 * @packageDocumentation
 */
import type { TraceBufferHandle } from '@tracebuf/core';
import type { MessagePort } from 'node:worker_threads';

/** The transports measured side by side. */
export const StreamVariant = {
  /** `producer.write(payload)` per event into tracebuf (producer/consumer mode), GET_READER + SubbufReader on the consumer. */
  TRACEBUF: 'tracebuf write/event',
  /** `producer.writeMany(records, length)` of 64 events at a time (issue 8's batched write), same consumer. */
  TRACEBUF_MANY: 'tracebuf writeMany ×64',
  /** ringbuf.js `RingBuffer` (SPSC, Uint8Array over a SharedArrayBuffer), pushes of 64 events. */
  RINGBUF: 'ringbuf.js SPSC ×64',
  /** `port.postMessage(batch, [batch.buffer])` of 1024 events in a fresh typed array. */
  POST_BATCH: 'postMessage ×1024 transfer',
  /** `port.postMessage(record)` per event (structured clone of a small Uint8Array). */
  POST_EVENT: 'postMessage/event',
} as const;
/** One of {@link StreamVariant}. */
export type StreamVariantName = (typeof StreamVariant)[keyof typeof StreamVariant];

/** Events per ringbuf.js push. */
export const RINGBUF_BATCH_EVENTS = 64;
/** Events per transferred postMessage batch. */
export const POST_BATCH_EVENTS = 1024;
/** Bytes of shared ring per producer, for every variant (tracebuf: 256 sub-buffers of 4 KiB). */
export const RING_BYTES = 1 << 20;
/** tracebuf sub-buffer size. */
export const SUBBUF_SIZE = 4096;
/** tracebuf sub-buffers per cpu (incl. the reader one): 256 × 4 KiB = {@link RING_BYTES}. */
export const NR_SUBBUFS = RING_BYTES / SUBBUF_SIZE;
/** Bytes of the timestamp the baselines append to each record in timestamped mode (a Float64). */
export const TIMESTAMP_LENGTH = 8;

/** Index of the start generation in the shared control words (workers wait on it). */
export const START_INDEX = 0;
/** Int32 words of the shared control block. */
export const CONTROL_WORDS = 16;

/** Sent to a producer worker for each run. */
export interface RunSpec {
  readonly kind: 'run';
  readonly variant: StreamVariantName;
  /** Producer number 0..N-1 (its cpu slot / ring / port). */
  readonly producer: number;
  readonly payloadLength: number;
  /** Baselines take a `performance.now()` per event; tracebuf's buffer then has clock 'mono'. */
  readonly timestamps: boolean;
  /** Events this producer writes. */
  readonly events: number;
  /** The worker starts when the control block's START_INDEX word equals this. */
  readonly generation: number;
  /** tracebuf: the buffer to attach. */
  readonly handle?: TraceBufferHandle;
  /** ringbuf.js: the ring's SharedArrayBuffer. */
  readonly ring?: SharedArrayBuffer;
  /** postMessage variants: where to post. */
  readonly port?: MessagePort;
  /** postMessage variants: Int32 per producer, events the consumer has received (flow control). */
  readonly credits?: SharedArrayBuffer;
  /** postMessage variants: events allowed in flight (the ring's capacity in records). */
  readonly window?: number;
}

/** A producer worker's reply once it is set up for the run. */
export interface ReadyMessage {
  readonly kind: 'ready';
}

/** A producer worker's reply after its last event. */
export interface DoneMessage {
  readonly kind: 'done';
  /** Refused writes/pushes (ring full) or waits for credits, i.e. times the producer backed off. */
  readonly retries: number;
  /** The producer's own time from start to its last write, ms. */
  readonly producerMs: number;
}

/** A producer worker's reply when the run failed. */
export interface ErrorMessage {
  readonly kind: 'error';
  readonly message: string;
}

/** Any reply of a producer worker. */
export type WorkerReply = ReadyMessage | DoneMessage | ErrorMessage;

/** `workerData` of a producer worker. */
export interface ProducerWorkerData {
  /** The shared control words (Int32Array over it). */
  readonly control: SharedArrayBuffer;
}

/** Bytes of one record in the baselines: the payload, plus a Float64 timestamp in timestamped mode. */
export function recordLength(payloadLength: number, timestamps: boolean): number {
  return payloadLength + (timestamps ? TIMESTAMP_LENGTH : 0);
}

/**
 * Largest payload copied element by element; longer ones with `Uint8Array.set` — the threshold of
 * `Producer.write` (which copies those short payloads as whole words; the streams here carry 16 and
 * 128 bytes, which both sides copy with `set`).
 */
export const BYTE_LOOP_MAX_LENGTH = 12;

/**
 * Copies `payload` to `dst` at byte `at` with `Producer.write`'s threshold (element copy up to
 * {@link BYTE_LOOP_MAX_LENGTH} bytes, `Uint8Array.set` above), so the baselines' copy costs what
 * tracebuf's does.
 */
export function copyPayload(payload: Uint8Array, dst: Uint8Array, at: number): void {
  const length = payload.length;
  if (length <= BYTE_LOOP_MAX_LENGTH) {
    for (let i = 0; i < length; i++) dst[at + i] = payload[i]!;
  } else {
    dst.set(payload, at);
  }
}

/** Spins (retries at once) this many times before each backoff sleeps. */
export const SPIN_ROUNDS = 64;
/** How long one backoff sleep asks for, ms (Linux makes it ~50–100 µs with timer slack). */
export const SLEEP_MS = 0.02;

const sleepWord = new Int32Array(new SharedArrayBuffer(4));

/**
 * The one backoff every spinning side uses (a producer facing a full ring or no credits, a
 * polling consumer facing empty rings): retry at once for {@link SPIN_ROUNDS} rounds, then sleep
 * {@link SLEEP_MS} per round with `Atomics.wait` on a private word — which gives the core away,
 * the only way a spinning JS thread can on a machine with fewer cores than threads.
 */
export function backoff(round: number): void {
  if (round >= SPIN_ROUNDS) Atomics.wait(sleepWord, 0, 0, SLEEP_MS);
}
