/**
 * Resizing a CPU buffer in place (kernel `ring_buffer_resize`: `rb_insert_pages` /
 * `rb_remove_pages`), keeping its contents. Ids stay the sub-buffers' physical indexes 0..n-1,
 * so a shrink moves the survivors whose id is too large into the freed low ids; nothing maps the
 * buffer meanwhile (a resize of a mapped CPU is `EBUSY`), so the move is invisible.
 *
 * @packageDocumentation
 */
import { read64, write64 } from './counters.js';
import type { CpuBuffer } from './cpu-buffer.js';
import {
  BASE_PAGE_INDEX,
  COMMIT_LENGTH_MASK,
  ENTRIES_BYTES_BASE_INDEX,
  HEAD_PAGE_INDEX,
  NR_SUBBUFS_INDEX,
  OVERRUN_INDEX,
  PAGES_INDEX,
  PAGES_LOST_INDEX,
  PAGE_FLAG_MASK,
  PageFlag,
  READER_PAGE_INDEX,
  SUBBUF_COMMIT_OFFSET,
  TAIL_PAGE_INDEX,
  linkGen,
  linkId,
  makeLink,
} from './layout.js';

/** The id the ring link `from → ?` points to. */
function nextOf(cb: CpuBuffer, from: number): number {
  return linkId(cb.link, Atomics.load(cb.ctl, cb.nextBase + from));
}


/**
 * Adds sub-buffers `n..m-1` to the ring, just before the head (between the tail and the head:
 * free space the producer reaches next). The data memory must already be large enough and the
 * caller holds the reader lock with producers shut out. `cb` has the old geometry.
 */
export function growRing(cb: CpuBuffer, m: number): void {
  const ctl = cb.ctl;
  const n = cb.nrSubbufs;
  const size = cb.subbufSize;
  new Uint8Array(cb.data, (n + 1) * size, (m - n) * size).fill(0);
  const head = cb.headPage();
  const before = ctl[cb.prevBase + head]!;
  for (let id = n; id < m; id++) {
    ctl[cb.entriesBase + id] = 0;
    ctl[cb.realEndBase + id] = 0;
    ctl[cb.prevBase + id] = id === n ? before : id - 1;
    Atomics.store(ctl, cb.nextBase + id, id === m - 1 ? makeLink(cb.link, head, PageFlag.HEAD, 0) : makeLink(cb.link, id + 1, PageFlag.NORMAL, 0));
  }
  ctl[cb.prevBase + head] = m - 1;
  Atomics.store(ctl, cb.nextBase + before, makeLink(cb.link, n, PageFlag.NORMAL, 0));
  Atomics.store(ctl, NR_SUBBUFS_INDEX, m);
}

/**
 * Takes `n - m` sub-buffers out of the ring, starting after the tail (after the head when the
 * tail is the reader sub-buffer), as the kernel does: free sub-buffers go first; unread ones
 * that go are counted as overrun (and their bytes leave `entries_bytes`). Then survivors with an
 * id ≥ m move into the freed low ids. Caller holds the reader lock with producers shut out.
 */
export function shrinkRing(cb: CpuBuffer, m: number): void {
  const ctl = cb.ctl;
  const n = cb.nrSubbufs;
  const reader = ctl[READER_PAGE_INDEX]!;
  const tail = Atomics.load(ctl, TAIL_PAGE_INDEX);
  let head = cb.headPage();
  const start = tail === reader ? nextOf(cb, reader) : tail;

  // Unread sub-buffers: from the head up to (not including) the tail.
  const unread = new Set<number>();
  if (tail !== reader) for (let id = head; id !== tail; id = nextOf(cb, id)) unread.add(id);

  const removed: number[] = [];
  let id = nextOf(cb, start);
  let headRemoved = false;
  for (let i = 0; i < n - m; i++) {
    removed.push(id);
    if (id === head) headRemoved = true;
    id = nextOf(cb, id);
  }
  const after = id;
  let overrun = read64(ctl, OVERRUN_INDEX);
  let bytes = read64(ctl, ENTRIES_BYTES_BASE_INDEX);
  let lostPages = 0;
  for (const gone of removed) {
    if (!unread.has(gone)) continue;
    overrun += ctl[cb.entriesBase + gone]!;
    bytes -= cb.commitWord(gone) & COMMIT_LENGTH_MASK;
    lostPages++;
  }
  write64(ctl, OVERRUN_INDEX, overrun);
  write64(ctl, ENTRIES_BYTES_BASE_INDEX, bytes);
  ctl[PAGES_LOST_INDEX] = (ctl[PAGES_LOST_INDEX]! + lostPages) | 0;
  if (headRemoved) head = after;
  const flag = head === after ? PageFlag.HEAD : PageFlag.NORMAL;
  Atomics.store(ctl, cb.nextBase + start, makeLink(cb.link, after, flag, 0));
  ctl[cb.prevBase + after] = start;

  // Move survivors with an id ≥ m into the free ids < m.
  const free = removed.filter((r) => r < m);
  const rename = new Map<number, number>();
  for (let s = m; s < n; s++) {
    if (removed.includes(s)) continue;
    const f = free.pop()!;
    rename.set(s, f);
    movePage(cb, s, f, s === reader);
  }
  const renamed = (x: number): number => rename.get(x) ?? x;
  ctl[READER_PAGE_INDEX] = renamed(reader);
  Atomics.store(ctl, TAIL_PAGE_INDEX, renamed(tail));
  ctl[BASE_PAGE_INDEX] = renamed(ctl[BASE_PAGE_INDEX]!);
  ctl[HEAD_PAGE_INDEX] = renamed(head);
  const pages = ctl[PAGES_INDEX]!;
  ctl[PAGES_INDEX] = removed.includes(pages) ? renamed(start) : renamed(pages);
  // The producer leaves the reader sub-buffer through its link: point it at the head.
  if (tail === reader) Atomics.store(ctl, cb.nextBase + renamed(reader), makeLink(cb.link, renamed(head), PageFlag.NORMAL, 0));
  Atomics.store(ctl, NR_SUBBUFS_INDEX, m);
}

/** Moves sub-buffer `from` (bytes, counts, links) to the free id `to`. */
function movePage(cb: CpuBuffer, from: number, to: number, isReader: boolean): void {
  const ctl = cb.ctl;
  const size = cb.subbufSize;
  cb.u8.copyWithin(cb.subbufOffset(to), cb.subbufOffset(from), cb.subbufOffset(from) + size);
  ctl[cb.entriesBase + to] = ctl[cb.entriesBase + from]!;
  ctl[cb.realEndBase + to] = ctl[cb.realEndBase + from]!;
  const link = Atomics.load(ctl, cb.nextBase + from);
  Atomics.store(ctl, cb.nextBase + to, link);
  const prev = ctl[cb.prevBase + from]!;
  ctl[cb.prevBase + to] = prev;
  if (!isReader) {
    const into = Atomics.load(ctl, cb.nextBase + prev);
    Atomics.store(ctl, cb.nextBase + prev, makeLink(cb.link, to, into & PAGE_FLAG_MASK, linkGen(cb.link, into)));
    ctl[cb.prevBase + linkId(cb.link, link)] = to;
  }
  const at = (cb.subbufOffset(from) + SUBBUF_COMMIT_OFFSET) >> 2;
  cb.i32[at] = 0;
  cb.i32[at + 1] = 0;
}
