/**
 * More logging threads than cpu slots: when every slot of a buffer is taken, a thread that starts
 * logging brings a ring of its own online — a one-slot buffer with the same geometry, clock and
 * mode, as the kernel allocates a CPU buffer when a CPU comes online — and announces its handle on
 * a BroadcastChannel named after the buffer. The buffer's `LogConsumer` listens there and merges
 * the new ring's records into its stream (by absolute time: each ring has its own time base).
 *
 * @packageDocumentation
 */
import { BroadcastChannel } from 'node:worker_threads';
import { TraceBuffer, type TraceBufferHandle, layout } from '@tracebuf/core';

/** The channel on which rings brought online for `tb` are announced (one name per buffer in a process). */
export function overflowChannelName(tb: TraceBuffer): string {
  const created = new Float64Array(tb.handle.global)[layout.CREATED_HR_F64_INDEX]!;
  return `tracebuf-log:${process.pid}:${created}`;
}

/** What an announcement carries. */
export interface OverflowAnnouncement {
  readonly kind: 'tracebuf-log-ring';
  readonly handle: TraceBufferHandle;
}

/**
 * Brings a ring online for this thread: a one-slot buffer like `tb`, announced to `tb`'s
 * consumer. Returns it; the caller writes through its `threadProducer()`.
 */
export function onlineRing(tb: TraceBuffer): TraceBuffer {
  const c = tb.config;
  const g = tb.geometry(0);
  const ring = TraceBuffer.create({ cpus: 1, subbufSize: g.subbufSize, nrSubbufs: g.nrSubbufs, overwrite: c.overwrite, clock: c.clock, bufferPercent: c.bufferPercent });
  const channel = new BroadcastChannel(overflowChannelName(tb));
  channel.postMessage({ kind: 'tracebuf-log-ring', handle: ring.handle } satisfies OverflowAnnouncement);
  channel.close();
  return ring;
}
