/**
 * The shared layouts, as `describeLayout()` prints them (the kernel's `events/header_page` style),
 * are snapshot-tested so that `docs/design.md` and the code cannot drift apart. Independently of
 * the snapshot, the kernel-visible layouts are checked against the kernel-semantics tables (§1.1
 * sub-buffer header, §2.1 event header, §5.2 `struct trace_buffer_meta`), the private control
 * block against the cache-line rule of STYLE.md (words the producer writes and words readers
 * write never share a 64-byte line), and every layout against overlapping fields. The layout
 * listings in `docs/design.md` are checked against the tables too.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  ALL_LAYOUTS,
  CACHE_LINE_LENGTH,
  CpuControlLayout,
  EventHeaderLayout,
  EventType,
  GlobalControlLayout,
  type Layout,
  MetaLayout,
  PageArrays,
  PageFlag,
  RB_MISSED_EVENTS,
  RB_MISSED_STORED,
  SubbufHeaderLayout,
  TRACE_MMAP_IOCTL_GET_READER,
  cpuControlLength,
  describeLayout,
  pageArrayIndex,
} from '../src/layout.js';

type Field = Layout['fields'][number];

/** Zero-length entries that mark where a cache line starts (see `line()` in layout.ts). */
const isLineMarker = (f: Field): boolean => f.length === 0 && f.doc === 'cache-line boundary';

/** `(name, offset, size)` of the fields that have bytes, in order. */
function table(layout: Layout): [string, number, number][] {
  return layout.fields.filter((f) => !isLineMarker(f)).map((f) => [f.name, f.offset, f.length]);
}

/** The `field:` lines `describeLayout()` printed under the section whose title starts `title`. */
function printedFields(title: string): [string, number, number][] {
  const lines = describeLayout().split('\n');
  const start = lines.findIndex((l) => l.startsWith(`# ${title}`));
  if (start < 0) throw new Error(`no section ${title} in describeLayout()`);
  const rows: [string, number, number][] = [];
  for (const l of lines.slice(start + 1)) {
    if (l.startsWith('#')) break;
    const m = /^\tfield: (.+);\toffset:(\d+);\tsize:(\d+);/.exec(l);
    if (m !== null) rows.push([m[1]!, Number(m[2]), Number(m[3])]);
  }
  return rows;
}

/** Index of the 64-byte line holding byte `offset`. */
const lineOf = (offset: number): number => Math.floor(offset / CACHE_LINE_LENGTH);

/** Every cache line a field touches. */
function linesOf(f: Field): number[] {
  if (f.length === 0) return [];
  const out: number[] = [];
  for (let l = lineOf(f.offset); l <= lineOf(f.offset + f.length - 1); l++) out.push(l);
  return out;
}

/** Fields grouped by the cache-line marker that precedes them. */
function groupsByLine(layout: Layout): Map<string, Field[]> {
  const groups = new Map<string, Field[]>();
  let current: Field[] | undefined;
  for (const f of layout.fields) {
    if (isLineMarker(f)) {
      current = [];
      groups.set(f.name, current);
    } else {
      if (current === undefined) throw new Error(`${layout.title}: field ${f.name} before any line marker`);
      current.push(f);
    }
  }
  return groups;
}

describe('describeLayout()', () => {
  it('prints every shared layout as the snapshot records it', () => {
    expect(describeLayout()).toMatchSnapshot();
  });

  it('prints every field of every layout with its offset and size', () => {
    const short = (l: Layout): string => l.title.replace(/ \(.*$/, '');
    for (const layout of ALL_LAYOUTS) expect(printedFields(short(layout)), layout.title).toEqual(table(layout));
  });
});

describe('kernel-visible layouts match kernel-semantics', () => {
  it('meta page: struct trace_buffer_meta offsets and its 80-byte length (§5.2, verified §10 item 1)', () => {
    // kernel-semantics §5.2, written out field by field: u32 ×4, u64 lost_events, u32 id, u32 read,
    // u64 flags, entries, overrun, read, Reserved1, Reserved2.
    const reference: [string, number, number][] = [
      ['meta_page_size', 0, 4],
      ['meta_struct_len', 4, 4],
      ['subbuf_size', 8, 4],
      ['nr_subbufs', 12, 4],
      ['reader.lost_events', 16, 8],
      ['reader.id', 24, 4],
      ['reader.read', 28, 4],
      ['flags', 32, 8],
      ['entries', 40, 8],
      ['overrun', 48, 8],
      ['read', 56, 8],
      ['Reserved1', 64, 8],
      ['Reserved2', 72, 8],
    ];
    expect(table(MetaLayout)).toEqual(reference);
    expect(MetaLayout.length).toBe(80);
    expect(printedFields('meta page')).toEqual(reference);
  });

  it('sub-buffer header: time_stamp@0 size 8, commit@8 size 8, data@16 (§1.1)', () => {
    const at = (name: string): Field | undefined => SubbufHeaderLayout.fields.find((f) => f.name === name);
    expect([at('time_stamp')?.offset, at('time_stamp')?.length]).toEqual([0, 8]);
    expect([at('commit')?.offset, at('commit')?.length]).toEqual([8, 8]);
    expect(at('data')?.offset).toBe(16);
    expect(SubbufHeaderLayout.length).toBe(16);
  });

  it('commit flags: bit 31 missed events, bit 30 count stored (§1.2)', () => {
    expect(RB_MISSED_EVENTS >>> 0).toBe(2 ** 31);
    expect(RB_MISSED_STORED >>> 0).toBe(2 ** 30);
  });

  it('event header: one 32-bit word, array[0] at byte 4; type_len 29/30/31 are padding/extend/stamp (§2.1–2.2)', () => {
    expect(EventHeaderLayout.offsetOf('array[0]')).toBe(4);
    expect(EventHeaderLayout.fields[0]?.length).toBe(4);
    expect([EventType.PADDING, EventType.TIME_EXTEND, EventType.TIME_STAMP]).toEqual([29, 30, 31]);
  });

  it("GET_READER is _IO('R', 0x20) (§5.1)", () => {
    // _IO(type, nr): no direction bits, no size: (type << 8) | nr.
    expect(TRACE_MMAP_IOCTL_GET_READER).toBe(('R'.charCodeAt(0) << 8) | 0x20);
  });

  it('ring link flags fit the two low bits and are never both set (§3.1)', () => {
    expect([PageFlag.NORMAL, PageFlag.HEAD, PageFlag.UPDATE]).toEqual([0b00, 0b01, 0b10]);
  });
});

describe('private control blocks keep the two sides on separate cache lines', () => {
  // Who writes what, from producer.ts / cpu-buffer.ts (reset() also writes the producer's lines,
  // but only while producers are shut out: RESETTING set and wseq even). Per event the producer
  // stores only the publish line; the crossing line changes only when the tail moves.
  const publishWrites = ['wseq', 'pending_drops'];
  const crossingWrites = [
    'cross_seq',
    'tail_page',
    'base_page',
    'commit_overrun',
    'entries_base',
    'entries_bytes_base',
    'overrun',
    'dropped_events',
    'pages_touched',
    'pages_lost',
    'staged_entries_base',
    'staged_bytes_base',
    'staged_overrun',
    'staged_push_bytes',
    'staged_pages_lost',
    'staged_pages_touched',
  ];
  const readerWrites = [
    'reader_lock',
    'reader_page',
    'head_page',
    'reader_read',
    'reader_read_entries',
    'pages_read',
    'read',
    'read_bytes',
    'lost_events',
    'last_overrun',
    'lost_unreported',
    'pages',
  ];
  const groups = groupsByLine(CpuControlLayout);
  const names = (line: string): string[] => (groups.get(line) ?? []).map((f) => f.name);

  it('puts the per-event word on the publish line, the tail-move words on the crossing line, the reader-written words on the reader line', () => {
    expect(names('publish line').sort()).toEqual([...publishWrites].sort());
    expect(names('crossing line').sort()).toEqual([...crossingWrites].sort());
    expect(names('reader line').sort()).toEqual([...readerWrites].sort());
  });

  it('never lets the publish, crossing, reader and control lines share a 64-byte line', () => {
    const lineSet = (group: string): Set<number> => new Set((groups.get(group) ?? []).flatMap(linesOf));
    const sets = ['publish line', 'crossing line', 'reader line', 'control line'].map((g) => [g, lineSet(g)] as const);
    for (const [g, set] of sets) expect(set.size, g).toBeGreaterThan(0);
    for (const [i, [a, sa]] of sets.entries()) {
      for (const [b, sb] of sets.slice(i + 1)) {
        for (const l of sa) expect(sb.has(l), `${a} and ${b} share line ${l}`).toBe(false);
      }
    }
  });

  it('starts every marked line on a 64-byte boundary and ends the block on one', () => {
    for (const layout of [CpuControlLayout, GlobalControlLayout]) {
      for (const f of layout.fields.filter(isLineMarker)) expect(f.offset % CACHE_LINE_LENGTH, `${layout.title}: ${f.name}`).toBe(0);
      expect(layout.length % CACHE_LINE_LENGTH).toBe(0);
    }
  });

  it("keeps the 'counter' clock (written by every producer) off the line of the read-mostly identity words", () => {
    const groupsG = groupsByLine(GlobalControlLayout);
    const clock = new Set((groupsG.get('clock line') ?? []).flatMap(linesOf));
    const identity = new Set((groupsG.get('identity line') ?? []).flatMap(linesOf));
    expect(clock.size).toBeGreaterThan(0);
    for (const l of identity) expect(clock.has(l)).toBe(false);
  });

  it('aligns every word to its size (32-bit words to 4, 64-bit pairs and f64 to 8)', () => {
    for (const layout of [CpuControlLayout, GlobalControlLayout]) {
      for (const f of layout.fields) if (f.length > 0) expect(f.offset % f.length, `${layout.title}: ${f.name}`).toBe(0);
    }
  });
});

describe('no two fields overlap', () => {
  it.each(ALL_LAYOUTS.map((l) => [l.title, l] as const))('%s', (_title, layout) => {
    const fields = layout.fields.filter((f) => f.length > 0);
    for (const [i, a] of fields.entries()) {
      expect(a.offset + a.length, `${a.name} ends inside the layout`).toBeLessThanOrEqual(layout.length);
      for (const b of fields.slice(i + 1)) {
        const disjoint = a.offset + a.length <= b.offset || b.offset + b.length <= a.offset;
        expect(disjoint, `${a.name} [${a.offset}, ${a.offset + a.length}) vs ${b.name} [${b.offset}, ${b.offset + b.length})`).toBe(true);
      }
    }
    expect(new Set(fields.map((f) => f.name)).size, 'field names are unique').toBe(fields.length);
  });

  it.each([3, 4, 15, 16, 17, 64, 256, 1000])('per-sub-buffer arrays for %i sub-buffers: after the block, cache-line aligned, disjoint', (n) => {
    const arrays = PageArrays.map((_a, i) => ({
      first: pageArrayIndex(i as 0 | 1 | 2 | 3, n, 0) * 4,
      end: (pageArrayIndex(i as 0 | 1 | 2 | 3, n, n - 1) + 1) * 4,
    }));
    expect(arrays[0]?.first).toBe(CpuControlLayout.length);
    for (const [i, a] of arrays.entries()) {
      expect(a.first % CACHE_LINE_LENGTH).toBe(0);
      expect(a.end - a.first).toBe(n * 4);
      const next = arrays[i + 1];
      expect(a.end).toBeLessThanOrEqual(next === undefined ? cpuControlLength(n) : next.first);
    }
  });
});

describe('docs/design.md', () => {
  const doc = readFileSync(new URL('../../../docs/design.md', import.meta.url), 'utf8');

  it('lists every field of every layout, at the offset and size the code has', () => {
    const seen = new Map<Layout, Set<string>>();
    let current: Layout | undefined;
    for (const line of doc.split('\n')) {
      const header = /^# (.+) \((\d+) bytes\)$/.exec(line);
      if (header !== null) {
        current = ALL_LAYOUTS.find((l) => l.title === header[1]);
        expect(current, `design.md lists an unknown layout: ${line}`).toBeDefined();
        expect(Number(header[2]), `${line}: length`).toBe(current?.length);
        if (current !== undefined && !seen.has(current)) seen.set(current, new Set());
        continue;
      }
      if (line.startsWith('```')) current = undefined;
      const marker = /^\t-- (.+) @(\d+)$/.exec(line);
      const field = /^\tfield: (.+?);\toffset:(\d+);\tsize:(\d+);/.exec(line);
      if (current === undefined || (marker === null && field === null)) continue;
      const name = (marker ?? field)![1]!;
      const f = current.fields.find((x) => x.name === name);
      expect(f, `design.md: ${current.title} has no field ${name}`).toBeDefined();
      expect(f?.offset, `design.md: ${current.title}: ${name} offset`).toBe(Number((marker ?? field)![2]));
      if (field !== null) expect(f?.length, `design.md: ${current.title}: ${name} size`).toBe(Number(field[3]));
      seen.get(current)?.add(name);
    }
    for (const layout of ALL_LAYOUTS) {
      expect(seen.has(layout), `design.md does not list ${layout.title}`).toBe(true);
      const missing = layout.fields.map((f) => f.name).filter((n) => !seen.get(layout)?.has(n));
      expect(missing, `design.md: fields of ${layout.title} not listed`).toEqual([]);
    }
  });
});
