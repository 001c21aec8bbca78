/**
 * Tests that need something of the machine — the real kernel's tracing ring buffer, root, a C
 * compiler, a kernel that accepts a setting — run where it is there and skip with the reason
 * where it is not. Each such test records what happened in its task's meta (vitest's JSON report
 * carries it), and `scripts/run-tests.mjs` prints one line per group at the end of the run
 * ("kernel-differential: 25 of 43 ran; 18 skipped: …"), so a green run says what it proved.
 */
import type { TestContext } from 'vitest';

/** What one machine-dependent test did. */
export interface MachineOutcome {
  /** Name of the group the line at the end of the run is printed under. */
  readonly group: string;
  /** True when the test ran its comparison; false when it was skipped. */
  readonly ran: boolean;
  /** Why it was skipped. */
  readonly reason?: string;
}

declare module 'vitest' {
  interface TaskMeta {
    machineOutcome?: MachineOutcome;
  }
}

function record(ctx: TestContext, outcome: MachineOutcome): void {
  ctx.task.meta.machineOutcome = outcome;
}

/** Records that the test is running its comparison on this machine. */
export function recordRan(ctx: TestContext, group: string): void {
  record(ctx, { group, ran: true });
}

/** Records the reason and skips the test (throws vitest's skip signal). */
export function skipBecause(ctx: TestContext, group: string, reason: string): never {
  record(ctx, { group, ran: false, reason });
  ctx.skip(reason);
  throw new Error('unreachable: ctx.skip() returned');
}
