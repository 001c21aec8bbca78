/**
 * `tracebuf record` and `tracebuf report` (issue 9), run as a user runs them (the built bin):
 * record a script and a piscina pool to trace.dat, report it as text and Chrome JSON, report a
 * raw file; `--help` on every command; exit code 2 on bad arguments, 1 on a damaged file with
 * the offset named.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readTraceDat } from '@tracebuf/formats';
import { afterAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'tracebuf-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function tracebuf(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  return spawnSync(process.execPath, ['packages/cli/dist/bin.js', ...args], { cwd: root, encoding: 'utf8', timeout: 60_000, maxBuffer: 1 << 28 });
}

describe('tracebuf record / report', () => {
  it('records a script (and the workers it starts) to trace.dat; report prints every event', () => {
    const out = join(dir, 'script.dat');
    const rec = tracebuf('record', '-q', '-o', out, 'examples/traced-script.mjs', '3000');
    expect(rec.status, rec.stderr).toBe(0);
    const [, events, , lost] = /wrote .*: (\d+) events on (\d+) cpus, .* (\d+) lost/.exec(rec.stderr) ?? [];
    // 3 threads × (3000 requests + 3 counters + begin + end).
    expect(Number(events)).toBe(3 * 3005);
    expect(Number(lost)).toBe(0);
    const report = tracebuf('report', out);
    expect(report.status, report.stderr).toBe(0);
    const lines = report.stdout.trim().split('\n');
    expect(lines).toHaveLength(3 * 3005);
    expect(lines.filter((l) => / request: id=\d+ status=(200|500) path=\/items\/\d+ bytes=\d+$/.test(l))).toHaveLength(9000);
    const stats = tracebuf('stats', out);
    expect(stats.status, stats.stderr).toBe(0);
    expect(stats.stdout).toMatch(/tracebuf:request: 9000$/m);
    expect(stats.stdout).toMatch(/tracebuf:span_begin: 3$/m);
    const chrome = tracebuf('report', '--chrome', out);
    expect(chrome.status, chrome.stderr).toBe(0);
    const trace = JSON.parse(chrome.stdout) as { traceEvents: { ph: string }[] };
    expect(trace.traceEvents.filter((e) => e.ph === 'B')).toHaveLength(3);
    expect(trace.traceEvents.filter((e) => e.ph === 'E')).toHaveLength(3);
    expect(trace.traceEvents.filter((e) => e.ph === 'C')).toHaveLength(9);
  });

  it('records a piscina pool (--pool, --tasks): every task of every thread is in the file', () => {
    const out = join(dir, 'pool.dat');
    const rec = tracebuf('record', '-q', '--pool', '2', '--tasks', '6', '-o', out, 'examples/traced-task.mjs');
    expect(rec.status, rec.stderr).toBe(0);
    const report = tracebuf('report', '-o', join(dir, 'pool.txt'), out);
    expect(report.status, report.stderr).toBe(0);
    const lines = readFileSync(join(dir, 'pool.txt'), 'utf8').trim().split('\n');
    for (let task = 0; task < 6; task++) {
      expect(lines.filter((l) => l.includes(` task_step: task=${task} `))).toHaveLength(1000);
      expect(lines.filter((l) => l.endsWith(` span_end: name=task ${task}`))).toHaveLength(1);
    }
  });

  it('reports a raw file as hex, or decoded with --formats', () => {
    const dat = join(dir, 'for-raw.dat');
    expect(tracebuf('record', '-q', '-o', dat, 'examples/traced-script.mjs', '10').status).toBe(0);
    // One CPU's data of a trace.dat is a raw stream (what trace_pipe_raw gives): cut it out.
    const capture = readTraceDat(readFileSync(dat));
    const cpu = capture.cpus.findIndex((c) => c.bytes.length > 0);
    const raw = join(dir, 'cpu.raw');
    writeFileSync(raw, capture.cpus[cpu]!.bytes);
    const hex = tracebuf('report', '--cpu', String(cpu), raw);
    expect(hex.status, hex.stderr).toBe(0);
    expect(hex.stdout).toMatch(/^\[\d{3}\] \d+: raw: len=\d+ [0-9a-f]+$/m);
    const decoded = tracebuf('report', '--cpu', String(cpu), '--formats', dat, raw);
    expect(decoded.status, decoded.stderr).toBe(0);
    const fromDat = tracebuf('report', dat).stdout.split('\n').filter((l) => l.includes(`[${String(cpu).padStart(3, '0')}]`));
    expect(fromDat.length).toBeGreaterThanOrEqual(12);
    // A raw stream has no thread names (trace.dat's saved cmdlines): the same lines from the pid on.
    const fromPid = (l: string): string => l.replace(/^\s*\S+-(\d+)/, '$1');
    expect(decoded.stdout.trim().split('\n').map(fromPid)).toEqual(fromDat.map(fromPid));
  });

  it('--help on every command; bad arguments exit 2; a damaged file exits 1 naming the offset', () => {
    for (const cmd of [[], ['record'], ['report'], ['demo'], ['stats']]) {
      const help = tracebuf(...cmd, '--help');
      expect(help.status).toBe(0);
      expect(help.stdout).toMatch(/^usage: tracebuf/);
    }
    expect(tracebuf().status).toBe(2);
    expect(tracebuf('nonsense').status).toBe(2);
    const bad = [
      ['record'],
      ['record', '--cpus', '0', 'examples/traced-script.mjs'],
      ['record', '--clock', 'sundial', 'examples/traced-script.mjs'],
      ['record', '--subbuf-size', '5000', 'examples/traced-script.mjs'],
      ['record', '--tasks', '3', 'examples/traced-script.mjs'],
      ['record', 'no/such/script.mjs'],
      ['record', '--output'],
      ['report'],
      ['report', 'a', 'b'],
      ['report', '--bogus', 'x'],
      ['report', join(dir, 'missing.dat')],
    ];
    for (const args of bad) {
      const run = tracebuf(...args);
      expect(run.status, `${args.join(' ')}: ${run.stderr}`).toBe(2);
      expect(run.stderr).toMatch(/^tracebuf: /);
    }
    const good = join(dir, 'script.dat');
    const truncated = join(dir, 'truncated.dat');
    writeFileSync(truncated, readFileSync(good).subarray(0, 6000));
    const run = tracebuf('report', truncated);
    expect(run.status).toBe(1);
    expect(run.stderr).toMatch(/EINVAL: .*offset=\d+/);
  });
});
