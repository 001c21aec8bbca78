/**
 * Recording a buffer to trace.dat over time, as `trace-cmd record` does: while the buffer runs,
 * {@link TraceDatRecorder.drain} moves what every CPU buffer holds to a per-CPU file
 * (GET_READER, then a vectored write straight from the shared memory); at the end
 * {@link TraceDatRecorder.finish} writes the trace.dat header and appends each CPU's file.
 *
 * @packageDocumentation
 */
import { closeSync, fstatSync, mkdtempSync, openSync, readSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Mapping, SubbufReader, type TraceBuffer, followSlots } from '@tracebuf/core';
import { drainMapping } from './capture.js';
import { writevAll } from './raw.js';
import { traceDatHeader } from './tracedat.js';

/** What a recorder has moved so far. */
export interface RecordProgress {
  /** Sub-buffers written, all CPUs. */
  readonly subbufs: number;
  /** Bytes written, all CPUs. */
  readonly bytes: number;
}

/** Records one buffer (or snapshot) into a trace.dat. */
export class TraceDatRecorder {
  readonly #tb: TraceBuffer;
  readonly #dir: string;
  readonly #fds: number[];
  readonly #mappings: Mapping[];
  readonly #reader = new SubbufReader();
  #subbufs = 0;
  #bytes = 0;
  #open = true;

  /** Maps every CPU buffer of `tb` (tracebuf's own consumer mappings) and opens the per-CPU files. */
  constructor(tb: TraceBuffer) {
    this.#tb = tb;
    this.#dir = mkdtempSync(join(tmpdir(), 'tracebuf-record-'));
    this.#fds = [];
    this.#mappings = [];
    try {
      this.#follow();
    } catch (err) {
      this.#close();
      throw err;
    }
  }

  /** Maps and opens a file for each slot that came online since (threads beyond the slots). */
  #follow(): void {
    followSlots(this.#tb, this.#mappings, (m) => {
      try {
        this.#fds.push(openSync(join(this.#dir, `cpu${this.#fds.length}.raw`), 'w+'));
      } catch (err) {
        m.unmap();
        throw err;
      }
      return m;
    });
  }

  /** Moves what every CPU buffer holds now to the per-CPU files (consuming it). */
  drain(): RecordProgress {
    this.#follow();
    for (const [cpu, m] of this.#mappings.entries()) {
      const fd = this.#fds[cpu]!;
      this.#subbufs += drainMapping(
        m,
        (header, data, padding) => {
          this.#bytes += writevAll(fd, [header, data, padding]);
        },
        this.#reader,
      );
    }
    return this.progress;
  }

  /** What was moved so far. */
  get progress(): RecordProgress {
    return { subbufs: this.#subbufs, bytes: this.#bytes };
  }

  /**
   * Drains a last time and writes the trace.dat to `path`: the header (event formats, thread
   * names, clock) and each CPU's sub-buffers. Unmaps and removes the per-CPU files.
   */
  finish(path: string): RecordProgress {
    try {
      this.drain();
      const tb = this.#tb;
      const sizes = this.#fds.map((fd) => fstatSync(fd).size);
      const { header, offsets } = traceDatHeader({ subbufSize: tb.geometry(0).subbufSize, clock: tb.config.clock, formats: tb.events.formats(), threads: tb.events.threads() }, sizes);
      const out = openSync(path, 'w');
      try {
        writeSync(out, header);
        const chunk = Buffer.allocUnsafe(1 << 20);
        for (const [cpu, fd] of this.#fds.entries()) {
          if (sizes[cpu] === 0) continue;
          let at = offsets[cpu]!;
          for (let from = 0; from < sizes[cpu]!; ) {
            const n = readSync(fd, chunk, 0, chunk.length, from);
            if (n === 0) break;
            writeSync(out, chunk, 0, n, at);
            from += n;
            at += n;
          }
        }
      } finally {
        closeSync(out);
      }
      return this.progress;
    } finally {
      this.#close();
    }
  }

  /** Unmaps, closes and removes the per-CPU files without writing a trace.dat. */
  abort(): void {
    this.#close();
  }

  #close(): void {
    if (!this.#open) return;
    this.#open = false;
    for (const m of this.#mappings) m.unmap();
    for (const fd of this.#fds) closeSync(fd);
    rmSync(this.#dir, { recursive: true, force: true });
  }
}

/**
 * Writes everything `tb` (a live buffer or a snapshot) holds now to a trace.dat at `path`,
 * consuming it. `trace-cmd report <path>` prints it; KernelShark opens it.
 */
export function exportTraceDat(tb: TraceBuffer, path: string): RecordProgress {
  return new TraceDatRecorder(tb).finish(path);
}
