/**
 * Interleaving points for tests that force the races the kernel handles (an Atomics
 * choreography between threads). Production code pays one check of a module variable at each
 * point; none of the points is on the per-event path except `producer:publish`, which is taken
 * only when a hook is installed in that thread.
 *
 * @packageDocumentation
 */

/** The places where a test can stop a thread. */
export const InterleavePoint = {
  /** Reader swap: the old reader sub-buffer is linked to the head's successor; the CAS on the head's predecessor comes next. */
  READER_SWAP_BEFORE_CAS: 'reader:swap-before-cas',
  /** GET_READER read the reader sub-buffer's length and count; it is about to decide. */
  READER_AFTER_READ_PAGE: 'reader:after-read-page',
  /** Non-consuming iteration: about to copy the next sub-buffer of the walk. */
  READER_ITERATE_PAGE: 'reader:iterate-page',
  /** Producer moving the tail: the end padding is written; it is about to read the link to the next sub-buffer. */
  PRODUCER_MOVE_TAIL: 'producer:move-tail',
  /** Producer pushing the head: the link is UPDATE; HEAD on the successor comes next. */
  PRODUCER_PUSH_UPDATE: 'producer:push-update',
  /** Producer moving the tail: the move is staged and named (base_page); the new tail is not yet published. */
  PRODUCER_ENTER_PAGE: 'producer:enter-page',
  /** Producer claiming its slot: it holds the view of a bank that was live; it reads the bank's control word and checks the bank still live next. */
  PRODUCER_BIND: 'producer:bind',
  /** Producer publishing: wseq is odd; the commit word comes next. */
  PRODUCER_PUBLISH: 'producer:publish',
} as const;

/** One of the {@link InterleavePoint} values. */
export type InterleavePointName = (typeof InterleavePoint)[keyof typeof InterleavePoint];

/** A hook called at every interleaving point of this thread. */
export type InterleaveHook = (point: InterleavePointName, cpu: number) => void;

/** @internal The hook of this thread, if any. */
export let interleaveHook: InterleaveHook | undefined;

/** Installs (or, with `undefined`, removes) this thread's interleaving hook. For tests only. */
export function setInterleaveHook(hook: InterleaveHook | undefined): void {
  interleaveHook = hook;
}
