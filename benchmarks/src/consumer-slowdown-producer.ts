/**
 * Producer worker of `consumer-slowdown`: attaches the buffer, claims cpu 0, and for each round
 * the main thread starts (`go` word) writes `events` 16-byte payloads as fast as it can, timing
 * itself; posts its own rate (M events/s) and sets the `done` word.
 *
 * @packageDocumentation
 */
import { parentPort, workerData } from 'node:worker_threads';
import { TraceBuffer, type TraceBufferHandle } from '@tracebuf/core';
import { SlowdownWord } from './consumer-slowdown.js';

interface Data {
  readonly handle: TraceBufferHandle;
  readonly control: SharedArrayBuffer;
  readonly events: number;
}

const { handle, control, events } = workerData as Data;
const words = new Int32Array(control);
const p = TraceBuffer.attach(handle).producer(0);
const payload = new Uint8Array(16);
const view = new DataView(payload.buffer);
for (let i = 0; i < 200_000; i++) p.write(payload); // warm-up (the consumer is not running yet)
let round = 0;
for (;;) {
  Atomics.wait(words, SlowdownWord.GO, round);
  round = Atomics.load(words, SlowdownWord.GO);
  if (round < 0) break;
  const started = performance.now();
  for (let i = 0; i < events; i++) {
    view.setUint32(0, i, true);
    p.write(payload);
  }
  const rate = events / (performance.now() - started) / 1e3;
  Atomics.store(words, SlowdownWord.DONE, round);
  Atomics.notify(words, SlowdownWord.DONE);
  parentPort!.postMessage(rate);
}
p.release();
