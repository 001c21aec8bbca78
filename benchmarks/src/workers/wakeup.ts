/**
 * Worker of the wake-up latency benchmark: the producer (writes until its commit wakes the
 * consumer), or a consumer blocked in `mapping.wait()`, per `workerData.role`. The round
 * protocol is in `wakeup-protocol.ts`.
 *
 * @packageDocumentation
 */
import { TraceBuffer } from '@tracebuf/core';
import { parentPort, workerData } from 'node:worker_threads';
import { Sync, Times, WakeupConsumer, awaitWord, produceWakeups, signalWord, type WakeupWorkerData } from '../wakeup-protocol.js';

const data = workerData as WakeupWorkerData;
const tb = TraceBuffer.attach(data.handle);
const sync = new Int32Array(data.sync);
const times = new Float64Array(data.times);

// An exception ends the worker; the main thread sees it as the worker's 'error' event.
parentPort!.postMessage('ready');
if (data.role === 'producer') {
  produceWakeups(tb, data.scenario, sync, times);
} else {
  const consumer = new WakeupConsumer(tb, data.scenario, sync, times);
  for (let round = 1; ; round++) {
    awaitWord(sync, Sync.GO, round);
    times[Times.LATENCY] = consumer.roundSync(round);
    times[Times.WRITE_NS_COPY] = times[Times.WRITE_NS]!;
    signalWord(sync, Sync.DONE, round);
  }
}
