/**
 * Differential harness: runs one write/drain script against the real kernel (through the native
 * probe, `../native/kernel-probe.c`) and against tracebuf, and reduces both runs to the same
 * comparable record of what every GET_READER call handed out.
 *
 * The script: write events with payloads of the given lengths on one CPU buffer (payload bytes
 * 8..11 = the 1-based sequence number, as the probe writes them), and drain — GET_READER until a
 * call hands out nothing new — every `drainEvery` writes and once at the end.
 */
import {
  LOST_EVENTS_UNKNOWN,
  type Mapping,
  RB_MISSED_STORED,
  SubbufReader,
  TRACE_MMAP_IOCTL_GET_READER,
  TraceBuffer,
} from '@tracebuf/core';

// -------------------------------------------------------------------------------------------------
// The probe module (plain ESM JavaScript without declarations): its API, typed here.
// -------------------------------------------------------------------------------------------------

/** What `runKernelProbe` takes (see the header of kernel-probe.c). */
export interface KernelProbeSpec {
  subbuf_kb: number;
  buffer_size_kb: number;
  overwrite: 0 | 1;
  payload_lengths: readonly number[];
  drain_every: number;
  timeout_ms?: number;
}

/** One GET_READER call that handed out something new, as the probe reports it. */
export interface KernelProbeCall {
  after_writes: number;
  id: number;
  read: number;
  same_id: number;
  start: number;
  commit_raw: string;
  commit_len: number;
  missed: number;
  stored: number;
  lost: number | null;
  events: number;
  first_seq: number | null;
  last_seq: number | null;
  lengths: number[];
  seqs: number[];
  extends: number;
  abs_stamps: number;
  discards: number;
  entries: number;
  overrun: number;
  meta_read: number;
  lost_events: number;
}

interface KernelProbeMeta {
  entries: number;
  overrun: number;
  read: number;
  lost_events: number;
  reader_id: number;
  reader_read: number;
}

interface KernelProbeStats {
  entries: number;
  overrun: number;
  commit_overrun: number;
  bytes: number;
  dropped_events: number;
  read_events: number;
}

/** The probe's JSON (the fields this harness uses). */
export interface KernelProbeResult {
  kernel: string;
  cpu: number;
  subbuf_size: number;
  nr_subbufs: number;
  meta_page_size: number;
  meta_initial: KernelProbeMeta;
  writes: { requested: number; ok: number; failed: number; errnos: Record<string, number>; failed_seqs: [number, number][] };
  calls: KernelProbeCall[];
  empty_calls: number;
  meta: KernelProbeMeta;
  stats_before: KernelProbeStats;
  stats: KernelProbeStats;
  checks: { pid_mismatch: number; length_mismatch: number; seq_gaps: number; read_ne_commit: number };
}

/** The probe module's exports. */
export interface KernelProbeModule {
  kernelProbeAvailable(): { ok: boolean; reason: string };
  runKernelProbe(spec: KernelProbeSpec): Promise<KernelProbeResult>;
  KernelProbeUnavailableError: new (reason: string) => Error & { skip: true; reason: string };
  KernelSettingRefusedError: new (reason: string) => Error & { skip: true; reason: string };
  probeFailure(code: number | null, signal: string | null, stderr: string): Error | null;
}

/** Loads `../native/kernel-probe.mjs` (which compiles the probe on first use). */
export async function loadKernelProbe(): Promise<KernelProbeModule> {
  const url = new URL('../native/kernel-probe.mjs', import.meta.url).href;
  return (await import(url)) as KernelProbeModule;
}

// -------------------------------------------------------------------------------------------------
// The comparable record
// -------------------------------------------------------------------------------------------------

/** One GET_READER call that handed out something new. */
export interface CallRecord {
  /** Writes attempted before the call. */
  afterWrites: number;
  /** `meta.reader.id` after the call. */
  id: number;
  /** `meta.reader.read` after the call. */
  read: number;
  /** Data offset where the new range starts (the previous `read` if the id is unchanged). */
  start: number;
  /** The 8-byte commit field of the reader sub-buffer, as 16 hex digits. */
  commitRaw: string;
  /** Commit length (low 30 bits). */
  commitLength: number;
  /** Bit 31: events were lost before this sub-buffer. */
  missed: boolean;
  /** Bit 30: the lost count is stored after the data. */
  stored: boolean;
  /** The stored lost count, or null when none is stored. */
  lost: number | null;
  /** Data events in [start, read). */
  events: number;
  firstSeq: number | null;
  lastSeq: number | null;
  /** Sequence number of every data event handed out. */
  seqs: number[];
  /** Reader-side payload length of every data event (4·type_len, or array[0] − 4). */
  lengths: number[];
  /** Meta page counters after the call. */
  entries: number;
  overrun: number;
  metaRead: number;
  lostEvents: number;
}

/** The `per_cpu/cpuN/stats` fields both sides have. */
export interface StatsRecord {
  entries: number;
  overrun: number;
  commitOverrun: number;
  bytes: number;
  droppedEvents: number;
  readEvents: number;
}

/** The meta page counters. */
export interface MetaRecord {
  entries: number;
  overrun: number;
  read: number;
  lostEvents: number;
  readerId: number;
  readerRead: number;
}

/** Everything compared between the kernel and tracebuf for one script. */
export interface Observation {
  nrSubbufs: number;
  metaInitial: MetaRecord;
  writes: { ok: number; failed: number; failedSeqs: [number, number][] };
  calls: CallRecord[];
  emptyCalls: number;
  meta: MetaRecord;
  statsBeforeDrain: StatsRecord;
  stats: StatsRecord;
}

/** Reduces the probe's JSON to an {@link Observation}. */
export function observeKernel(r: KernelProbeResult): Observation {
  const meta = (m: KernelProbeMeta): MetaRecord => ({
    entries: m.entries,
    overrun: m.overrun,
    read: m.read,
    lostEvents: m.lost_events,
    readerId: m.reader_id,
    readerRead: m.reader_read,
  });
  const stats = (s: KernelProbeStats): StatsRecord => ({
    entries: s.entries,
    overrun: s.overrun,
    commitOverrun: s.commit_overrun,
    bytes: s.bytes,
    droppedEvents: s.dropped_events,
    readEvents: s.read_events,
  });
  return {
    nrSubbufs: r.nr_subbufs,
    metaInitial: meta(r.meta_initial),
    writes: { ok: r.writes.ok, failed: r.writes.failed, failedSeqs: r.writes.failed_seqs },
    calls: r.calls.map((c) => ({
      afterWrites: c.after_writes,
      id: c.id,
      read: c.read,
      start: c.start,
      commitRaw: c.commit_raw.replace(/^0x/, ''),
      commitLength: c.commit_len,
      missed: c.missed !== 0,
      stored: c.stored !== 0,
      lost: c.lost,
      events: c.events,
      firstSeq: c.first_seq,
      lastSeq: c.last_seq,
      seqs: c.seqs,
      lengths: c.lengths,
      entries: c.entries,
      overrun: c.overrun,
      metaRead: c.meta_read,
      lostEvents: c.lost_events,
    })),
    emptyCalls: r.empty_calls,
    meta: meta(r.meta),
    statsBeforeDrain: stats(r.stats_before),
    stats: stats(r.stats),
  };
}

/** Time events (TIME_EXTEND / TIME_STAMP) the kernel put into the handed-out ranges. */
export function kernelTimeEvents(r: KernelProbeResult): number {
  return r.calls.reduce((n, c) => n + c.extends + c.abs_stamps, 0);
}

// -------------------------------------------------------------------------------------------------
// The same script on tracebuf
// -------------------------------------------------------------------------------------------------

/** Byte offset of the 8-byte `commit` field in a sub-buffer (kernel `struct buffer_data_page`). */
const COMMIT_FIELD_OFFSET = 8;
/** Payload byte offset of the sequence number (after the kernel's 8-byte `struct trace_entry`). */
const SEQ_OFFSET = 8;

/** A payload of `length` bytes carrying `seq` at bytes 8..11, as the probe's raw markers do. */
export function seqPayload(length: number, seq: number): Uint8Array {
  const p = new Uint8Array(length);
  for (let i = 0; i < length; i++) p[i] = (seq + i) & 0xff;
  new DataView(p.buffer).setUint32(SEQ_OFFSET, seq >>> 0, true);
  return p;
}

function metaRecord(m: Mapping): MetaRecord {
  const meta = m.meta;
  return {
    entries: meta.entries,
    overrun: meta.overrun,
    read: meta.read,
    lostEvents: meta.reader.lostEvents,
    readerId: meta.reader.id,
    readerRead: meta.reader.read,
  };
}

function statsRecord(tb: TraceBuffer): StatsRecord {
  const s = tb.stats(0);
  return {
    entries: s.entries,
    overrun: s.overrun,
    commitOverrun: s.commitOverrun,
    bytes: s.bytes,
    droppedEvents: s.droppedEvents,
    readEvents: s.readEvents,
  };
}

function hex32(v: number): string {
  return (v >>> 0).toString(16).padStart(8, '0');
}

/** Consumer state between GET_READER calls (kernel-semantics §5.6). */
interface DrainState {
  id: number;
  read: number;
  emptyCalls: number;
  /** Set when a data event does not start where the previous one ended (a hidden time event). */
  gaps: number;
}

function drainOurs(m: Mapping, afterWrites: number, st: DrainState, calls: CallRecord[], r: SubbufReader): void {
  const view = new DataView(m.bytes.buffer, m.bytes.byteOffset, m.bytes.byteLength);
  for (;;) {
    const rc = m.ioctl(TRACE_MMAP_IOCTL_GET_READER);
    if (rc !== 0) throw new Error(`GET_READER returned ${rc}`);
    const meta = m.meta;
    const { id, read } = meta.reader;
    const same = id === st.id;
    if (same && read === st.read) {
      st.emptyCalls++;
      return;
    }
    const start = same && read > st.read ? st.read : 0;
    const base = m.subbufOffset(id);
    const commitLow = view.getUint32(base + COMMIT_FIELD_OFFSET, true);
    const commitHigh = view.getUint32(base + COMMIT_FIELD_OFFSET + 4, true);
    r.load(m.bytes, base, start, read);
    const seqs: number[] = [];
    const lengths: number[] = [];
    let expectedOffset = start;
    while (r.next()) {
      if (r.eventOffset !== expectedOffset) st.gaps++;
      expectedOffset = r.eventOffset + r.eventLength;
      seqs.push(view.getUint32(r.payloadOffset + SEQ_OFFSET, true));
      lengths.push(r.payloadLength);
    }
    const stored = (commitLow & RB_MISSED_STORED) !== 0;
    calls.push({
      afterWrites,
      id,
      read,
      start,
      commitRaw: hex32(commitHigh) + hex32(commitLow),
      commitLength: r.commitLength,
      missed: r.missedEvents,
      stored,
      lost: r.missedEvents && stored && r.lostEvents !== LOST_EVENTS_UNKNOWN ? r.lostEvents : null,
      events: seqs.length,
      firstSeq: seqs.length > 0 ? seqs[0]! : null,
      lastSeq: seqs.length > 0 ? seqs[seqs.length - 1]! : null,
      seqs,
      lengths,
      entries: meta.entries,
      overrun: meta.overrun,
      metaRead: meta.read,
      lostEvents: meta.reader.lostEvents,
    });
    st.id = id;
    st.read = read;
  }
}

/** The script of one case. */
export interface Script {
  subbufSize: number;
  nrSubbufs: number;
  overwrite: boolean;
  lengths: readonly number[];
  drainEvery: number;
}

/**
 * Runs the script on a fresh one-CPU tracebuf: map before writing, write, drain at the same
 * points as the probe. Uses the `counter` clock so that no delta ever needs a TIME_EXTEND (the
 * kernel run is retried or skipped when its clock inserted one). Returns the observation and the
 * number of data events that did not start where the previous one ended (must be 0).
 */
export function observeTraceBuffer(s: Script): { observation: Observation; gaps: number } {
  const tb = TraceBuffer.create({
    cpus: 1,
    subbufSize: s.subbufSize,
    nrSubbufs: s.nrSubbufs,
    overwrite: s.overwrite,
    clock: 'counter',
  });
  const m = tb.map(0);
  const p = tb.producer(0);
  try {
    const metaInitial = metaRecord(m);
    const st: DrainState = { id: metaInitial.readerId, read: metaInitial.readerRead, emptyCalls: 0, gaps: 0 };
    const calls: CallRecord[] = [];
    const reader = new SubbufReader();
    const failedSeqs: [number, number][] = [];
    let ok = 0;
    let failed = 0;
    for (let i = 0; i < s.lengths.length; i++) {
      const seq = i + 1;
      if (p.write(seqPayload(s.lengths[i]!, seq))) {
        ok++;
      } else {
        failed++;
        const last = failedSeqs[failedSeqs.length - 1];
        if (last !== undefined && last[1] + 1 === seq) last[1] = seq;
        else failedSeqs.push([seq, seq]);
      }
      if (s.drainEvery > 0 && seq % s.drainEvery === 0) drainOurs(m, seq, st, calls, reader);
    }
    const statsBeforeDrain = statsRecord(tb);
    drainOurs(m, s.lengths.length, st, calls, reader);
    return {
      observation: {
        nrSubbufs: m.nrSubbufs,
        metaInitial,
        writes: { ok, failed, failedSeqs },
        calls,
        emptyCalls: st.emptyCalls,
        meta: metaRecord(m),
        statsBeforeDrain,
        stats: statsRecord(tb),
      },
      gaps: st.gaps,
    };
  } finally {
    p.release();
    m.unmap();
  }
}

// -------------------------------------------------------------------------------------------------
// Comparing
// -------------------------------------------------------------------------------------------------

function show(v: unknown): string {
  const s = JSON.stringify(v);
  return s.length > 400 ? `${s.slice(0, 400)}…` : s;
}

/**
 * The first place where two observations differ, as a readable message naming the path, both
 * values and (for a call) both whole call records; null when they are equal.
 */
export function firstDifference(kernel: Observation, ours: Observation): string | null {
  const walk = (k: unknown, o: unknown, path: string): string | null => {
    if (Array.isArray(k) && Array.isArray(o)) {
      for (let i = 0; i < Math.min(k.length, o.length); i++) {
        const d = walk(k[i], o[i], `${path}[${i}]`);
        if (d !== null) return d;
      }
      return k.length === o.length ? null : `${path}.length: kernel=${k.length} ours=${o.length}`;
    }
    if (k !== null && o !== null && typeof k === 'object' && typeof o === 'object') {
      for (const key of Object.keys(k)) {
        const d = walk((k as Record<string, unknown>)[key], (o as Record<string, unknown>)[key], `${path}.${key}`);
        if (d !== null) return d;
      }
      return null;
    }
    return Object.is(k, o) ? null : `${path}: kernel=${show(k)} ours=${show(o)}`;
  };
  const d = walk(kernel, ours, 'observation');
  if (d === null) return null;
  const call = /^observation\.calls\[(\d+)\]/.exec(d);
  if (call === null) return d;
  const i = Number(call[1]);
  const brief = (c: CallRecord | undefined): string =>
    c === undefined ? 'none' : show({ ...c, seqs: `${c.seqs.length} seqs`, lengths: `${c.lengths.length} lengths` });
  return `${d}\n  kernel call: ${brief(kernel.calls[i])}\n  ours call:   ${brief(ours.calls[i])}`;
}

// -------------------------------------------------------------------------------------------------
// Payload length mixes
// -------------------------------------------------------------------------------------------------

/** `n` copies of `pattern`, concatenated. */
export function repeat(pattern: readonly number[], n: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push(...pattern);
  return out;
}

/** `count` lengths cycling through `pattern`. */
export function cycle(pattern: readonly number[], count: number): number[] {
  return Array.from({ length: count }, (_, i) => pattern[i % pattern.length]!);
}

/** Payload length of a data event occupying exactly `eventBytes` (kernel-semantics §2.3), ≥ 12 only. */
export function payloadForEvent(eventBytes: number): number {
  if (eventBytes % 4 !== 0 || eventBytes < 16) throw new RangeError(`no marker event of ${eventBytes} bytes`);
  // Short form up to 116 bytes (4 + 112), long form above (8 + payload).
  return eventBytes <= 116 ? eventBytes - 4 : eventBytes - 8;
}

/**
 * Lengths that fill one sub-buffer data area of `dataSize` bytes up to `dataSize − spare` with
 * 112-byte events (payload 108) and one filler event; the first event of the next repetition
 * then leaves `spare` bytes: 0 = exactly full, 4 = null padding, 8 = an 8-byte padding event.
 */
export function pageFill(dataSize: number, spare: number): number[] {
  const target = dataSize - spare;
  let n = Math.floor(target / 112);
  let rest = target - n * 112;
  if (rest !== 0 && rest < 16) {
    n--;
    rest += 112;
  }
  const out = Array<number>(n).fill(108);
  if (rest !== 0) out.push(payloadForEvent(rest));
  return out;
}

/** mulberry32: a small seeded PRNG (uniform in [0, 1)). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * `count` random payload lengths: mostly around the short/long boundary (12..130), some medium
 * (131..700), a few large (701..`max`).
 */
export function randomLengths(seed: number, count: number, max: number): number[] {
  const rnd = prng(seed);
  const pick = (lo: number, hi: number): number => lo + Math.floor(rnd() * (hi - lo + 1));
  return Array.from({ length: count }, () => {
    const u = rnd();
    if (u < 0.7) return pick(12, 130);
    if (u < 0.95) return pick(131, 700);
    return pick(701, max);
  });
}
