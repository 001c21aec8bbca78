/**
 * KernelShark (Debian's 2.2.1) opens a tracebuf trace.dat (issue 9). KernelShark is a GUI with no
 * batch mode: the test starts it under a private Xvfb display (as an unprivileged user when run
 * as root, since as root it first shows a dialog) and checks that it loads the file — it reports
 * loading the stream, initialises its plugins on it, prints no error and is still running after a
 * few seconds — while a truncated copy of the same file makes it fail (the control: the check can
 * fail). Skips where kernelshark, Xvfb (or, as root, setpriv) is not installed.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TraceBuffer, defineEvent } from '@tracebuf/core';
import { captureBuffer, toTraceDat } from '@tracebuf/formats';
import { afterAll, describe, expect, it } from 'vitest';
import { recordRan, skipBecause } from '../../core/test/support/machine-outcome.js';

const GROUP = 'kernelshark';
const has = (cmd: string): boolean => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
const root = process.getuid?.() === 0;
const missing = ['kernelshark', 'Xvfb', ...(root ? ['setpriv'] : [])].filter((c) => !has(c));
const dir = mkdtempSync(join(tmpdir(), 'tracebuf-kshark-'));
chmodSync(dir, 0o755);
let xvfb: ChildProcess | undefined;
afterAll(() => {
  xvfb?.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

const Request = defineEvent('ks_request', { id: 'u32', path: 'string', status: 'u16' });

/** Runs kernelshark on `file` for `ms`; returns its output and whether it was still running. */
async function runKernelShark(display: string, file: string, ms: number): Promise<{ output: string; alive: boolean }> {
  const args = ['-i', file];
  const child = root
    ? spawn('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', 'kernelshark', ...args], { env: { ...process.env, DISPLAY: display, HOME: dir } })
    : spawn('kernelshark', args, { env: { ...process.env, DISPLAY: display } });
  let output = '';
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<boolean>((resolve) => child.once('exit', () => resolve(true)));
  const alive = !(await Promise.race([exited, new Promise<boolean>((resolve) => setTimeout(() => resolve(false), ms))]));
  child.kill('SIGKILL');
  await exited;
  return { output, alive };
}

describe('KernelShark', () => {
  it('opens a tracebuf trace.dat (and fails on a truncated one)', async (ctx) => {
    if (missing.length > 0) skipBecause(ctx, GROUP, `not installed: ${missing.join(', ')} (apt-get install kernelshark xvfb)`);
    recordRan(ctx, GROUP);
    const display = `:${100 + (process.pid % 400)}`;
    xvfb = spawn('Xvfb', [display, '-screen', '0', '1024x768x24'], { stdio: 'ignore' });
    await new Promise((resolve) => setTimeout(resolve, 800));

    const tb = TraceBuffer.create({ cpus: 2, nrSubbufs: 8 });
    const [p, q] = [tb.producer(0), tb.producer(1)];
    for (let i = 0; i < 200; i++) Request.write(i % 2 === 0 ? p : q, i, `/items/${i}`, 200);
    const bytes = toTraceDat(captureBuffer(tb));
    const good = join(dir, 'good.dat');
    const bad = join(dir, 'truncated.dat');
    writeFileSync(good, bytes);
    writeFileSync(bad, bytes.subarray(0, 3000));
    chmodSync(good, 0o644);
    chmodSync(bad, 0o644);

    const opened = await runKernelShark(display, good, 5000);
    expect(opened.output).toContain(`Loading  "${good}"`);
    // Its plugins are set up on the stream once the file is loaded.
    expect(opened.output).toMatch(new RegExp(`on stream ${good.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
    expect(opened.output).not.toMatch(/ERROR|contains no data|Segmentation/i);
    expect(opened.alive, opened.output).toBe(true);

    const control = await runKernelShark(display, bad, 5000);
    expect(control.alive && !/ERROR|no data/i.test(control.output), `a truncated file looked loaded too: ${control.output}`).toBe(false);
    expect(readFileSync(good).length).toBe(bytes.length);
  }, 30_000);
});
