/**
 * The README's main job and the examples run, on the built packages, and end with what they
 * promise: the demo reads every written event or reports it lost; each example exits 0.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../../', import.meta.url));

describe('demo', () => {
  it('drains with GET_READER and accounts for every event', () => {
    const run = spawnSync(process.execPath, ['packages/cli/dist/bin.js', 'demo', '--events', '3000'], { cwd: root, encoding: 'utf8', timeout: 60_000 });
    expect(run.status, run.stderr).toBe(0);
    const written = Number(/wrote (\d+) events/.exec(run.stdout)?.[1]);
    const [, read, lost] = /(\d+) events read, (\d+) reported lost/.exec(run.stdout) ?? [];
    expect(written).toBe(3000);
    expect(Number(read) + Number(lost)).toBe(written);
    expect(run.stdout).toMatch(/check: read \+ lost = \d+ = written \d+: ok/);
  });

  it('rejects a bad argument with exit code 2', () => {
    const run = spawnSync(process.execPath, ['packages/cli/dist/bin.js', 'demo', '--events', '-4'], { cwd: root, encoding: 'utf8' });
    expect(run.status).toBe(2);
    expect(run.stderr).toMatch(/--events/);
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
