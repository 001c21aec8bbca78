/**
 * Allocation check for hot paths: runs `fn` after a full GC and counts the garbage collections
 * that started while it ran (a `PerformanceObserver` of `gc` entries). A loop that allocates
 * nothing per iteration triggers none.
 */
import { PerformanceObserver } from 'node:perf_hooks';
import v8 from 'node:v8';
import vm from 'node:vm';

function gcFunction(): () => void {
  const exposed = (globalThis as { gc?: () => void }).gc;
  if (exposed !== undefined) return exposed;
  v8.setFlagsFromString('--expose-gc');
  return vm.runInNewContext('gc') as () => void;
}

const nextTurn = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 20));

/** The number of GC runs that started while `fn` ran. */
export async function gcRunsDuring(fn: () => void): Promise<number> {
  gcFunction()();
  await nextTurn();
  const starts: number[] = [];
  const observer = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) starts.push(e.startTime);
  });
  observer.observe({ entryTypes: ['gc'] });
  const t0 = performance.now();
  fn();
  const t1 = performance.now();
  await nextTurn();
  observer.disconnect();
  return starts.filter((t) => t >= t0 && t <= t1).length;
}
