// A consumer worker that is handed only a control-channel port — no TraceBuffer handle — and
// reads a buffer through it: the owner (this main thread) keeps the TraceBuffer and serves map,
// GET_READER, waits and stats with comlink; the worker reads the shared sub-buffers in place.
//
// Run: node examples/comlink-consumer.mjs   (after `npm run build` at the repository root)
import { MessageChannel, Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { SubbufReader, TRACE_MMAP_IOCTL_GET_READER, TraceBuffer } from '@tracebuf/core';
import { connectControl, exposeControl } from '@tracebuf/node';

const LINES = 12;

if (isMainThread) {
  // Owner: creates the buffer, exposes its control channel, and writes log lines.
  const tb = TraceBuffer.create({ cpus: 1, subbufSize: 4096, nrSubbufs: 8, bufferPercent: 0 });
  const { port1, port2 } = new MessageChannel();
  const dispose = exposeControl(tb, port1);
  const worker = new Worker(new URL(import.meta.url), { workerData: { port: port2 }, transferList: [port2] });
  worker.once('error', (err) => {
    console.error('consumer failed:', err);
    process.exitCode = 1;
  });

  await new Promise((resolve) => worker.once('message', resolve)); // the consumer has mapped cpu 0
  const p = tb.producer(0);
  const encoder = new TextEncoder();
  for (let i = 1; i <= LINES; i++) {
    p.write(encoder.encode(`line ${i} of ${LINES} from the owner`));
    await new Promise((resolve) => setImmediate(resolve)); // let the owner serve the consumer
  }
  p.release();

  const { read } = await new Promise((resolve) => worker.once('message', resolve));
  await new Promise((resolve) => worker.once('exit', resolve)); // its output is flushed by then
  console.log(`owner: the consumer read ${read} of ${LINES} lines; owner stats:`, tb.stats(0));
  dispose();
} else {
  // Consumer: only a MessagePort. Every state change runs in the owner's thread.
  const client = connectControl(workerData.port);
  const m = await client.map(0);
  parentPort.postMessage('mapped');

  const reader = new SubbufReader();
  const decoder = new TextDecoder();
  let read = 0;
  let lastId = m.readerId;
  let lastRead = m.readerRead;
  while (read < LINES) {
    // bufferPercent 0: wakes as soon as there is data (the wait runs in the owner).
    await m.waitAsync({ timeoutMs: 1000 });
    await m.ioctl(TRACE_MMAP_IOCTL_GET_READER);
    const { id, read: upTo } = m.meta.reader;
    if (id === lastId && upTo === lastRead) continue;
    reader.load(m.bytes, m.subbufOffset(id), id === lastId ? lastRead : 0, upTo);
    while (reader.next()) {
      const payload = m.bytes.subarray(reader.payloadOffset, reader.payloadOffset + reader.payloadLength);
      // Payloads are padded to 4 bytes: drop the trailing zeros.
      console.log(`consumer: [${reader.timestamp} ns] ${decoder.decode(payload).replace(/\0+$/, '')}`);
      read++;
    }
    lastId = id;
    lastRead = upTo;
  }
  const stats = await client.stats(0);
  console.log(`consumer: stats through the channel: ${stats.readEvents} read, ${stats.entries} unread`);
  await m.unmap();
  client.close();
  parentPort.postMessage({ read });
}
