/**
 * The README's main job and the examples run, on the built packages, and end with what they
 * promise: the demo reads every written event or reports it lost; each example exits 0.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../../', import.meta.url));

describe('demo', () => {
  it('a worker pool logs and records telemetry into two buffers; every request is logged and counted', () => {
    const out = mkdtempSync(join(tmpdir(), 'tracebuf-demo-'));
    try {
      const run = spawnSync(process.execPath, ['packages/cli/dist/bin.js', 'demo', '--requests', '1500', '--out', out], { cwd: root, encoding: 'utf8', timeout: 60_000 });
      expect(run.status, run.stderr).toBe(0);
      expect(run.stdout).toMatch(/check: log lines 1500 = requests counted 1500 = requests 1500: ok/);
      const lines = readFileSync(join(out, 'demo.ndjson'), 'utf8').trim().split('\n');
      expect(lines).toHaveLength(1500);
      expect(JSON.parse(lines[0]!)).toMatchObject({ level: 30, name: 'demo', msg: expect.stringMatching(/^request \d+ served in \d+ µs$/) });
      const trace = JSON.parse(readFileSync(join(out, 'demo-trace.json'), 'utf8')) as { traceEvents: { ph: string }[] };
      expect(trace.traceEvents.filter((e) => e.ph === 'B')).toHaveLength(1500);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });

  it('--core drains with GET_READER and accounts for every event', () => {
    const run = spawnSync(process.execPath, ['packages/cli/dist/bin.js', 'demo', '--core', '--events', '3000'], { cwd: root, encoding: 'utf8', timeout: 60_000 });
    expect(run.status, run.stderr).toBe(0);
    const written = Number(/wrote (\d+) events/.exec(run.stdout)?.[1]);
    const [, read, lost] = /(\d+) events read, (\d+) reported lost/.exec(run.stdout) ?? [];
    expect(written).toBe(3000);
    expect(Number(read) + Number(lost)).toBe(written);
    expect(run.stdout).toMatch(/check: read \+ lost = \d+ = written \d+: ok/);
  });

  it('rejects bad arguments with exit code 2', () => {
    for (const args of [['--core', '--events', '-4'], ['--requests', '0'], ['--workers', 'many'], ['--events', '5'], ['extra']]) {
      const run = spawnSync(process.execPath, ['packages/cli/dist/bin.js', 'demo', ...args], { cwd: root, encoding: 'utf8' });
      expect(run.status, args.join(' ')).toBe(2);
      expect(run.stderr).toMatch(/^tracebuf: /);
    }
  });
});

describe('examples', () => {
  const examples = readdirSync(new URL('../../../examples/', import.meta.url)).filter((f) => f.endsWith('.mjs'));
  it('has examples', () => expect(examples.length).toBeGreaterThan(0));
  it.each(examples)('%s runs to completion', (file) => {
    const run = spawnSync(process.execPath, [`examples/${file}`], { cwd: root, encoding: 'utf8', timeout: 60_000 });
    expect(run.status, `${run.stdout}\n${run.stderr}`).toBe(0);
    expect(run.stdout.length).toBeGreaterThan(0);
  });
});
