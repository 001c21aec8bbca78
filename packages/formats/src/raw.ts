/**
 * Raw sub-buffers, the `trace_pipe_raw` stream: each record is one whole sub-buffer in the
 * kernel format, zero-padded to the sub-buffer size. Written straight from the shared memory
 * (GET_READER, then a vectored write of the header, the committed data and zeros), read back
 * into a {@link Capture}.
 *
 * @packageDocumentation
 */
import { closeSync, openSync, writevSync } from 'node:fs';
import { type EventFormat, SubbufReader, type TraceBuffer } from '@tracebuf/core';
import { type Capture, badInput, drainMapping } from './capture.js';

/** What {@link writeRaw} wrote. */
export interface RawWriteResult {
  /** Sub-buffers written. */
  readonly subbufs: number;
  /** Bytes written. */
  readonly bytes: number;
}

/**
 * Writes every sub-buffer CPU buffer `cpu` of `tb` holds now to `fd` (or a path, created or
 * truncated) as `trace_pipe_raw` would hand them out, consuming them. The event data goes from
 * the shared memory to the file with no intermediate copy (`writev` of views).
 */
export function writeRaw(tb: TraceBuffer, cpu: number, target: number | string): RawWriteResult {
  const fd = typeof target === 'number' ? target : openSync(target, 'w');
  const m = tb.mapInternal(cpu);
  let bytes = 0;
  try {
    const reader = new SubbufReader();
    const subbufs = drainMapping(
      m,
      (header, data, padding) => {
        bytes += writevAll(fd, [header, data, padding]);
      },
      reader,
    );
    return { subbufs, bytes };
  } finally {
    m.unmap();
    if (typeof target !== 'number') closeSync(fd);
  }
}

/** writev until every byte is written (a short write continues where it stopped). */
export function writevAll(fd: number, parts: Uint8Array[]): number {
  let total = 0;
  for (const p of parts) total += p.length;
  let left = total;
  let views = parts.filter((p) => p.length > 0);
  while (left > 0) {
    let n = writevSync(fd, views);
    left -= n;
    if (left === 0) break;
    const rest: Uint8Array[] = [];
    for (const v of views) {
      if (n >= v.length) {
        n -= v.length;
        continue;
      }
      rest.push(n > 0 ? v.subarray(n) : v);
      n = 0;
    }
    views = rest;
  }
  return total;
}

/** Options of {@link readRaw}. */
export interface ReadRawOptions {
  /** The sub-buffer size the stream was written with. Default 4096. */
  readonly subbufSize?: number;
  /** The CPU the stream is of (its index in the capture). Default 0. */
  readonly cpu?: number;
  /** Event formats to decode with (e.g. a buffer's `tb.events.formats()`, or the kernel's). */
  readonly formats?: readonly EventFormat[];
  /** The clock name. Default `mono`. */
  readonly clock?: string;
  /** pid → thread name. */
  readonly threads?: ReadonlyMap<number, string>;
}

/**
 * A raw stream (one CPU's `trace_pipe_raw` bytes) as a {@link Capture}. The bytes are not
 * copied; a length that is not a whole number of sub-buffers is `EINVAL` naming where the
 * truncated one starts (checked when the capture is walked, with every other check).
 */
export function readRaw(bytes: Uint8Array, options: ReadRawOptions = {}): Capture {
  const subbufSize = options.subbufSize ?? 4096;
  if (!Number.isInteger(subbufSize) || subbufSize < 4096 || subbufSize > 1 << 20 || (subbufSize & (subbufSize - 1)) !== 0) {
    badInput(`subbufSize ${String(subbufSize)} is not a power of two in 4096..1048576`, 0);
  }
  const cpu = options.cpu ?? 0;
  if (!Number.isInteger(cpu) || cpu < 0 || cpu > 4095) badInput(`cpu ${String(cpu)} is not an integer 0..4095`, 0);
  const cpus = Array.from({ length: cpu + 1 }, (_, i) => ({ bytes: i === cpu ? bytes : new Uint8Array(0), fileOffset: 0 }));
  return { subbufSize, clock: options.clock ?? 'mono', formats: options.formats ?? [], threads: options.threads ?? new Map(), cpus };
}
