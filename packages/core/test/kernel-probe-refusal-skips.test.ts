/**
 * The kernel probe's exit status decides between "cannot run here" and "failed": a machine
 * without root/tracefs/compiler (77) or a kernel that refuses one scenario's setting (78) skips,
 * anything else fails the differential test. Runs everywhere; needs no kernel.
 */
import { describe, expect, it } from 'vitest';
import { loadKernelProbe } from './support/kernel-differential.js';

const probe = await loadKernelProbe();

describe('kernel probe exit status', () => {
  it('0 is success', () => {
    expect(probe.probeFailure(0, null, '')).toBeNull();
  });

  it('77 means the probe cannot run on this machine: skip every scenario', () => {
    const err = probe.probeFailure(77, null, 'kernel-probe: must run as root\n');
    expect(err).toBeInstanceOf(probe.KernelProbeUnavailableError);
    expect(err).toMatchObject({ skip: true, reason: 'must run as root' });
  });

  it('78 means this kernel refuses a setting: skip that scenario with the kernel\'s reason', () => {
    const why = 'the kernel refuses buffer_subbuf_size_kb=8 (it is 4): EPERM (Operation not permitted)';
    const err = probe.probeFailure(78, null, `kernel-probe: ${why}\n`);
    expect(err).toBeInstanceOf(probe.KernelSettingRefusedError);
    expect(err).not.toBeInstanceOf(probe.KernelProbeUnavailableError);
    expect(err).toMatchObject({ skip: true, reason: why });
  });

  it('any other exit, or a signal, is a failure that names the probe\'s message', () => {
    for (const [code, signal] of [[1, null], [2, null], [null, 'SIGSEGV']] as const) {
      const err = probe.probeFailure(code, signal, 'kernel-probe: GET_READER: Input/output error');
      expect(err).toBeInstanceOf(Error);
      expect(err).not.toBeInstanceOf(probe.KernelSettingRefusedError);
      expect(err).not.toBeInstanceOf(probe.KernelProbeUnavailableError);
      expect(err?.message).toContain('GET_READER: Input/output error');
    }
  });
});
